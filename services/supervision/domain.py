"""The order lifecycle (DOMAIN.md §3) as a state machine; supervision is its only owner.

Plain Python: no nameko, no database session. Each transition names the action that causes
it; an action not allowed in the current status raises :class:`Conflict` naming both.
"""

from __future__ import annotations

from datetime import datetime

from shared.errors import Conflict, Invalid
from shared.vocabulary import SATISFACTION, STATUSES

# action → {from status: to status}
TRANSITIONS: dict[str, dict[str | None, str]] = {
    "register": {None: "registered"},
    "resolve_at_intake": {"registered": "resolved_at_intake",
                          "pending_dispatch": "resolved_at_intake"},
    "await_dispatch": {"registered": "pending_dispatch"},
    "dispatch": {"registered": "dispatched", "pending_dispatch": "dispatched",
                 "reopened": "dispatched"},
    "lead_sign": {"dispatched": "in_progress"},
    "lead_reply": {"in_progress": "replied"},
    "close": {"replied": "closed", "resolved_at_intake": "closed"},
    "reopen": {"replied": "reopened"},
    "request_return": {"dispatched": "return_requested", "in_progress": "return_requested"},
    "approve_return": {"return_requested": "pending_dispatch"},
    # a rejected (or withdrawn) return goes back to where it was: see
    # :func:`status_after_rejected_return`
    "reject_return": {"return_requested": "dispatched"},
    # the lead's reply crossed its own pending return request on the bus: the reply stands,
    # the request is withdrawn and the order goes back to where it was (then to replied)
    "withdraw_return": {"return_requested": "dispatched"},
    # the lead's reply crossed the center's approval of its return: the approval is void and
    # the order is back with the department (then replied); see status_after_rejected_return
    "reinstate": {"pending_dispatch": "dispatched"},
    # 撤回派单 (改派): the center withdrew the current round before its lead replied (sent to
    # the wrong department); the order waits for a dispatcher again. Extensions do not change
    # the status, so there is no extension status to recall from. See :func:`recall_moves`.
    "recall": {"dispatched": "pending_dispatch", "in_progress": "pending_dispatch",
               "return_requested": "pending_dispatch"},
}

RETURN_REASONS = {"function": "职能不符", "territory": "属地不符", "ownership": "权属不清",
                  "other": "其他"}

ACTION_NAMES = {
    "register": "登记", "resolve_at_intake": "直接办结", "await_dispatch": "待派单",
    "dispatch": "派单", "lead_sign": "签收", "lead_reply": "答复", "close": "办结",
    "callback": "回访", "reopen": "重办", "request_return": "申请退单",
    "approve_return": "同意退单", "reject_return": "驳回退单", "withdraw_return": "撤回退单", "reinstate": "恢复办理",
    "recall": "撤回派单",
}

# The state of a department's pending request (延期 extension, 退单 return) whose assignment
# was recalled: it is no longer decided, and it is neither approved nor rejected (a lapsed
# return is not counted as 无正当理由退件).
LAPSED = "lapsed"
_DECIDED = {"approved": "批准", "rejected": "驳回", LAPSED: "失效"}


def transition(action: str, status: str | None) -> str:
    """The status after ``action`` from ``status``, or :class:`Conflict`."""
    target = TRANSITIONS[action].get(status)
    if target is None:
        raise Conflict(
            f"工单当前状态「{STATUSES.get(status or '', status)}」不能{ACTION_NAMES[action]} "
            f"({action} is not allowed in status {status})",
            {"action": action, "state": status})
    return target


def can(action: str, status: str | None) -> bool:
    return status in TRANSITIONS[action]


def check_callback(status: str, reached: bool, solved: bool | None,
                   satisfaction: str | None) -> None:
    """A callback is made on a replied order; a reached citizen gives solved and satisfaction."""
    if status != "replied":
        raise Conflict(f"工单当前状态「{STATUSES.get(status, status)}」不能回访 "
                       f"(callback is not allowed in status {status})",
                       {"action": "callback", "state": status})
    if reached:
        missing = {}
        if solved is None:
            missing["solved"] = ["接通时必须填写是否解决 required when the citizen was reached"]
        if satisfaction is None:
            missing["satisfaction"] = ["接通时必须填写满意度 required when the citizen was reached"]
        if missing:
            raise Invalid.fields(missing)
    if satisfaction is not None and satisfaction not in SATISFACTION:
        raise Invalid.fields({"satisfaction": [f"未知满意度 unknown value {satisfaction!r}; "
                                               f"valid: {', '.join(SATISFACTION)}"]})


MAX_CALLBACK_ATTEMPTS = 3


