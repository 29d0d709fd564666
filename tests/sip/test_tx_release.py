"""A completed non-INVITE server transaction (waiting in Timer J) keeps only what it needs."""

from __future__ import annotations

from clickphone.sip.message import SipRequest, make_response
from clickphone.sip.parser import parse_message
from clickphone.sip.state import TxState
from clickphone.sip.transaction import Peer, RequestReceived, TransactionLayer

PHONE = Peer("UDP", "192.0.2.10", 5060)


def register(branch: str = "z9hG4bKreg1") -> SipRequest:
    return parse_message(
        (
            "REGISTER sip:example.com SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:alice@example.com>;tag=f1\r\n"
            "To: <sip:alice@example.com>\r\n"
            "Call-ID: reg-1@192.0.2.10\r\n"
            "CSeq: 2 REGISTER\r\n"
            "Contact: <sip:alice@192.0.2.10:5060>;expires=3600\r\n"
            'Authorization: Digest username="alice", realm="x", nonce="n", uri="sip:x", '
            'response="0123456789abcdef0123456789abcdef"\r\n'
            "User-Agent: phone/1.0\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )  # type: ignore[return-value]


def test_completed_non_invite_server_transaction_drops_the_request_but_still_answers() -> None:
    layer = TransactionLayer()
    [event] = layer.receive(register(), PHONE, 0.0)
    assert isinstance(event, RequestReceived)
    tx = event.tx
    assert tx.request.get("Authorization") is not None  # the TU sees the whole request
    response = make_response(event.request, 200, extra_headers=[("Contact", "<sip:a@b>")])
    layer.send_response(tx, response, 0.1)
    [(sent, _)] = layer.datagrams_to_send()
    assert tx.state is TxState.COMPLETED
    # What remains: method, Request-URI and the headers a response copies.
    assert (tx.method, tx.request.uri) == ("REGISTER", "sip:example.com")
    assert [n for n, _ in tx.request.headers] == ["Via", "From", "To", "Call-ID", "CSeq"]
    assert tx.call_id == "reg-1@192.0.2.10" and tx.branch == "z9hG4bKreg1"
    assert tx.last_response is None
    # A retransmitted REGISTER is absorbed and gets the same bytes again.
    assert layer.receive(register(), PHONE, 1.0) == []
    assert layer.datagrams_to_send() == [(sent, PHONE)]
    # A new REGISTER (new branch) is a new transaction; Timer J ends the old one.
    [again] = layer.receive(register("z9hG4bKreg2"), PHONE, 2.0)
    assert isinstance(again, RequestReceived) and again.tx is not tx
    layer.handle_timer(0.1 + layer.timers.timeout)
    assert tx.terminated


def test_provisional_answer_keeps_the_request() -> None:
    layer = TransactionLayer()
    [event] = layer.receive(register(), PHONE, 0.0)
    assert isinstance(event, RequestReceived)
    layer.send_response(event.tx, make_response(event.request, 100), 0.0)
    assert event.tx.request is event.request
    assert event.tx.last_response is not None and event.tx.last_response.status == 100
