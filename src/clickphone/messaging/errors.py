"""Messaging errors with stable ids."""

from __future__ import annotations

from clickphone.accounts.errors import ClickPhoneError


class ConversationNotFound(ClickPhoneError):
    """Also what another tenant's or a foreign conversation looks like (ids can't be probed)."""

    error_id = "messaging.conversation_not_found"
    status = 404
    message = "no such conversation"


class MessageNotFound(ClickPhoneError):
    error_id = "messaging.message_not_found"
    status = 404
    message = "no such message"


class NumberRefused(ClickPhoneError):
    """Not a phone number, blacklisted, or a country the tenant may not reach."""

    error_id = "messaging.number_refused"
    status = 422
    message = "we cannot send SMS to this number"


class NoLine(ClickPhoneError):
    """SMS go out from one of the company's numbers; the user has none to send from."""

    error_id = "messaging.no_line"
    status = 422
    message = "you have no number to send SMS from"


class NotAllowed(ClickPhoneError):
    error_id = "messaging.not_allowed"
    status = 403
    message = "you may not do this with this message or conversation"


class MailUnavailable(ClickPhoneError):
    error_id = "messaging.mail_unavailable"
    status = 503
    message = "e-mail is not configured on this server"