def callback_outcome(reached: bool, satisfaction: str | None, attributable: bool,
                     unreached_before: int) -> str:
    """What one callback (回访) does to a replied order (DOMAIN.md §3):

    - ``close``: the citizen was reached and is satisfied or basically satisfied (满意 / 基本满意);
    - ``reopen``: unsatisfied, and the cause lies with the department → 重办 to the same one;
    - ``close_unsatisfied``: unsatisfied for reasons the department cannot answer for;
    - ``unreachable``: the third attempt (counting this one) without reaching anyone → 无法回访;
    - ``retry``: not reached yet, call again.
    """
    if not reached:
        return "unreachable" if unreached_before + 1 >= MAX_CALLBACK_ATTEMPTS else "retry"
    if satisfaction in ("satisfied", "basically_satisfied"):
        return "close"
    return "reopen" if attributable else "close_unsatisfied"


def check_extension_request(replied: bool, now: datetime, handle_due: datetime,
                            already_requested: bool, days: int, max_days: int, *,
                            stopped: bool = False) -> None:
    """延期申请: before the handling deadline, at most once, at most ``max_days`` working days,
    on an assignment still running (not returned, passed down, or closed by the lead's reply)."""
    if replied:
        raise Conflict("已答复，不能申请延期 (extension after the reply)",
                       {"action": "extension", "state": "replied"})
    if stopped:
        raise Conflict("该承办任务已结束（已退单、已下派或主办已答复），不能申请延期 "
                       "(the assignment has stopped)", {"action": "extension", "state": "stopped"})
    if already_requested:
        raise Conflict("每个承办任务只能申请一次延期 (at most one extension per assignment)",
                       {"action": "extension", "state": "extension_requested"})
    if now >= handle_due:
        raise Conflict("已超过办理时限，不能申请延期 (extension after the deadline)",
                       {"action": "extension", "state": "overdue"})
    if not 1 <= days <= max_days:
        raise Invalid.fields({"days": [f"延期天数须为1到{max_days}个工作日 must be 1..{max_days} "
                                       "working days"]})


def check_extension_decision(state: str, *, stopped: bool = False) -> None:
    """延期审批 of a pending request whose assignment is still running: an approval must not
    re-arm the clock of an assignment given back or passed down in the meantime."""
    if state != "pending":
        raise Conflict(f"该延期申请已{_DECIDED.get(state, state)}"
                       f" (decision on a {state} extension)",
                       {"action": "decide_extension", "state": state})
    if stopped:
        raise Conflict("该承办任务已结束（已退单或已下派），延期申请不再审批 "
                       "(the assignment has stopped)",
                       {"action": "decide_extension", "state": "stopped"})


def recall_moves(status: str | None, later_round: bool) -> bool:
    """Whether a recall (撤回派单) of a round moves the order back to 待派单.

    Dispatch takes either the lead's reply of a round or its recall, never both (it refuses a
    recall once the lead replied, and a reply once the round is recalled), and reports both on
    the queue supervision applies lifecycle facts from, in that order. They can still meet
    here out of order when one of them was retried (a fact that came before what it depends
    on), so a recall that is stale does not move the order, and is logged and ignored:

    - the order was already replied (or closed, or reopened …): the reply stands — the
      citizen was answered, as when a reply crosses a return (see :func:`transition`'s
      ``withdraw_return`` and ``reinstate``); only the recalled assignments' clocks that had
      not answered stop;
    - a later round was dispatched after the recall (``later_round``): that round's status is
      not the recalled one's to change.
    """
    return not later_round and can("recall", status)


def status_after_rejected_return(status_before: str) -> str:
    """The department keeps the order: in progress if it had signed for it, else dispatched."""
    return "in_progress" if status_before == "in_progress" else "dispatched"


def check_return_request(role: str, replied: bool, stopped: bool, now: datetime,
                         return_due: datetime | None, pending: bool) -> None:
    """退单申请: by the lead, within the return window (2 working days), one at a time."""
    if role != "lead":
        raise Conflict("只有主办单位可以申请退单 only the lead department returns an order",
                       {"action": "return", "state": role})
    if replied or stopped:
        raise Conflict("该承办任务已结束，不能退单 (the assignment is finished)",
                       {"action": "return", "state": "replied" if replied else "returned"})
    if pending:
        raise Conflict("已有待审核的退单申请 (a return is already pending)",
                       {"action": "return", "state": "return_requested"})
    if return_due is None or now > return_due:
        raise Conflict("已超过退单时限 (the return window has closed)",
                       {"action": "return", "state": "return_window_closed"})
