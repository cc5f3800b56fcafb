"""The event catalogue: one schema per event type and version (ARCHITECTURE.md).

Facts are named in the past tense. Producers: intake (``ticket.registered``,
``ticket.resolved_at_intake``), dispatch (``ticket.dispatched``, ``ticket.pending_dispatch``,
``assignment.*``), supervision (``assignment.clocks_started``, ``ticket.status_changed``,
``ticket.callback_recorded``, ``ticket.closed``), knowledge (``kb.article_published``).
Adding a field is backward compatible (consumers ignore unknown keys); removing or changing one
is a new version.
"""

from __future__ import annotations

from marshmallow import fields, validate

from shared.events import EventSchema, register

_dt = fields.AwareDateTime  # always timezone-aware; dumped as ISO-8601


@register("ticket.registered", 1)
class TicketRegistered(EventSchema):
    """工单登记: an order was registered by an agent or a channel."""

    ticket_no = fields.String(required=True)
    registered_at = _dt(required=True)
    channel = fields.String(required=True)
    category = fields.String(required=True)
    urgency = fields.String(required=True)
    title = fields.String(required=True)
    content = fields.String(required=True)
    caller_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    territory_code = fields.String(allow_none=True)
    confidential = fields.Boolean(required=True)
    agent = fields.String(allow_none=True)
    call_id = fields.String(allow_none=True)
    recording_ref = fields.String(allow_none=True)
    # answered on the spot (直接办结): a ticket.resolved_at_intake follows; nothing to dispatch
    resolved_at_intake = fields.Boolean(load_default=False, dump_default=False)
    # 保密 on the caller's request (not 涉密): keep the caller's identity from the departments
    caller_privacy = fields.Boolean(load_default=False, dump_default=False)
    # earlier orders the agent named as related at registration (关联的历史工单)
    related_ticket_nos = fields.List(fields.String(), allow_none=True, load_default=list,
                                     dump_default=list)


@register("ticket.resolved_at_intake", 1)
class TicketResolvedAtIntake(EventSchema):
    """直接办结: the agent answered the caller on the spot (citing a knowledge article)."""

    ticket_no = fields.String(required=True)
    resolved_at = _dt(required=True)
    actor = fields.String(required=True)
    answer = fields.String(required=True)
    article_id = fields.Integer(allow_none=True)


class AssignmentRef(EventSchema):
    assignment_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(["lead", "assist"]))


@register("ticket.dispatched", 1)
class TicketDispatched(EventSchema):
    """派单: the order went to exactly one lead (主办) and any assisting (协办) departments."""

    ticket_no = fields.String(required=True)
    dispatched_at = _dt(required=True)
    actor = fields.String(required=True)
    round = fields.Integer(required=True)
    category = fields.String(required=True)
    urgency = fields.String(required=True)
    rule_id = fields.Integer(allow_none=True)
    assignments = fields.List(fields.Nested(AssignmentRef), required=True,
                              validate=validate.Length(min=1))


@register("ticket.pending_dispatch", 1)
class TicketPendingDispatch(EventSchema):
    """待派单: no routing rule matched; a dispatcher must choose the department."""

    ticket_no = fields.String(required=True)
    at = _dt(required=True)
    reason = fields.String(required=True)
    # unmatched (no rule: knowledge's routing help suggests departments) | review (预审 of the
    # catalogue's suggestion); absent from producers before Step 4
    waiting_reason = fields.String(allow_none=True)


@register("assignment.signed", 1)
class AssignmentSigned(EventSchema):
    """签收: a department acknowledged its assignment."""

    assignment_id = fields.Integer(required=True)
    ticket_no = fields.String(required=True)
    department_code = fields.String(required=True)
    role = fields.String(required=True)
    signed_at = _dt(required=True)
    actor = fields.String(required=True)


@register("assignment.replied", 1)
class AssignmentReplied(EventSchema):
    """答复: the lead department's consolidated reply to the citizen."""

    assignment_id = fields.Integer(required=True)
    ticket_no = fields.String(required=True)
    department_code = fields.String(required=True)
    replied_at = _dt(required=True)
    actor = fields.String(required=True)
    reply = fields.String(required=True)


