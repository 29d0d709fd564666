"""RFC 3261 §17 transaction layer: timers, matching, ACK/CANCEL, loss patterns end to end."""

from __future__ import annotations

import pytest

from clickphone.sip.dialog import Dialog, make_cancel, new_tag
from clickphone.sip.errors import SipLocalError
from clickphone.sip.message import SipRequest, SipResponse, make_response
from clickphone.sip.state import TxEvent, TxRole, TxState, transition
from clickphone.sip.transaction import (
    AckReceived,
    AckTimeout,
    CancelReceived,
    Event,
    Peer,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    Timers,
    TransactionLayer,
    TransactionTimeout,
    TransportFailure,
    new_branch,
)
from sip.netsim import DropMatching, DropNth, Endpoint, Network, decode

UAC = Peer("UDP", "10.0.0.1", 5060)
UAS = Peer("UDP", "10.0.0.2", 5060)
UAS_TCP = Peer("TCP", "10.0.0.2", 5060)


def request(
    method: str = "INVITE",
    *,
    branch: str | None = None,
    cseq: int = 1,
    call_id: str = "call-1@10.0.0.1",
    from_tag: str = "alice-tag",
    transport: str = "UDP",
    via_host: str = "10.0.0.1:5060",
    to_tag: str | None = None,
) -> SipRequest:
    branch_param = "" if branch == "" else f";branch={branch or new_branch()}"
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    return SipRequest(
        method,
        "sip:bob@example.com",
        [
            ("Via", f"SIP/2.0/{transport} {via_host}{branch_param}"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:alice@example.com>;tag={from_tag}"),
            ("To", to),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Contact", "<sip:alice@10.0.0.1:5060>"),
        ],
    )


def sent_lines(layer: TransactionLayer) -> list[str]:
    return [data.split(b"\r\n", 1)[0].decode() for data, _ in layer.datagrams_to_send()]


# -- client transactions: timers -------------------------------------------------------------


def test_invite_client_retransmits_doubling_then_timer_b() -> None:
    layer = TransactionLayer()
    tx = layer.send_request(request(), UAS, now=0.0)
    assert sent_lines(layer) == ["INVITE sip:bob@example.com SIP/2.0"]
    assert tx.state is TxState.CALLING
    retransmissions = []
    for _ in range(6):
        when = layer.next_timer()
        assert when is not None
        assert layer.handle_timer(when) == []
        assert len(layer.datagrams_to_send()) == 1
        retransmissions.append(when)
    # intervals 0.5, 1, 2, 4, 8, 16 seconds
    assert retransmissions == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert layer.next_timer() == 32.0  # Timer B = 64*T1 comes before the next A (63.5)
    events = layer.handle_timer(32.0)
    assert [type(e) for e in events] == [TransactionTimeout]
    assert events[0].tx is tx and tx.state is TxState.TERMINATED
    assert layer.transactions == [] and layer.next_timer() is None
    assert layer.datagrams_to_send() == []


def test_handle_timer_before_deadline_does_nothing() -> None:
    layer = TransactionLayer()
    layer.send_request(request(), UAS, now=10.0)
    layer.datagrams_to_send()
    assert layer.handle_timer(10.49) == []
    assert layer.datagrams_to_send() == []
    assert layer.next_timer() == 10.5


def test_timers_are_configurable() -> None:
    layer = TransactionLayer(Timers(t1=0.1, t2=0.4, t4=1.0))
    layer.send_request(request("OPTIONS"), UAS, now=0.0)
    assert layer.next_timer() == pytest.approx(0.1)
    layer.handle_timer(0.1)
    assert layer.next_timer() == pytest.approx(0.3)
    assert layer.transactions[0].timer("F") == pytest.approx(6.4)


def test_non_invite_timer_e_capped_at_t2_then_timer_f() -> None:
    layer = TransactionLayer()
    tx = layer.send_request(request("OPTIONS"), UAS, now=0.0)
    layer.datagrams_to_send()
    times = []
    while (when := layer.next_timer()) is not None and when < 32.0:
        layer.handle_timer(when)
        assert len(layer.datagrams_to_send()) == 1
        times.append(when)
    # E: 0.5, 1, 2, then capped at T2 = 4
    assert times[:6] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5]
    assert times[-1] == 31.5
    events = layer.handle_timer(32.0)
    assert [type(e) for e in events] == [TransactionTimeout]
    assert events[0].tx is tx
    assert layer.transactions == [] and layer.next_timer() is None


