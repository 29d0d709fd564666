"""Sans-I/O SIP dialogs (RFC 3261 §12, §13-15): state, route set, CSeq, in-dialog requests.

A :class:`Dialog` is created by the UAC from its INVITE and a 2xx (or a 101-199 with a To
tag, for an early dialog) with :meth:`Dialog.create_uac`, and by the UAS from the INVITE and
the response it sent with :meth:`Dialog.create_uas`. It builds in-dialog requests
(:meth:`Dialog.create_request`, :meth:`Dialog.make_ack_for_2xx`) and checks incoming ones
(:meth:`Dialog.receive_request`). :func:`make_cancel` builds a CANCEL from an INVITE. No I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from clickphone.sip.errors import SipLocalError
from clickphone.sip.message import NameAddr, SipRequest, SipResponse, parse_params
from clickphone.sip.state import DialogEvent, DialogState, dialog_transition
from clickphone.sip.transaction import new_branch

#: Methods whose Contact replaces the dialog's remote target (§12.2, RFC 3311, 3265, 3515).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})

DialogId = tuple[str, str, str]


def new_tag() -> str:
    """A random From/To tag (§19.3: at least 32 bits of randomness)."""
    return secrets.token_hex(8)


def dialog_id_of(msg: SipRequest | SipResponse) -> DialogId:
    """(Call-ID, local tag, remote tag) of the dialog an *incoming* message belongs to.

    For a request we receive, the local tag is its To tag; for a response we receive (to a
    request we sent), the local tag is its From tag.
    """
    if isinstance(msg, SipRequest):
        return (msg.call_id, msg.to.tag or "", msg.from_.tag or "")
    return (msg.call_id, msg.from_.tag or "", msg.to.tag or "")


def uri_params(uri: str) -> dict[str, str | None]:
    """The ``;param`` part of a SIP URI (before any ``?headers``), keys lower-cased."""
    body = uri.split("?", 1)[0]
    _, sep, params = body.partition(";")
    return parse_params(params) if sep else {}


def _strip_uri_for_request_line(uri: str) -> str:
    """Drop parameters not allowed in a Request-URI (§19.1.1: method, ttl... ; keep lr/transport
    and friends) and any ``?headers`` — used for the strict-router case of §12.2.1.1."""
    body = uri.split("?", 1)[0]
    base, _, param_text = body.partition(";")
    kept = [p for p in param_text.split(";") if p and p.split("=", 1)[0].lower() != "method"]
    return ";".join([base, *kept])


def make_cancel(invite: SipRequest) -> SipRequest:
    """The CANCEL for ``invite`` (§9.1): same Request-URI, Call-ID, From, To, CSeq number,
    the INVITE's top Via only (same branch) and its Route headers."""
    cseq_num, method = invite.cseq
    if method != "INVITE":
        raise SipLocalError(f"can only CANCEL an INVITE, not {method}")
    headers: list[tuple[str, str]] = [("Via", str(invite.top_via))]
    headers += [(n, v) for n, v in invite.headers if n == "Route"]
    headers += [
        ("Max-Forwards", "70"),
        ("From", invite.get("From") or ""),
        ("To", invite.get("To") or ""),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{cseq_num} CANCEL"),
    ]
    return SipRequest("CANCEL", invite.uri, headers)


