"""The media worker process: the relay under uvloop, controlled over a local TCP socket.

Run ``python -m clickphone.media.worker [--control-port 0] [--ports 20000-30000]
[--bind-ip 0.0.0.0]``; it prints one line ``clickphone-media-worker listening <host> <port>
pid <pid>`` on stdout once ready, and exits cleanly on SIGTERM or SIGINT (all ports freed).
:func:`start_worker` does this from asyncio and returns a handle that stops it by PID.

Control protocol (TCP, 127.0.0.1 by default — never expose it): every message is a frame,
a 4-byte big-endian length then that many bytes of UTF-8 JSON (one object, ≤ 1 MiB).

Requests carry an ``id`` (any JSON value, echoed back) and a ``command``::

    {"id": 1, "command": "offer",  "call_id": "...", "from_tag": "...", "sdp": "v=0...",
     "media_ip": "203.0.113.7"}                                   -> {"sdp": "v=0..."}
    {"id": 2, "command": "answer", "call_id": "...", "from_tag": "...", "to_tag": "...",
     "sdp": "...", "media_ip": "..."}                             -> {"sdp": "..."}
    {"id": 3, "command": "delete", "call_id": "..."}              -> {}
    {"id": 4, "command": "query",  "call_id": "..."}              -> CallStats as an object
    {"id": 8, "command": "start_recording", "call_id": "...", "path": "/data/rec/x.ogg"} -> {}
    {"id": 9, "command": "stop_recording", "call_id": "..."}  -> RecordingInfo as an object
    {"id": 10, "command": "local_answer", "call_id": "...", "tag": "...", "media_ip": "..."}
                                                                  -> {"sdp": "..."}
    {"id": 11, "command": "local_offer", "call_id": "...", "tag": "...", "media_ip": "...",
     "codecs": ["PCMA"] or null}                                  -> {"sdp": "..."}
    {"id": 12, "command": "accept", "call_id": "...", "tag": "...", "sdp": "..."} -> {}
    {"id": 13, "command": "bridge", "call_id": "...", "tag_a": "...", "tag_b": "..."} -> {}
    {"id": 14, "command": "play", "call_id": "...", "tag": "...", "path": "/x.wav",
     "loop": false}                                               -> {"play_id": "..."}
    {"id": 15, "command": "stop_play", "call_id": "...", "tag": "..."}            -> {}
    {"id": 16, "command": "record_leg", "call_id": "...", "tag": "...", "path": "..."} -> {}
    {"id": 17, "command": "stop_record_leg", "call_id": "...", "tag": "..."}
                                                                  -> RecordingInfo as an object
    {"id": 5, "command": "status"}  -> {"calls", "ports_in_use", "cpu_user", "cpu_system",
                                        "pid", "loop"}
    {"id": 6, "command": "subscribe"}                             -> {}
    {"id": 7, "command": "ping"}                                  -> {}

Responses: ``{"id": 1, "ok": true, "result": {...}}`` or ``{"id": 1, "ok": false, "error":
{"error_id": "bad_sdp", "message": "...", "status_hint": 488}}`` (error ids in
:data:`clickphone.media.control.ERRORS`). Requests on one connection are answered in order,
except ``play``, which may first decode its file: it is answered when ready, so commands for
other calls are not held up behind it (clients match answers by ``id``).

Events are pushed to every connection that subscribed: ``{"event": {"kind": "dtmf",
"call_id": "...", "tag": "...", "digit": "5", "duration_ms": 100}}`` or ``{"event":
{"kind": "rtp_timeout", "call_id": "...", "idle_seconds": 60.0}}`` or ``{"event": {"kind":
"play_done", "call_id": "...", "tag": "...", "play_id": "..."}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import resource
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clickphone.media.control import MediaError
from clickphone.media.relay import LocalMediaController, RelayConfig
from clickphone.media.wire import FrameError, encode_frame, read_frame

log = logging.getLogger(__name__)

READY_PREFIX = "clickphone-media-worker listening"
OUT_OF_ORDER = frozenset({"play"})  # answered when done, not in request order


def _str(request: dict[str, Any], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str):
        raise MediaError(f"'{key}' must be a string", 400)
    return value


class WorkerServer:
    """Serves one :class:`LocalMediaController` to any number of control connections."""

    def __init__(self, controller: LocalMediaController) -> None:
        self.controller = controller
        self._subscribers: set[asyncio.StreamWriter] = set()
        self._commands: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "offer": self._offer,
            "answer": self._answer,
            "delete": self._delete,
            "query": self._query,
            "start_recording": self._start_recording,
            "stop_recording": self._stop_recording,
            "local_answer": self._local_answer,
            "local_offer": self._local_offer,
            "accept": self._accept,
            "bridge": self._bridge,
            "play": self._play,
            "stop_play": self._stop_play,
            "record_leg": self._record_leg,
            "stop_record_leg": self._stop_record_leg,
            "status": self._status,
            "ping": self._ping,
        }

    async def _offer(self, r: dict[str, Any]) -> dict[str, Any]:
        sdp = await self.controller.offer(
            _str(r, "call_id"),
            _str(r, "from_tag"),
            _str(r, "sdp").encode(),
            media_ip=_str(r, "media_ip"),
        )
        return {"sdp": sdp.decode()}

    async def _answer(self, r: dict[str, Any]) -> dict[str, Any]:
        sdp = await self.controller.answer(
            _str(r, "call_id"),
            _str(r, "from_tag"),
            _str(r, "to_tag"),
            _str(r, "sdp").encode(),
            media_ip=_str(r, "media_ip"),
        )
        return {"sdp": sdp.decode()}

    async def _delete(self, r: dict[str, Any]) -> dict[str, Any]:
        await self.controller.delete(_str(r, "call_id"))
        return {}

    async def _query(self, r: dict[str, Any]) -> dict[str, Any]:
        return dataclasses.asdict(await self.controller.query(_str(r, "call_id")))

    async def _start_recording(self, r: dict[str, Any]) -> dict[str, Any]:
        await self.controller.start_recording(_str(r, "call_id"), _str(r, "path"))
        return {}

    async def _stop_recording(self, r: dict[str, Any]) -> dict[str, Any]:
        return dataclasses.asdict(await self.controller.stop_recording(_str(r, "call_id")))

    async def _local_answer(self, r: dict[str, Any]) -> dict[str, Any]:
        sdp = await self.controller.local_answer(
            _str(r, "call_id"), _str(r, "tag"), media_ip=_str(r, "media_ip")
        )
        return {"sdp": sdp.decode()}

    async def _local_offer(self, r: dict[str, Any]) -> dict[str, Any]:
        codecs = r.get("codecs")
        if codecs is not None and (
            not isinstance(codecs, list) or not all(isinstance(c, str) for c in codecs)
        ):
            raise MediaError("'codecs' must be a list of strings or null", 400)
        sdp = await self.controller.local_offer(
            _str(r, "call_id"), _str(r, "tag"), media_ip=_str(r, "media_ip"), codecs=codecs
        )
        return {"sdp": sdp.decode()}

    async def _accept(self, r: dict[str, Any]) -> dict[str, Any]:
        await self.controller.accept(_str(r, "call_id"), _str(r, "tag"), _str(r, "sdp").encode())
        return {}

    async def _bridge(self, r: dict[str, Any]) -> dict[str, Any]:
        await self.controller.bridge(_str(r, "call_id"), _str(r, "tag_a"), _str(r, "tag_b"))
        return {}

    async def _play(self, r: dict[str, Any]) -> dict[str, Any]:
        loop = r.get("loop", False)
        if not isinstance(loop, bool):
            raise MediaError("'loop' must be a boolean", 400)
        play_id = await self.controller.play(
            _str(r, "call_id"), _str(r, "tag"), _str(r, "path"), loop=loop
        )
        return {"play_id": play_id}

    async def _stop_play(self, r: dict[str, Any]) -> dict[str, Any]:
        await self.controller.stop_play(_str(r, "call_id"), _str(r, "tag"))
        return {}

    async def _record_leg(self, r: dict[str, Any]) -> dict[str, Any]:
        await self.controller.record_leg(_str(r, "call_id"), _str(r, "tag"), _str(r, "path"))
        return {}

    async def _stop_record_leg(self, r: dict[str, Any]) -> dict[str, Any]:
        info = await self.controller.stop_record_leg(_str(r, "call_id"), _str(r, "tag"))
        return dataclasses.asdict(info)

    async def _status(self, r: dict[str, Any]) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        relay = self.controller.relay
        return {
            "calls": relay.calls,
            "ports_in_use": relay.ports_in_use,
            "cpu_user": usage.ru_utime,
            "cpu_system": usage.ru_stime,
            "pid": os.getpid(),
            "loop": type(asyncio.get_running_loop()).__module__,
        }

    async def _ping(self, r: dict[str, Any]) -> dict[str, Any]:
        return {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        slow: set[asyncio.Task[None]] = set()

        async def answer_later(request: dict[str, Any]) -> None:
            response = await self._dispatch(request, writer)
            if not writer.is_closing():
                writer.write(encode_frame(response))  # the reading loop drains

        try:
            while True:
                try:
                    request = await read_frame(reader)
                except FrameError as exc:
                    log.warning("control connection dropped: %s", exc)
                    return
                if request is None:
                    return
                if request.get("command") in OUT_OF_ORDER:
                    task = asyncio.get_running_loop().create_task(answer_later(request))
                    slow.add(task)
                    task.add_done_callback(slow.discard)
                    continue
                writer.write(encode_frame(await self._dispatch(request, writer)))
                await writer.drain()
        except ConnectionError:
            return
        finally:
            for task in list(slow):
                task.cancel()
            self._subscribers.discard(writer)
            writer.close()

    async def _dispatch(
        self, request: dict[str, Any], writer: asyncio.StreamWriter
    ) -> dict[str, Any]:
        rid = request.get("id")
        command = request.get("command")
        try:
            if command == "subscribe":
                self._subscribers.add(writer)
                return {"id": rid, "ok": True, "result": {}}
            handler = self._commands.get(command) if isinstance(command, str) else None
            if handler is None:
                raise MediaError(f"unknown command {command!r}", 400)
            return {"id": rid, "ok": True, "result": await handler(request)}
        except MediaError as exc:
            error = {"error_id": exc.error_id, "message": str(exc), "status_hint": exc.status_hint}
            return {"id": rid, "ok": False, "error": error}

    async def publish_events(self) -> None:
        async for event in self.controller.events():
            frame = encode_frame({"event": dataclasses.asdict(event)})
            for writer in list(self._subscribers):
                if writer.is_closing():
                    self._subscribers.discard(writer)
                else:
                    writer.write(frame)


async def serve(
    config: RelayConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ready: Callable[[str, int], None] | None = None,
    stop: asyncio.Event | None = None,
    handle_signals: bool = False,
) -> None:
    """Run the relay and its control server until ``stop`` is set (or SIGTERM/SIGINT when
    ``handle_signals``)."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    controller = LocalMediaController(config)
    server_state = WorkerServer(controller)
    async with controller:
        server = await asyncio.start_server(server_state.handle, host, port)
        publisher = loop.create_task(server_state.publish_events())
        sockname = server.sockets[0].getsockname()
        if ready is not None:
            ready(str(sockname[0]), int(sockname[1]))
        try:
            await stop.wait()
        finally:
            server.close()
            await controller.close()
            await publisher
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)