def test_non_invite_proceeding_retransmits_every_t2() -> None:
    layer = TransactionLayer()
    req = request("REGISTER")
    tx = layer.send_request(req, UAS, now=0.0)
    layer.datagrams_to_send()
    events = layer.receive(make_response(req, 100), UAS, now=0.2)
    assert [type(e) for e in events] == [ResponseReceived]
    assert tx.state is TxState.PROCEEDING
    layer.handle_timer(0.5)
    assert layer.next_timer() == 4.5  # in Proceeding, E is T2
    layer.handle_timer(4.5)
    assert layer.next_timer() == 8.5


def test_reliable_peer_has_no_retransmissions() -> None:
    layer = TransactionLayer()
    inv = request("INVITE", transport="TCP")
    layer.send_request(inv, UAS_TCP, now=0.0)
    assert layer.next_timer() == 32.0  # only Timer B
    opt = request("OPTIONS", transport="TCP", cseq=2)
    tx = layer.send_request(opt, UAS_TCP, now=0.0)
    assert len(layer.datagrams_to_send()) == 2
    assert layer.next_timer() == 32.0  # Timer F only, no Timer E
    events = layer.receive(make_response(opt, 200, to_tag="x"), UAS_TCP, now=0.1)
    assert [type(e) for e in events] == [ResponseReceived]
    assert tx.state is TxState.TERMINATED  # Timer K = 0 on a reliable transport
    assert len(layer.transactions) == 1


def test_transport_error_fails_transactions_of_that_peer() -> None:
    layer = TransactionLayer()
    tx = layer.send_request(request("INVITE", transport="TCP"), UAS_TCP, now=0.0)
    other = layer.send_request(request("OPTIONS"), UAS, now=0.0)
    events = layer.transport_error(UAS_TCP, now=1.0)
    assert [(type(e), e.tx) for e in events] == [(TransportFailure, tx)]
    assert layer.transactions == [other]


# -- client transactions: responses ----------------------------------------------------------


def test_non_2xx_final_gets_ack_with_same_branch_and_timer_d() -> None:
    layer = TransactionLayer()
    inv = request()
    inv.add("Route", "<sip:proxy.example.com;lr>")
    tx = layer.send_request(inv, UAS, now=0.0)
    layer.datagrams_to_send()
    layer.receive(make_response(inv, 100), UAS, now=0.1)
    assert tx.state is TxState.PROCEEDING
    assert layer.handle_timer(0.5) == [] and layer.datagrams_to_send() == []  # A stopped
    busy = make_response(inv, 486, to_tag="bob-tag")
    events = layer.receive(busy, UAS, now=1.0)
    assert [type(e) for e in events] == [ResponseReceived]
    assert tx.state is TxState.COMPLETED
    [(data, peer)] = layer.datagrams_to_send()
    ack = decode(data)
    assert isinstance(ack, SipRequest) and peer == UAS
    assert ack.method == "ACK" and ack.uri == inv.uri
    assert ack.top_via.branch == inv.top_via.branch
    assert ack.cseq == (1, "ACK")
    assert ack.to.tag == "bob-tag"
    assert ack.get("Route") == "<sip:proxy.example.com;lr>"
    assert ack.from_.tag == "alice-tag" and ack.call_id == inv.call_id
    # a retransmitted 486 is absorbed and re-ACKed
    assert layer.receive(busy, UAS, now=2.0) == []
    assert [decode(d).cseq for d, _ in layer.datagrams_to_send()] == [(1, "ACK")]
    assert layer.next_timer() == 33.0  # Timer D: 32 s on UDP
    assert layer.handle_timer(33.0) == []
    assert layer.transactions == [] and layer.next_timer() is None


