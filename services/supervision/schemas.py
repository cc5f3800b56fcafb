"""Marshmallow schemas of supervision's RPC payloads."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from shared.vocabulary import SATISFACTION


class CallbackSchema(Schema):
    reached = fields.Boolean(required=True)
    solved = fields.Boolean(load_default=None, allow_none=True)
    satisfaction = fields.String(load_default=None, allow_none=True,
                                 validate=validate.OneOf(list(SATISFACTION)))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    # an unsatisfied citizen's complaint that the department can answer for → 重办
    attributable = fields.Boolean(load_default=True)


class CloseSchema(Schema):
    reason = fields.String(load_default="manual", validate=validate.OneOf(
        ["manual", "unreachable"]))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ClockSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    assignment_id = fields.Integer()
    department_code = fields.String()
    role = fields.String()
    policy = fields.String()
    started_at = fields.AwareDateTime()
    sign_due = fields.AwareDateTime()
    handle_due = fields.AwareDateTime()
    signed_at = fields.AwareDateTime(allow_none=True)
    replied_at = fields.AwareDateTime(allow_none=True)
    return_due = fields.AwareDateTime(allow_none=True)
    stopped_at = fields.AwareDateTime(allow_none=True)
    overdue = fields.Boolean()


class TransitionSchema(Schema):
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    at = fields.AwareDateTime()
    actor = fields.String()
    reason = fields.String(allow_none=True)


class CallbackRecordSchema(Schema):
    at = fields.AwareDateTime()
    actor = fields.String()
    reached = fields.Boolean()
    solved = fields.Boolean(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class StateSchema(Schema):
    ticket_no = fields.String()
    status = fields.String()
    category = fields.String(allow_none=True)
    urgency = fields.String(allow_none=True)
    registered_at = fields.AwareDateTime(allow_none=True)
    replied_at = fields.AwareDateTime(allow_none=True)
    callback_due = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    close_reason = fields.String(allow_none=True)


class UrgeSchema(Schema):
    """A supervisor's urge (人工催办): by phone, a written notice (催办单) or on site."""

    assignment_id = fields.Integer(load_default=None, allow_none=True)
    channel = fields.String(load_default="phone",
                            validate=validate.OneOf(["phone", "notice", "onsite"]))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class UrgeRecordSchema(Schema):
    id = fields.Integer()
    assignment_id = fields.Integer()
    department_code = fields.String()
    clock = fields.String()
    kind = fields.String()
    channel = fields.String()
    issued_at = fields.AwareDateTime()
    issuer = fields.String()
    note = fields.String(allow_none=True)
    answer = fields.String(allow_none=True)
    answered_at = fields.AwareDateTime(allow_none=True)
    answered_by = fields.String(allow_none=True)


class ExtensionRequestSchema(Schema):
    days = fields.Integer(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class ExtensionDecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class RequestRecordSchema(Schema):
    """What every department request decided by the center has: who asked, when, the decision."""

    id = fields.Integer()
    assignment_id = fields.Integer()
    department_code = fields.String()
    requested_at = fields.AwareDateTime()
    requested_by = fields.String()
    state = fields.String()
    decided_at = fields.AwareDateTime(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decision_note = fields.String(allow_none=True)


class ExtensionRecordSchema(RequestRecordSchema):
    days = fields.Integer()
    reason = fields.String()
    old_due = fields.AwareDateTime()
    new_due = fields.AwareDateTime(allow_none=True)


class ReturnRequestSchema(Schema):
    reason_code = fields.String(required=True, validate=validate.OneOf(
        ["function", "territory", "ownership", "other"]))
    basis = fields.String(required=True, validate=validate.Length(min=2, max=1000))


class ReturnDecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ReturnRecordSchema(RequestRecordSchema):
    reason_code = fields.String()
    basis = fields.String()


# == Step 2 area [supervision]: 督办单, urge answers, monthly urge, 回头看, linked callers, reopen ==
# (add this area's code between these two lines)
class SuperviseSchema(Schema):
    """督办 by hand: one open assignment, or every open assignment of the order."""

    assignment_id = fields.Integer(load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ExplanationSchema(Schema):
    explanation = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class SupervisionOrderRecordSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    assignment_id = fields.Integer(allow_none=True)
    department_code = fields.String(allow_none=True)
    source = fields.String()
    state = fields.String()
    opened_at = fields.AwareDateTime()
    opened_by = fields.String()
    note = fields.String(allow_none=True)
    explanation_due = fields.AwareDateTime()
    escalate_at = fields.AwareDateTime()
    explanation = fields.String(allow_none=True)
    explained_at = fields.AwareDateTime(allow_none=True)
    explained_by = fields.String(allow_none=True)
    explanation_late = fields.Boolean(allow_none=True)
    escalated_at = fields.AwareDateTime(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)


class UrgeAnswerSchema(Schema):
    answer = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class ReopenSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class RecheckSchema(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class RecheckResultSchema(Schema):
    finding = fields.String(required=True, validate=validate.OneOf(["confirmed", "problem_found"]))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class RecheckRecordSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    picked_at = fields.AwareDateTime()
    picked_by = fields.String()
    note = fields.String(allow_none=True)
    finding = fields.String(allow_none=True)
    result_note = fields.String(allow_none=True)
    recorded_at = fields.AwareDateTime(allow_none=True)
    recorded_by = fields.String(allow_none=True)


class LinkedCallbackSchema(CallbackSchema):
    """回访 of a linked caller (重复来电): recorded for them, never closes or reopens the order."""

    link_id = fields.Integer(required=True)


class CallerLinkRecordSchema(Schema):
    link_id = fields.Integer()
    linked_at = fields.AwareDateTime()
    caller_name = fields.String(allow_none=True)
    channel = fields.String()
    reason = fields.String()
    callback_status = fields.String()
    attempts = fields.Integer()
    reached = fields.Boolean(allow_none=True)
    solved = fields.Boolean(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    called_back_at = fields.AwareDateTime(allow_none=True)
    called_back_by = fields.String(allow_none=True)


class ProblemFlagRecordSchema(Schema):
    at = fields.AwareDateTime()
    transfers = fields.Integer()
    reopens = fields.Integer()
    reason = fields.String()

# == end of area [supervision] ==


# == Step 2 area [instructions]: leader instructions 领导批示件 ==
# (add this area's code between these two lines)
# == end of area [instructions] ==
