"""RFC 3261 transaction and dialog state machines as transition tables (h11 ``_state`` style).

Every legal move is one row ``(state, event) -> next state`` in a table per role; anything
else is illegal. ``transition`` raises :class:`SipLocalError` naming the role, the state and
the event, because asking for an illegal move is a bug in *our* code. Events caused by the
network (a late response, a stray ACK) are checked first with :func:`allowed` by the
transaction layer and dropped when not allowed, so the peer can never make us raise.

Tables follow RFC 3261 §17.1.1 (INVITE client), §17.1.2 (non-INVITE client), §17.2.1 (INVITE
server) and §17.2.2 (non-INVITE server), with the RFC 6026 "Accepted" state for 2xx responses
to INVITE on both the client (Timer M) and server (Timer L) side; §12 for dialogs.
"""

from __future__ import annotations

from enum import StrEnum

from clickphone.sip.errors import SipLocalError


class TxRole(StrEnum):
    INVITE_CLIENT = "INVITE client"
    NON_INVITE_CLIENT = "non-INVITE client"
    INVITE_SERVER = "INVITE server"
    NON_INVITE_SERVER = "non-INVITE server"


class TxState(StrEnum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class TxEvent(StrEnum):
    # client side: responses received and client timers
    RECV_1XX = "receive 1xx"
    RECV_2XX = "receive 2xx"
    RECV_3XX_6XX = "receive 300-699"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_K = "Timer K"
    TIMER_M = "Timer M"
    # server side: requests received, responses sent by the TU, server timers
    RECV_REQUEST = "receive request retransmission"
    RECV_ACK = "receive ACK"
    SEND_1XX = "send 1xx"
    SEND_2XX = "send 2xx"
    SEND_3XX_6XX = "send 300-699"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_L = "Timer L"
    # both
    TRANSPORT_ERROR = "transport error"


S = TxState
E = TxEvent

INVITE_CLIENT: dict[tuple[TxState, TxEvent], TxState] = {
    (S.CALLING, E.TIMER_A): S.CALLING,
    (S.CALLING, E.TIMER_B): S.TERMINATED,
    (S.CALLING, E.RECV_1XX): S.PROCEEDING,
    (S.CALLING, E.RECV_2XX): S.ACCEPTED,
    (S.CALLING, E.RECV_3XX_6XX): S.COMPLETED,
    (S.CALLING, E.TRANSPORT_ERROR): S.TERMINATED,
    (S.PROCEEDING, E.RECV_1XX): S.PROCEEDING,
    (S.PROCEEDING, E.RECV_2XX): S.ACCEPTED,
    (S.PROCEEDING, E.RECV_3XX_6XX): S.COMPLETED,
    (S.PROCEEDING, E.TRANSPORT_ERROR): S.TERMINATED,
    (S.COMPLETED, E.RECV_3XX_6XX): S.COMPLETED,  # retransmitted final: resend the ACK
    (S.COMPLETED, E.TIMER_D): S.TERMINATED,
    (S.COMPLETED, E.TRANSPORT_ERROR): S.TERMINATED,
    (S.ACCEPTED, E.RECV_2XX): S.ACCEPTED,  # retransmitted or forked 2xx: up to the TU
    (S.ACCEPTED, E.TIMER_M): S.TERMINATED,
}

NON_INVITE_CLIENT: dict[tuple[TxState, TxEvent], TxState] = {
    (S.TRYING, E.TIMER_E): S.TRYING,
    (S.TRYING, E.TIMER_F): S.TERMINATED,
    (S.TRYING, E.RECV_1XX): S.PROCEEDING,
    (S.TRYING, E.RECV_2XX): S.COMPLETED,
    (S.TRYING, E.RECV_3XX_6XX): S.COMPLETED,
    (S.TRYING, E.TRANSPORT_ERROR): S.TERMINATED,
    (S.PROCEEDING, E.TIMER_E): S.PROCEEDING,
    (S.PROCEEDING, E.TIMER_F): S.TERMINATED,
    (S.PROCEEDING, E.RECV_1XX): S.PROCEEDING,
    (S.PROCEEDING, E.RECV_2XX): S.COMPLETED,
    (S.PROCEEDING, E.RECV_3XX_6XX): S.COMPLETED,
    (S.PROCEEDING, E.TRANSPORT_ERROR): S.TERMINATED,
    (S.COMPLETED, E.TIMER_K): S.TERMINATED,
}

INVITE_SERVER: dict[tuple[TxState, TxEvent], TxState] = {
    (S.PROCEEDING, E.RECV_REQUEST): S.PROCEEDING,  # resend the last provisional
    (S.PROCEEDING, E.SEND_1XX): S.PROCEEDING,
    (S.PROCEEDING, E.SEND_2XX): S.ACCEPTED,
    (S.PROCEEDING, E.SEND_3XX_6XX): S.COMPLETED,
    (S.PROCEEDING, E.TRANSPORT_ERROR): S.TERMINATED,
    (S.ACCEPTED, E.RECV_REQUEST): S.ACCEPTED,  # absorbed; the 2xx retransmitter resends
    (S.ACCEPTED, E.RECV_ACK): S.ACCEPTED,  # passed to the TU (RFC 6026 §8.7)
    (S.ACCEPTED, E.SEND_2XX): S.ACCEPTED,
    (S.ACCEPTED, E.TIMER_L): S.TERMINATED,
    (S.COMPLETED, E.RECV_REQUEST): S.COMPLETED,  # resend the final response
    (S.COMPLETED, E.TIMER_G): S.COMPLETED,
    (S.COMPLETED, E.TIMER_H): S.TERMINATED,
    (S.COMPLETED, E.RECV_ACK): S.CONFIRMED,
    (S.COMPLETED, E.TRANSPORT_ERROR): S.TERMINATED,
    (S.CONFIRMED, E.RECV_REQUEST): S.CONFIRMED,  # absorbed
    (S.CONFIRMED, E.RECV_ACK): S.CONFIRMED,  # absorbed
    (S.CONFIRMED, E.TIMER_I): S.TERMINATED,
}

NON_INVITE_SERVER: dict[tuple[TxState, TxEvent], TxState] = {
    (S.TRYING, E.RECV_REQUEST): S.TRYING,  # absorbed: nothing sent yet
    (S.TRYING, E.SEND_1XX): S.PROCEEDING,
    (S.TRYING, E.SEND_2XX): S.COMPLETED,
    (S.TRYING, E.SEND_3XX_6XX): S.COMPLETED,
    (S.TRYING, E.TRANSPORT_ERROR): S.TERMINATED,
    (S.PROCEEDING, E.RECV_REQUEST): S.PROCEEDING,  # resend the last provisional
    (S.PROCEEDING, E.SEND_1XX): S.PROCEEDING,
    (S.PROCEEDING, E.SEND_2XX): S.COMPLETED,
    (S.PROCEEDING, E.SEND_3XX_6XX): S.COMPLETED,
    (S.PROCEEDING, E.TRANSPORT_ERROR): S.TERMINATED,
    (S.COMPLETED, E.RECV_REQUEST): S.COMPLETED,  # resend the final response
    (S.COMPLETED, E.TIMER_J): S.TERMINATED,
    (S.COMPLETED, E.TRANSPORT_ERROR): S.TERMINATED,
}

TX_TABLES: dict[TxRole, dict[tuple[TxState, TxEvent], TxState]] = {
    TxRole.INVITE_CLIENT: INVITE_CLIENT,
    TxRole.NON_INVITE_CLIENT: NON_INVITE_CLIENT,
    TxRole.INVITE_SERVER: INVITE_SERVER,
    TxRole.NON_INVITE_SERVER: NON_INVITE_SERVER,
}

INITIAL_STATE: dict[TxRole, TxState] = {
    TxRole.INVITE_CLIENT: S.CALLING,
    TxRole.NON_INVITE_CLIENT: S.TRYING,
    TxRole.INVITE_SERVER: S.PROCEEDING,
    TxRole.NON_INVITE_SERVER: S.TRYING,
}

del S, E


def allowed(role: TxRole, state: TxState, event: TxEvent) -> bool:
    """Whether ``event`` is legal for a ``role`` transaction in ``state``."""
    return (state, event) in TX_TABLES[role]


def transition(role: TxRole, state: TxState, event: TxEvent) -> TxState:
    """The state after ``event``; raises :class:`SipLocalError` if the move is illegal."""
    try:
        return TX_TABLES[role][(state, event)]
    except KeyError:
        raise SipLocalError(
            f"illegal transition: {role} transaction in state {state} cannot handle event '{event}'"
        ) from None


def response_event(status: int, *, sending: bool) -> TxEvent:
    """The table event for sending or receiving a response with ``status``."""
    if not 100 <= status <= 699:
        raise SipLocalError(f"invalid response status {status}")
    if status < 200:
        return TxEvent.SEND_1XX if sending else TxEvent.RECV_1XX
    if status < 300:
        return TxEvent.SEND_2XX if sending else TxEvent.RECV_2XX
    return TxEvent.SEND_3XX_6XX if sending else TxEvent.RECV_3XX_6XX


# -- dialogs (RFC 3261 §12) ------------------------------------------------------------------


class DialogState(StrEnum):
    EARLY = "Early"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


class DialogEvent(StrEnum):
    CONFIRM = "2xx to the dialog-creating INVITE"
    TERMINATE = "BYE or non-2xx final response"


DIALOG: dict[tuple[DialogState, DialogEvent], DialogState] = {
    (DialogState.EARLY, DialogEvent.CONFIRM): DialogState.CONFIRMED,
    (DialogState.EARLY, DialogEvent.TERMINATE): DialogState.TERMINATED,
    (DialogState.CONFIRMED, DialogEvent.TERMINATE): DialogState.TERMINATED,
}


def dialog_transition(role: str, state: DialogState, event: DialogEvent) -> DialogState:
    """Next dialog state; ``role`` ("UAC" or "UAS") is only used in the error message."""
    try:
        return DIALOG[(state, event)]
    except KeyError:
        raise SipLocalError(
            f"illegal transition: {role} dialog in state {state} cannot handle event '{event}'"
        ) from None