@register("assignment.clocks_started", 1)
class AssignmentClocksStarted(EventSchema):
    """The sign-for and handling clocks of one assignment, started at dispatch (DOMAIN.md §4)."""

    assignment_id = fields.Integer(required=True)
    ticket_no = fields.String(required=True)
    department_code = fields.String(required=True)
    role = fields.String(required=True)
    started_at = _dt(required=True)
    sign_due = _dt(required=True)
    handle_due = _dt(required=True)
    policy = fields.String(required=True)


@register("ticket.status_changed", 1)
class TicketStatusChanged(EventSchema):
    """A lifecycle transition (DOMAIN.md §3), with who, when and why."""

    ticket_no = fields.String(required=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)
    reason = fields.String(allow_none=True)


@register("ticket.callback_recorded", 1)
class TicketCallbackRecorded(EventSchema):
    """回访: the center called the citizen back."""

    ticket_no = fields.String(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)
    reached = fields.Boolean(required=True)
    solved = fields.Boolean(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


@register("ticket.closed", 1)
class TicketClosed(EventSchema):
    """办结: the order left the open ledger (台账); its history is kept."""

    ticket_no = fields.String(required=True)
    closed_at = _dt(required=True)
    actor = fields.String(required=True)
    reason = fields.String(required=True)


@register("kb.article_published", 1)
class ArticlePublished(EventSchema):
    """A knowledge article became searchable (录入发布)."""

    article_id = fields.Integer(required=True)
    title = fields.String(required=True)
    article_type = fields.String(required=True)
    department_code = fields.String(allow_none=True)
    published_at = _dt(required=True)
    version = fields.Integer(allow_none=True)  # the version now live (Step 4)


@register("kb.article_archived", 1)
class ArticleArchived(EventSchema):
    """An entry left the knowledge base (归档): by hand, or its validity ended (有效期届满)."""

    article_id = fields.Integer(required=True)
    title = fields.String(required=True)
    department_code = fields.String(allow_none=True)
    archived_at = _dt(required=True)
    actor = fields.String(required=True)
    reason = fields.String(required=True)


class DepartmentSuggestion(EventSchema):
    department_code = fields.String(required=True)
    score = fields.Float(required=True)
    reasons = fields.List(fields.String(), required=True)


@register("kb.departments_suggested", 1)
class DepartmentsSuggested(EventSchema):
    """派单辅助: knowledge ranked departments for an order no routing rule matched
    (from its 部门职能 entries and where similar past orders went), best first."""

    ticket_no = fields.String(required=True)
    at = _dt(required=True)
    suggestions = fields.List(fields.Nested(DepartmentSuggestion), required=True)
    # the dispatch round the suggestion is for (the order's rounds so far + 1), and the margin
    # of the top score over the second (services/knowledge/routing.py)
    round = fields.Integer(allow_none=True)
    confidence = fields.Float(allow_none=True)


@register("ticket.urged", 1)
class TicketUrged(EventSchema):
    """催办: an assignment was urged, automatically (warning at 80 %, breach) or by hand."""

    ticket_no = fields.String(required=True)
    urge_id = fields.Integer(required=True)
    assignment_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    clock = fields.String(required=True, validate=validate.OneOf(["sign", "handle"]))
    kind = fields.String(required=True, validate=validate.OneOf(
        ["warning", "breach", "manual", "monthly"]))
    channel = fields.String(required=True)
    issued_at = _dt(required=True)
    issuer = fields.String(required=True)
    note = fields.String(allow_none=True)


@register("ticket.overdue", 1)
class TicketOverdue(EventSchema):
    """超期: a clock of an assignment passed its deadline without its action."""

    ticket_no = fields.String(required=True)
    assignment_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    clock = fields.String(required=True, validate=validate.OneOf(["sign", "handle"]))
    due = _dt(required=True)
    at = _dt(required=True)


@register("ticket.reopened", 1)
class TicketReopened(EventSchema):
    """重办: the citizen was not satisfied at callback; the order goes back to its lead department."""

    ticket_no = fields.String(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)
    reason = fields.String(required=True)


@register("assignment.extension_requested", 1)
class ExtensionRequested(EventSchema):
    """延期申请: a department asked for more working days on one assignment."""

    extension_id = fields.Integer(required=True)
    assignment_id = fields.Integer(required=True)
    ticket_no = fields.String(required=True)
    department_code = fields.String(required=True)
    days = fields.Integer(required=True)
    reason = fields.String(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)


@register("assignment.extension_decided", 1)
class ExtensionDecided(EventSchema):
    """延期审批: approved (the handling deadline moves, once) or rejected."""

    extension_id = fields.Integer(required=True)
    assignment_id = fields.Integer(required=True)
    ticket_no = fields.String(required=True)
    department_code = fields.String(required=True)
    approved = fields.Boolean(required=True)
    old_due = _dt(required=True)
    new_due = _dt(allow_none=True)
    at = _dt(required=True)
    actor = fields.String(required=True)
    note = fields.String(allow_none=True)


@register("assignment.return_requested", 1)
class ReturnRequested(EventSchema):
    """退单申请: the lead department says the order is not its to handle."""

    return_id = fields.Integer(required=True)
    assignment_id = fields.Integer(required=True)
    ticket_no = fields.String(required=True)
    department_code = fields.String(required=True)
    reason_code = fields.String(required=True)
    basis = fields.String(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)


@register("assignment.return_withdrawn", 1)
class ReturnWithdrawn(EventSchema):
    """退单撤回: the lead's reply crossed its own return request (pending, or approved before
    supervision heard of the reply); the reply stands and the request is withdrawn (neither
    approved nor 无正当理由退件)."""

    return_id = fields.Integer(required=True)
    assignment_id = fields.Integer(required=True)
    ticket_no = fields.String(required=True)
    department_code = fields.String(required=True)
    at = _dt(required=True)
    reason = fields.String(required=True)
    # what the reply superseded: a request still pending, or one the center had approved
    superseded = fields.String(load_default="pending", dump_default="pending",
                               validate=validate.OneOf(["pending", "approved"]))


@register("assignment.return_decided", 1)
class ReturnDecided(EventSchema):
    """退单审定: approved (back to dispatch) or rejected (无正当理由退件, the department keeps it)."""

    return_id = fields.Integer(required=True)
    assignment_id = fields.Integer(required=True)
    ticket_no = fields.String(required=True)
    department_code = fields.String(required=True)
    approved = fields.Boolean(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)
    note = fields.String(allow_none=True)


# -- Step 2 contracts shared by several services (defined once, before the work is split) -----

@register("ticket.linked", 1)
class TicketLinked(EventSchema):
    """重复来电: a new call about a matter already open was linked to that order instead of
    registering a second one. Each linked caller keeps their own callback (DOMAIN.md §2)."""

    ticket_no = fields.String(required=True)  # the open order the call was linked to
    link_id = fields.Integer(required=True)
    linked_at = _dt(required=True)
    caller_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    content = fields.String(required=True)
    channel = fields.String(required=True)
    agent = fields.String(required=True)
    call_id = fields.String(allow_none=True)
    reason = fields.String(required=True)  # same_caller | similar_matter | agent


@register("ticket.hotspot_raised", 1)
class TicketHotspotRaised(EventSchema):
    """热点: three or more distinct callers about one matter (raised once per order)."""

    ticket_no = fields.String(required=True)
    callers = fields.Integer(required=True)
    at = _dt(required=True)
    category = fields.String(required=True)
    territory_code = fields.String(allow_none=True)
    title = fields.String(required=True)


@register("assignment.passed_down", 1)
class AssignmentPassedDown(EventSchema):
    """下派: a district (or street) passed its assignment down to one of its own units.

    The new assignment takes over the old one's role and clocks; deadlines do not move.
    """

    ticket_no = fields.String(required=True)
    assignment_id = fields.Integer(required=True)  # the assignment passed down (it stops)
    new_assignment_id = fields.Integer(required=True)
    from_department = fields.String(required=True)
    to_department = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(["lead", "assist"]))
    at = _dt(required=True)
    actor = fields.String(required=True)
    note = fields.String(allow_none=True)