def test_timer_d_is_zero_on_reliable_transport() -> None:
    layer = TransactionLayer()
    inv = request(transport="TCP")
    tx = layer.send_request(inv, UAS_TCP, now=0.0)
    layer.receive(make_response(inv, 603, to_tag="t"), UAS_TCP, now=0.1)
    assert tx.state is TxState.TERMINATED and layer.transactions == []
    assert sent_lines(layer)[-1].startswith("ACK ")


def test_2xx_moves_invite_client_to_accepted_and_later_2xx_are_stray() -> None:
    layer = TransactionLayer()
    inv = request()
    tx = layer.send_request(inv, UAS, now=0.0)
    ok = make_response(inv, 200, to_tag="bob-tag")
    events = layer.receive(ok, UAS, now=0.1)
    assert [type(e) for e in events] == [ResponseReceived]
    assert tx.state is TxState.ACCEPTED
    assert layer.datagrams_to_send() == [(inv.to_bytes(), UAS)]  # no ACK from the layer
    again = layer.receive(ok, UAS, now=0.6)
    assert len(again) == 1 and isinstance(again[0], StrayResponse) and again[0].tx is tx
    # a late 486 in Accepted is absorbed
    assert layer.receive(make_response(inv, 486, to_tag="x"), UAS, now=0.7) == []
    assert layer.next_timer() == pytest.approx(32.1)  # Timer M
    layer.handle_timer(32.1)
    assert layer.transactions == []
    late = layer.receive(ok, UAS, now=40.0)
    assert len(late) == 1 and isinstance(late[0], StrayResponse) and late[0].tx is None


def test_late_provisional_after_final_is_absorbed() -> None:
    layer = TransactionLayer()
    req = request("OPTIONS")
    layer.send_request(req, UAS, now=0.0)
    layer.receive(make_response(req, 200, to_tag="t"), UAS, now=0.1)
    assert layer.receive(make_response(req, 180), UAS, now=0.2) == []
    assert layer.receive(make_response(req, 200, to_tag="t"), UAS, now=0.2) == []


def test_response_matches_on_branch_and_cseq_method() -> None:
    layer = TransactionLayer()
    inv = request()
    invite_tx = layer.send_request(inv, UAS, now=0.0)
    cancel = make_cancel(inv)
    cancel_tx = layer.send_request(cancel, UAS, now=1.0)
    assert cancel_tx.branch == invite_tx.branch
    [ev] = layer.receive(make_response(cancel, 200, to_tag="t"), UAS, now=1.1)
    assert isinstance(ev, ResponseReceived) and ev.tx is cancel_tx
    [ev] = layer.receive(make_response(inv, 487, to_tag="t"), UAS, now=1.2)
    assert isinstance(ev, ResponseReceived) and ev.tx is invite_tx


def test_send_request_refuses_ack_missing_branch_and_duplicates() -> None:
    layer = TransactionLayer()
    with pytest.raises(SipLocalError, match="ACK"):
        layer.send_request(request("ACK"), UAS, now=0.0)
    with pytest.raises(SipLocalError, match="branch"):
        layer.send_request(request(branch=""), UAS, now=0.0)
    inv = request()
    layer.send_request(inv, UAS, now=0.0)
    with pytest.raises(SipLocalError, match="already exists"):
        layer.send_request(inv, UAS, now=0.0)


# -- server transactions ---------------------------------------------------------------------


def test_server_absorbs_retransmitted_invite_and_resends_last_provisional() -> None:
    layer = TransactionLayer()
    inv = request()
    events = layer.receive(inv, UAC, now=0.0)
    assert len(events) == 1 and isinstance(events[0], RequestReceived)
    tx = events[0].tx
    assert events[0].peer == UAC and tx.state is TxState.PROCEEDING
    assert sent_lines(layer) == ["SIP/2.0 100 Trying"]  # auto 100 Trying
    assert layer.receive(inv, UAC, now=0.5) == []
    assert sent_lines(layer) == ["SIP/2.0 100 Trying"]
    layer.send_response(tx, make_response(inv, 180, to_tag="b"), now=1.0)
    assert sent_lines(layer) == ["SIP/2.0 180 Ringing"]
    assert layer.receive(inv, UAC, now=1.5) == []
    assert sent_lines(layer) == ["SIP/2.0 180 Ringing"]
    assert layer.next_timer() is None  # no timers while Proceeding


