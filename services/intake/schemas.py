"""Marshmallow schemas of intake's RPC payloads."""

from __future__ import annotations

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from services.intake.domain import PhoneError, normalize_phone
from shared.vocabulary import CATEGORIES, CHANNELS, URGENCIES

MAX_CONTENT = 4000
OPEN311_ATTRIBUTES_TEXT = 300


class ResolutionSchema(Schema):
    """直接办结: the agent answered the caller on the spot, citing a knowledge article."""

    answer = fields.String(required=True, validate=validate.Length(min=2, max=2000))
    article_id = fields.Integer(load_default=None, allow_none=True)


class RegistrationSchema(Schema):
    """The registration form (DOMAIN.md §2). Unknown fields are rejected, naming them."""

    channel = fields.String(load_default="phone", validate=validate.OneOf(list(CHANNELS)))
    category = fields.String(required=True)
    urgency = fields.String(load_default="normal", validate=validate.OneOf(list(URGENCIES)))
    title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    content = fields.String(required=True, validate=validate.Length(min=1, max=MAX_CONTENT))
    caller_name = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=50))
    phone = fields.String(required=True)
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    territory_code = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(max=32))
    confidential = fields.Boolean(load_default=False)
    caller_privacy = fields.Boolean(load_default=False)
    related_ticket_nos = fields.List(fields.String(validate=validate.Length(min=1, max=20)),
                                     load_default=list, validate=validate.Length(max=20))
    call_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    recording_ref = fields.String(load_default=None, allow_none=True,
                                  validate=validate.Length(max=200))
    resolution = fields.Nested(ResolutionSchema, load_default=None, allow_none=True)

    @validates("category")
    def _category(self, value: str, **_: object) -> None:
        if value not in CATEGORIES:
            raise ValidationError(f"未知的诉求类别 unknown category {value!r}; "
                                  f"valid: {', '.join(CATEGORIES)}")

    @validates("content")
    def _content(self, value: str, **_: object) -> None:
        if not value.strip():
            raise ValidationError("诉求内容不能为空 content must not be blank")

    @validates("phone")
    def _phone(self, value: str, **_: object) -> None:
        try:
            normalize_phone(value)
        except PhoneError as exc:
            raise ValidationError(str(exc)) from None


class TicketSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    ticket_no = fields.String()
    registered_at = fields.AwareDateTime()
    channel = fields.String()
    category = fields.String()
    urgency = fields.String()
    title = fields.String()
    content = fields.String()
    caller_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    territory_code = fields.String(allow_none=True)
    confidential = fields.Boolean()
    agent = fields.String(allow_none=True)
    call_id = fields.String(allow_none=True)
    recording_ref = fields.String(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    resolution_article_id = fields.Integer(allow_none=True)
    caller_privacy = fields.Boolean()
    related_ticket_nos = fields.List(fields.String(), allow_none=True)


class ListFilterSchema(Schema):
    category = fields.String(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True)
    registered_from = fields.AwareDateTime(load_default=None, allow_none=True)
    registered_to = fields.AwareDateTime(load_default=None, allow_none=True)
    cursor = fields.String(load_default=None, allow_none=True)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    ticket_nos = fields.List(fields.String(), load_default=None, allow_none=True)
    # 涉密: the gateway lists confidential orders only to those cleared for them; with
    # ``hide_confidential`` the ones registered by ``own_agent`` are still listed
    hide_confidential = fields.Boolean(load_default=False)
    own_agent = fields.String(load_default=None, allow_none=True)


def _valid_phone(value: str) -> None:
    try:
        normalize_phone(value)
    except PhoneError as exc:
        raise ValidationError(str(exc)) from None


class DraftSchema(Schema):
    """A call being taken (重复来电 check): whatever the agent has typed so far. The console
    sends the registration form as it stands, so its other fields are ignored, not refused."""

    class Meta:
        unknown = EXCLUDE

    phone = fields.String(load_default=None, allow_none=True, validate=_valid_phone)
    category = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(list(CATEGORIES)))
    territory_code = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(max=32))
    title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    content = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=MAX_CONTENT))

    @validates_schema
    def _something(self, data: dict, **_: object) -> None:
        if not data.get("phone") and not (data.get("content") or data.get("title") or "").strip():
            raise ValidationError("须提供电话或诉求内容 give the phone or the content",
                                  "content")


