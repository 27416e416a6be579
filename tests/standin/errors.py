"""The one exception type the stand-in raises to answer a Bot API request with an error.

Every rejection (validation, injected fault, blocked chat) becomes an ``ApiError`` so the HTTP
layer has a single place that turns it into Telegram's error envelope
``{"ok": false, "error_code": ..., "description": ..., "parameters": ...}``.
"""

from __future__ import annotations

from typing import Any

BLOCKED_BY_USER = "Forbidden: bot was blocked by the user"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """A Bot API error answer: HTTP status ``error_code`` with Telegram's ``description``."""

    def __init__(self, error_code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> dict[str, Any]:
        """Telegram's error envelope for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    """A 400 with Telegram's ``Bad Request: `` prefix, which clients match on."""
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str = BLOCKED_BY_USER) -> ApiError:
    """A 403; the default is what a user who blocked the bot produces."""
    return ApiError(403, detail if detail.startswith("Forbidden") else f"Forbidden: {detail}")


def default_description(error_code: int, retry_after: int | None = None) -> str:
    """Telegram's usual wording for an injected error code when the test gives none."""
    if error_code == 429:
        return f"Too Many Requests: retry after {retry_after or 1}"
    return {
        400: "Bad Request: injected error",
        401: "Unauthorized",
        403: BLOCKED_BY_USER,
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }.get(error_code, f"Error {error_code}")