@register("assignment.opinion_submitted", 1)
class AssignmentOpinionSubmitted(EventSchema):
    """协办意见: an assisting department sent its opinion to the lead; its clock stops."""

    assignment_id = fields.Integer(required=True)
    ticket_no = fields.String(required=True)
    department_code = fields.String(required=True)
    submitted_at = _dt(required=True)
    actor = fields.String(required=True)
    opinion = fields.String(required=True)


@register("ticket.problem_flagged", 1)
class TicketProblemFlagged(EventSchema):
    """问题工单: an order transferred (re-dispatched after a return) or re-handled (重办) three
    times; supervision escalates it to 督办 (DOMAIN.md §3)."""

    ticket_no = fields.String(required=True)
    at = _dt(required=True)
    transfers = fields.Integer(required=True)
    reopens = fields.Integer(required=True)
    reason = fields.String(required=True)


# -- Step 2 supervision (督办单, 催办答复, 回头看, linked callers' callbacks) -------------------

@register("ticket.supervised", 1)
class TicketSupervised(EventSchema):
    """督办单: an assignment (or a problem order) was put under supervision, automatically at
    its handling breach, by a supervisor, or as a 问题工单; the department must explain."""

    ticket_no = fields.String(required=True)
    supervision_order_id = fields.Integer(required=True)
    assignment_id = fields.Integer(allow_none=True)
    department_code = fields.String(allow_none=True)
    source = fields.String(required=True, validate=validate.OneOf(["breach", "manual", "problem"]))
    opened_at = _dt(required=True)
    opened_by = fields.String(required=True)
    explanation_due = _dt(required=True)
    escalate_at = _dt(required=True)
    note = fields.String(allow_none=True)


