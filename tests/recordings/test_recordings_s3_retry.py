"""No recording is lost when S3 is down (a moto S3 server on loopback that the tests stop and
start again on the same port), on SQLite and PostgreSQL: a finished recording whose upload
fails stays ``uploading`` with its local file, plays from it, counts toward usage; the
retries back off and upload it once S3 is back; a new service over the same database and
folder uploads what a previous process left; a file gone from disk and bucket is ``failed``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from apitest import assert_error
from clickphone.db import Database
from clickphone.db.models import CallRecord, Recording, new_event_id
from clickphone.media.control import MediaError, RecordingInfo
from clickphone.recordings.service import RecordingService, upload_backoff
from clickphone.recordings.storage import S3Settings, S3Storage

AUDIO = bytes(range(256)) * 300  # 76 800 bytes
T = TypeVar("T")


class S3Switch:
    """A moto S3 server that can go down and come back on the same port (moto keeps its
    buckets in the process, so they survive)."""

    def __init__(self) -> None:
        self.port = 0
        self.server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        assert self.server is None
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.port = self.server.get_host_and_port()[1]

    def down(self) -> None:
        assert self.server is not None
        self.server.stop()
        self.server._server.server_close()  # type: ignore[union-attr]  # free the port
        self.server = None

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
            # one try, short timeouts: an outage fails fast instead of boto's own retries
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=2,
                read_timeout=5,
            ),
        )


_buckets = iter(range(1_000_000))


@pytest.fixture
def s3() -> Iterator[S3Switch]:
    switch = S3Switch()
    switch.up()
    yield switch
    if switch.server is not None:
        switch.down()


@pytest.fixture
def bucket(s3: S3Switch) -> str:
    name = f"retry-recordings-{next(_buckets)}"
    client = s3.client()
    client.create_bucket(Bucket=name)
    client.close()
    return name


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


def _service(
    app: Any,
    database: Database,
    root: Path,
    s3: S3Switch,
    bucket: str,
    *,
    first: float = 0.05,
    cap: float = 0.2,
) -> RecordingService:
    media = FakeMedia()
    config = S3Settings(
        endpoint=s3.endpoint,
        bucket=bucket,
        access_key="testing",
        secret_key="testing",
        prefix="rec/",
    )
    svc = RecordingService(
        database,
        app.state.services.bus,
        lambda: media,  # type: ignore[arg-type,return-value]
        root=root,
        secret="k" * 40,
        retention_interval=0,
        storage=S3Storage(config, client=s3.client()),
        upload_retry_first=first,
        upload_retry_max=cap,
    )
    app.state.services.extra["recordings"] = svc
    return svc


async def _call(api: Any, database: Database) -> tuple[Any, CallRecord]:
    owner = await api.signup_company("Retry Co", "retry-owner@example.com")
    tenant_id = (await owner.get("/api/v1/me")).json()["tenant"]["id"]
    record = CallRecord(
        id="r" * 32,
        tenant_id=tenant_id,
        sip_call_id="retry-call",
        direction="incoming",
        caller="+74950000002",
        callee="200",
        started_at=datetime.now(UTC),
        outcome="in_progress",
    )
    async with database.transaction() as s:
        s.add(record)
    return owner, record


async def _record(service: RecordingService, record: CallRecord) -> Recording:
    await service.start_on_demand(record)
    [done] = await service.stop_on_demand(record)
    return done


async def _row(database: Database, rec_id: str) -> Recording | None:
    async with database.session() as s:
        return await s.get(Recording, rec_id)


async def until(probe: Callable[[], Awaitable[T]], timeout: float = 15.0) -> T:
    """Poll ``probe`` until it returns something truthy (fails after ``timeout``)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _object(s3: S3Switch, bucket: str, key: str) -> bytes | None:
    client = s3.client()
    try:
        obj = await asyncio.to_thread(client.get_object, Bucket=bucket, Key=key)
        return bytes(obj["Body"].read())
    except ClientError:
        return None
    finally:
        client.close()


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [upload_backoff(n, 5.0, 600.0) for n in range(1, 10)] == [
        5.0,
        10.0,
        20.0,
        40.0,
        80.0,
        160.0,
        320.0,
        600.0,
        600.0,
    ]
    assert upload_backoff(10_000, 5.0, 600.0) == 600.0


