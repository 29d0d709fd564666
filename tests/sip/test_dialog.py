"""RFC 3261 §12-15 dialogs: creation, route set, in-dialog requests, CSeq, target refresh."""

from __future__ import annotations

import pytest

from clickphone.sip.dialog import (
    Dialog,
    dialog_id_of,
    make_cancel,
    new_tag,
    uri_params,
)
from clickphone.sip.errors import SipLocalError
from clickphone.sip.message import SipRequest, make_response
from clickphone.sip.state import DialogState
from clickphone.sip.transaction import MAGIC_COOKIE, new_branch

RR = [
    ("Record-Route", "<sip:p1.example.com;lr>"),
    ("Record-Route", "<sip:p2.example.com;lr>, <sip:p3.example.com;lr>"),
]


def invite(*, cseq: int = 314, uri: str = "sip:bob@example.com", rr: bool = True) -> SipRequest:
    return SipRequest(
        "INVITE",
        uri,
        [
            ("Via", f"SIP/2.0/UDP 10.0.0.1:5060;branch={new_branch()}"),
            ("Max-Forwards", "70"),
            ("Route", "<sip:p1.example.com;lr>"),
            ("From", '"Alice" <sip:alice@example.com>;tag=a1'),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "dlg-1@10.0.0.1"),
            ("CSeq", f"{cseq} INVITE"),
            ("Contact", "<sip:alice@10.0.0.1:5060>"),
            ("Proxy-Authorization", 'Digest username="alice", nonce="n"'),
            *(RR if rr else []),
        ],
    )


def new(dialog: Dialog, method: str) -> SipRequest:
    return dialog.create_request(method, via_host="10.0.0.1", via_port=5060, transport="UDP")


def ok_for(req: SipRequest, *, status: int = 200, rr: bool = True) -> tuple[Dialog, Dialog]:
    """The UAC's and UAS's dialogs for ``req`` answered with ``status`` carrying Bob's tag."""
    resp = make_response(
        req,
        status,
        to_tag="b1",
        extra_headers=[*(RR if rr else []), ("Contact", "<sip:bob@10.0.0.2:5070>")],
    )
    return Dialog.create_uac(req, resp), Dialog.create_uas(req, resp)


def test_dialog_ids_mirror_each_other() -> None:
    uac, uas = ok_for(invite())
    assert uac.dialog_id == ("dlg-1@10.0.0.1", "a1", "b1")
    assert uas.dialog_id == ("dlg-1@10.0.0.1", "b1", "a1")
    assert uac.state is DialogState.CONFIRMED and uas.state is DialogState.CONFIRMED
    assert uac.local_uri == "sip:alice@example.com" and uac.remote_uri == "sip:bob@example.com"
    assert uas.remote.display_name == "Alice"
    assert uac.remote_target == "sip:bob@10.0.0.2:5070"
    assert uas.remote_target == "sip:alice@10.0.0.1:5060"
    assert uac.local_cseq == 314 and uac.remote_cseq is None
    assert uas.local_cseq is None and uas.remote_cseq == 314
    assert not uac.secure


def test_route_set_reversed_for_uac_in_order_for_uas() -> None:
    uac, uas = ok_for(invite())
    hops = ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>", "<sip:p3.example.com;lr>"]
    assert uas.route_set == hops
    assert uac.route_set == hops[::-1]


def test_loose_routing_request() -> None:
    uac, _ = ok_for(invite())
    bye = uac.create_request("BYE", via_host="10.0.0.1", via_port=5060, transport="udp")
    assert bye.uri == "sip:bob@10.0.0.2:5070"
    assert bye.get_all("Route") == [
        "<sip:p3.example.com;lr>",
        "<sip:p2.example.com;lr>",
        "<sip:p1.example.com;lr>",
    ]
    assert bye.cseq == (315, "BYE")
    assert bye.from_.tag == "a1" and bye.to.tag == "b1"
    assert bye.from_.uri == "sip:alice@example.com" and bye.to.uri == "sip:bob@example.com"
    assert bye.call_id == "dlg-1@10.0.0.1"
    via = bye.top_via
    assert via.transport == "UDP" and via.sent_by == "10.0.0.1:5060"
    assert via.branch is not None and via.branch.startswith(MAGIC_COOKIE)
    assert "Contact" not in bye  # BYE is not a target refresh request


