"""流程查询: the rules of the citizen-facing progress of an order (intake's read model).

Plain Python: no nameko, no database session. The service feeds each fact here; each function
says whether the fact changed anything, and none lets an older fact undo a newer one, because
the bus may reorder them (ARCHITECTURE.md, reliability rule 4):

- the lifecycle **status** comes from supervision's ``ticket.status_changed``, applied only
  when its per-order sequence is newer than the one applied;
- the **lead** (主办) is the lead assignment with the largest id seen: a later dispatch round and
  a 下派 always make a larger id, so an older round's event arriving late cannot bring its lead
  back; a recall (撤回派单) of the current lead's round leaves no lead until the next dispatch;
- the **deadline** is kept per assignment (the handling deadline from
  ``assignment.clocks_started``, the extended one from an approved
  ``assignment.extension_decided``), whichever arrives first, and read for the current lead;
- the **reply** (答复) is the newest by time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The Chinese stage shown to citizens (status_notes) for each lifecycle status; 延期中 when the
# lead works under an approved extension.
STAGES: dict[str, str] = {
    "registered": "待派单",
    "pending_dispatch": "待派单",
    "dispatched": "已派单",
    "in_progress": "办理中",
    "return_requested": "退单待审",
    "replied": "已答复待回访",
    "reopened": "重办",
    "closed": "办结",
    "resolved_at_intake": "办结",
}
EXTENDED_STAGE = "延期中"
CLOSED_STATUSES = frozenset({"closed", "resolved_at_intake"})
# statuses in which an order has a department responsible for it (not waiting for dispatch)
WITH_LEAD = frozenset({"dispatched", "in_progress", "return_requested", "replied", "reopened",
                       "closed"})


@dataclass
class Progress:
    """What the read model keeps of one order (the ``ticket_progress`` row)."""

    status: str = "registered"
    status_sequence: int = 0
    lead_assignment_id: int | None = None
    lead_department: str | None = None
    deadlines: dict[str, dict[str, str | None]] = field(default_factory=dict)
    reply: str | None = None
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None


def touch(p: Progress, at: datetime) -> None:
    if p.updated_at is None or at > p.updated_at:
        p.updated_at = at


def apply_status(p: Progress, to_status: str, sequence: int | None, at: datetime) -> bool:
    """A lifecycle transition; an older one (by supervision's sequence) is ignored."""
    if sequence and sequence <= p.status_sequence:
        return False
    p.status = to_status
    p.status_sequence = sequence or p.status_sequence
    if to_status == "closed":
        p.closed_at = at
    elif to_status == "reopened":
        p.closed_at = None
    touch(p, at)
    return True


def adopt_lead(p: Progress, assignment_id: int, department_code: str) -> bool:
    """The lead of a round or of a 下派; True when it is (now) the current lead."""
    if p.lead_assignment_id is None or assignment_id > p.lead_assignment_id:
        p.lead_assignment_id, p.lead_department = assignment_id, department_code
        return True
    return assignment_id == p.lead_assignment_id and p.lead_department is not None


def apply_dispatch(p: Progress, assignments: list[dict[str, Any]], at: datetime) -> bool:
    leads = [a for a in assignments if a["role"] == "lead"]
    changed = any([adopt_lead(p, a["assignment_id"], a["department_code"]) for a in leads])
    touch(p, at)
    return changed


def apply_recall(p: Progress, assignment_ids: list[int], at: datetime) -> bool:
    """The current lead's round was withdrawn: no department leads until the next dispatch
    (whose assignments have larger ids, so they are adopted whenever they arrive)."""
    touch(p, at)
    if p.lead_assignment_id is not None and p.lead_assignment_id in assignment_ids:
        p.lead_department = None
        return True
    return False


def apply_clock(p: Progress, assignment_id: int, department_code: str, role: str,
                handle_due: datetime) -> None:
    entry = p.deadlines.setdefault(str(assignment_id), {"due": None, "extended": None})
    entry["due"] = handle_due.isoformat()
    if role == "lead":
        adopt_lead(p, assignment_id, department_code)


def apply_extension(p: Progress, assignment_id: int, approved: bool,
                    new_due: datetime | None, at: datetime) -> bool:
    """An approved extension moves that assignment's deadline (once: supervision's rule)."""
    if not approved or new_due is None:
        return False
    entry = p.deadlines.setdefault(str(assignment_id), {"due": None, "extended": None})
    entry["extended"] = new_due.isoformat()
    touch(p, at)
    return True


def apply_reply(p: Progress, reply: str, replied_at: datetime) -> bool:
    if p.replied_at is not None and replied_at <= p.replied_at:
        return False
    p.reply, p.replied_at = reply, replied_at
    touch(p, replied_at)
    return True


def is_closed(status: str) -> bool:
    return status in CLOSED_STATUSES


def expected(p: Progress) -> str | None:
    """The current lead's handling deadline (ISO-8601), extended if an extension was approved."""
    if p.lead_assignment_id is None or p.lead_department is None:
        return None
    entry = p.deadlines.get(str(p.lead_assignment_id)) or {}
    return entry.get("extended") or entry.get("due")


def is_extended(p: Progress) -> bool:
    if p.lead_assignment_id is None:
        return False
    return bool((p.deadlines.get(str(p.lead_assignment_id)) or {}).get("extended"))


def stage(p: Progress) -> str:
    """The Chinese stage (status_notes)."""
    if p.status in ("dispatched", "in_progress") and is_extended(p):
        return EXTENDED_STAGE
    return STAGES.get(p.status, p.status)


def responsible(p: Progress) -> str | None:
    """The lead department's code while the order has one (not while it waits for dispatch)."""
    return p.lead_department if p.status in WITH_LEAD else None