async def test_s3_down_recording_plays_locally_then_uploads_when_back(
    api: Any, app: Any, database: Database, tmp_path: Path, s3: S3Switch, bucket: str
) -> None:
    service = _service(app, database, (tmp_path / "rec").resolve(), s3, bucket)
    await service.start()
    try:
        owner, record = await _call(api, database)
        s3.down()
        done = await _record(service, record)
        local = service.root / done.path
        assert done.state == "uploading", done.error
        assert done.error.startswith("storage:") and done.upload_attempts >= 1
        assert done.size_bytes == len(AUDIO) and done.duration_seconds == 4.8
        assert local.read_bytes() == AUDIO  # nothing lost

        # listed with its state, counted, playable, downloadable and shareable from disk
        page = (await owner.get("/api/v1/recordings")).json()
        assert [(r["id"], r["state"]) for r in page["items"]] == [(done.id, "uploading")]
        assert page["total_bytes"] == len(AUDIO)
        usage = (await owner.get("/api/v1/recordings/usage")).json()
        assert (usage["recordings"], usage["bytes"]) == (1, len(AUDIO))
        url = f"/api/v1/recordings/{done.id}/audio"
        full = await owner.get(url)
        assert full.status_code == 200, full.text
        assert full.content == AUDIO and full.headers["content-type"] == "audio/ogg"
        part = await owner.get(url, headers={"Range": "bytes=70000-70099"})
        assert part.status_code == 206 and part.content == AUDIO[70000:70100]
        dl = await owner.get(url, params={"download": 1})
        assert dl.content == AUDIO and dl.headers["content-disposition"].startswith("attachment")
        share = (await owner.post(f"/api/v1/recordings/{done.id}/share", json={})).json()
        got = await owner.get(share["url"])
        assert got.status_code == 200 and got.content == AUDIO

        # the background task keeps trying, backing off, while S3 stays down
        async def retried() -> Recording | None:
            row = await _row(database, done.id)
            return row if row is not None and row.upload_attempts >= 3 else None

        row = await until(retried)
        assert row.state == "uploading" and row.next_upload_at is not None
        assert local.is_file()

        # S3 is back: the next retry uploads it, the local copy goes, the row is ready
        s3.up()

        async def ready() -> Recording | None:
            row = await _row(database, done.id)
            return row if row is not None and row.state == "ready" else None

        row = await until(ready)
        assert row.error == "" and row.next_upload_at is None
        assert await _object(s3, bucket, f"rec/{done.path}") == AUDIO
        assert not local.exists()
        full = await owner.get(url)  # now proxied from S3
        assert full.status_code == 200 and full.content == AUDIO
        assert full.headers["accept-ranges"] == "bytes"
    finally:
        await service.stop()


async def test_retries_wait_for_their_time(
    api: Any, app: Any, database: Database, tmp_path: Path, s3: S3Switch, bucket: str
) -> None:
    """No background task here: ``upload_pending(now)`` alone decides, by the row's time."""
    service = _service(app, database, (tmp_path / "rec").resolve(), s3, bucket, first=5, cap=600)
    try:
        _owner, record = await _call(api, database)
        s3.down()
        done = await _record(service, record)
        row = await _row(database, done.id)
        assert row is not None and row.state == "uploading" and row.upload_attempts == 1
        assert row.next_upload_at is not None
        first_due = row.next_upload_at
        assert timedelta(seconds=4) < first_due - datetime.now(UTC) <= timedelta(seconds=5)

        assert await service.upload_pending(first_due - timedelta(seconds=1)) == 0
        row = await _row(database, done.id)
        assert row is not None and row.upload_attempts == 1  # not tried before its time

        assert await service.upload_pending(first_due + timedelta(seconds=1)) == 0
        row = await _row(database, done.id)
        assert row is not None and row.state == "uploading" and row.upload_attempts == 2
        assert row.next_upload_at is not None
        second_wait = row.next_upload_at - datetime.now(UTC)
        assert timedelta(seconds=9) < second_wait <= timedelta(seconds=10)  # doubled

        s3.up()
        later = row.next_upload_at + timedelta(seconds=1)
        assert await service.upload_pending(later) == 1
        row = await _row(database, done.id)
        assert row is not None and row.state == "ready"
        assert await _object(s3, bucket, f"rec/{done.path}") == AUDIO
        assert not (service.root / done.path).exists()
    finally:
        await service.stop()


