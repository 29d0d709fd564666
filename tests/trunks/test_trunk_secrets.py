"""Carrier passwords are encrypted at rest, never returned; trunk codecs through the API."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from apitest import Api, assert_error
from clickphone.accounts.service import AccountService
from clickphone.db import Database
from clickphone.db.models import Trunk
from clickphone.trunks.registry import TrunkRegistry, spec_of
from clickphone.trunks.secrets import SecretError, TrunkSecrets, encrypt_stored_passwords

KEY = "x" * 40  # the settings fixture's secret key


async def operator(api: Api, database: Database) -> httpx.AsyncClient:
    async with database.session() as s:
        await AccountService().ensure_operator_admin(s, "op@example.com", "operator-pass1")
    return await api.signin("op@example.com", "operator-pass1")


async def stored(database: Database, name: str) -> Trunk:
    async with database.session() as s:
        row = await s.scalar(select(Trunk).where(Trunk.name == name))
        assert row is not None
        return row


def test_round_trip_and_wrong_key() -> None:
    secrets = TrunkSecrets(KEY)
    token = secrets.encrypt("carrier-s3cret")
    assert token is not None and token.startswith("fernet:") and "s3cret" not in token
    assert token != secrets.encrypt("carrier-s3cret")  # random IV
    assert secrets.decrypt(token) == "carrier-s3cret"
    assert secrets.decrypt("legacy-plain") == "legacy-plain"
    assert secrets.encrypt("") is None and secrets.decrypt(None) is None
    with pytest.raises(SecretError):
        TrunkSecrets("another-key-" * 4).decrypt(token)


async def test_api_stores_encrypted_and_shows_has_password(api: Api, database: Database) -> None:
    op = await operator(api, database)
    body = {
        "name": "carrier-a",
        "kind": "registration",
        "host": "192.0.2.10",
        "username": "acct1",
        "password": "carrier-s3cret",
        "codecs": ["pcma", "telephone-event"],
    }
    r = await op.post("/api/v1/trunks", json=body)
    assert r.status_code == 201, r.text
    trunk = r.json()
    assert "carrier-s3cret" not in r.text and "password" not in trunk
    assert trunk["has_password"] is True
    assert trunk["codecs"] == ["PCMA", "telephone-event"]
    row = await stored(database, "carrier-a")
    assert row.password is not None and row.password.startswith("fernet:")
    assert "carrier-s3cret" not in row.password
    assert spec_of(row, TrunkSecrets(KEY)).password == "carrier-s3cret"
    assert spec_of(row, TrunkSecrets(KEY)).codecs == ("PCMA", "telephone-event")

    listed = await op.get("/api/v1/trunks")
    assert "carrier-s3cret" not in listed.text and "fernet:" not in listed.text

    # Codecs are validated; the password can be changed and removed.
    err = assert_error(
        await op.patch(f"/api/v1/trunks/{trunk['id']}", json={"codecs": ["MP3"]}),
        422,
        "validation.failed",
    )
    assert "codecs" in err["details"]["fields"]
    assert_error(
        await op.patch(f"/api/v1/trunks/{trunk['id']}", json={"codecs": ["telephone-event"]}),
        422,
        "validation.failed",
    )
    r = await op.patch(f"/api/v1/trunks/{trunk['id']}", json={"password": "n3w-pass"})
    assert r.json()["has_password"] is True
    assert spec_of(await stored(database, "carrier-a"), TrunkSecrets(KEY)).password == "n3w-pass"
    r = await op.patch(f"/api/v1/trunks/{trunk['id']}", json={"password": ""})
    assert r.json()["has_password"] is False
    assert (await stored(database, "carrier-a")).password is None


async def test_plaintext_rows_are_encrypted_on_start(database: Database) -> None:
    async with database.transaction() as s:
        s.add(Trunk(name="old", kind="ip", host="192.0.2.20", password="plain-old"))
        s.add(Trunk(name="nopass", kind="ip", host="192.0.2.21"))
    secrets = TrunkSecrets(KEY)
    registry = TrunkRegistry(database, secrets=secrets)
    # a plaintext row still works before the migration ...
    assert (await registry.get(1)) is not None
    assert (await registry.trunks())[0].password == "plain-old"
    assert await encrypt_stored_passwords(database, secrets) == 1
    assert await encrypt_stored_passwords(database, secrets) == 0
    row = await stored(database, "old")
    assert row.password is not None and row.password.startswith("fernet:")
    registry.invalidate()
    assert (await registry.trunks())[0].password == "plain-old"
    # ... and a wrong key leaves the trunk without a password instead of breaking routing
    wrong = TrunkRegistry(database, secrets=TrunkSecrets("y" * 40))
    specs = await wrong.trunks()
    assert [s.name for s in specs] == ["old", "nopass"] and specs[0].password is None
