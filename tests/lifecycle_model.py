"""A model of the order lifecycle (DOMAIN.md §3) as the services implement it, and the
invariants every observed order must satisfy; shared by the property-based tests that drive
the real services over RPC (``tests/integration/test_lifecycle_properties.py``) and over HTTP
(``tests/e2e/test_lifecycle_properties_http.py``).

The model is written from DOMAIN.md and the services' documented rules, not read from their
tables: for every action it predicts whether the services accept it (and what the order looks
like afterwards) or refuse it (Conflict naming state and action, NotFound for another
department, Invalid naming the field) and change nothing. Where DOMAIN.md is silent the model
follows the code and says so.

An observation is what the services return: supervision's state (status, history, clocks,
extensions, returns, urges) and dispatch's assignments of the order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.errors import Conflict, Invalid, NotFound

# departments of the demo city the tests dispatch to by hand (and pick "wrong" ones from)
DEPARTMENTS = ("chengguan", "jy_nancheng", "minzheng", "jiaoyu", "shuiwu")
ACTIVE = ("dispatched", "signed", "return_requested")  # an assignment still being worked on
EXTENSION_MAX_DAYS = 10
MAX_CALLBACK_ATTEMPTS = 3

ROUTED = {  # complaint in 白招牌社区 about 占道经营 → lead chengguan, assist jy_nancheng
    "category": "complaint", "phone": "+86 138-0013-8000", "caller_name": "李女士",
    "territory_code": "510502001001", "address": "白招牌社区",
    "content": "小区门口长期有流动摊贩占道经营，堵塞消防通道，请城管处理。",
}
UNROUTED = {"category": "consultation", "phone": "13800138001", "territory_code": None,
            "content": "请问市图书馆周一开放吗？"}  # no routing rule: waits for a dispatcher
RESOLVED = {**UNROUTED, "resolution": {"answer": "已告知开放时间"}}  # 直接办结
ORDER_KINDS = {"routed": ROUTED, "unrouted": UNROUTED, "resolved": RESOLVED}
INITIAL_STATUSES = {"routed": ["registered", "dispatched"],
                    "unrouted": ["registered", "pending_dispatch"],
                    "resolved": ["registered", "resolved_at_intake"]}


@dataclass
class Assignment:
    id: int
    department_code: str
    role: str
    round: int
    state: str = "dispatched"       # dispatch's assignment state
    signed: bool = False            # supervision's clock: signed_at set
    replied: bool = False           # clock replied_at set
    stopped: bool = False           # clock stopped (its round returned)
    handle_due: str | None = None   # as first observed; moves only by an approved extension
    extension: str | None = None    # None / pending / approved / rejected
    extension_id: int | None = None


@dataclass
class Order:
    no: str
    kind: str
    statuses: list[str]
    rounds: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (lead, assists)
    assignments: dict[int, Assignment] = field(default_factory=dict)
    pending_return: int | None = None
    return_before: str | None = None
    decided_returns: list[int] = field(default_factory=list)
    decided_extensions: list[int] = field(default_factory=list)
    unreached: int = 0
    manual_urges: int = 0

    @property
    def status(self) -> str:
        return self.statuses[-1]

    def ordered(self) -> list[Assignment]:
        return [self.assignments[k] for k in sorted(self.assignments)]

    def last_lead(self) -> Assignment:
        return [a for a in self.ordered() if a.role == "lead"][-1]

    def open_clocks(self) -> list[Assignment]:
        return [a for a in self.ordered() if not a.replied and not a.stopped]

    def new_round(self, lead: str, assists: Iterable[str] = ()) -> None:
        self.rounds.append((lead, tuple(assists)))


# -- what the services should answer -----------------------------------------------------------

class Refusal:
    """An expected refusal: the exception type, and for Conflict the action and state named."""

    def __init__(self, kind: type[Exception], action: str | None = None,
                 state: str | None = None, field_name: str | None = None):
        self.kind, self.action, self.state, self.field_name = kind, action, state, field_name

    def __repr__(self) -> str:
        return f"Refusal({self.kind.__name__}, action={self.action}, state={self.state})"

    def check(self, exc: Exception) -> None:
        assert isinstance(exc, self.kind), f"expected {self!r}, got {exc!r}"
        details = getattr(exc, "details", {})
        if self.kind is Conflict:
            assert "action" in details and "state" in details, \
                f"a Conflict must name action and state: {details}"
            if self.action is not None:
                assert details["action"] == self.action, (details, self)
            if self.state is not None:
                assert details["state"] == self.state, (details, self)
        if self.kind is Invalid and self.field_name is not None:
            assert self.field_name in details.get("fields", {}), (details, self)


def sign(order: Order, a: Assignment, own: bool) -> Refusal | None:
    if not own:
        return Refusal(NotFound)
    if a.state != "dispatched":
        return Refusal(Conflict, "sign", a.state)
    a.state, a.signed = "signed", True
    if a.role == "lead" and order.status == "dispatched":
        order.statuses.append("in_progress")
    return None


def reply(order: Order, a: Assignment, own: bool) -> Refusal | None:
    if not own:
        return Refusal(NotFound)
    if a.role != "lead":
        return Refusal(Conflict, "reply", a.state)
    if a.state != "signed":
        return Refusal(Conflict, "reply", a.state)
    a.state, a.replied = "replied", True
    if order.status == "in_progress":
        order.statuses.append("replied")
        order.unreached = 0
    return None


def request_return(order: Order, a: Assignment, own: bool) -> Refusal | None:
    if not own:
        return Refusal(NotFound)
    if a.role != "lead":
        return Refusal(Conflict, "return", "assist")
    if a.replied or a.stopped:
        return Refusal(Conflict, "return", "replied" if a.replied else "returned")
    if order.pending_return is not None:
        return Refusal(Conflict, "return", "return_requested")
    if order.status not in ("dispatched", "in_progress"):
        return Refusal(Conflict, "request_return", order.status)
    order.return_before = order.status
    order.statuses.append("return_requested")
    if a.state in ("dispatched", "signed"):
        a.state = "return_requested"
    return None  # the caller stores the id as order.pending_return


def decide_return(order: Order, return_id: int, approve: bool) -> Refusal | None:
    if return_id != order.pending_return:
        return Refusal(Conflict, "decide_return")
    a = next(x for x in order.ordered() if x.state == "return_requested")
    order.pending_return = None
    order.decided_returns.append(return_id)
    if approve:
        order.statuses.append("pending_dispatch")
        for c in order.open_clocks():  # every open clock of the order stops
            c.stopped = True
        for x in order.ordered():      # dispatch returns the round's unreplied assignments
            if x.round == a.round and x.state != "replied":
                x.state = "returned"
    else:
        order.statuses.append("in_progress" if order.return_before == "in_progress"
                              else "dispatched")
        a.state = "signed" if a.signed else "dispatched"
    return None


def request_extension(order: Order, a: Assignment, own: bool, days: int) -> Refusal | None:
    # DOMAIN.md: before the handling deadline, once, at most 10 working days. The services do
    # not refuse an assignment whose clock stopped (returned) or whose order is closed; the
    # model follows them until that is fixed (BUG, tests/integration/test_lifecycle_bugs.py:
    # then refuse ``a.stopped`` here with Conflict("extension", "returned")).
    if not own:
        return Refusal(NotFound)
    if a.replied:
        return Refusal(Conflict, "extension", "replied")
    if a.extension is not None:
        return Refusal(Conflict, "extension", "extension_requested")
    if not 1 <= days <= EXTENSION_MAX_DAYS:
        return Refusal(Invalid, field_name="days")
    a.extension = "pending"
    return None


def decide_extension(order: Order, a: Assignment, approve: bool) -> Refusal | None:
    if a.extension != "pending":
        return Refusal(Conflict, "decide_extension", a.extension)
    a.extension = "approved" if approve else "rejected"
    order.decided_extensions.append(a.extension_id or 0)
    return None  # the caller moves a.handle_due to the new deadline the services answer


def record_callback(order: Order, reached: bool, solved: bool | None, satisfaction: str | None,
                    attributable: bool) -> tuple[Refusal | None, str | None]:
    if order.status != "replied":
        return Refusal(Conflict, "callback", order.status), None
    if reached and (solved is None or satisfaction is None):
        return Refusal(Invalid, field_name="solved" if solved is None else "satisfaction"), None
    if not reached:
        order.unreached += 1
        if order.unreached >= MAX_CALLBACK_ATTEMPTS:
            order.statuses.append("closed")
            return None, "unreachable"
        return None, "retry"
    if satisfaction in ("satisfied", "basically_satisfied"):
        order.statuses.append("closed")
        return None, "close"
    if attributable:  # 重办: a new round for the last lead's department, no assistants
        order.statuses += ["reopened", "dispatched"]
        order.new_round(order.last_lead().department_code)
        return None, "reopen"
    order.statuses.append("closed")
    return None, "close_unsatisfied"


def close(order: Order) -> Refusal | None:
    if order.status not in ("replied", "resolved_at_intake"):
        return Refusal(Conflict, "close", order.status)
    order.statuses.append("closed")
    return None


def urge(order: Order) -> Refusal | None:
    # a clock is open while unreplied and not stopped; the services urge open clocks whatever
    # the order's status (an assistant's clock stays open after the order closed). The model
    # follows them until that is fixed (BUG, tests/integration/test_lifecycle_bugs.py: then
    # refuse a closed order here with Conflict("urge", "closed")).
    if not order.open_clocks():
        return Refusal(Conflict, "urge", order.status)
    order.manual_urges += len(order.open_clocks())
    return None


def manual_dispatch(order: Order, lead: str, assists: list[str]) -> Refusal | None:
    dispatch_state = {"pending_dispatch": "pending", "resolved_at_intake": "resolved",
                      "closed": "resolved" if order.kind == "resolved" else "dispatched"}
    if order.status != "pending_dispatch":
        return Refusal(Conflict, "dispatch", dispatch_state.get(order.status, "dispatched"))
    if lead not in DEPARTMENTS or any(x not in DEPARTMENTS for x in assists):
        return Refusal(Invalid, field_name="lead" if lead not in DEPARTMENTS else "assists")
    order.statuses.append("dispatched")
    order.new_round(lead, assists)
    return None


# -- observation ---------------------------------------------------------------------------------

def summary(order: Order) -> dict[str, Any]:
    """What the model expects to observe, in the shape of :func:`observed_summary`."""
    return {"statuses": list(order.statuses),
            "rounds": [(lead, sorted(assists)) for lead, assists in order.rounds],
            "assignments": {a.id: (a.state, a.signed, a.replied, a.stopped)
                            for a in order.ordered()},
            "extensions": sorted((a.id, a.extension) for a in order.ordered() if a.extension),
            "pending_return": order.pending_return is not None}


def observed_summary(order: Order, state: dict[str, Any],
                     assignments: list[dict[str, Any]]) -> dict[str, Any]:
    by_round: dict[int, list[dict[str, Any]]] = {}
    for a in assignments:
        by_round.setdefault(a["round"], []).append(a)
    rounds = []
    for r in sorted(by_round):
        leads = [a["department_code"] for a in by_round[r] if a["role"] == "lead"]
        rounds.append((leads[0] if len(leads) == 1 else tuple(leads),
                       sorted(a["department_code"] for a in by_round[r] if a["role"] == "assist")))
    clocks = {c["assignment_id"]: c for c in state["clocks"]}
    known = set(order.assignments)
    return {"statuses": [h["to_status"] for h in state["history"]],
            "rounds": rounds,
            "assignments": {a["id"]: (a["state"], clocks[a["id"]]["signed_at"] is not None,
                                      clocks[a["id"]]["replied_at"] is not None,
                                      clocks[a["id"]]["stopped_at"] is not None)
                            if a["id"] in clocks else (a["state"], "no clock")
                            for a in assignments if a["id"] in known},
            "extensions": sorted((e["assignment_id"], e["state"]) for e in state["extensions"]),
            "pending_return": any(r["state"] == "pending" for r in state["returns"])}


def adopt_new_assignments(order: Order, state: dict[str, Any],
                          assignments: list[dict[str, Any]]) -> None:
    """Learn the ids of the assignments of new rounds (made by the services) once they exist
    in dispatch and have clocks in supervision; the model predicted their departments."""
    clocks = {c["assignment_id"]: c for c in state["clocks"]}
    for a in assignments:
        if a["id"] not in order.assignments and a["id"] in clocks:
            order.assignments[a["id"]] = Assignment(
                id=a["id"], department_code=a["department_code"], role=a["role"],
                round=a["round"], handle_due=clocks[a["id"]]["handle_due"])


def converged(order: Order, state: dict[str, Any], assignments: list[dict[str, Any]]) -> bool:
    """The services reflect every fact the model predicts (the new rounds' clocks included)."""
    clocks = {c["assignment_id"] for c in state["clocks"]}
    if len(assignments) != len(clocks) or {a["id"] for a in assignments} != clocks:
        return False
    adopt_new_assignments(order, state, assignments)
    return observed_summary(order, state, assignments) == summary(order)


# -- invariants (DOMAIN.md §3) -------------------------------------------------------------------

def check_invariants(order: Order, state: dict[str, Any],
                     assignments: list[dict[str, Any]]) -> None:
    no = order.no
    # exactly one lead in each dispatch round; never two active leads
    per_round = Counter(a["round"] for a in assignments if a["role"] == "lead")
    rounds = {a["round"] for a in assignments}
    assert all(per_round[r] == 1 for r in rounds), f"{no}: leads per round {dict(per_round)}"
    active_leads = [a for a in assignments if a["role"] == "lead" and a["state"] in ACTIVE]
    assert len(active_leads) <= 1, f"{no}: two active leads {active_leads}"
    if state["status"] in ("dispatched", "in_progress", "return_requested"):
        assert len(active_leads) == 1, f"{no}: {state['status']} without an active lead"
        latest = max(rounds)
        assert active_leads[0]["round"] == latest, f"{no}: the active lead is not the last round's"

    # the status is the last transition's; transitions chain; each says who, when and why
    history = state["history"]
    assert history, f"{no}: no history"
    assert state["status"] == history[-1]["to_status"], f"{no}: status ≠ last transition"
    assert history[0]["from_status"] is None and history[0]["to_status"] == "registered"
    for before, after in zip(history, history[1:], strict=False):
        assert after["from_status"] == before["to_status"], f"{no}: broken chain {before} → {after}"
        assert instant(after["at"]) >= instant(before["at"]), f"{no}: history not in time order"
    for h in history:
        assert h["actor"] and h["at"] and h["reason"], f"{no}: transition without who/when/why {h}"

    # closed only after a reply (or a resolution at intake)
    for i, h in enumerate(history):
        if h["to_status"] == "closed":
            assert h["from_status"] in ("replied", "resolved_at_intake"), f"{no}: closed from {h}"
            assert i == len(history) - 1, f"{no}: a transition after closed"
    if state["status"] == "closed":
        assert state["closed_at"] is not None and state["close_reason"], f"{no}: closed without when/why"

    # a deadline moves only by an approved extension, and then to that extension's new deadline
    clocks = {c["assignment_id"]: c for c in state["clocks"]}
    extensions = {e["assignment_id"]: e for e in state["extensions"]}
    for a in order.ordered():
        assert clocks[a.id]["handle_due"] == a.handle_due, \
            f"{no}: assignment {a.id} handle_due {clocks[a.id]['handle_due']} ≠ {a.handle_due}"
        ext = extensions.get(a.id)
        if ext is not None and ext["state"] == "approved":
            assert clocks[a.id]["handle_due"] == ext["new_due"]
            assert instant(ext["new_due"]) > instant(ext["old_due"])
        elif ext is not None:
            assert ext["new_due"] is None

    # each automatic urge threshold at most once; manual urges counted
    auto = [(u["assignment_id"], u["clock"], u["kind"]) for u in state["urges"]
            if u["issuer"] == "system"]
    assert len(auto) == len(set(auto)), f"{no}: an automatic urge twice {Counter(auto)}"
    manual = [u for u in state["urges"] if u["kind"] == "manual"]
    assert len(manual) == order.manual_urges, f"{no}: {len(manual)} manual urges ≠ {order.manual_urges}"


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
