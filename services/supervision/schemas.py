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


# -- 督办单, urge answers, monthly urge, 回头看, linked callers, reopen --
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



# -- leader instructions 领导批示件 --
from marshmallow import ValidationError, validates_schema  # noqa: E402  (inside this area)

from services.supervision import instructions as _instr  # noqa: E402


class InstructionRegistrationSchema(Schema):
    """登记批示件: what the office enters from the instruction sheet."""

    leader_name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    leader_level = fields.String(required=True, validate=validate.OneOf(list(_instr.LEVELS)))
    words = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    source_title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    source_doc_no = fields.String(load_default=None, allow_none=True,
                                  validate=validate.Length(max=100))
    received_at = fields.AwareDateTime(required=True)
    urgent = fields.Boolean(load_default=False)
    confidential = fields.Boolean(load_default=False)
    units = fields.List(fields.String(validate=validate.Length(min=1, max=32)), required=True,
                        validate=validate.Length(min=1, max=50))
    ticket_nos = fields.List(fields.String(validate=validate.Length(min=1, max=20)),
                             load_default=list, validate=validate.Length(max=50))
    # the office's own choice of 办件/阅件 over the classification, with a reason
    kind = fields.String(load_default=None, allow_none=True,
                         validate=validate.OneOf(list(_instr.KINDS)))
    kind_reason = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=500))
    # a deadline set by the upper-level unit (按原上级交办单位的要求), replacing the level's
    feedback_due = fields.AwareDateTime(load_default=None, allow_none=True)

    @validates_schema
    def _distinct(self, data: dict, **_: object) -> None:
        if len(set(data["units"])) != len(data["units"]):
            raise ValidationError(["承办单位重复 a unit is listed twice"], "units")


class InstructionReclassifySchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(_instr.KINDS)))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class InstructionFeedbackSchema(Schema):
    content = fields.String(required=True, validate=validate.Length(min=2, max=8000))


class InstructionDecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))

    @validates_schema
    def _reason_to_return(self, data: dict, **_: object) -> None:
        if not data["approve"] and not (data.get("reason") or "").strip():
            raise ValidationError(["退回修改须说明理由 a reason is required to send it back"],
                                  "reason")


class InstructionListSchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(list(_instr.STATUSES)))
    kind = fields.String(load_default=None, validate=validate.OneOf(list(_instr.KINDS)))
    unit = fields.String(load_default=None)
    overdue = fields.Boolean(load_default=None, allow_none=True)
    cursor = fields.Integer(load_default=None, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class InstructionSummaryQuerySchema(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    group_by = fields.String(load_default="unit",
                             validate=validate.OneOf(["unit", "leader_level"]))

    @validates_schema
    def _order(self, data: dict, **_: object) -> None:
        if data["to"] < data["from_"]:
            raise ValidationError(["结束日期早于开始日期 to is before from"], "to")


class InstructionUnitRecordSchema(Schema):
    id = fields.Integer()
    department_code = fields.String()
    status = fields.String()
    feedback_due = fields.AwareDateTime(allow_none=True)
    dispatched_at = fields.AwareDateTime()
    submissions = fields.Integer()
    read_at = fields.AwareDateTime(allow_none=True)
    approved_at = fields.AwareDateTime(allow_none=True)
    overdue = fields.Boolean()


class InstructionFeedbackRecordSchema(Schema):
    id = fields.Integer()
    department_code = fields.String()
    content = fields.String()
    submitted_at = fields.AwareDateTime()
    submitted_by = fields.String()
    state = fields.String()
    decided_at = fields.AwareDateTime(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)


class InstructionActionRecordSchema(Schema):
    action = fields.String()
    at = fields.AwareDateTime()
    actor = fields.String()
    department_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class InstructionUrgeSchema(Schema):
    """The office urges by hand (人工催办): one unit, or every unit still owing feedback."""

    department_code = fields.String(load_default=None, allow_none=True)
    channel = fields.String(load_default="phone",
                            validate=validate.OneOf(["phone", "notice", "onsite"]))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class InstructionUrgeRecordSchema(Schema):
    id = fields.Integer()
    department_code = fields.String()
    due = fields.AwareDateTime()
    issued_at = fields.AwareDateTime()
    issuer = fields.String()
    kind = fields.String()
    channel = fields.String()
    note = fields.String(allow_none=True)


class InstructionRecordSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    year = fields.Integer()
    seq = fields.Integer()
    leader_name = fields.String()
    leader_level = fields.String()
    words = fields.String()
    source_title = fields.String()
    source_doc_no = fields.String(allow_none=True)
    received_at = fields.AwareDateTime()
    registered_at = fields.AwareDateTime()
    registered_by = fields.String()
    urgent = fields.Boolean()
    confidential = fields.Boolean()
    kind = fields.String()
    classified_kind = fields.String()
    kind_reason = fields.String(allow_none=True)
    deadline_rule = fields.String()
    dispatch_due = fields.AwareDateTime(allow_none=True)
    dispatched_late = fields.Boolean()
    status = fields.String()
    completed_at = fields.AwareDateTime(allow_none=True)

