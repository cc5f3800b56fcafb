"""Access rules of the HTTP edge: who may do what, and what a department may see.

Plain Python: no nameko, no database session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.errors import Forbidden, Invalid, NotFound
from shared.masking import mask_name, mask_phone  # noqa: F401  (one definition, re-exported)

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
    # 资料库 (Step 4): a department drafts and edits its own entries (scoped by knowledge); the
    # center (督办/管理员) edits any, reviews and publishes, archives, imports
    "kb.write": frozenset({"supervisor", "admin", "department"}),
    "kb.review": frozenset({"supervisor", "admin"}),
    "kb.import": frozenset({"supervisor", "admin"}),
    # 资料库运行监控: the center; a department sees its own entries' figures (scoped by the route)
    "kb.monitor": frozenset({"supervisor", "leader", "admin", "department"}),
    # 派单辅助: departments ranked for an order's text
    "kb.route": frozenset({"dispatcher", "supervisor", "admin"}),
    "reference.read": frozenset(STAFF | {"department"}),
    "admin": frozenset({"admin"}),
    # -- repeat calls, caller history, links, unmasking, confidential clearance --------------------
    "ticket.form": frozenset({"agent", "supervisor", "admin"}),
    "ticket.related": frozenset({"agent", "supervisor", "admin"}),
    "ticket.link": frozenset({"agent", "supervisor", "admin"}),
    "ticket.unmask": frozenset(STAFF | {"department"}),
    "audit.read": frozenset({"auditor", "admin"}),
    "user.clearance": frozenset({"admin"}),

    # -- routing catalogue versions, 预审, 协办 opinions, 下派, 问题工单 --
    "dispatch.queue": frozenset({"dispatcher", "admin"}),
    "dispatch.history": frozenset(STAFF | {"auditor"}),
    "assignment.read": frozenset({"department", "dispatcher", "supervisor", "admin"}),
    "catalogue.read": frozenset({"admin", "auditor"}),
    "catalogue.write": frozenset({"admin"}),

    # -- 督办单, urge answers, monthly urge, 回头看, linked callers, reopen --
    "ticket.supervise": frozenset({"supervisor", "admin"}),
    "ticket.reopen": frozenset({"supervisor", "admin"}),
    "ticket.recheck": frozenset({"supervisor", "admin"}),
    # the supervised / urged department answers for itself (scoped by the route)
    "supervision.explain": frozenset({"department"}),
    "urge.answer": frozenset({"department"}),

    # -- leader instructions 领导批示件 --
    # register: the office, and leaders their own instructions; 涉密 ones are filtered further
    # by supervision (units on it, never a department system's API key)
    "instruction.register": frozenset({"supervisor", "leader", "admin"}),
    "instruction.read": frozenset({"supervisor", "leader", "admin", "department"}),
    "instruction.manage": frozenset({"supervisor", "admin"}),  # 审定反馈, 更改办件/阅件
    "instruction.respond": frozenset({"department"}),  # a unit's feedback and 阅知
    "instruction.summary": frozenset({"supervisor", "leader", "admin"}),

    # -- Step 3 delivery: endpoints, the department feed, deliveries, recall (helper delivery) --
    "endpoint.admin": frozenset({"admin"}),
    "delivery.read": frozenset({"admin"}),
    "delivery.replay": frozenset({"admin"}),
    # a department's own feed (its users and its system's key); the center's oversight roles
    "feed.read": frozenset({"department", "dispatcher", "supervisor", "admin"}),
    "ticket.recall": frozenset({"dispatcher", "admin"}),  # 撤回派单
    # 办理进展 is an assignment action ("assignment.act"), like sign and reply

    # -- Step 5 reporting: KPIs, assessment 考核, periodic reports 通报, hotspots 热点 --
    # "reports.read" (above): KPIs and published reports; a department its own figures only
    "reports.board": frozenset({"supervisor", "leader", "admin"}),  # the live board 实时看板
    "reports.manage": frozenset({"supervisor", "admin"}),  # draft and publish reports
    "assessment.read": frozenset({"supervisor", "leader", "admin", "department"}),  # own dept
    "assessment.manage": frozenset({"supervisor", "admin"}),  # items, publish, answer
    "assessment.object": frozenset({"department"}),  # its own published result
    "hotspots.read": frozenset({"supervisor", "leader", "admin", "dispatcher"}),
    "hotspots.manage": frozenset({"supervisor", "admin"}),  # acknowledge an alert

}

# What an API key may be used for. ``assignments``: a department system's inbound API (sign,
# return, extension, reply, progress, opinion, urge answers), its inbox and its event feed.
# ``open311``: the Open311 GeoReport v2 interface (submit and read service requests, and
# servicerequestupdates). A department key has both by default; an Open311 client's only the
# second.
API_KEY_SCOPES = ("assignments", "open311")
DEPARTMENT_KEY_SCOPES = ("assignments", "open311")
CLIENT_KEY_SCOPES = ("open311",)

LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (bearer token) or a department system (API key)."""

    name: str
    role: str  # a user's role; for API keys ``department`` or ``open311_client``
    department_code: str | None = None
    via: str = "token"  # token | api_key
    scopes: frozenset[str] = frozenset()  # API keys only (API_KEY_SCOPES); users: empty

    def as_actor(self) -> str:
        return self.name

    def has_scope(self, scope: str) -> bool:
        """Users are limited by their role alone; an API key also by its scopes."""
        return self.via != "api_key" or scope in self.scopes