def test_strict_router_first_hop() -> None:
    req = invite()
    resp = make_response(
        req,
        200,
        to_tag="b1",
        extra_headers=[
            ("Record-Route", "<sip:p1.example.com;lr>"),
            ("Record-Route", "<sip:strict.example.com;transport=udp>"),
            ("Contact", "<sip:bob@10.0.0.2:5070>"),
        ],
    )
    uac = Dialog.create_uac(req, resp)
    assert uac.route_set[0] == "<sip:strict.example.com;transport=udp>"
    bye = uac.create_request("BYE", via_host="10.0.0.1", via_port=5060, transport="UDP")
    assert bye.uri == "sip:strict.example.com;transport=udp"
    assert bye.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:bob@10.0.0.2:5070>"]


def test_no_route_set_sends_to_remote_target() -> None:
    uac, uas = ok_for(invite(rr=False), rr=False)
    req = uas.create_request("INFO", via_host="10.0.0.2", via_port=None, transport="TCP")
    assert req.uri == "sip:alice@10.0.0.1:5060" and "Route" not in req
    assert req.top_via.sent_by == "10.0.0.2" and req.top_via.transport == "TCP"
    assert uac.create_request("BYE", via_host="h", via_port=1, transport="UDP").uri == (
        "sip:bob@10.0.0.2:5070"
    )


def test_cseq_increments_and_ack_reuses_invite_cseq() -> None:
    uac, _ = ok_for(invite())
    reinvite = new(uac, "INVITE")
    assert reinvite.cseq == (315, "INVITE")
    assert reinvite.contacts[0].uri == "sip:alice@10.0.0.1:5060"  # target refresh: Contact
    info = new(uac, "INFO")
    assert info.cseq == (316, "INFO")
    ack = new(uac, "ACK")
    assert ack.cseq == (315, "ACK")
    assert uac.local_cseq == 316
    with pytest.raises(SipLocalError, match="make_cancel"):
        new(uac, "CANCEL")


def test_uas_picks_a_local_cseq_on_first_request() -> None:
    _, uas = ok_for(invite())
    first = uas.create_request("BYE", via_host="h", via_port=None, transport="UDP")
    assert uas.local_cseq == first.cseq[0] and first.cseq[0] >= 1
    with pytest.raises(SipLocalError, match="ACK without an INVITE"):
        uas.create_request("ACK", via_host="h", via_port=None, transport="UDP")


def test_make_ack_for_2xx() -> None:
    req = invite()
    resp = make_response(
        req, 200, to_tag="b1", extra_headers=[*RR, ("Contact", "<sip:bob@10.0.0.2:5070>")]
    )
    uac = Dialog.create_uac(req, resp)
    ack = uac.make_ack_for_2xx(req, resp, via_host="10.0.0.1", via_port=5060, transport="UDP")
    assert ack.method == "ACK" and ack.cseq == (314, "ACK")
    assert ack.uri == "sip:bob@10.0.0.2:5070"
    assert ack.top_via.branch != req.top_via.branch  # the 2xx ACK is its own transaction
    assert ack.get("Proxy-Authorization") == 'Digest username="alice", nonce="n"'
    assert len(ack.get_all("Route")) == 3
    other = make_response(req, 200, to_tag="someone-else")
    with pytest.raises(SipLocalError):
        uac.make_ack_for_2xx(req, other, via_host="h", via_port=None, transport="UDP")


def test_make_cancel_copies_invite() -> None:
    req = invite()
    cancel = make_cancel(req)
    assert cancel.method == "CANCEL" and cancel.uri == req.uri
    assert cancel.top_via.branch == req.top_via.branch
    assert cancel.cseq == (314, "CANCEL")
    assert cancel.get("Route") == "<sip:p1.example.com;lr>"
    assert cancel.get("To") == req.get("To") and cancel.get("From") == req.get("From")
    assert cancel.call_id == req.call_id
    bye = SipRequest("BYE", "sip:x", [("CSeq", "1 BYE")])
    with pytest.raises(SipLocalError, match="INVITE"):
        make_cancel(bye)


