"""Call-flow feature errors (stable ``error_id`` values the cabinet keys on)."""

from __future__ import annotations

from typing import Any

from clickphone.accounts.errors import ClickPhoneError


class FlowSchemaInvalid(ClickPhoneError):
    """The document is not a flow graph at all (wrong shape, unknown node type, ...)."""

    error_id = "flow_schema"
    status = 422
    message = "the graph does not match the flow schema"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(details={"fields": fields})


class FlowInvalid(ClickPhoneError):
    """The graph has error-level problems, so it cannot be published."""

    error_id = "flow_invalid"
    status = 422
    message = "the flow has problems; fix them before publishing"

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(details={"problems": problems})


class FlowTargetTaken(ClickPhoneError):
    error_id = "flow_target_taken"
    status = 409
    message = "this target already has another call flow"


class FlowNameTaken(ClickPhoneError):
    error_id = "flow_name_taken"
    status = 409
    message = "a call flow with this name exists"


class AudioInvalid(ClickPhoneError):
    error_id = "audio_invalid"
    status = 422

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, details={"reason": reason})


class PromptInUse(ClickPhoneError):
    error_id = "prompt_in_use"
    status = 409
    message = "the prompt is used by a call flow"


class TtsFailed(ClickPhoneError):
    error_id = "tts_unavailable"
    status = 503
    message = "text-to-speech is not available"
