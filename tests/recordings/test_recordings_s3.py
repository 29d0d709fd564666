"""Recordings in S3-compatible storage (a moto S3 server on loopback), SQLite and PostgreSQL:
a finished file is uploaded and its local copy deleted, playback proxies byte ranges (206),
download, share links, retention deletes the objects; a failed upload keeps the file, and the
recording waits for a retry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from apitest import assert_error
from clickphone.db import Database
from clickphone.db.models import CallRecord, Recording
from clickphone.media.control import MediaError, RecordingInfo
from clickphone.recordings.api import parse_range
from clickphone.recordings.service import RecordingService
from clickphone.recordings.storage import (
    LocalStorage,
    S3Settings,
    S3Storage,
    storage_from_settings,
)

AUDIO = bytes(range(256)) * 300  # 76 800 bytes: more than one read chunk


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _config(endpoint: str, bucket: str) -> S3Settings:
    return S3Settings(
        endpoint=endpoint,
        bucket=bucket,
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
        prefix="rec/",
    )


def _client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


_buckets = iter(range(1_000_000))


@pytest.fixture
def bucket(s3_endpoint: str) -> Iterator[str]:
    name = f"recordings-{next(_buckets)}"
    client = _client(s3_endpoint)
    client.create_bucket(Bucket=name)
    yield name
    client.close()


class FakeMedia:
    """The media plane's recording calls: writes AUDIO where it is told to record."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}

    async def start_recording(self, call_id: str, path: str) -> None:
        def write() -> None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(AUDIO)

        await asyncio.to_thread(write)
        self.paths[call_id] = path

    async def stop_recording(self, call_id: str) -> RecordingInfo:
        if call_id not in self.paths:
            raise MediaError(f"no recording for {call_id}")
        path = self.paths.pop(call_id)
        return RecordingInfo(call_id, path, "ogg", 4.8, len(AUDIO), 0.0)


@pytest.fixture
async def s3_service(
    app: Any, database: Database, tmp_path: Path, s3_endpoint: str, bucket: str
) -> AsyncIterator[tuple[RecordingService, FakeMedia]]:
    media = FakeMedia()
    svc = RecordingService(
        database,
        app.state.services.bus,
        lambda: media,  # type: ignore[arg-type,return-value]
        root=(tmp_path / "rec").resolve(),
        secret="k" * 40,
        retention_interval=0,
        storage=S3Storage(_config(s3_endpoint, bucket)),
    )
    app.state.services.extra["recordings"] = svc
    await svc.start()
    yield svc, media
    await svc.stop()


async def _call(api: Any, database: Database) -> tuple[Any, CallRecord]:
    owner = await api.signup_company("S3 Co", "s3-owner@example.com")
    tenant_id = (await owner.get("/api/v1/me")).json()["tenant"]["id"]
    record = CallRecord(
        id="c" * 32,
        tenant_id=tenant_id,
        sip_call_id="s3-call",
        direction="incoming",
        caller="+74950000001",
        callee="200",
        started_at=datetime.now(UTC),
        outcome="in_progress",
    )
    async with database.transaction() as s:
        s.add(record)
    return owner, record


