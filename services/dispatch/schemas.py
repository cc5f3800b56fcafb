"""Marshmallow schemas of dispatch's RPC payloads."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

ASSIGNMENT_STATES = ["dispatched", "signed", "replied", "return_requested", "returned",
                     "opinion_submitted", "passed_down", "recalled"]


class TerritorySchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    level = fields.String(required=True,
                          validate=validate.OneOf(["city", "district", "street", "community"]))
    parent_code = fields.String(load_default=None, allow_none=True)


class DepartmentSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(required=True, validate=validate.OneOf(
        ["center", "bureau", "district", "street", "community"]))
    parent_code = fields.String(load_default=None, allow_none=True)
    territory_code = fields.String(load_default=None, allow_none=True)
    active = fields.Boolean(load_default=True)


class RuleSchema(Schema):
    id = fields.Integer(load_default=None, allow_none=True)
    category = fields.String(load_default=None, allow_none=True)
    keywords = fields.List(fields.String(validate=validate.Length(min=1, max=50)), load_default=list)
    territory_code = fields.String(load_default=None, allow_none=True)
    lead = fields.String(required=True)
    assists = fields.List(fields.String(), load_default=list)
    priority = fields.Integer(load_default=0)
    active = fields.Boolean(load_default=True)
    note = fields.String(load_default=None, allow_none=True)


class ReferenceSchema(Schema):
    territories = fields.List(fields.Nested(TerritorySchema), load_default=list)
    departments = fields.List(fields.Nested(DepartmentSchema), load_default=list)
    rules = fields.List(fields.Nested(RuleSchema), load_default=list)


class ManualDispatchSchema(Schema):
    """人工派单 / 预审: accept the catalogue's suggestion, or name the departments (an override
    of a suggestion needs the dispatcher's reason)."""

    accept_suggestion = fields.Boolean(load_default=False)
    lead = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    assists = fields.List(fields.String(validate=validate.Length(min=1, max=32)),
                          load_default=list)
    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(min=1, max=500))

    @validates_schema
    def _one_way(self, data: dict[str, Any], **_: Any) -> None:
        if data["accept_suggestion"] and (data["lead"] or data["assists"]):
            raise ValidationError("采纳建议时不能另指定部门 accept the suggestion or name the "
                                  "departments, not both", "accept_suggestion")
        if not data["accept_suggestion"] and not data["lead"]:
            raise ValidationError("必填 required (or accept_suggestion: true)", "lead")


class OpinionSchema(Schema):
    opinion = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class PassDownSchema(Schema):
    department_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class QueueQuerySchema(Schema):
    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class ChangeLogQuerySchema(Schema):
    cursor = fields.Integer(load_default=None, allow_none=True)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class RuleListQuerySchema(Schema):
    active = fields.Boolean(load_default=None, allow_none=True)


def _keywords(**kw: Any) -> fields.List:
    return fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                       validate=validate.Length(max=50), **kw)


def _assists(**kw: Any) -> fields.List:
    return fields.List(fields.String(validate=validate.Length(min=1, max=32)),
                       validate=validate.Length(max=20), **kw)


class RuleCreateSchema(Schema):
    """A new line of the routing catalogue (admin)."""

    category = fields.String(load_default=None, allow_none=True)
    keywords = _keywords(load_default=list)
    territory_code = fields.String(load_default=None, allow_none=True)
    lead = fields.String(required=True, validate=validate.Length(min=1, max=32))
    assists = _assists(load_default=list)
    priority = fields.Integer(load_default=0, validate=validate.Range(min=-1000, max=1000))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class RuleUpdateSchema(Schema):
    """A change to a rule: only the fields given change (``active`` re-activates one)."""

    category = fields.String(allow_none=True)
    keywords = _keywords()
    territory_code = fields.String(allow_none=True)
    lead = fields.String(validate=validate.Length(min=1, max=32))
    assists = _assists()
    priority = fields.Integer(validate=validate.Range(min=-1000, max=1000))
    active = fields.Boolean()
    note = fields.String(allow_none=True, validate=validate.Length(max=200))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class DeactivateSchema(Schema):
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class RuleRecordSchema(Schema):
    id = fields.Integer()
    category = fields.String(allow_none=True)
    keywords = fields.List(fields.String())
    territory_code = fields.String(allow_none=True)
    lead = fields.String()
    assists = fields.List(fields.String())
    priority = fields.Integer()
    active = fields.Boolean()
    note = fields.String(allow_none=True)


class RevisionSchema(Schema):
    id = fields.Integer()
    catalogue_version = fields.Integer()
    rule_id = fields.Integer()
    action = fields.String()
    actor = fields.String()
    at = fields.AwareDateTime()
    before = fields.Dict(allow_none=True)
    after = fields.Dict()
    changes = fields.Dict()
    note = fields.String(allow_none=True)


class DecisionSchema(Schema):
    round = fields.Integer()
    created_at = fields.AwareDateTime()
    waiting_reason = fields.String(allow_none=True)
    suggested_lead = fields.String(allow_none=True)
    suggested_assists = fields.List(fields.String())
    rule_id = fields.Integer(allow_none=True)
    catalogue_version = fields.Integer(allow_none=True)
    reasons = fields.List(fields.String())
    suggestion_source = fields.String(allow_none=True)  # catalogue | knowledge
    decision = fields.String()
    decided_at = fields.AwareDateTime(allow_none=True)
    decided_by = fields.String(allow_none=True)
    lead = fields.String(allow_none=True)
    assists = fields.List(fields.String())
    reason = fields.String(allow_none=True)


