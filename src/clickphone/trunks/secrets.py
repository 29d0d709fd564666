"""Carrier passwords encrypted at rest.

We must answer carriers' digest challenges, so a trunk password is kept — encrypted with
Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the app's secret key. Stored
values look like ``fernet:<token>``; a value without the prefix is a plaintext password
written before encryption existed, read as is and encrypted on the next start
(:func:`encrypt_stored_passwords`). The password is never logged nor returned by the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from clickphone.db.models import Trunk
from clickphone.db.session import Database

PREFIX = "fernet:"
_LABEL = b"clickphone trunk passwords v1"


class SecretError(Exception):
    """A stored password cannot be decrypted (the secret key changed, or the value is bad)."""


class TrunkSecrets:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is needed to encrypt trunk passwords")
        key = hmac.new(secret_key.encode(), _LABEL, hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, password: str | None) -> str | None:
        if not password:
            return None
        return PREFIX + self._fernet.encrypt(password.encode()).decode()

    def decrypt(self, stored: str | None) -> str | None:
        if not stored:
            return None
        if not is_encrypted(stored):
            return stored  # written before encryption (encrypted on the next start)
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretError(
                "cannot decrypt a trunk password: was the secret key changed?"
            ) from None


def is_encrypted(stored: str | None) -> bool:
    return bool(stored) and str(stored).startswith(PREFIX)


async def encrypt_stored_passwords(database: Database, secrets: TrunkSecrets) -> int:
    """Encrypt plaintext passwords left by older versions; return how many."""
    async with database.transaction() as session:
        rows = (await session.execute(select(Trunk).where(Trunk.password.is_not(None)))).scalars()
        changed = 0
        for row in rows:
            if row.password and not is_encrypted(row.password):
                row.password = secrets.encrypt(row.password)
                changed += 1
        return changed


__all__ = ["PREFIX", "SecretError", "TrunkSecrets", "encrypt_stored_passwords", "is_encrypted"]
