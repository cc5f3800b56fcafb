"""Errors that cross service boundaries.

Each is registered with nameko's ``deserialize_to_instance`` so an RPC caller gets the same
exception type back, with its structured arguments, instead of a ``RemoteError``. The gateway
maps these types to HTTP status codes in one table (``services/gateway/errors.py``).
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import deserialize_to_instance


class HotlineError(Exception):
    """Base of every error a service raises on purpose. ``args`` stay JSON-friendly."""

    code = "error"

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message, details or {})

    @property
    def message(self) -> str:
        return str(self.args[0])

    @property
    def details(self) -> dict[str, Any]:
        return dict(self.args[1]) if len(self.args) > 1 and self.args[1] else {}

    def __str__(self) -> str:
        return self.message


@deserialize_to_instance
class NotFound(HotlineError):
    """Something named by the caller does not exist (or is not visible to it)."""

    code = "not_found"


@deserialize_to_instance
class Invalid(HotlineError):
    """Input failed validation. ``details['fields']`` maps field name → list of messages."""

    code = "invalid"

    @classmethod
    def fields(cls, fields: dict[str, Any], message: str = "输入有误 invalid input") -> Invalid:
        return cls(message, {"fields": fields})


@deserialize_to_instance
class Conflict(HotlineError):
    """The action is not allowed in the current state (names the state and the action)."""

    code = "conflict"


@deserialize_to_instance
class Forbidden(HotlineError):
    """The caller may not take this action."""

    code = "forbidden"


@deserialize_to_instance
class Unavailable(HotlineError):
    """A dependency (database, broker, another service) is down or timed out."""

    code = "unavailable"


def load_or_invalid(schema, payload):  # type: ignore[no-untyped-def]
    """Load ``payload`` with a marshmallow schema; raise :class:`Invalid` naming each bad field."""
    from marshmallow import ValidationError

    if not isinstance(payload, dict):
        raise Invalid.fields({"_body": ["请求体必须是 JSON 对象 body must be a JSON object"]})
    try:
        return schema.load(payload)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_body": exc.messages}
        fields = {k: (["未知字段 unknown field"] if v == ["Unknown field."] else v)
                  for k, v in messages.items()}
        raise Invalid.fields(fields) from None