def _parse_ports(spec: str) -> tuple[int | None, int | None]:
    if spec == "ephemeral":
        return None, None
    low, _, high = spec.partition("-")
    return int(low), int(high)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clickphone.media.worker")
    parser.add_argument("--control-host", default="127.0.0.1")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--bind-ip", default="0.0.0.0", help="address the RTP sockets bind")
    parser.add_argument("--ports", default="20000-30000", help="MIN-MAX or 'ephemeral'")
    parser.add_argument("--rtp-timeout", type=float, default=60.0)
    parser.add_argument("--tick", type=float, default=1.0)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument(
        "--parent-pid", type=int, default=0, help="exit when this process is gone (kill -9)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    port_min, port_max = _parse_ports(args.ports)
    config = RelayConfig(
        bind_ip=args.bind_ip,
        port_min=port_min,
        port_max=port_max,
        rtp_timeout=args.rtp_timeout,
        tick_interval=args.tick,
    )

    def ready(host: str, port: int) -> None:
        print(f"{READY_PREFIX} {host} {port} pid {os.getpid()}", flush=True)

    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if not args.no_uvloop:
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency
            log.warning("uvloop not installed; using the stock asyncio loop")
        else:
            loop_factory = uvloop.new_event_loop

    async def run() -> None:
        stop = asyncio.Event()
        watchdog = None
        if args.parent_pid:
            watchdog = asyncio.create_task(_watch_parent(args.parent_pid, stop))
        await serve(
            config,
            args.control_host,
            args.control_port,
            ready=ready,
            stop=stop,
            handle_signals=True,
        )
        if watchdog is not None:
            watchdog.cancel()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(run())
    return 0


async def _watch_parent(pid: int, stop: asyncio.Event) -> None:
    """Stop when the server that started us died without stopping us (kill -9): an
    orphaned worker would keep the RTP ports the restarted server needs."""
    while not stop.is_set():
        if os.getppid() != pid:
            log.warning("parent %s is gone; stopping", pid)
            stop.set()
            return
        await asyncio.sleep(0.5)


@dataclass
class WorkerProcess:
    """A worker started by :func:`start_worker`."""

    process: asyncio.subprocess.Process
    host: str
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self, grace: float = 5.0) -> int:
        """SIGTERM this worker (by PID), wait, SIGKILL if it does not exit in time."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self.process.stdout is not None:
            with contextlib.suppress(Exception):
                await self.process.stdout.read()
        return self.process.returncode or 0


async def start_worker(*args: str, ready_timeout: float = 15.0) -> WorkerProcess:
    """Start ``python -m clickphone.media.worker <args>`` and wait until it listens."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clickphone.media.worker",
        "--parent-pid",
        str(os.getpid()),
        *args,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), ready_timeout)
    except TimeoutError:
        line = b""
    text = line.decode(errors="replace").strip()
    if not text.startswith(READY_PREFIX):
        if process.returncode is None:
            process.kill()
        await process.wait()
        raise RuntimeError(f"media worker did not start: {text!r}")
    host, port = text[len(READY_PREFIX) :].split()[:2]
    return WorkerProcess(process, host, int(port))


if __name__ == "__main__":
    sys.exit(main())
