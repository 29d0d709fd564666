"""SIP error types: the peer's mistakes versus ours (h11 style).

``SipPeerError`` means the bytes we received are not acceptable SIP; it carries the status
code the transport layer answers with (400 by default). The call logic never sees such a
message. ``SipLocalError`` means our own code tried to do something the protocol forbids; it is
a bug and is never answered on the wire.
"""

from __future__ import annotations


class SipError(Exception):
    """Base of every error raised by the sans-I/O SIP layer."""


class SipPeerError(SipError):
    """The remote side sent something malformed or unacceptable.

    ``status_hint`` is the response code to answer a request with (400, 413, 416, 420, 483,
    505, 513, ...); responses that fail to parse are dropped silently.

    ``fatal`` is set by the stream parser when the byte stream cannot be resynchronised after
    this error (no usable Content-Length, oversized header section): the transport must close
    the connection. ``raw`` holds the bytes of the offending message when they are known, so
    the transport can try to address an error response.
    """

    def __init__(
        self, message: str, status_hint: int = 400, *, fatal: bool = False, raw: bytes = b""
    ) -> None:
        super().__init__(message)
        self.status_hint = status_hint
        self.fatal = fatal
        self.raw = raw


class SipLocalError(SipError):
    """We used the protocol machinery wrongly (an illegal state transition, say)."""