@register("supervision.explanation_given", 1)
class SupervisionExplanationGiven(EventSchema):
    """督办说明: the supervised department explained the delay (late when after its due)."""

    ticket_no = fields.String(required=True)
    supervision_order_id = fields.Integer(required=True)
    assignment_id = fields.Integer(allow_none=True)
    department_code = fields.String(allow_none=True)
    explanation = fields.String(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)
    late = fields.Boolean(required=True)


@register("ticket.escalated", 1)
class TicketEscalated(EventSchema):
    """通报: a 督办单's assignment was still not replied when its escalation time came
    (5 working days by default); reported in the next periodic report. Once per 督办单."""

    ticket_no = fields.String(required=True)
    supervision_order_id = fields.Integer(required=True)
    assignment_id = fields.Integer(allow_none=True)
    department_code = fields.String(allow_none=True)
    opened_at = _dt(required=True)
    at = _dt(required=True)
    reason = fields.String(required=True)


@register("ticket.urge_answered", 1)
class TicketUrgeAnswered(EventSchema):
    """催办答复: the urged department answered an urge."""

    ticket_no = fields.String(required=True)
    urge_id = fields.Integer(required=True)
    assignment_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    answer = fields.String(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)


@register("ticket.rechecked", 1)
class TicketRechecked(EventSchema):
    """回头看: a closed order was re-checked; the finding is its own record, the closure stays."""

    ticket_no = fields.String(required=True)
    recheck_id = fields.Integer(required=True)
    finding = fields.String(required=True, validate=validate.OneOf(["confirmed", "problem_found"]))
    note = fields.String(allow_none=True)
    at = _dt(required=True)
    actor = fields.String(required=True)


@register("ticket.linked_callback_recorded", 1)
class TicketLinkedCallbackRecorded(EventSchema):
    """回访 of a linked caller (重复来电): their own satisfaction; it never closes or reopens the
    order (only the original caller's ``ticket.callback_recorded`` does)."""

    ticket_no = fields.String(required=True)
    link_id = fields.Integer(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)
    reached = fields.Boolean(required=True)
    solved = fields.Boolean(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


# -- leader instructions (领导批示件, supervision) ---------------------------------------------
# The leader's words and the feedback text stay in supervision: events carry identifiers,
# deadlines and outcomes only, so a 涉密 instruction's content never leaves its service.

from marshmallow import EXCLUDE, Schema  # noqa: E402  (kept beside its one use)


class InstructionUnitRef(Schema):
    """One unit of an instruction (nested; not an event of its own)."""

    class Meta:
        unknown = EXCLUDE

    department_code = fields.String(required=True)
    feedback_due = _dt(allow_none=True)


@register("instruction.registered", 1)
class InstructionRegistered(EventSchema):
    """批示件登记交办: numbered by the office and dispatched to its units."""

    instruction_id = fields.Integer(required=True)
    number = fields.String(required=True)  # 批〔2026〕12号
    leader_level = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["handle", "read"]))
    urgent = fields.Boolean(required=True)
    confidential = fields.Boolean(required=True)
    received_at = _dt(required=True)
    registered_at = _dt(required=True)
    dispatch_due = _dt(allow_none=True)
    actor = fields.String(required=True)
    units = fields.List(fields.Nested(InstructionUnitRef), required=True,
                        validate=validate.Length(min=1))
    ticket_nos = fields.List(fields.String(), required=True)