async def test_upload_playback_ranges_and_retention(
    api: Any,
    database: Database,
    s3_service: tuple[RecordingService, FakeMedia],
    s3_endpoint: str,
    bucket: str,
) -> None:
    service, _media = s3_service
    owner, record = await _call(api, database)
    started = await service.start_on_demand(record)
    local = service.root / started.path
    assert local.read_bytes() == AUDIO  # the media plane writes locally while recording
    [done] = await service.stop_on_demand(record)
    assert done.state == "ready" and done.size_bytes == len(AUDIO)
    # uploaded under the prefix, the local copy gone
    assert not local.exists()
    client = _client(s3_endpoint)
    obj = await asyncio.to_thread(client.get_object, Bucket=bucket, Key=f"rec/{done.path}")
    assert obj["Body"].read() == AUDIO

    url = f"/api/v1/recordings/{done.id}/audio"
    full = await owner.get(url)
    assert full.status_code == 200, full.text
    assert full.content == AUDIO
    assert full.headers["content-type"] == "audio/ogg"
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-length"] == str(len(AUDIO))
    assert full.headers["content-disposition"].startswith("inline")
    part = await owner.get(url, headers={"Range": "bytes=70000-70099"})
    assert part.status_code == 206 and part.content == AUDIO[70000:70100]
    assert part.headers["content-range"] == f"bytes 70000-70099/{len(AUDIO)}"
    tail = await owner.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == AUDIO[-10:]
    rest = await owner.get(url, headers={"Range": "bytes=76000-"})
    assert rest.status_code == 206 and rest.content == AUDIO[76000:]
    bad = await owner.get(url, headers={"Range": f"bytes={len(AUDIO)}-"})
    assert bad.status_code == 416
    assert bad.headers["content-range"] == f"bytes */{len(AUDIO)}"
    dl = await owner.get(url, params={"download": 1})
    assert dl.content == AUDIO and dl.headers["content-disposition"].startswith("attachment")
    share = (await owner.post(f"/api/v1/recordings/{done.id}/share", json={})).json()
    got = await owner.get(share["url"], headers={"Range": "bytes=0-9"})
    assert got.status_code == 206 and got.content == AUDIO[:10]
    other = await api.signup_company("Other S3", "other-s3@example.com")
    assert_error(await other.get(url), 404, "not_found")

    # an object missing from the bucket answers 404, not 500
    await asyncio.to_thread(client.delete_object, Bucket=bucket, Key=f"rec/{done.path}")
    assert_error(await owner.get(url), 404, "not_found")
    await asyncio.to_thread(client.put_object, Bucket=bucket, Key=f"rec/{done.path}", Body=AUDIO)

    # retention deletes the object and the row
    async with database.transaction() as s:
        row = await s.get(Recording, done.id)
        assert row is not None
        row.started_at = datetime.now(UTC) - timedelta(days=400)
    assert await service.purge_expired() == 1
    with pytest.raises(ClientError):
        await asyncio.to_thread(client.head_object, Bucket=bucket, Key=f"rec/{done.path}")
    async with database.session() as s:
        assert await s.get(Recording, done.id) is None
    client.close()


async def test_failed_upload_keeps_the_file(
    api: Any, database: Database, tmp_path: Path, app: Any, s3_endpoint: str
) -> None:
    media = FakeMedia()
    service = RecordingService(
        database,
        app.state.services.bus,
        lambda: media,  # type: ignore[arg-type,return-value]
        root=(tmp_path / "rec").resolve(),
        retention_interval=0,
        storage=S3Storage(_config(s3_endpoint, "no-such-bucket")),
    )
    _owner, record = await _call(api, database)
    started = await service.start_on_demand(record)
    await service.stop_on_demand(record)
    async with database.session() as s:
        row = await s.get(Recording, started.id)
        # not lost: it waits for a retry of the upload (test_recordings_s3_retry.py)
        assert row is not None and row.state == "uploading"
        assert row.error.startswith("storage:")
    assert (service.root / started.path).read_bytes() == AUDIO
    await service.stop()


def test_storage_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class AppSettings:
        pass

    assert isinstance(storage_from_settings(AppSettings(), tmp_path), LocalStorage)
    monkeypatch.setenv("CLICKPHONE_RECORDINGS_S3_BUCKET", "from-env")
    monkeypatch.setenv("CLICKPHONE_RECORDINGS_S3_ENDPOINT", "http://127.0.0.1:9")
    storage = storage_from_settings(AppSettings(), tmp_path)
    assert isinstance(storage, S3Storage) and storage.bucket == "from-env"
    settings = AppSettings()
    settings.recordings_s3_bucket = "from-settings"  # type: ignore[attr-defined]
    storage2 = storage_from_settings(settings, tmp_path)
    assert isinstance(storage2, S3Storage) and storage2.bucket == "from-settings"
    with pytest.raises(Exception, match="bad recording key"):
        storage2.key("../escape.ogg")
    storage.client.close()
    storage2.client.close()


def test_parse_range() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=90-500", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=-500", 100) == (0, 99)
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: the whole file
    assert parse_range("items=0-1", 100) is None
    assert parse_range("bytes=9-2", 100) is None
    assert parse_range("bytes=-", 100) is None
    assert parse_range("bytes=--5", 100) is None
    assert parse_range("bytes=x-5", 100) is None
    with pytest.raises(ValueError):
        parse_range("bytes=100-", 100)
    with pytest.raises(ValueError):
        parse_range("bytes=-0", 100)