class ReplySchema(Schema):
    reply = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class InboxQuerySchema(Schema):
    cursor = fields.Integer(load_default=None, allow_none=True)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    state = fields.String(load_default=None, allow_none=True,
                          validate=validate.OneOf(ASSIGNMENT_STATES))


class AssignmentSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.Integer()
    ticket_no = fields.String()
    department_code = fields.String()
    role = fields.String()
    round = fields.Integer()
    state = fields.String()
    dispatched_at = fields.AwareDateTime()
    dispatched_by = fields.String()
    rule_id = fields.Integer(allow_none=True)
    signed_at = fields.AwareDateTime(allow_none=True)
    signed_by = fields.String(allow_none=True)
    replied_at = fields.AwareDateTime(allow_none=True)
    replied_by = fields.String(allow_none=True)
    reply = fields.String(allow_none=True)
    catalogue_version = fields.Integer(allow_none=True)
    opinion = fields.String(allow_none=True)
    opinion_at = fields.AwareDateTime(allow_none=True)
    opinion_by = fields.String(allow_none=True)
    passed_from_id = fields.Integer(allow_none=True)
    passed_to_id = fields.Integer(allow_none=True)
    pass_down_note = fields.String(allow_none=True)


class AssistViewSchema(Schema):
    """An assistant of the lead's round as the lead sees it (协办意见)."""

    assignment_id = fields.Integer()
    department_code = fields.String()
    state = fields.String()
    opinion = fields.String(allow_none=True)
    opinion_at = fields.AwareDateTime(allow_none=True)
    opinion_by = fields.String(allow_none=True)
    handle_due = fields.AwareDateTime(allow_none=True)


class InboxItemSchema(AssignmentSchema):
    category = fields.String()
    urgency = fields.String()
    title = fields.String()
    content = fields.String()
    caller_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    territory_code = fields.String(allow_none=True)
    confidential = fields.Boolean()
    # the lead's view of its round's assistants and their opinions (empty for an assistant)
    assists = fields.List(fields.Nested(AssistViewSchema), dump_default=list)


class QueueItemSchema(Schema):
    """An order waiting for a dispatcher (待派单), with what the catalogue suggests."""

    ticket_no = fields.String()
    registered_at = fields.AwareDateTime()
    category = fields.String()
    urgency = fields.String()
    title = fields.String()
    content = fields.String()
    address = fields.String(allow_none=True)
    territory_code = fields.String(allow_none=True)
    confidential = fields.Boolean()
    round = fields.Integer()  # the round the dispatch will open
    waiting_reason = fields.String(allow_none=True)
    suggestion = fields.Dict(allow_none=True)


# -- Step 3: endpoints, the department feed, deliveries, recall, progress -----------------------

class EndpointCreateSchema(Schema):
    """A department's endpoint (部门对接方式); ``category``: it serves only that category."""

    kind = fields.String(required=True, validate=validate.OneOf(
        ["terminal", "webhook", "pull", "open311"]))
    url = fields.Raw(load_default=None, allow_none=True)  # checked by endpoints.check_webhook_url
    category = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(min=1, max=20))
    timeout_seconds = fields.Integer(load_default=5, validate=validate.Range(min=1, max=30))


class EndpointRecordSchema(Schema):
    """An endpoint as listed: never its secret."""

    id = fields.Integer()
    department_code = fields.String()
    category = fields.String(allow_none=True)
    kind = fields.String()
    url = fields.String(allow_none=True)
    timeout_seconds = fields.Integer()
    active = fields.Boolean()
    created_at = fields.AwareDateTime()
    created_by = fields.String()
    secret_rotated_at = fields.AwareDateTime(allow_none=True)
    deactivated_at = fields.AwareDateTime(allow_none=True)
    deactivated_by = fields.String(allow_none=True)


class FeedQuerySchema(Schema):
    cursor = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class DeliveryQuerySchema(Schema):
    department_code = fields.String(load_default=None, allow_none=True,
                                    validate=validate.Length(min=1, max=32))
    state = fields.String(load_default=None, allow_none=True,
                          validate=validate.OneOf(["pending", "delivered", "dead"]))
    ticket_no = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(min=1, max=20))
    cursor = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class DeliveryRecordSchema(Schema):
    id = fields.Integer()
    department_code = fields.String()
    endpoint_id = fields.Integer()
    feed_entry_id = fields.Integer()
    seq = fields.Integer()
    state = fields.String()
    created_at = fields.AwareDateTime()
    window_start = fields.AwareDateTime()
    next_attempt_at = fields.AwareDateTime()
    attempts = fields.Integer()
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = fields.AwareDateTime(allow_none=True)
    dead_at = fields.AwareDateTime(allow_none=True)
    replays = fields.Integer()
    replayed_at = fields.AwareDateTime(allow_none=True)
    replayed_by = fields.String(allow_none=True)


class AttemptRecordSchema(Schema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    status_code = fields.Integer(allow_none=True)
    latency_ms = fields.Integer()
    response = fields.String(allow_none=True)
    error = fields.String(allow_none=True)


class RecallSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ProgressSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ProgressRecordSchema(Schema):
    id = fields.Integer()
    assignment_id = fields.Integer()
    ticket_no = fields.String()
    department_code = fields.String()
    note = fields.String()
    at = fields.AwareDateTime()
    actor = fields.String()