async def test_restart_uploads_what_the_previous_process_left(
    api: Any, app: Any, database: Database, tmp_path: Path, s3: S3Switch, bucket: str
) -> None:
    root = (tmp_path / "rec").resolve()
    _owner, record = await _call(api, database)
    # the first process: S3 down for its two recordings, then it stops
    s3.down()
    first = _service(app, database, root, s3, bucket, first=600, cap=600)
    await first.start()
    left = [await _record(first, record), await _record(first, record)]
    await first.stop()
    assert [r.state for r in left] == ["uploading", "uploading"]
    # and one whose upload succeeded just before a crash: in the bucket, gone from disk,
    # the row still `uploading`
    s3.up()
    crashed = Recording(
        id=new_event_id(),
        tenant_id=record.tenant_id,
        call_record_id=record.id,
        sip_call_id=record.sip_call_id,
        path=f"{record.tenant_id}/2026/01/01/crashed.ogg",
        format="ogg",
        state="uploading",
        started_at=datetime.now(UTC),
        size_bytes=len(AUDIO),
        next_upload_at=datetime.now(UTC) + timedelta(hours=1),
    )
    async with database.transaction() as s:
        s.add(crashed)
    client = s3.client()
    await asyncio.to_thread(client.put_object, Bucket=bucket, Key=f"rec/{crashed.path}", Body=AUDIO)
    client.close()

    # a new process over the same database and folder; its retries are far away (600 s),
    # so only the take-over on start can upload them
    second = _service(app, database, root, s3, bucket, first=600, cap=600)
    await second.start()
    try:

        async def settled() -> list[Recording] | None:
            rows = [await _row(database, r.id) for r in (*left, crashed)]
            done = all(r is not None and r.state != "uploading" for r in rows)
            return [r for r in rows if r is not None] if done else None

        rows = await until(settled)
        assert [r.state for r in rows] == ["ready", "ready", "ready"], [r.error for r in rows]
        for rec in (*left, crashed):
            assert await _object(s3, bucket, f"rec/{rec.path}") == AUDIO
            assert not (root / rec.path).exists()
    finally:
        await second.stop()


async def test_missing_file_fails_only_when_the_bucket_lacks_it_too(
    api: Any, app: Any, database: Database, tmp_path: Path, s3: S3Switch, bucket: str
) -> None:
    service = _service(app, database, (tmp_path / "rec").resolve(), s3, bucket, first=5, cap=5)
    try:
        owner, record = await _call(api, database)
        s3.down()
        done = await _record(service, record)
        (service.root / done.path).unlink()  # lost from disk while S3 is down
        due = datetime.now(UTC) + timedelta(minutes=1)
        # S3 still down: cannot know whether the bucket has it, so it waits
        assert await service.upload_pending(due) == 0
        row = await _row(database, done.id)
        assert row is not None and row.state == "uploading" and row.upload_attempts == 2
        resp = await owner.get(f"/api/v1/recordings/{done.id}/audio")
        # not on disk, and the storage cannot be asked: unavailable (not "missing", not 500)
        assert_error(resp, 503, "recording.storage_unavailable")
        s3.up()
        assert await service.upload_pending(due + timedelta(minutes=1)) == 0
        row = await _row(database, done.id)
        assert row is not None and row.state == "failed"
        assert "missing on disk and in the s3" in row.error, row.error
        page = (await owner.get("/api/v1/recordings")).json()
        assert page["items"] == [] and page["total_bytes"] == 0
    finally:
        await service.stop()


async def test_retention_deletes_uploading_files(
    api: Any, app: Any, database: Database, tmp_path: Path, s3: S3Switch, bucket: str
) -> None:
    service = _service(app, database, (tmp_path / "rec").resolve(), s3, bucket, first=600)
    try:
        _owner, record = await _call(api, database)
        s3.down()
        done = await _record(service, record)
        local = service.root / done.path
        assert done.state == "uploading" and local.is_file()
        async with database.transaction() as s:
            row = await s.get(Recording, done.id)
            assert row is not None
            row.started_at = datetime.now(UTC) - timedelta(days=400)
        assert await service.purge_expired() == 1  # S3 still down: the local file goes
        assert not local.exists()
        assert await _row(database, done.id) is None
    finally:
        await service.stop()