def test_auto_trying_can_be_disabled() -> None:
    layer = TransactionLayer(auto_trying=False)
    inv = request()
    layer.receive(inv, UAC, now=0.0)
    assert layer.datagrams_to_send() == []
    assert layer.receive(inv, UAC, now=0.5) == []
    assert layer.datagrams_to_send() == []


def test_server_non_2xx_retransmitted_until_ack_then_timer_i() -> None:
    layer = TransactionLayer()
    inv = request()
    [ev] = layer.receive(inv, UAC, now=0.0)
    assert isinstance(ev, RequestReceived)
    layer.datagrams_to_send()
    busy = make_response(inv, 486, to_tag="b")
    layer.send_response(ev.tx, busy, now=0.0)
    assert ev.tx.state is TxState.COMPLETED
    layer.datagrams_to_send()
    layer.handle_timer(0.5)
    layer.handle_timer(1.5)
    assert sent_lines(layer) == ["SIP/2.0 486 Busy Here"] * 2  # Timer G
    assert layer.receive(inv, UAC, now=2.0) == []  # retransmitted INVITE: resend the 486
    assert sent_lines(layer) == ["SIP/2.0 486 Busy Here"]
    ack = request("ACK", branch=inv.top_via.branch, to_tag="b")
    assert layer.receive(ack, UAC, now=2.1) == []  # absorbed by the transaction
    assert ev.tx.state is TxState.CONFIRMED
    assert layer.receive(ack, UAC, now=2.2) == []
    assert layer.next_timer() == pytest.approx(7.1)  # Timer I = T4
    layer.handle_timer(7.1)
    assert layer.transactions == [] and layer.next_timer() is None
    assert layer.datagrams_to_send() == []


def test_server_timer_h_reports_missing_ack() -> None:
    layer = TransactionLayer()
    inv = request()
    [ev] = layer.receive(inv, UAC, now=0.0)
    assert isinstance(ev, RequestReceived)
    layer.send_response(ev.tx, make_response(inv, 404, to_tag="b"), now=0.0)
    events: list[Event] = []
    while (when := layer.next_timer()) is not None:
        events += layer.handle_timer(when)
    assert [type(e) for e in events] == [TransactionTimeout]
    assert events[0].tx is ev.tx and layer.transactions == []
    lines = sent_lines(layer)
    # 100, 404 and then Timer G: 0.5 1.5 3.5 7.5 11.5 ... 31.5 (capped at T2)
    assert lines[:2] == ["SIP/2.0 100 Trying", "SIP/2.0 404 Not Found"]
    assert len(lines) - 2 == 10


def test_2xx_retransmitted_until_ack() -> None:
    layer = TransactionLayer()
    inv = request()
    [ev] = layer.receive(inv, UAC, now=0.0)
    assert isinstance(ev, RequestReceived)
    ok = make_response(inv, 200, to_tag="b", extra_headers=[("Contact", "<sip:bob@10.0.0.2>")])
    layer.send_response(ev.tx, ok, now=0.0)
    assert ev.tx.state is TxState.ACCEPTED
    assert len(layer.pending_2xx) == 1
    layer.datagrams_to_send()
    layer.handle_timer(0.5)
    assert layer.next_timer() == 1.5
    layer.handle_timer(1.5)
    assert sent_lines(layer) == ["SIP/2.0 200 OK"] * 2
    # a retransmitted INVITE is absorbed in Accepted (RFC 6026): the retransmitter resends
    assert layer.receive(inv, UAC, now=1.6) == []
    assert layer.datagrams_to_send() == []
    ack = request("ACK", to_tag="b")  # new branch, as an ACK for 2xx has
    events = layer.receive(ack, UAC, now=2.0)
    assert len(events) == 1 and isinstance(events[0], AckReceived)
    assert events[0].stopped_retransmission and events[0].request is ack
    assert layer.pending_2xx == []
    [again] = layer.receive(ack, UAC, now=2.5)
    assert isinstance(again, AckReceived) and not again.stopped_retransmission
    assert layer.handle_timer(31.9) == [] and layer.datagrams_to_send() == []
    assert layer.next_timer() == 32.0  # Timer L
    assert layer.handle_timer(32.0) == []
    assert layer.transactions == [] and layer.next_timer() is None