def authorize(principal: Principal, action: str) -> None:
    """The role must be allowed ``action``; an API key must also hold its scope
    (:func:`key_scope`). Either refusal is :class:`Forbidden` naming the action."""
    if principal.role not in PERMISSIONS[action]:
        raise Forbidden(f"无权执行此操作 role {principal.role} may not {action}",
                        {"action": action, "role": principal.role})
    if principal.via == "api_key":
        scope = key_scope(action)
        if scope is None or not principal.has_scope(scope):
            raise Forbidden(f"API 密钥无此权限范围 the API key lacks the scope {scope} "
                            f"for {action}", {"action": action, "scope": scope})


def require_department(principal: Principal, department_code: str) -> None:
    """A department principal acts only for its own department; others are not told it exists."""
    if principal.role == "department" and principal.department_code != department_code:
        raise NotFound(f"部门不存在 department {department_code} not found",
                       {"department_code": department_code})


def visible_to(principal: Principal, assignments: list[dict[str, Any]]) -> bool:
    if principal.role != "department":
        return True
    return any(a["department_code"] == principal.department_code for a in assignments)



# -- repeat calls, caller history, links, unmasking, confidential clearance ------------------------
# 涉密 (confidential) orders: who may see them at all (DOMAIN.md §4 批示件, §6).
CLEARED_ROLES = frozenset({"supervisor", "leader", "admin"})
# roles whose users an administrator may clear one by one (gateway user_account.cleared_confidential)
CLEARABLE_ROLES = frozenset({"agent", "dispatcher"})
UNMASK_REASON_MIN = 4


def may_see_confidential(principal: Principal, *, registered_by: str | None,
                         departments: set[str] | frozenset[str], cleared: bool = False) -> bool:
    """Whether ``principal`` may see a confidential (涉密) order.

    Never a department system (API key): confidential orders are never sent to external
    systems. Otherwise: supervisors, leaders, administrators; the agent who registered it; the
    departments it is assigned to (they must handle it); agents and dispatchers an
    administrator cleared (``cleared``). Nobody else — not the auditor, not other agents.
    """
    if principal.via == "api_key":
        return False
    if principal.role in CLEARED_ROLES:
        return True
    if principal.role == "department":
        return principal.department_code in departments
    if principal.role in CLEARABLE_ROLES and cleared:
        return True
    return principal.role == "agent" and registered_by is not None \
        and principal.name == registered_by


def needs_clearance_lookup(principal: Principal) -> bool:
    """Only agents and dispatchers have a per-user clearance worth reading from the database."""
    return principal.via == "token" and principal.role in CLEARABLE_ROLES


