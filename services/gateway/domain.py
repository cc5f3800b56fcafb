"""Access rules of the HTTP edge: who may do what, and what a department may see.

Plain Python: no nameko, no database session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.errors import Forbidden, NotFound

STAFF = {"agent", "dispatcher", "supervisor", "leader", "admin"}

# action → roles that may take it. Department principals are further scoped to their own
# department's assignments by the route (see :func:`require_department`).
PERMISSIONS: dict[str, frozenset[str]] = {
    "ticket.register": frozenset({"agent", "supervisor", "admin"}),
    "ticket.read": frozenset(STAFF | {"department"}),
    "ticket.list": frozenset(STAFF),
    "ticket.dispatch": frozenset({"dispatcher", "admin"}),
    "ticket.callback": frozenset({"supervisor", "admin"}),
    "ticket.close": frozenset({"supervisor", "admin"}),
    "ticket.urge": frozenset({"supervisor", "admin"}),
    "extension.decide": frozenset({"supervisor", "admin"}),
    "return.decide": frozenset({"dispatcher", "supervisor", "admin"}),
    "inbox.read": frozenset({"department", "dispatcher", "supervisor", "admin"}),
    "assignment.act": frozenset({"department"}),
    "reports.read": frozenset({"supervisor", "leader", "admin", "department"}),
    "kb.search": frozenset(STAFF | {"department"}),
    "kb.write": frozenset({"supervisor", "admin"}),
    "reference.read": frozenset(STAFF | {"department"}),
    "admin": frozenset({"admin"}),
    # == Step 2 area [intake]: repeat calls, caller history, links, unmasking, confidential clearance ==
    # (add this area's code between these two lines)
    # == end of area [intake] ==

    # == Step 2 area [dispatch]: routing catalogue versions, 预审, 协办 opinions, 下派, 问题工单 ==
    # (add this area's code between these two lines)
    "dispatch.queue": frozenset({"dispatcher", "admin"}),
    "dispatch.history": frozenset(STAFF | {"auditor"}),
    "assignment.read": frozenset({"department", "dispatcher", "supervisor", "admin"}),
    "catalogue.read": frozenset({"admin", "auditor"}),
    "catalogue.write": frozenset({"admin"}),
    # == end of area [dispatch] ==

    # == Step 2 area [supervision]: 督办单, urge answers, monthly urge, 回头看, linked callers, reopen ==
    # (add this area's code between these two lines)
    # == end of area [supervision] ==

    # == Step 2 area [instructions]: leader instructions 领导批示件 ==
    # (add this area's code between these two lines)
    # == end of area [instructions] ==

}

LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (bearer token) or a department system (API key)."""

    name: str
    role: str
    department_code: str | None = None
    via: str = "token"  # token | api_key

    def as_actor(self) -> str:
        return self.name


def authorize(principal: Principal, action: str) -> None:
    if principal.role not in PERMISSIONS[action]:
        raise Forbidden(f"无权执行此操作 role {principal.role} may not {action}",
                        {"action": action, "role": principal.role})


def require_department(principal: Principal, department_code: str) -> None:
    """A department principal acts only for its own department; others are not told it exists."""
    if principal.role == "department" and principal.department_code != department_code:
        raise NotFound(f"部门不存在 department {department_code} not found",
                       {"department_code": department_code})


def visible_to(principal: Principal, assignments: list[dict[str, Any]]) -> bool:
    if principal.role != "department":
        return True
    return any(a["department_code"] == principal.department_code for a in assignments)


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` → ``138****5678`` (DOMAIN.md §6)."""
    if not phone:
        return phone
    if "-" in phone:
        area, local, *ext = phone.split("-")
        return f"{area}-****{local[-4:]}" + "".join(f"-{e}" for e in ext)
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else "****"