@register("instruction.reclassified", 1)
class InstructionReclassified(EventSchema):
    """办件/阅件 changed by the office, with its reason; the units' deadlines follow."""

    instruction_id = fields.Integer(required=True)
    number = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["handle", "read"]))
    at = _dt(required=True)
    actor = fields.String(required=True)
    reason = fields.String(required=True)


@register("instruction.feedback_submitted", 1)
class InstructionFeedbackSubmitted(EventSchema):
    """承办单位反馈: a unit submitted its feedback for the office to approve."""

    instruction_id = fields.Integer(required=True)
    number = fields.String(required=True)
    feedback_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    submitted_at = _dt(required=True)
    feedback_due = _dt(allow_none=True)
    actor = fields.String(required=True)
    submission = fields.Integer(required=True)  # 1 for the first, 2 after one return …


@register("instruction.feedback_decided", 1)
class InstructionFeedbackDecided(EventSchema):
    """反馈审定: approved (to be reported) or returned for revision with a reason."""

    instruction_id = fields.Integer(required=True)
    number = fields.String(required=True)
    feedback_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    approved = fields.Boolean(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)
    reason = fields.String(allow_none=True)


@register("instruction.read", 1)
class InstructionRead(EventSchema):
    """阅件阅知: a unit acknowledged reading a 阅件."""

    instruction_id = fields.Integer(required=True)
    number = fields.String(required=True)
    department_code = fields.String(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)


@register("instruction.completed", 1)
class InstructionCompleted(EventSchema):
    """批示件办结: every unit's feedback approved (阅件: every unit has read it)."""

    instruction_id = fields.Integer(required=True)
    number = fields.String(required=True)
    kind = fields.String(required=True)
    completed_at = _dt(required=True)
    actor = fields.String(required=True)


@register("instruction.overdue", 1)
class InstructionOverdue(EventSchema):
    """超期催办: a unit's 办件 share passed its deadline without feedback (urged once)."""

    instruction_id = fields.Integer(required=True)
    number = fields.String(required=True)
    department_code = fields.String(required=True)
    urge_id = fields.Integer(required=True)
    due = _dt(required=True)
    at = _dt(required=True)


@register("instruction.urged", 1)
class InstructionUrged(EventSchema):
    """人工催办: the office urged a unit by phone, written notice (催办单) or on site."""

    instruction_id = fields.Integer(required=True)
    number = fields.String(required=True)
    urge_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(["phone", "notice", "onsite"]))
    issued_at = _dt(required=True)
    issuer = fields.String(required=True)
    note = fields.String(allow_none=True)


# -- Step 3 contracts: departments as endpoints (defined once, before the work is split) --------
# The department feed (部门消息流) and webhook deliveries are dispatch's; the body a department
# system receives is described in shared/webhooks.py.

@register("ticket.recalled", 1)
class TicketRecalled(EventSchema):
    """撤回派单 (改派): the center withdrew an order's current dispatch round before the lead
    replied (sent to the wrong department); its assignments stop, their pending extension and
    return requests lapse, and the order waits for dispatch again."""

    ticket_no = fields.String(required=True)
    round = fields.Integer(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)
    reason = fields.String(required=True)
    assignment_ids = fields.List(fields.Integer(), required=True)
    departments = fields.List(fields.String(), required=True)


@register("assignment.progress_noted", 1)
class AssignmentProgressNoted(EventSchema):
    """办理进展: a department recorded progress on its assignment, from the console or from its
    own system; no clock moves."""

    note_id = fields.Integer(required=True)
    assignment_id = fields.Integer(required=True)
    ticket_no = fields.String(required=True)
    department_code = fields.String(required=True)
    note = fields.String(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)


