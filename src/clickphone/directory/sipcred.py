"""SIP device credentials: usernames, passwords and digest HA1 values.

HA1 = H("username:realm:password") for H in MD5, SHA-256 and SHA-512/256 (RFC 7616). The
SIP stack's ``clickphone.sip.auth.compute_ha1`` uses the same formula; the integrator may
replace :func:`compute_ha1` with it.
"""

from __future__ import annotations

import hashlib
import secrets

from clickphone.accounts.passwords import generate_password

ALGORITHMS = ("MD5", "SHA-256", "SHA-512-256")
_HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


def compute_ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    name = _HASHES[algorithm.upper().removesuffix("-SESS")]
    return hashlib.new(name, f"{username}:{realm}:{password}".encode()).hexdigest()


def all_ha1(username: str, realm: str, password: str) -> dict[str, str]:
    """The column values ``ha1_md5``, ``ha1_sha256``, ``ha1_sha512_256`` of a device."""
    return {
        "ha1_md5": compute_ha1(username, realm, password, "MD5"),
        "ha1_sha256": compute_ha1(username, realm, password, "SHA-256"),
        "ha1_sha512_256": compute_ha1(username, realm, password, "SHA-512-256"),
    }


def new_sip_username() -> str:
    """Ten random digits (never starting with 0): typeable on any phone's keypad."""
    return str(secrets.choice("123456789")) + "".join(
        secrets.choice("0123456789") for _ in range(9)
    )


def new_sip_password() -> str:
    return generate_password(20)


def normalize_algorithms(algorithms: list[str]) -> list[str]:
    out: list[str] = []
    for a in algorithms:
        a = a.strip().upper().replace("SHA256", "SHA-256").replace("SHA-512/256", "SHA-512-256")
        if a not in ALGORITHMS:
            raise ValueError(f"unknown digest algorithm {a!r}; use {', '.join(ALGORITHMS)}")
        if a not in out:
            out.append(a)
    if not out:
        raise ValueError("at least one digest algorithm is needed")
    return out
