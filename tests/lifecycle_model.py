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
extensions, returns, urges, problem flags) and dispatch's assignments of the order.

协办 (assisting departments): an assistant signs, then gives its opinion to the lead
(``opinion_submitted``; its clock stops like a reply). The lead may reply only once every
assistant of its round gave its opinion (or its assignment ended, or its handling deadline
passed — real time, days away in these tests, so never here); until then the reply is a
Conflict with state ``assists_pending``. The lead's reply stops the clock of every assistant
that never answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.errors import Conflict, Invalid, NotFound

# departments of the demo city the tests dispatch to by hand (and pick "wrong" ones from)
DEPARTMENTS = ("chengguan", "jy_nancheng", "minzheng", "jiaoyu", "shuiwu")
# 下派: a district or street government passes its assignment to one of its own units; of the
# departments above only the street jy_nancheng has one (the community jy_baizhaopai)
PASSING_KINDS = {"jy_nancheng": "street"}
UNITS = {"jy_baizhaopai": "jy_nancheng"}     # unit → the government it belongs to
PASS_TARGETS = ("jy_baizhaopai", "jy_baizhaopai", "jy_beicheng", "chengguan", "nosuch")
ACTIVE = ("dispatched", "signed", "return_requested")  # an assignment still being worked on
# an assignment that no longer waits for its department (dispatch's FINISHED_STATES): the lead's
# reply does not wait for it, and an approved return leaves it as it is
FINISHED = ("replied", "opinion_submitted", "passed_down", "returned")
PROBLEM_THRESHOLD = 3  # transfers + 重办 that make a 问题工单 (DOMAIN.md §3)
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
    replied: bool = False           # clock replied_at set (the lead's reply, an assist's opinion)
    stopped: bool = False           # clock stopped (its round returned, or the lead replied)
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
    returns: dict[int, str] = field(default_factory=dict)  # id → pending/approved/rejected/withdrawn
    decided_returns: list[int] = field(default_factory=list)
    decided_extensions: list[int] = field(default_factory=list)
    unreached: int = 0
    manual_urges: int = 0
    transfers: int = 0   # re-dispatched after an approved return (转办)
    reopens: int = 0     # 重办 rounds
    problem: bool = False  # flagged 问题工单 (once)

    @property
    def status(self) -> str:
        return self.statuses[-1]

    def ordered(self) -> list[Assignment]:
        return [self.assignments[k] for k in sorted(self.assignments)]

    def last_lead(self) -> Assignment:
        return [a for a in self.ordered() if a.role == "lead" and a.state != "passed_down"][-1]

    def open_clocks(self) -> list[Assignment]:
        return [a for a in self.ordered() if not a.replied and not a.stopped]

    def new_round(self, lead: str, assists: Iterable[str] = ()) -> None:
        self.rounds.append((lead, tuple(assists)))
        if not self.problem and self.transfers + self.reopens >= PROBLEM_THRESHOLD:
            self.problem = True

    def assists_of(self, a: Assignment) -> list[Assignment]:
        """The assistants of ``a``'s round."""
        return [x for x in self.ordered() if x.round == a.round and x.role == "assist"]


# -- what the services should answer -----------------------------------------------------------

class Refusal:
    """An expected refusal: the exception type, and for Conflict the action and state named."""

    def __init__(self, kind: type[Exception], action: str | None = None,
                 state: str | None = None, field_name: str | None = None):
        self.kind, self.action, self.state, self.field_name = kind, action, state, field_name

    def __repr__(self) -> str:
        return (f"Refusal({self.kind.__name__}, action={self.action}, state={self.state}, "
                f"field={self.field_name})")

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
    if any(x.state not in FINISHED for x in order.assists_of(a)):
        return Refusal(Conflict, "reply", "assists_pending")  # 协办意见 first
    _replied(order, a)
    return None


def _replied(order: Order, a: Assignment) -> None:
    """The lead's reply as supervision applies it: the order is replied, and every other open
    clock of the order (an assistant that never answered) stops."""
    a.state, a.replied = "replied", True
    if order.status == "in_progress":
        for c in order.open_clocks():
            if c is not a:
                c.stopped = True
        order.statuses.append("replied")
        order.unreached = 0