def test_2xx_without_ack_gives_ack_timeout() -> None:
    layer = TransactionLayer()
    inv = request()
    [ev] = layer.receive(inv, UAC, now=0.0)
    assert isinstance(ev, RequestReceived)
    ok = make_response(inv, 200, to_tag="b")
    layer.send_response(ev.tx, ok, now=0.0)
    events: list[Event] = []
    while (when := layer.next_timer()) is not None:
        events += layer.handle_timer(when)
    assert len(events) == 1 and isinstance(events[0], AckTimeout)
    assert events[0].response is ok and events[0].tx is ev.tx
    assert layer.transactions == [] and layer.pending_2xx == []
    assert sent_lines(layer).count("SIP/2.0 200 OK") == 1 + 10


def test_non_invite_server_timer_j() -> None:
    layer = TransactionLayer()
    req = request("OPTIONS")
    [ev] = layer.receive(req, UAC, now=0.0)
    assert isinstance(ev, RequestReceived)
    assert layer.receive(req, UAC, now=0.1) == []  # Trying: absorbed, nothing to resend
    assert layer.datagrams_to_send() == []
    layer.send_response(ev.tx, make_response(req, 200, to_tag="b"), now=0.2)
    assert layer.receive(req, UAC, now=0.3) == []
    assert sent_lines(layer) == ["SIP/2.0 200 OK", "SIP/2.0 200 OK"]
    assert layer.next_timer() == pytest.approx(32.2)
    layer.handle_timer(32.2)
    assert layer.transactions == []


def test_non_invite_server_terminates_at_once_on_reliable() -> None:
    layer = TransactionLayer()
    req = request("OPTIONS", transport="TCP")
    [ev] = layer.receive(req, Peer("TCP", "10.0.0.1", 40000), now=0.0)
    assert isinstance(ev, RequestReceived)
    layer.send_response(ev.tx, make_response(req, 200, to_tag="b"), now=0.0)
    assert layer.transactions == [] and layer.next_timer() is None


def test_illegal_transition_names_role_state_and_event() -> None:
    layer = TransactionLayer()
    inv = request()
    [ev] = layer.receive(inv, UAC, now=0.0)
    assert isinstance(ev, RequestReceived)
    layer.send_response(ev.tx, make_response(inv, 486, to_tag="b"), now=0.0)
    with pytest.raises(SipLocalError) as exc:
        layer.send_response(ev.tx, make_response(inv, 200, to_tag="b"), now=0.1)
    message = str(exc.value)
    assert "INVITE server" in message and "Completed" in message and "send 2xx" in message
    with pytest.raises(SipLocalError, match=r"non-INVITE client.*Completed.*Timer A"):
        transition(TxRole.NON_INVITE_CLIENT, TxState.COMPLETED, TxEvent.TIMER_A)


def test_send_response_on_terminated_transaction_raises() -> None:
    layer = TransactionLayer()
    req = request("OPTIONS", transport="TCP")
    [ev] = layer.receive(req, UAS_TCP, now=0.0)
    assert isinstance(ev, RequestReceived)
    layer.send_response(ev.tx, make_response(req, 200), now=0.0)
    with pytest.raises(SipLocalError, match="Terminated"):
        layer.send_response(ev.tx, make_response(req, 200), now=0.0)


def test_same_branch_from_other_sent_by_is_another_transaction() -> None:
    layer = TransactionLayer()
    branch = new_branch()
    a = layer.receive(request("OPTIONS", branch=branch), UAC, now=0.0)
    b = layer.receive(request("OPTIONS", branch=branch, via_host="10.9.9.9:5060"), UAC, now=0.0)
    assert len(a) == len(b) == 1 and len(layer.transactions) == 2