LINK_REASONS = ("same_caller", "similar_matter", "agent")


class LinkSchema(Schema):
    """A new caller about an open order (重复来电 关联)."""

    phone = fields.String(required=True, validate=_valid_phone)
    caller_name = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=50))
    content = fields.String(required=True, validate=validate.Length(min=1, max=MAX_CONTENT))
    channel = fields.String(load_default="phone", validate=validate.OneOf(list(CHANNELS)))
    call_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    reason = fields.String(load_default="agent", validate=validate.OneOf(LINK_REASONS))

    @validates("content")
    def _content(self, value: str, **_: object) -> None:
        if not value.strip():
            raise ValidationError("来电内容不能为空 content must not be blank")


class LinkRecordSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    linked_at = fields.AwareDateTime()
    caller_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    content = fields.String()
    channel = fields.String()
    agent = fields.String()
    call_id = fields.String(allow_none=True)
    reason = fields.String()


class CallerQuerySchema(Schema):
    phone = fields.String(required=True, validate=_valid_phone)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


# -- Open311 submissions and the citizen progress read model (流程查询) -------------------------

class Open311SubmissionSchema(Schema):
    """An Open311 ``POST requests`` as the gateway hands it over (its format checked there):
    the registration facts plus the location, media and contact fields of GeoReport v2. The
    phone is optional here (an Open311 client may send none); when sent it must be valid."""

    category = fields.String(required=True, validate=validate.OneOf(list(CATEGORIES)))
    urgency = fields.String(load_default="normal", validate=validate.OneOf(list(URGENCIES)))
    title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    # the description (≤ 4,000, GeoReport's limit) after the service's attributes (subject,
    # time) written out in front of it
    content = fields.String(required=True, validate=validate.Length(
        min=1, max=MAX_CONTENT + OPEN311_ATTRIBUTES_TEXT))
    caller_name = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=50))
    phone = fields.String(load_default=None, allow_none=True, validate=_valid_phone)
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    territory_code = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(max=32))
    caller_privacy = fields.Boolean(load_default=False)
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    long = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))
    address_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    media_url = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    account_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    email = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=254))
    device_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))

    @validates_schema
    def _located(self, data: dict, **_: object) -> None:
        if (data.get("lat") is None) != (data.get("long") is None):
            raise ValidationError("经纬度须同时提供 lat and long go together", "lat")
        if data.get("lat") is None and not data.get("address") and not data.get("address_id"):
            raise ValidationError("须提供位置 a location is required", "address")


TEXT_POLICIES = ("open311", "all", "none")
LISTINGS = ("all", "open311")


class ProgressQuerySchema(Schema):
    """A search of the citizen progress read model (Open311 ``GET requests``), already checked
    by the gateway against the GeoReport rules (span, limits)."""

    ticket_nos = fields.List(fields.String(validate=validate.Length(max=20)), load_default=None,
                             allow_none=True, validate=validate.Length(max=1000))
    categories = fields.List(fields.String(), load_default=None, allow_none=True)
    start = fields.AwareDateTime(load_default=None, allow_none=True)
    end = fields.AwareDateTime(load_default=None, allow_none=True)
    states = fields.List(fields.String(validate=validate.OneOf(["open", "closed"])),
                         load_default=None, allow_none=True)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=1000))
    # which orders are listed, and whose text (description, address, coordinates, media, the
    # reply) is shown: see services/intake/service.py ``citizen_progress``
    listing = fields.String(load_default="all", validate=validate.OneOf(LISTINGS))
    text = fields.String(load_default="open311", validate=validate.OneOf(TEXT_POLICIES))


class UpdatesQuerySchema(Schema):
    """A search of the public progress steps (servicerequestupdates ``GET``)."""

    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=1000))
    listing = fields.String(load_default="all", validate=validate.OneOf(LISTINGS))
    text = fields.String(load_default="open311", validate=validate.OneOf(TEXT_POLICIES))