def pass_down(order: Order, a: Assignment, own: bool, target: str) -> Refusal | None:
    """下派 (dispatch's check_pass_down): the caller adds the new assignment with
    :func:`passed_down` once the services answer its id."""
    if not own:
        return Refusal(NotFound)
    same_round = [x for x in order.ordered() if x.round == a.round]
    if any(x.state == "return_requested" for x in same_round):
        return Refusal(Conflict, "pass_down", "return_requested")
    if a.state not in ("dispatched", "signed"):
        return Refusal(Conflict, "pass_down", a.state)
    if a.department_code not in PASSING_KINDS or UNITS.get(target) != a.department_code \
            or target in {x.department_code for x in same_round if x.state != "passed_down"}:
        return Refusal(Invalid, field_name="department_code")
    a.state, a.stopped = "passed_down", True  # its clock stops, the unit's takes over
    lead, assists = order.rounds[a.round - 1]
    order.rounds[a.round - 1] = (target, assists) if a.role == "lead" else \
        (lead, tuple(target if x == a.department_code else x for x in assists))
    return None


def passed_down(order: Order, a: Assignment, new_id: int, target: str) -> None:
    """The unit's new assignment: same role and round, the old clock as it was (signature,
    deadline), not signed in dispatch yet."""
    order.assignments[new_id] = Assignment(id=new_id, department_code=target, role=a.role,
                                           round=a.round, signed=a.signed,
                                           handle_due=a.handle_due)


def opinion(order: Order, a: Assignment, own: bool) -> Refusal | None:
    """协办意见: only an assisting department, after signing, once."""
    if not own:
        return Refusal(NotFound)
    if a.role != "assist" or a.state != "signed":
        return Refusal(Conflict, "opinion", a.state)
    a.state, a.replied = "opinion_submitted", True  # its clock stops like a reply
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
    return None  # the caller records the id with :func:`return_requested`


def return_requested(order: Order, return_id: int) -> None:
    order.pending_return = return_id
    order.returns[return_id] = "pending"


def reply_withdraws_return(order: Order, a: Assignment) -> None:
    """The lead's reply reached supervision while its return request was pending (dispatch
    accepted the reply before it heard of the request): the request is withdrawn, the order
    goes back to in progress and on to replied."""
    assert order.pending_return is not None and order.return_before == "in_progress"
    order.returns[order.pending_return] = "withdrawn"
    order.pending_return = None
    order.statuses.append("in_progress")
    a.state = "signed"  # dispatch took the reply before it heard of the request
    _replied(order, a)


def decide_return(order: Order, return_id: int, approve: bool) -> Refusal | None:
    if return_id != order.pending_return:
        return Refusal(Conflict, "decide_return", order.returns[return_id])
    a = next(x for x in order.ordered() if x.state == "return_requested")
    order.pending_return = None
    order.decided_returns.append(return_id)
    order.returns[return_id] = "approved" if approve else "rejected"
    if approve:
        order.statuses.append("pending_dispatch")
        for c in order.open_clocks():  # every open clock of the order stops
            c.stopped = True
        for x in order.ordered():      # dispatch returns the round's unfinished assignments
            if x.round == a.round and x.state not in FINISHED:
                x.state = "returned"
    else:
        order.statuses.append("in_progress" if order.return_before == "in_progress"
                              else "dispatched")
        a.state = "signed" if a.signed else "dispatched"
    return None


def request_extension(order: Order, a: Assignment, own: bool, days: int) -> Refusal | None:
    # DOMAIN.md: before the handling deadline, once, at most 10 working days, on an assignment
    # still running (its clock neither replied — an assist's opinion counts — nor stopped by an
    # approved return or the lead's reply)
    if not own:
        return Refusal(NotFound)
    if a.replied:
        return Refusal(Conflict, "extension", "replied")
    if a.stopped:
        return Refusal(Conflict, "extension", "stopped")
    if a.extension is not None:
        return Refusal(Conflict, "extension", "extension_requested")
    if not 1 <= days <= EXTENSION_MAX_DAYS:
        return Refusal(Invalid, field_name="days")
    a.extension = "pending"
    return None


