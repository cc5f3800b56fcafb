"""The event envelope and the catalogue registry (ARCHITECTURE.md, "Event envelope").

Every fact a service publishes travels in one envelope::

    {"event_id": "<uuid>", "type": "ticket.dispatched", "version": 1,
     "occurred_at": "2026-11-23T08:15:02.123Z", "producer": "dispatch",
     "ticket_no": "20261123000042", "sequence": 3, "trace_id": "<uuid>", "data": {...}}

``data`` has exactly one marshmallow schema per (type, version), registered with
:func:`register`. Payloads are dumped to plain JSON types by marshmallow before they reach
kombu (kombu 5.7 would otherwise tag datetimes and UUIDs; STYLE.md field notes).

``sequence`` is a per-order, per-producer counter (reliability rule 4): a consumer that keeps
state about an order ignores an event older than what it already applied from that producer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate


class EventSchema(Schema):
    """Base for every event's ``data`` schema: unknown keys are ignored (forward compatible)."""

    class Meta:
        unknown = EXCLUDE


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    event_id = fields.String(required=True, validate=validate.Length(min=8, max=64))
    type = fields.String(required=True, validate=validate.Length(min=3, max=80))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    producer = fields.String(required=True)
    ticket_no = fields.String(load_default=None, allow_none=True)
    sequence = fields.Integer(load_default=None, allow_none=True)
    trace_id = fields.String(load_default=None, allow_none=True)
    data = fields.Dict(required=True)


_ENVELOPE = EnvelopeSchema()
_CATALOGUE: dict[tuple[str, int], type[Schema]] = {}


def register(event_type: str, version: int = 1):
    """Class decorator: the schema of ``data`` for one event type and version."""

    def decorate(schema_cls: type[Schema]) -> type[Schema]:
        key = (event_type, version)
        if key in _CATALOGUE:
            raise ValueError(f"event {event_type} v{version} is registered twice")
        _CATALOGUE[key] = schema_cls
        return schema_cls

    return decorate


_INSTANCES: dict[type[Schema], Schema] = {}


def schema_for(event_type: str, version: int) -> Schema:
    """The (shared, reusable) schema instance of one event type and version."""
    _ensure_catalogue_loaded()
    try:
        cls = _CATALOGUE[(event_type, version)]
    except KeyError:
        raise UnknownEvent(f"unknown event type {event_type!r} version {version}") from None
    schema = _INSTANCES.get(cls)
    if schema is None:
        schema = _INSTANCES[cls] = cls()
    return schema


def event_types() -> list[tuple[str, int]]:
    _ensure_catalogue_loaded()
    return sorted(_CATALOGUE)


def _ensure_catalogue_loaded() -> None:
    from shared import catalogue  # noqa: F401  (registers the schemas on import)


class UnknownEvent(ValueError):
    pass


class MalformedEvent(ValueError):
    """The message is not a valid envelope, or its data does not match its schema."""


@dataclass(frozen=True)
class Event:
    """A loaded, validated event as handlers see it: ``data`` holds Python types."""

    event_id: str
    type: str
    version: int
    occurred_at: datetime
    producer: str
    data: dict[str, Any]
    ticket_no: str | None = None
    sequence: int | None = None
    trace_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_envelope(event_type: str, data: dict[str, Any], *, producer: str,
                  ticket_no: str | None = None, sequence: int | None = None,
                  trace_id: str | None = None, version: int = 1,
                  occurred_at: datetime | None = None) -> dict[str, Any]:
    """Build a JSON-ready envelope; ``data`` is dumped and validated by its catalogue schema."""
    if occurred_at is not None and occurred_at.tzinfo is None:
        raise MalformedEvent("occurred_at must be timezone-aware")
    schema = schema_for(event_type, version)
    dumped = schema.dump(data)
    errors = schema.validate(dumped)
    if errors:
        raise MalformedEvent(f"{event_type} v{version}: invalid data {errors}")
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "version": version,
        "occurred_at": (occurred_at or utcnow()).astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "producer": producer,
        "ticket_no": ticket_no,
        "sequence": sequence,
        "trace_id": trace_id,
        "data": dumped,
    }


def load_envelope(body: Any) -> Event:
    """Validate a received envelope and its data; raise :class:`MalformedEvent` with the reason."""
    if not isinstance(body, dict):
        raise MalformedEvent(f"envelope must be a JSON object, got {type(body).__name__}")
    try:
        env = _ENVELOPE.load(body)
    except ValidationError as exc:
        raise MalformedEvent(f"invalid envelope: {exc.messages}") from None
    try:
        data = schema_for(env["type"], env["version"]).load(env["data"])
    except UnknownEvent as exc:
        raise MalformedEvent(str(exc)) from None
    except ValidationError as exc:
        raise MalformedEvent(f"{env['type']} v{env['version']}: invalid data {exc.messages}") from None
    return Event(event_id=env["event_id"], type=env["type"], version=env["version"],
                 occurred_at=env["occurred_at"], producer=env["producer"], data=data,
                 ticket_no=env["ticket_no"], sequence=env["sequence"],
                 trace_id=env["trace_id"], raw=body)