# -- CANCEL ----------------------------------------------------------------------------------


def test_cancel_matches_invite_server_transaction() -> None:
    layer = TransactionLayer()
    inv = request()
    [ev] = layer.receive(inv, UAC, now=0.0)
    assert isinstance(ev, RequestReceived)
    layer.send_response(ev.tx, make_response(inv, 180, to_tag="b"), now=0.1)
    layer.datagrams_to_send()
    cancel = make_cancel(inv)
    [cev] = layer.receive(cancel, UAC, now=1.0)
    assert isinstance(cev, CancelReceived)
    assert cev.invite_tx is ev.tx and cev.cancel_tx is not ev.tx
    assert cev.cancel_tx.method == "CANCEL"
    assert layer.answer_cancel(cev, now=1.0) is True
    out = [decode(d) for d, _ in layer.datagrams_to_send()]
    assert [(m.status, m.cseq[1]) for m in out if isinstance(m, SipResponse)] == [
        (200, "CANCEL"),
        (487, "INVITE"),
    ]
    assert out[1].to.tag == "b"  # the 487 keeps the provisional's To tag
    assert ev.tx.state is TxState.COMPLETED
    # the UAC ACKs the 487 with the INVITE's branch: it lands in the INVITE transaction
    assert layer.receive(request("ACK", branch=inv.top_via.branch, to_tag="b"), UAC, 1.1) == []
    assert ev.tx.state is TxState.CONFIRMED
    while (when := layer.next_timer()) is not None:
        assert layer.handle_timer(when) == []
    assert layer.transactions == []


def test_cancel_without_invite_gets_481_and_after_final_gets_200_only() -> None:
    layer = TransactionLayer()
    [cev] = layer.receive(make_cancel(request()), UAC, now=0.0)
    assert isinstance(cev, CancelReceived) and cev.invite_tx is None
    assert layer.answer_cancel(cev, now=0.0) is False
    assert sent_lines(layer) == ["SIP/2.0 481 Call/Transaction Does Not Exist"]

    inv = request(call_id="call-2")
    [ev] = layer.receive(inv, UAC, now=0.0)
    assert isinstance(ev, RequestReceived)
    layer.send_response(ev.tx, make_response(inv, 200, to_tag="b"), now=0.0)
    [cev] = layer.receive(make_cancel(inv), UAC, now=0.1)
    assert isinstance(cev, CancelReceived) and cev.invite_tx is ev.tx
    layer.datagrams_to_send()
    assert layer.answer_cancel(cev, now=0.1) is False
    assert sent_lines(layer) == ["SIP/2.0 200 OK"]


# -- RFC 2543 fallback -----------------------------------------------------------------------


def test_rfc2543_request_without_magic_cookie_matches() -> None:
    layer = TransactionLayer()
    inv = request(branch="")  # no branch at all
    [ev] = layer.receive(inv, UAC, now=0.0)
    assert isinstance(ev, RequestReceived)
    assert layer.receive(inv, UAC, now=0.5) == []  # retransmission absorbed
    layer.send_response(ev.tx, make_response(inv, 486, to_tag="b"), now=1.0)
    assert layer.receive(request("ACK", branch="", to_tag="b"), UAC, now=1.1) == []
    assert ev.tx.state is TxState.CONFIRMED
    [cev] = layer.receive(make_cancel(request(branch="old-style-1", cseq=7)), UAC, now=2.0)
    assert isinstance(cev, CancelReceived) and cev.invite_tx is None
    inv2 = request(branch="old-style-2", cseq=9)
    [ev2] = layer.receive(inv2, UAC, now=3.0)
    assert isinstance(ev2, RequestReceived)
    [cev2] = layer.receive(make_cancel(inv2), UAC, now=3.1)
    assert isinstance(cev2, CancelReceived) and cev2.invite_tx is ev2.tx


# -- end to end over the simulated network ---------------------------------------------------