def decide_extension(order: Order, a: Assignment, approve: bool) -> Refusal | None:
    if a.extension != "pending":
        return Refusal(Conflict, "decide_extension", a.extension)
    if a.stopped:  # an approval must not re-arm a clock stopped since the request
        return Refusal(Conflict, "decide_extension", "stopped")
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
            _closed(order)
            return None, "unreachable"
        return None, "retry"
    if satisfaction in ("satisfied", "basically_satisfied"):
        _closed(order)
        return None, "close"
    if attributable:  # 重办: a new round for the last lead's department, no assistants
        order.statuses += ["reopened", "dispatched"]
        order.reopens += 1
        order.new_round(order.last_lead().department_code)
        return None, "reopen"
    _closed(order)
    return None, "close_unsatisfied"


def close(order: Order) -> Refusal | None:
    if order.status not in ("replied", "resolved_at_intake"):
        return Refusal(Conflict, "close", order.status)
    _closed(order)
    return None


def _closed(order: Order) -> None:
    """办结: the order leaves the open ledger, every clock still open stops."""
    order.statuses.append("closed")
    for c in order.open_clocks():
        c.stopped = True


def urge(order: Order) -> Refusal | None:
    # a clock is open while unreplied and not stopped; a closed (or resolved) order is never
    # urged, and an order without an open clock has nobody to urge: Conflict naming its status
    if order.status in ("closed", "resolved_at_intake") or not order.open_clocks():
        return Refusal(Conflict, "urge", order.status)
    order.manual_urges += len(order.open_clocks())
    return None


def manual_dispatch(order: Order, lead: str, assists: list[str]) -> Refusal | None:
    dispatch_state = {"pending_dispatch": "pending", "resolved_at_intake": "resolved",
                      "closed": "resolved" if order.kind == "resolved" else "dispatched"}
    if order.status != "pending_dispatch":
        return Refusal(Conflict, "dispatch", dispatch_state.get(order.status, "dispatched"))
    assists = list(dict.fromkeys(assists))
    if lead in assists:  # exactly one lead: it cannot assist itself (bad input)
        return Refusal(Invalid, field_name="assists")
    if lead not in DEPARTMENTS or any(x not in DEPARTMENTS for x in assists):
        return Refusal(Invalid, field_name="lead" if lead not in DEPARTMENTS else "assists")
    order.statuses.append("dispatched")
    if order.rounds:  # re-dispatched after an approved return: a transfer (转办)
        order.transfers += 1
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
            "returns": sorted(order.returns.items()),
            "problem": order.problem}


