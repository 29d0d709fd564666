""":class:`~clickphone.media.control.MediaController` backed by a media worker process.

Speaks the length-prefixed JSON protocol described in :mod:`clickphone.media.worker` over one
TCP connection; requests may be issued concurrently from many tasks (matched by id).
Worker-side errors come back as the same :class:`~clickphone.media.control.MediaError`
subclasses; a lost connection fails pending and later requests with
:class:`~clickphone.media.control.WorkerUnavailableError` and ends :meth:`events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from typing import Any

from clickphone.media.control import (
    ERRORS,
    BadSdpError,
    CallStats,
    MediaError,
    MediaEvent,
    RecordingInfo,
    WorkerUnavailableError,
    event_from_dict,
)
from clickphone.media.wire import FrameError, encode_frame, read_frame


class WorkerMediaController:
    """Client of one media worker."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        request_timeout: float = 5.0,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = request_timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[MediaEvent | None] = asyncio.Queue()
        self._write_lock = asyncio.Lock()
        self._lost: str | None = None
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        subscribe: bool = True,
        request_timeout: float = 5.0,
    ) -> WorkerMediaController:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), request_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise WorkerUnavailableError(f"media worker {host}:{port}: {exc}") from exc
        client = cls(reader, writer, request_timeout=request_timeout)
        if subscribe:
            await client.request("subscribe")
        return client

    async def __aenter__(self) -> WorkerMediaController:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _read_loop(self) -> None:
        reason = "media worker closed the connection"
        try:
            while True:
                message = await read_frame(self._reader)
                if message is None:
                    break
                if "event" in message:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        self._events.put_nowait(event_from_dict(message["event"]))
                    continue
                future = self._pending.pop(message.get("id", -1), None)
                if future is not None and not future.done():
                    future.set_result(message)
        except (FrameError, ConnectionError) as exc:
            reason = f"media worker connection failed: {exc}"
        finally:
            self._lost = reason
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(WorkerUnavailableError(reason))
            self._pending.clear()
            self._events.put_nowait(None)

    async def request(
        self, command: str, *, reply_within: float | None = None, **args: Any
    ) -> dict[str, Any]:
        """Send one command and return its ``result`` object (raises the worker's error)."""
        if self._lost is not None:
            raise WorkerUnavailableError(self._lost)
        rid = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            async with self._write_lock:
                self._writer.write(encode_frame({"id": rid, "command": command, **args}))
                await self._writer.drain()
            response = await asyncio.wait_for(future, reply_within or self._timeout)
        except (ConnectionError, TimeoutError) as exc:
            raise WorkerUnavailableError(f"media worker did not answer {command}: {exc}") from exc
        finally:
            self._pending.pop(rid, None)
        if response.get("ok"):
            result = response.get("result", {})
            return result if isinstance(result, dict) else {}
        error = response.get("error") or {}
        cls = ERRORS.get(str(error.get("error_id")), MediaError)
        hint = error.get("status_hint")
        raise cls(
            str(error.get("message", "media worker error")), hint if isinstance(hint, int) else None
        )

    @staticmethod
    def _sdp_text(sdp: bytes) -> str:
        try:
            return sdp.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadSdpError(f"SDP is not UTF-8: {exc}", 400) from None

    async def offer(self, call_id: str, from_tag: str, sdp: bytes, *, media_ip: str) -> bytes:
        result = await self.request(
            "offer", call_id=call_id, from_tag=from_tag, sdp=self._sdp_text(sdp), media_ip=media_ip
        )
        return str(result["sdp"]).encode()

    async def answer(
        self, call_id: str, from_tag: str, to_tag: str, sdp: bytes, *, media_ip: str
    ) -> bytes:
        result = await self.request(
            "answer",
            call_id=call_id,
            from_tag=from_tag,
            to_tag=to_tag,
            sdp=self._sdp_text(sdp),
            media_ip=media_ip,
        )
        return str(result["sdp"]).encode()

    async def delete(self, call_id: str) -> None:
        await self.request("delete", call_id=call_id)

    async def query(self, call_id: str) -> CallStats:
        return CallStats.from_dict(await self.request("query", call_id=call_id))

    async def start_recording(self, call_id: str, path: str) -> None:
        await self.request("start_recording", call_id=call_id, path=path)

    async def stop_recording(self, call_id: str) -> RecordingInfo:
        # finishing the file waits for the encoder thread: allow more than a signaling command
        result = await self.request("stop_recording", call_id=call_id, reply_within=30.0)
        return RecordingInfo.from_dict(result)

    async def local_answer(self, call_id: str, tag: str, *, media_ip: str) -> bytes:
        result = await self.request("local_answer", call_id=call_id, tag=tag, media_ip=media_ip)
        return str(result["sdp"]).encode()

    async def local_offer(
        self,
        call_id: str,
        tag: str,
        *,
        media_ip: str,
        codecs: Sequence[str] | None = None,
    ) -> bytes:
        result = await self.request(
            "local_offer",
            call_id=call_id,
            tag=tag,
            media_ip=media_ip,
            codecs=None if codecs is None else list(codecs),
        )
        return str(result["sdp"]).encode()

    async def accept(self, call_id: str, tag: str, sdp: bytes) -> None:
        await self.request("accept", call_id=call_id, tag=tag, sdp=self._sdp_text(sdp))

    async def bridge(self, call_id: str, tag_a: str, tag_b: str) -> None:
        await self.request("bridge", call_id=call_id, tag_a=tag_a, tag_b=tag_b)

    async def play(self, call_id: str, tag: str, path: str, *, loop: bool = False) -> str:
        # the first play of a file decodes it in the worker: allow more than a signaling command
        result = await self.request(
            "play", call_id=call_id, tag=tag, path=path, loop=loop, reply_within=30.0
        )
        return str(result["play_id"])

    async def stop_play(self, call_id: str, tag: str) -> None:
        await self.request("stop_play", call_id=call_id, tag=tag)

    async def record_leg(self, call_id: str, tag: str, path: str) -> None:
        await self.request("record_leg", call_id=call_id, tag=tag, path=path)

    async def stop_record_leg(self, call_id: str, tag: str) -> RecordingInfo:
        result = await self.request("stop_record_leg", call_id=call_id, tag=tag, reply_within=30.0)
        return RecordingInfo.from_dict(result)

    async def status(self) -> dict[str, Any]:
        """Worker-wide figures: calls, ports in use, CPU seconds, pid, loop implementation."""
        return await self.request("status")

    async def events(self) -> AsyncIterator[MediaEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        await self._reader_task