class Uac:
    """A minimal UAC core: INVITE, ACK the 2xx (again on every retransmission), then BYE."""

    def __init__(self, ep: Endpoint, *, bye: bool = True) -> None:
        self.ep = ep
        self.bye = bye
        self.invite = request()
        self.dialog: Dialog | None = None
        self.ack: SipRequest | None = None
        self.finals: list[int] = []
        self.bye_status: int | None = None
        self.timeouts = 0
        ep.handler = self.on_event

    def start(self) -> None:
        self.ep.layer.send_request(self.invite, UAS, self.ep.now)

    def on_event(self, ep: Endpoint, event: Event) -> None:
        if isinstance(event, ResponseReceived):
            resp = event.response
            if event.tx.method == "BYE":
                self.bye_status = resp.status
            elif resp.status >= 200:
                self.finals.append(resp.status)
                if resp.status < 300:
                    self.dialog = Dialog.create_uac(self.invite, resp)
                    self.ack = self.dialog.make_ack_for_2xx(
                        self.invite, resp, via_host="10.0.0.1", via_port=5060, transport="UDP"
                    )
                    ep.layer.send_stateless(self.ack, UAS)
                    if self.bye:
                        bye = self.dialog.create_request(
                            "BYE", via_host="10.0.0.1", via_port=5060, transport="UDP"
                        )
                        ep.layer.send_request(bye, UAS, ep.now)
        elif isinstance(event, StrayResponse):
            if event.response.status < 300 and self.ack is not None:
                ep.layer.send_stateless(self.ack, UAS)
        elif isinstance(event, TransactionTimeout):
            self.timeouts += 1


class Uas:
    """A minimal UAS core: 180 then 200 (or a fixed failure) to INVITE, 200 to BYE."""

    def __init__(self, ep: Endpoint, *, final: int = 200) -> None:
        self.final = final
        self.acks = 0
        self.bye = 0
        self.ack_timeouts = 0
        self.invites = 0
        ep.handler = self.on_event

    def on_event(self, ep: Endpoint, event: Event) -> None:
        layer = ep.layer
        if isinstance(event, RequestReceived):
            req = event.request
            if req.method == "INVITE":
                self.invites += 1
                tag = new_tag()
                layer.send_response(event.tx, make_response(req, 180, to_tag=tag), ep.now)
                contact = [("Contact", "<sip:bob@10.0.0.2:5060>")]
                final = make_response(req, self.final, to_tag=tag, extra_headers=contact)
                layer.send_response(event.tx, final, ep.now)
            elif req.method == "BYE":
                self.bye += 1
                layer.send_response(event.tx, make_response(req, 200), ep.now)
        elif isinstance(event, AckReceived):
            self.acks += 1
        elif isinstance(event, AckTimeout):
            self.ack_timeouts += 1


def call(
    loss: DropMatching | DropNth | None = None, *, final: int = 200
) -> tuple[Network, Uac, Uas, Endpoint, Endpoint]:
    net = Network(loss=loss) if loss is not None else Network()
    a = net.add("alice", UAC)
    b = net.add("bob", UAS)
    uac, uas = Uac(a), Uas(b, final=final)
    uac.start()
    net.run()
    return net, uac, uas, a, b


def assert_clean(*endpoints: Endpoint) -> None:
    for ep in endpoints:
        assert ep.layer.transactions == [], ep.name
        assert ep.layer.pending_2xx == [], ep.name
        assert ep.layer.next_timer() is None, ep.name


def test_e2e_call_without_loss() -> None:
    net, uac, uas, a, b = call()
    assert uac.finals == [200] and uac.bye_status == 200
    assert uac.dialog is not None and uac.dialog.remote_target == "sip:bob@10.0.0.2:5060"
    assert uas.invites == 1 and uas.acks == 1 and uas.ack_timeouts == 0
    assert net.lines()[:4] == [
        "INVITE sip:bob@example.com SIP/2.0",
        "SIP/2.0 100 Trying",
        "SIP/2.0 180 Ringing",
        "SIP/2.0 200 OK",
    ]
    assert net.lines().count("SIP/2.0 200 OK") == 2  # to INVITE and to BYE, no retransmits
    assert_clean(a, b)