def observed_summary(order: Order, state: dict[str, Any],
                     assignments: list[dict[str, Any]]) -> dict[str, Any]:
    by_round: dict[int, list[dict[str, Any]]] = {}
    for a in assignments:
        by_round.setdefault(a["round"], []).append(a)
    rounds = []
    for r in sorted(by_round):  # who holds each round now (a passed-down assignment no longer)
        held = [a for a in by_round[r] if a["state"] != "passed_down"]
        leads = [a["department_code"] for a in held if a["role"] == "lead"]
        rounds.append((leads[0] if len(leads) == 1 else tuple(leads),
                       sorted(a["department_code"] for a in held if a["role"] == "assist")))
    clocks = {c["assignment_id"]: c for c in state["clocks"]}
    known = set(order.assignments)
    # a 问题工单 flag is recorded in the history without changing the status (from = to)
    return {"statuses": [h["to_status"] for h in state["history"]
                         if h["from_status"] != h["to_status"]],
            "rounds": rounds,
            "assignments": {a["id"]: (a["state"], clocks[a["id"]]["signed_at"] is not None,
                                      clocks[a["id"]]["replied_at"] is not None,
                                      clocks[a["id"]]["stopped_at"] is not None)
                            if a["id"] in clocks else (a["state"], "no clock")
                            for a in assignments if a["id"] in known},
            "extensions": sorted((e["assignment_id"], e["state"]) for e in state["extensions"]),
            "returns": sorted((r["id"], r["state"]) for r in state["returns"]),
            "problem": bool(state.get("problem"))}


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
    # (a lead passed down (下派) hands the round's lead to its unit: it no longer counts)
    per_round = Counter(a["round"] for a in assignments
                        if a["role"] == "lead" and a["state"] != "passed_down")
    rounds = {a["round"] for a in assignments}
    assert all(per_round[r] == 1 for r in rounds), f"{no}: leads per round {dict(per_round)}"
    for row in assignments:  # a pass-down chain: the successor has the same role and round
        if row["state"] == "passed_down":
            child = next((x for x in assignments if x["id"] == row["passed_to_id"]), None)
            assert child is not None and child["passed_from_id"] == row["id"] \
                and (child["role"], child["round"]) == (row["role"], row["round"]), \
                f"{no}: pass-down of {row['id']} without its successor"
    active_leads = [a for a in assignments if a["role"] == "lead" and a["state"] in ACTIVE]
    assert len(active_leads) <= 1, f"{no}: two active leads {active_leads}"
    if state["status"] in ("dispatched", "in_progress", "return_requested"):
        assert len(active_leads) == 1, f"{no}: {state['status']} without an active lead"
        latest = max(rounds)
        assert active_leads[0]["round"] == latest, f"{no}: the active lead is not the last round's"

    # 协办: only assistants give opinions, after signing; the lead replied only once every
    # assistant of its round had answered (or ended, or ran out of time)
    by_id = {a["id"]: a for a in assignments}
    clock_of = {c["assignment_id"]: c for c in state["clocks"]}
    for row in assignments:
        if row["opinion_at"] is not None or row["state"] == "opinion_submitted":
            assert row["role"] == "assist" and row["state"] == "opinion_submitted" \
                and row["signed_at"] is not None and row["opinion_at"] is not None, \
                f"{no}: an opinion of a non-assist or before signing {row}"
        if row["role"] == "lead" and row["state"] == "replied":
            for x in assignments:
                if x["role"] != "assist" or x["round"] != row["round"]:
                    continue
                answered = x["opinion_at"] is not None and \
                    instant(x["opinion_at"]) <= instant(row["replied_at"])
                ended = x["state"] in ("returned", "passed_down")
                late = x["id"] in clock_of and \
                    instant(clock_of[x["id"]]["handle_due"]) <= instant(row["replied_at"])
                assert answered or ended or late, \
                    f"{no}: lead {row['id']} replied before assistant {x['id']} answered"
    # the services agree on every reply: each lead assignment dispatch holds as replied is one
    # 'replied' transition in supervision (a reply dispatch accepted is never lost)
    leads_replied = sum(1 for x in assignments if x["role"] == "lead" and x["state"] == "replied")
    replied_moves = sum(1 for h in state["history"] if h["to_status"] == "replied")
    assert leads_replied == replied_moves, \
        f"{no}: {leads_replied} lead replies in dispatch, {replied_moves} in supervision"
    if state["status"] in ("replied", "closed"):  # nobody is left to urge
        still_open = [c["assignment_id"] for c in state["clocks"]
                      if c["replied_at"] is None and c["stopped_at"] is None]
        assert not still_open, f"{no}: {state['status']} with open clocks {still_open}"

    # returns: at most one pending; a withdrawn one was overtaken by its lead's reply
    assert sum(r["state"] == "pending" for r in state["returns"]) <= 1, f"{no}: two pending returns"
    for r in state["returns"]:
        if r["state"] == "withdrawn":
            assert by_id[r["assignment_id"]]["state"] == "replied", \
                f"{no}: return {r['id']} withdrawn, its assignment not replied"

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
    # the only transition that keeps the status is the 问题工单 flag, once, with its record
    flags = [h for h in history if h["from_status"] == h["to_status"]]
    assert len(flags) == len(state.get("problem_flags", [])) <= 1, f"{no}: flags {flags}"

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

    # each automatic urge threshold at most once (the monthly urge once a month); manual
    # urges counted
    auto = [(u["assignment_id"], u["clock"], u["kind"],
             month_of(u["issued_at"]) if u["kind"] == "monthly" else None)
            for u in state["urges"] if u["issuer"] == "system"]
    assert len(auto) == len(set(auto)), f"{no}: an automatic urge twice {Counter(auto)}"
    manual = [u for u in state["urges"] if u["kind"] == "manual"]
    assert len(manual) == order.manual_urges, f"{no}: {len(manual)} manual urges ≠ {order.manual_urges}"


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def month_of(text: str) -> str:
    """The local (Asia/Shanghai) month of an instant: the monthly urge's period."""
    return instant(text).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y%m")