def test_cseq_ordering_lower_is_rejected() -> None:
    uac, uas = ok_for(invite())
    info1 = new(uac, "INFO")
    info2 = new(uac, "INFO")
    assert uas.receive_request(info2) is True
    assert uas.remote_cseq == 316
    assert uas.receive_request(info1) is False  # out of order: the caller answers 500
    assert uas.remote_cseq == 316
    ack = new(uac, "ACK")
    assert uas.receive_request(ack) is True  # ACK carries the old INVITE CSeq: not checked


def test_target_refresh_on_reinvite_and_update() -> None:
    uac, uas = ok_for(invite())
    uac.local_target = "sip:alice@192.168.1.50:5062"
    reinvite = new(uac, "INVITE")
    assert uas.matches(reinvite) and dialog_id_of(reinvite) == uas.dialog_id
    assert uas.receive_request(reinvite)
    assert uas.remote_target == "sip:alice@192.168.1.50:5062"
    info = new(uac, "INFO")
    info.add("Contact", "<sip:ignored@1.1.1.1>")
    assert uas.receive_request(info)
    assert uas.remote_target == "sip:alice@192.168.1.50:5062"  # INFO refreshes nothing
    # the UAC learns Bob's new target from the 2xx to its UPDATE
    update = new(uac, "UPDATE")
    ok = make_response(update, 200, extra_headers=[("Contact", "<sip:bob@10.9.9.9>")])
    uac.receive_response("UPDATE", ok)
    assert uac.remote_target == "sip:bob@10.9.9.9"


def test_early_dialog_confirmed_by_2xx_recomputes_route_set() -> None:
    req = invite()
    ringing = make_response(
        req,
        180,
        to_tag="b1",
        extra_headers=[("Record-Route", "<sip:old.example.com;lr>"), ("Contact", "<sip:b@x>")],
    )
    uac = Dialog.create_uac(req, ringing)
    assert uac.state is DialogState.EARLY
    assert uac.route_set == ["<sip:old.example.com;lr>"]
    ok = make_response(req, 200, to_tag="b1", extra_headers=[*RR, ("Contact", "<sip:b@y>")])
    ack = uac.make_ack_for_2xx(req, ok, via_host="h", via_port=None, transport="UDP")
    assert uac.state is DialogState.CONFIRMED
    assert uac.route_set[0] == "<sip:p3.example.com;lr>"
    assert uac.remote_target == "sip:b@y" and ack.uri == "sip:b@y"


def test_early_dialog_ends_on_failure_and_bye_ends_dialog() -> None:
    req = invite()
    uac = Dialog.create_uac(req, make_response(req, 183, to_tag="b1"))
    uac.receive_response("INVITE", make_response(req, 486, to_tag="b1"))
    assert uac.state is DialogState.TERMINATED
    with pytest.raises(SipLocalError, match="terminated UAC dialog"):
        uac.create_request("BYE", via_host="h", via_port=None, transport="UDP")

    caller, callee = ok_for(invite())
    bye = caller.create_request("BYE", via_host="h", via_port=None, transport="UDP")
    caller.terminate()
    assert callee.receive_request(bye) and callee.state is DialogState.TERMINATED
    with pytest.raises(SipLocalError) as exc:
        callee.terminate()
    assert "UAS dialog" in str(exc.value) and "Terminated" in str(exc.value)


def test_responses_without_tag_do_not_create_dialogs() -> None:
    req = invite()
    with pytest.raises(SipLocalError, match="To tag"):
        Dialog.create_uac(req, make_response(req, 180))
    with pytest.raises(SipLocalError):
        Dialog.create_uas(req, make_response(req, 100, to_tag="x"))


def test_sips_dialog_is_secure() -> None:
    uac, uas = ok_for(invite(uri="sips:bob@example.com"))
    assert uac.secure and uas.secure


def test_helpers() -> None:
    assert len({new_tag() for _ in range(50)}) == 50
    assert uri_params("sip:a@b;lr;transport=tcp?x=y") == {"lr": None, "transport": "tcp"}
    assert uri_params("sip:a@b") == {}