def test_e2e_first_invite_lost() -> None:
    net, uac, uas, a, b = call(DropMatching("INVITE"))
    assert net.lines(dropped=True) == ["INVITE sip:bob@example.com SIP/2.0"]
    assert uac.finals == [200] and uac.bye_status == 200 and uas.acks == 1
    assert uas.invites == 1
    first_delivered = next(w for w in net.wire if w.line.startswith("INVITE") and not w.dropped)
    assert first_delivered.time == 0.5  # Timer A
    assert_clean(a, b)


def test_e2e_first_200_lost() -> None:
    net, uac, uas, a, b = call(DropMatching("SIP/2.0 200"))
    assert uac.finals == [200] and uac.bye_status == 200
    assert uas.acks == 1 and uas.ack_timeouts == 0 and uas.invites == 1
    assert net.lines(dropped=True) == ["SIP/2.0 200 OK"]
    assert_clean(a, b)


def test_e2e_ack_lost_2xx_retransmitted_and_re_acked() -> None:
    net, uac, uas, a, b = call(DropMatching("ACK"))
    assert net.lines(dropped=True) == ["ACK sip:bob@10.0.0.2:5060 SIP/2.0"]
    ok_to_invite = [
        w for w in net.wire if w.line == "SIP/2.0 200 OK" and w.src == UAS and not w.dropped
    ]
    assert len(ok_to_invite) >= 3  # first 200, 200 to BYE, retransmitted 200 at T1
    assert uas.acks == 1 and uas.ack_timeouts == 0
    assert uac.bye_status == 200
    assert_clean(a, b)


def test_e2e_every_ack_lost_gives_ack_timeout() -> None:
    net = Network(loss=DropMatching("ACK", count=100))
    a, b = net.add("alice", UAC), net.add("bob", UAS)
    uac, uas = Uac(a, bye=False), Uas(b)
    uac.start()
    net.run()
    assert uas.acks == 0 and uas.ack_timeouts == 1
    assert_clean(a, b)


def test_e2e_rejected_call_with_lost_ack() -> None:
    net, uac, uas, a, b = call(DropMatching("ACK"), final=486)
    assert uac.finals == [486] and uas.invites == 1
    assert net.lines().count("SIP/2.0 486 Busy Here") == 2  # Timer G resent it
    assert net.lines().count("ACK sip:bob@example.com SIP/2.0") == 2
    assert uac.timeouts == 0
    assert_clean(a, b)


def test_e2e_nth_packet_loss_on_every_position() -> None:
    for n in range(1, 13):
        _, uac, uas, a, b = call(DropNth(n))
        assert uac.finals == [200], n
        assert uac.bye_status == 200, n
        assert uas.acks == 1, n
        assert_clean(a, b)


def test_e2e_peer_down_times_out() -> None:
    net = Network(loss=DropNth(*range(1, 100)))
    a, b = net.add("alice", UAC), net.add("bob", UAS)
    uac = Uac(a)
    Uas(b)
    uac.start()
    net.run()
    assert uac.timeouts == 1 and uac.finals == []
    assert net.clock.now == 32.0
    assert len(net.wire) == 7  # INVITE + 6 retransmissions
    assert_clean(a, b)


def test_peer_reliability_and_timeout_response() -> None:
    assert not Peer("UDP", "h", 1).reliable
    assert all(Peer(t, "h", 1).reliable for t in ("TCP", "TLS", "WS", "wss"))
    layer = TransactionLayer()
    tx = layer.send_request(request("OPTIONS"), UAS, now=0.0)
    resp = tx.timeout_response()
    assert resp.status == 408 and resp.call_id == tx.call_id and resp.cseq == (1, "OPTIONS")


def test_transport_error_fails_server_transaction() -> None:
    layer = TransactionLayer()
    peer = Peer("TLS", "10.0.0.1", 40001)
    [ev] = layer.receive(request("INVITE", transport="TLS"), peer, now=0.0)
    assert isinstance(ev, RequestReceived)
    [fail] = layer.transport_error(peer, now=1.0)
    assert isinstance(fail, TransportFailure) and fail.tx is ev.tx
    assert layer.transactions == [] and layer.next_timer() is None
