"""Where recording files live: a local folder (default) or S3-compatible object storage.

The media plane always writes a recording into a local file under the recordings root. When
the file is finished, :meth:`RecordingStorage.store` makes it durable: the local storage
keeps it where it is; the S3 storage uploads it as ``<prefix><relative path>`` and deletes
the local copy. Playback reads byte ranges (:meth:`RecordingStorage.read`), retention
deletes (:meth:`RecordingStorage.delete`).

S3 is used when a bucket is configured: environment variables ``CLICKPHONE_RECORDINGS_S3_*``
(``ENDPOINT``, ``BUCKET``, ``ACCESS_KEY``, ``SECRET_KEY``, ``REGION``, ``PREFIX``), or the
same names as ``recordings_s3_*`` attributes of the app settings when those define them.
boto3 is synchronous; every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("clickphone.recordings")

CHUNK = 64 * 1024


class StorageError(Exception):
    """The storage could not complete an operation."""


class RecordingStorage:
    """Interface of a recording store; keys are paths relative to the recordings root."""

    is_local: bool = True
    name: str = "storage"

    def local_path(self, rel: str) -> Path | None:
        """The file on this machine, when the storage is a local folder."""
        return None

    async def store(self, rel: str, local: Path) -> None:
        """Make the finished local file ``local`` durable under ``rel``."""
        raise NotImplementedError

    async def size(self, rel: str) -> int | None:
        """Size in bytes, None when there is no such object; StorageError when the storage
        cannot tell (it is down)."""
        raise NotImplementedError

    def read(self, rel: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` inclusive."""
        raise NotImplementedError

    async def delete(self, rel: str) -> None:
        """Delete the object; no error when it does not exist."""
        raise NotImplementedError

    async def close(self) -> None:
        return None


class LocalStorage(RecordingStorage):
    is_local = True
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def local_path(self, rel: str) -> Path:
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError(f"recording path {rel!r} escapes the recordings root")
        return path

    async def store(self, rel: str, local: Path) -> None:
        target = self.local_path(rel)

        def move() -> None:
            if local.resolve() != target:
                target.parent.mkdir(parents=True, exist_ok=True)
                local.replace(target)

        await asyncio.to_thread(move)

    async def size(self, rel: str) -> int | None:
        path = self.local_path(rel)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except OSError:
            return None

    async def read(self, rel: str, start: int, end: int) -> AsyncIterator[bytes]:
        path = self.local_path(rel)
        with await asyncio.to_thread(path.open, "rb") as f:
            await asyncio.to_thread(f.seek, start)
            left = end - start + 1
            while left > 0:
                data = await asyncio.to_thread(f.read, min(CHUNK, left))
                if not data:
                    break
                left -= len(data)
                yield data

    async def delete(self, rel: str) -> None:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self.local_path(rel).unlink, missing_ok=True)


class S3Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLICKPHONE_RECORDINGS_S3_", extra="ignore")

    endpoint: str = ""  # e.g. http://127.0.0.1:9000 (MinIO, Ceph, ...); "" for AWS itself
    bucket: str = ""
    access_key: str = ""
    secret_key: str = ""
    region: str = "us-east-1"
    prefix: str = ""  # key prefix inside the bucket, e.g. "recordings/"

    @classmethod
    def from_app(cls, settings: Any) -> S3Settings:
        """App settings' ``recordings_s3_*`` attributes when set, else the environment."""
        env = cls()
        values = {
            name: getattr(settings, f"recordings_s3_{name}", None) or getattr(env, name)
            for name in cls.model_fields
        }
        return cls(**values)


class S3Storage(RecordingStorage):
    is_local = False
    name = "s3"

    def __init__(self, config: S3Settings, *, client: Any = None) -> None:
        if not config.bucket:
            raise StorageError("no S3 bucket configured")
        self.bucket = config.bucket
        self.prefix = config.prefix
        if client is None:
            import boto3  # only needed when S3 is configured
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=config.endpoint or None,
                aws_access_key_id=config.access_key or None,
                aws_secret_access_key=config.secret_key or None,
                region_name=config.region,
                config=Config(
                    s3={"addressing_style": "path"},
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        self.client = client

    def key(self, rel: str) -> str:
        if rel.startswith("/") or ".." in Path(rel).parts:
            raise StorageError(f"bad recording key {rel!r}")
        return f"{self.prefix}{rel}"

    async def store(self, rel: str, local: Path) -> None:
        key = self.key(rel)
        try:
            await asyncio.to_thread(self.client.upload_file, str(local), self.bucket, key)
        except Exception as exc:
            raise StorageError(f"cannot upload {key}: {exc}") from exc
        with contextlib.suppress(OSError):
            await asyncio.to_thread(local.unlink)

    async def size(self, rel: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = await asyncio.to_thread(
                self.client.head_object, Bucket=self.bucket, Key=self.key(rel)
            )
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise StorageError(f"cannot read {rel}: {exc}") from exc
        except Exception as exc:  # unreachable endpoint, timeouts: S3 is down
            raise StorageError(f"cannot read {rel}: {exc}") from exc
        return int(head["ContentLength"])

    async def read(self, rel: str, start: int, end: int) -> AsyncIterator[bytes]:
        obj = await asyncio.to_thread(
            self.client.get_object,
            Bucket=self.bucket,
            Key=self.key(rel),
            Range=f"bytes={start}-{end}",
        )
        body = obj["Body"]
        try:
            while True:
                data = await asyncio.to_thread(body.read, CHUNK)
                if not data:
                    break
                yield data
        finally:
            body.close()

    async def delete(self, rel: str) -> None:
        key = self.key(rel)
        try:
            await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=key)
        except Exception as exc:
            raise StorageError(f"cannot delete {key}: {exc}") from exc

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)


def storage_from_settings(settings: Any, root: Path) -> RecordingStorage:
    """S3 when a bucket is configured, else the local recordings folder."""
    config = S3Settings.from_app(settings)
    if config.bucket:
        log.info("recordings are stored in S3 bucket %s", config.bucket)
        return S3Storage(config)
    return LocalStorage(root)