@dataclass
class Dialog:
    """One dialog's state (§12). ``local``/``remote`` hold the URIs, display names and tags
    to put in From/To; ``route_set`` is in the order to put in Route headers."""

    role: str  # "UAC" or "UAS"
    call_id: str
    local: NameAddr
    remote: NameAddr
    remote_target: str
    route_set: list[str]
    local_cseq: int | None
    remote_cseq: int | None
    secure: bool = False
    local_target: str | None = None  # our Contact, sent in target refresh requests
    state: DialogState = DialogState.EARLY
    invite_cseq: int | None = None  # CSeq of the last INVITE we sent (ACKs reuse it)

    # -- creation -------------------------------------------------------------------------
    @classmethod
    def create_uac(cls, invite: SipRequest, response: SipResponse) -> Dialog:
        """The UAC's dialog from its INVITE and a 2xx or tagged 101-199 (§12.1.2)."""
        if not 101 <= response.status <= 299 or response.to.tag is None:
            raise SipLocalError(f"{response.status} without To tag does not create a dialog")
        contacts = response.contacts
        local = invite.from_  # parsed once per message (the view is not modified here)
        remote = response.to
        ours = invite.contacts
        cseq, _ = invite.cseq
        dialog = cls(
            role="UAC",
            call_id=invite.call_id,
            local=NameAddr(local.uri, local.display_name, {"tag": local.tag or ""}),
            remote=NameAddr(remote.uri, remote.display_name, {"tag": remote.tag or ""}),
            remote_target=contacts[0].uri if contacts else remote.uri,
            route_set=list(reversed(response.get_all("Record-Route"))),
            local_cseq=cseq,
            remote_cseq=None,
            secure=invite.uri.lower().startswith("sips:"),
            local_target=ours[0].uri if ours else None,
            invite_cseq=cseq,
        )
        if response.status >= 200:
            dialog._confirm(response)
        return dialog

    @classmethod
    def create_uas(
        cls, invite: SipRequest, response: SipResponse, *, secure: bool | None = None
    ) -> Dialog:
        """The UAS's dialog from the INVITE and the 2xx/101-199 it sends (with its To tag and
        Contact) (§12.1.1). ``secure``: request arrived over TLS with a sips Request-URI;
        by default the Request-URI scheme decides."""
        if not 101 <= response.status <= 299 or response.to.tag is None:
            raise SipLocalError(f"{response.status} without To tag does not create a dialog")
        remote = invite.from_
        local = response.to
        contacts = invite.contacts
        cseq, _ = invite.cseq
        ours = response.contacts
        dialog = cls(
            role="UAS",
            call_id=invite.call_id,
            local=NameAddr(local.uri, local.display_name, {"tag": local.tag or ""}),
            remote=NameAddr(remote.uri, remote.display_name, {"tag": remote.tag or ""}),
            remote_target=contacts[0].uri if contacts else remote.uri,
            route_set=invite.get_all("Record-Route"),
            local_cseq=None,
            remote_cseq=cseq,
            secure=invite.uri.lower().startswith("sips:") if secure is None else secure,
            local_target=ours[0].uri if ours else None,
        )
        if response.status >= 200:
            dialog._confirm(response)
        return dialog

    # -- identity ------------------------------------------------------------------------
    @property
    def local_tag(self) -> str:
        return self.local.tag or ""

    @property
    def remote_tag(self) -> str:
        return self.remote.tag or ""

    @property
    def local_uri(self) -> str:
        return self.local.uri

    @property
    def remote_uri(self) -> str:
        return self.remote.uri

    @property
    def dialog_id(self) -> DialogId:
        return (self.call_id, self.local_tag, self.remote_tag)

    def matches(self, msg: SipRequest | SipResponse) -> bool:
        """Whether an incoming message belongs to this dialog."""
        return dialog_id_of(msg) == self.dialog_id

    # -- state ---------------------------------------------------------------------------
    def _confirm(self, response: SipResponse) -> None:
        self.state = dialog_transition(self.role, self.state, DialogEvent.CONFIRM)

    def terminate(self) -> None:
        """BYE sent or received, or a non-2xx final response ended an early dialog."""
        self.state = dialog_transition(self.role, self.state, DialogEvent.TERMINATE)

    def receive_response(self, request_method: str, response: SipResponse) -> None:
        """Update the dialog from a response to a request it sent.

        A 2xx to the dialog-creating INVITE confirms an early dialog and recomputes the route
        set (§13.2.2.4); a 2xx to a target refresh request updates the remote target; a
        non-2xx final response to the initial INVITE ends an early dialog.
        """
        status = response.status
        if self.state is DialogState.EARLY and self.role == "UAC" and request_method == "INVITE":
            if status >= 300:
                self.terminate()
                return
            if 200 <= status < 300:
                self.route_set = list(reversed(response.get_all("Record-Route")))
                self._confirm(response)
        if 200 <= status < 300 and request_method in TARGET_REFRESH_METHODS:
            contacts = response.contacts
            if contacts:
                self.remote_target = contacts[0].uri

    def receive_request(self, request: SipRequest) -> bool:
        """Check and account an in-dialog request (§12.2.2).

        Returns False when the request is out of order (CSeq lower than the last one): the
        caller answers 500. Otherwise records its CSeq and, for a target refresh request,
        takes its Contact as the new remote target. ACK and CANCEL are not checked.
        """
        if request.method in ("ACK", "CANCEL"):
            return True
        cseq, _ = request.cseq
        if self.remote_cseq is not None and cseq < self.remote_cseq:
            return False
        self.remote_cseq = cseq
        if request.method in TARGET_REFRESH_METHODS:
            contacts = request.contacts
            if contacts:
                self.remote_target = contacts[0].uri
        if request.method == "BYE" and self.state is not DialogState.TERMINATED:
            self.terminate()
        return True

    # -- building requests -----------------------------------------------------------------
    def _request_uri_and_routes(self) -> tuple[str, list[str]]:
        """Request-URI and Route values per §12.2.1.1 (loose and strict first hop)."""
        if not self.route_set:
            return self.remote_target, []
        first = NameAddr.parse(self.route_set[0])
        if "lr" in uri_params(first.uri):
            return self.remote_target, list(self.route_set)
        # strict router: it goes in the Request-URI, the remote target goes last in Route
        return (
            _strip_uri_for_request_line(first.uri),
            [*self.route_set[1:], f"<{self.remote_target}>"],
        )

    def create_request(
        self,
        method: str,
        *,
        via_host: str,
        via_port: int | None,
        transport: str,
        branch: str | None = None,
        body: bytes = b"",
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> SipRequest:
        """An in-dialog request (§12.2.1.1) with a new Via branch and the next local CSeq.

        ACK reuses the CSeq number of the last INVITE; CANCEL is built with
        :func:`make_cancel` from the INVITE instead. Target refresh requests carry our Contact
        when the dialog knows it. Content-Type, if any, goes in ``extra_headers``.
        """
        if method == "CANCEL":
            raise SipLocalError("build CANCEL with make_cancel(invite), not create_request")
        if self.state is DialogState.TERMINATED and method != "ACK":
            raise SipLocalError(f"cannot send {method} in a terminated {self.role} dialog")
        if method == "ACK":
            if self.invite_cseq is None:
                raise SipLocalError("ACK without an INVITE sent in this dialog")
            cseq = self.invite_cseq
        else:
            if self.local_cseq is None:
                # §12.1.1: the UAS's local sequence number starts empty; pick one at random
                self.local_cseq = secrets.randbelow(2**16) + 1
            else:
                self.local_cseq += 1
            cseq = self.local_cseq
            if method == "INVITE":
                self.invite_cseq = cseq
        ruri, routes = self._request_uri_and_routes()
        via = f"SIP/2.0/{transport.upper()} {via_host}"
        if via_port is not None:
            via += f":{via_port}"
        headers: list[tuple[str, str]] = [
            ("Via", f"{via};branch={branch or new_branch()};rport"),
            ("Max-Forwards", "70"),
        ]
        headers += [("Route", r) for r in routes]
        headers += [
            ("From", str(self.local)),
            ("To", str(self.remote)),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
        ]
        if method in TARGET_REFRESH_METHODS and self.local_target is not None:
            headers.append(("Contact", f"<{self.local_target}>"))
        headers.extend(extra_headers)
        return SipRequest(method, ruri, headers, body)

    def make_ack_for_2xx(
        self,
        invite: SipRequest,
        response: SipResponse,
        *,
        via_host: str,
        via_port: int | None,
        transport: str,
        body: bytes = b"",
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> SipRequest:
        """The UAC's ACK for a 2xx to ``invite`` (§13.2.2.4): in-dialog, same CSeq number,
        a new branch, the INVITE's credentials copied. Confirms an early dialog."""
        if not 200 <= response.status < 300 or not self.matches(response):
            raise SipLocalError(f"{response!r} is not a 2xx in dialog {self.dialog_id}")
        if self.state is DialogState.EARLY:
            self.receive_response("INVITE", response)
        cseq, _ = invite.cseq
        self.invite_cseq = cseq
        creds = [(n, v) for n, v in invite.headers if n in ("Authorization", "Proxy-Authorization")]
        return self.create_request(
            "ACK",
            via_host=via_host,
            via_port=via_port,
            transport=transport,
            body=body,
            extra_headers=[*creds, *extra_headers],
        )