def sees_every_confidential(principal: Principal, cleared: bool = False) -> bool:
    """Whether lists need no confidential filter for this principal (they are not departments:
    a department's lists are its own assignments)."""
    return principal.via != "api_key" and (principal.role in CLEARED_ROLES or (
        principal.role in CLEARABLE_ROLES and cleared))



def check_unmask_reason(reason: object) -> str | None:
    """The reason an unmasking needs (it goes to the audit log); a message when unfit."""
    if not isinstance(reason, str) or len(reason.strip()) < UNMASK_REASON_MIN:
        return (f"须说明查看号码的理由，至少{UNMASK_REASON_MIN}个字 a reason of at least "
                f"{UNMASK_REASON_MIN} characters is required")
    if len(reason) > 500:
        return "理由过长 reason longer than 500 characters"
    return None


# -- Step 3 keys: API key scopes and key requests ----------------------------------------------
def key_scope(action: str) -> str | None:
    """The scope an API key needs for ``action`` (one of :data:`API_KEY_SCOPES`), or ``None``
    when no key may take it (staff work: only people, by bearer token).

    The rule, so a new action is covered the day it is added to :data:`PERMISSIONS`: an action
    an Open311 client may take needs ``open311``; one a department may take (its inbound
    actions, inbox, feed, the reference data it reads) needs ``assignments``. Open311's own
    routes do not go through PERMISSIONS: they check ``principal.has_scope("open311")``.
    An action not in PERMISSIONS has no scope (refused, fail closed).
    """
    roles = PERMISSIONS.get(action, frozenset())
    if "open311_client" in roles:
        return "open311"
    if "department" in roles:
        return "assignments"
    return None


def key_scopes_table() -> dict[str, str | None]:
    """Every action with the scope an API key needs for it (for documentation and tests)."""
    return {action: key_scope(action) for action in PERMISSIONS}


API_KEY_NAME_MAX = 100


def check_api_key_request(body: dict[str, Any], departments: set[str] | frozenset[str]
                          ) -> tuple[str | None, str, list[str]]:
    """``{department_code?, name, scopes?}`` → (department_code, name, scopes), or
    :class:`Invalid` naming each bad field.

    No department: an Open311 client's key (a citizen app, a partner portal), which needs a
    ``name`` and may hold only :data:`CLIENT_KEY_SCOPES`. A department system's key is named
    after its department unless named. ``scopes`` defaults to everything the kind may have.
    """
    errors: dict[str, list[str]] = {}
    code = body.get("department_code")
    if code is not None and (not isinstance(code, str) or not code):
        errors["department_code"] = ["须为部门编码 must be a department code"]
        code = None
    elif code is not None and code not in departments:
        errors["department_code"] = [f"未知部门 unknown department {code}"]
    name = body.get("name")
    if name is None or name == "":
        if code is None:
            errors["name"] = ["客户端密钥须命名 required for an Open311 client key"]
        name = code or ""
    elif not isinstance(name, str) or len(name) > API_KEY_NAME_MAX:
        errors["name"] = [f"须为不超过{API_KEY_NAME_MAX}字的文本 text of at most "
                          f"{API_KEY_NAME_MAX} characters"]
    allowed = DEPARTMENT_KEY_SCOPES if code is not None or "department_code" in errors \
        else CLIENT_KEY_SCOPES
    scopes = body.get("scopes")
    if scopes is None:
        granted = sorted(allowed)
    elif not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes) \
            or not scopes:
        errors["scopes"] = [f"须为非空列表，取值 {', '.join(API_KEY_SCOPES)} a non-empty list "
                            "of scopes"]
        granted = []
    else:
        unknown = sorted(set(scopes) - set(API_KEY_SCOPES))
        unfit = sorted(set(scopes) - set(allowed) - set(unknown))
        if unknown:
            errors["scopes"] = [f"未知权限范围 unknown scope {', '.join(unknown)}"]
        elif unfit:
            errors["scopes"] = [f"客户端密钥只能有 open311 an Open311 client key may only "
                                f"hold {', '.join(allowed)}, not {', '.join(unfit)}"]
        granted = sorted(set(scopes))
    if errors:
        raise Invalid.fields(errors)
    return code, str(name), granted