@register("delivery.delivered", 1)
class DeliveryDelivered(EventSchema):
    """A department feed entry reached the department's system (its webhook answered 2xx)."""

    delivery_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    endpoint_id = fields.Integer(required=True)
    feed_seq = fields.Integer(required=True)
    feed_type = fields.String(required=True)
    ticket_no = fields.String(allow_none=True)
    attempts = fields.Integer(required=True)
    status_code = fields.Integer(required=True)
    latency_ms = fields.Integer(required=True)
    created_at = _dt(required=True)
    at = _dt(required=True)


@register("delivery.dead_lettered", 1)
class DeliveryDeadLettered(EventSchema):
    """A delivery failed for its whole retry window (72 hours by default) and waits for an
    operator (可重放); the entry stays in the department's pull feed all the while."""

    delivery_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    endpoint_id = fields.Integer(required=True)
    feed_seq = fields.Integer(required=True)
    feed_type = fields.String(required=True)
    ticket_no = fields.String(allow_none=True)
    attempts = fields.Integer(required=True)
    created_at = _dt(required=True)
    at = _dt(required=True)
    last_error = fields.String(required=True)


@register("delivery.replayed", 1)
class DeliveryReplayed(EventSchema):
    """An operator put a dead-lettered delivery back in line (重放)."""

    delivery_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)


# -- Step 5 contracts: reporting's own facts (defined once, before the work is split) ------------
# Reporting owns the department assessment (部门考核), periodic reports (通报) and hotspot
# alerts; these are the facts it publishes about them.

@register("report.published", 1)
class ReportPublished(EventSchema):
    """通报发布: a periodic report (半月报, 月度通报, 季报, 年报, 批示件汇总) was published as a
    frozen snapshot every department can read."""

    report_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    title = fields.String(required=True)
    published_at = _dt(required=True)
    actor = fields.String(required=True)


@register("assessment.published", 1)
class AssessmentPublished(EventSchema):
    """考核结果发布: a department's quarterly result was published (revision 1), or corrected
    after an upheld objection (revision > 1, ``correction_of`` the revision it replaces)."""

    assessment_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    year = fields.Integer(required=True)
    quarter = fields.Integer(required=True)
    revision = fields.Integer(required=True)
    score = fields.Float(required=True)
    rules_version = fields.String(required=True)
    published_at = _dt(required=True)
    actor = fields.String(required=True)
    correction_of = fields.Integer(allow_none=True)


@register("assessment.objection_submitted", 1)
class AssessmentObjectionSubmitted(EventSchema):
    """考核异议: a department objected to its published result; the center answers by ``due``
    (5 working days)."""

    objection_id = fields.Integer(required=True)
    assessment_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    at = _dt(required=True)
    due = _dt(required=True)
    actor = fields.String(required=True)


@register("assessment.objection_decided", 1)
class AssessmentObjectionDecided(EventSchema):
    """异议答复: upheld (a corrected result is published) or rejected, with the answer."""

    objection_id = fields.Integer(required=True)
    assessment_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    upheld = fields.Boolean(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True)
    late = fields.Boolean(required=True)
    correction_id = fields.Integer(allow_none=True)


@register("assessment.objection_overdue", 1)
class AssessmentObjectionOverdue(EventSchema):
    """An objection's answer deadline passed unanswered: the center's own supervisors are urged
    (once per objection)."""

    objection_id = fields.Integer(required=True)
    assessment_id = fields.Integer(required=True)
    department_code = fields.String(required=True)
    due = _dt(required=True)
    at = _dt(required=True)


@register("hotspot.spike_detected", 1)
class HotspotSpikeDetected(EventSchema):
    """突发热点: many calls about one matter in one place within a short window, raised once per
    matter to the supervisors (no caller data; 涉密 orders never count here)."""

    alert_id = fields.Integer(required=True)
    category = fields.String(allow_none=True)
    territory_code = fields.String(allow_none=True)
    terms = fields.List(fields.String(), required=True)
    calls = fields.Integer(required=True)
    ticket_nos = fields.List(fields.String(), required=True)
    window_start = _dt(required=True)
    window_end = _dt(required=True)
    at = _dt(required=True)
