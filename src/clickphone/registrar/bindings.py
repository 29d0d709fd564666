"""Registrar bindings (RFC 3261 §10.3), pure: no I/O, time passed in.

A device (its globally unique SIP username is the address-of-record's user part) has up to
``max_contacts`` bindings. Each binding remembers where the REGISTER really came from
(``peer``), so requests to a phone behind NAT go to its public address, not to the private
address it wrote in its Contact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import SipRequest
from clickphone.sip.transaction import Peer

DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 3600


@dataclass(slots=True)
class Binding:
    username: str
    contact: str  # the Contact URI as the phone wrote it
    peer: Peer  # where the REGISTER came from (NAT-safe target)
    expires_at: float
    call_id: str
    cseq: int
    user_agent: str = ""
    q: float | None = None
    instance_id: str | None = None
    nat: bool = False

    def expires_in(self, now: float) -> int:
        return max(0, round(self.expires_at - now))


class RegisterError(Exception):
    """A REGISTER that must be refused with ``status`` (and optional extra headers)."""

    def __init__(self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers


@dataclass
class RegisterOutcome:
    """What one REGISTER changed: bindings now current, added/refreshed and removed."""

    current: list[Binding]
    upserted: list[Binding] = field(default_factory=list)
    removed: list[Binding] = field(default_factory=list)
    added: int = 0  # how many of ``upserted`` are new contacts (not refreshes)


def _contact_host(uri: str) -> str:
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split("@", 1)[-1]
    if rest.startswith("["):
        return rest[1 : rest.find("]")]
    return rest.split(";", 1)[0].split(":", 1)[0].split("?", 1)[0]


class BindingTable:
    """All bindings, indexed by device username."""

    def __init__(self, *, max_contacts: int = 10) -> None:
        self.by_user: dict[str, list[Binding]] = {}
        self.max_contacts = max_contacts

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_user.values())

    def lookup(self, username: str, now: float) -> list[Binding]:
        """Live bindings of a device, highest q first."""
        live = [b for b in self.by_user.get(username, ()) if b.expires_at > now]
        return sorted(live, key=lambda b: -(b.q if b.q is not None else 1.0))

    def restore(self, binding: Binding) -> None:
        self.by_user.setdefault(binding.username, []).append(binding)

    def expire(self, now: float) -> list[Binding]:
        """Drop expired bindings and return them."""
        gone: list[Binding] = []
        for user in list(self.by_user):
            keep: list[Binding] = []
            for b in self.by_user[user]:
                (keep if b.expires_at > now else gone).append(b)
            if keep:
                self.by_user[user] = keep
            else:
                del self.by_user[user]
        return gone

    def drop_peer(self, peer: Peer, usernames: Iterable[str] | None = None) -> list[Binding]:
        """Drop and return the bindings made over ``peer`` (a closed WebSocket connection:
        RFC 7118 §5 — nothing can reach them any more); only ``usernames``' when given."""
        gone: list[Binding] = []
        for user in list(self.by_user) if usernames is None else usernames:
            bindings = self.by_user.get(user)
            if not bindings:
                continue
            keep = [b for b in bindings if b.peer != peer]
            if len(keep) == len(bindings):
                continue
            gone.extend(b for b in bindings if b.peer == peer)
            if keep:
                self.by_user[user] = keep
            else:
                del self.by_user[user]
        return gone

    def apply(self, username: str, request: SipRequest, peer: Peer, now: float) -> RegisterOutcome:
        """Apply an authenticated REGISTER for ``username`` (RFC 3261 §10.3 steps 6-8)."""
        call_id = request.call_id
        cseq, _ = request.cseq
        header_expires = _parse_expires(request.get("Expires"))
        raw_contacts = request.get_all("Contact")
        existing = self.by_user.get(username, [])
        existing = [b for b in existing if b.expires_at > now]
        removed: list[Binding] = []
        upserted: list[Binding] = []
        added = 0

        if any(c.strip() == "*" for c in raw_contacts):
            if len(raw_contacts) != 1 or header_expires != 0:
                raise RegisterError(400, "Invalid wildcard Contact")
            for b in existing:
                if b.call_id == call_id and cseq <= b.cseq:
                    raise RegisterError(500, "Out of order CSeq")
            removed = existing
            self.by_user.pop(username, None)
            return RegisterOutcome([], [], removed)

        user_agent = (request.get("User-Agent") or "")[:500]
        try:
            contacts = request.contacts  # parsed once per message (and by the parser already)
        except SipPeerError as exc:
            raise RegisterError(400, f"Bad Contact: {exc}") from exc
        for contact in contacts:
            expires = _parse_expires(contact.params.get("expires"))
            if expires is None:
                expires = header_expires if header_expires is not None else DEFAULT_EXPIRES
            if 0 < expires < MIN_EXPIRES:
                raise RegisterError(423, "Interval Too Brief", (("Min-Expires", str(MIN_EXPIRES)),))
            expires = min(expires, MAX_EXPIRES)
            match = next((b for b in existing if b.contact == contact.uri), None)
            if match is not None and match.call_id == call_id and cseq <= match.cseq:
                raise RegisterError(500, "Out of order CSeq")
            if match is not None:
                existing.remove(match)
            elif expires:
                added += 1
            if expires == 0:
                if match is not None:
                    removed.append(match)
                continue
            q_text = contact.params.get("q")
            try:
                q = float(q_text) if q_text is not None else None
            except ValueError:
                q = None
            binding = Binding(
                username=username,
                contact=contact.uri,
                peer=peer,
                expires_at=now + expires,
                call_id=call_id,
                cseq=cseq,
                user_agent=user_agent,
                q=q,
                instance_id=contact.params.get("+sip.instance"),
                nat=_contact_host(contact.uri) != peer.host,
            )
            upserted.append(binding)
        current = existing + upserted
        if len(current) > self.max_contacts:
            # Oldest-expiring bindings make room for the new ones.
            current.sort(key=lambda b: b.expires_at)
            overflow = current[: len(current) - self.max_contacts]
            current = current[len(overflow) :]
            removed.extend(b for b in overflow if b not in upserted)
        if current:
            self.by_user[username] = current
        else:
            self.by_user.pop(username, None)
        return RegisterOutcome(list(current), upserted, removed, added)


def _parse_expires(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit():
        return None if not value else DEFAULT_EXPIRES
    return min(int(value[:10]), 2**31 - 1)
