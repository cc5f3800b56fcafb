"""A hypothesis state machine that applies random lifecycle actions to a few orders through a
*driver* (the services over RPC, or the gateway over HTTP) and after each action waits until
the system is quiescent and checks the invariants of DOMAIN.md §3 (``tests.lifecycle_model``).

A driver raises :class:`shared.errors.Conflict` / ``NotFound`` / ``Invalid`` for a refusal (the
HTTP driver maps 409 / 404 / 422 to them and fails on any other status), and offers:
``register(kind) -> ticket_no``, ``sign``, ``opinion``, ``reply``, ``request_return -> id``,
``decide_return``, ``pass_down -> new assignment``, ``request_extension -> id``,
``decide_extension -> record``, ``callback -> outcome``, ``close_order``, ``urge``,
``sweep(now)``, ``dispatch``,
``observe(ticket_no) -> (state, assignments)``, ``quiescent() -> bool`` and
``dead_letters() -> int``.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from shared.errors import Conflict
from shared.messaging import DEAD_LETTER_QUEUE
from tests import lifecycle_model as m
from tests.conftest import RABBIT_API

# a routed order needs four department steps before its reply (the lead and the assistant
# sign, the assistant gives its opinion, the lead replies): ``advance`` (below) takes them, so
# that runs still reach replied, callbacks and 重办 often; the rest keep refusals, races,
# extensions, 下派 and the center's actions coming
WEIGHTED = ["sign"] * 2 + ["opinion"] * 2 + ["reply"] * 2 + ["callback"] * 2 + ["advance"] * 8 + [
    "request_return", "decide_return", "request_extension", "decide_extension", "close",
    "request_extension", "decide_extension",
    "urge", "sweep", "dispatch", "register", "race", "race", "pass_down", "pass_down",
    "stop_pending_extension", "stop_pending_extension"]
# ``advance`` takes the deepest next step of the lifecycle some order allows (callback, reply,
# opinion, sign, the return's decision, a dispatch), so that a run is not spent on refusals
ADVANCE = ("callback", "reply", "opinion", "sign", "decide_return", "dispatch")


class QueueProbe:
    """Exact depths of every queue of a vhost. The queues are listed once by the management
    API; their depths come from a passive ``queue.declare`` because the API's figures are
    refreshed only every 5 s (measured on this broker: a published message showed after 5.3 s)."""

    def __init__(self, amqp_uri: str, vhost: str):
        from kombu import Connection

        self.connection = Connection(amqp_uri, connect_timeout=5)
        self.channel = self.connection.channel()
        self.vhost = vhost
        self.queues = [q["name"] for q in self.api_queues()]
        assert DEAD_LETTER_QUEUE in self.queues and len(self.queues) > 3, self.queues

    def api_queues(self) -> list[dict[str, Any]]:
        return list(requests.get(f"{RABBIT_API}/queues/{quote(self.vhost, safe='')}",
                                 timeout=10).json())

    def depth(self, queue: str) -> int:
        return int(self.channel.queue_declare(queue=queue, passive=True).message_count)

    def empty(self) -> bool:
        return all(self.depth(q) == 0 for q in self.queues)

    def dead_letters(self) -> int:
        return self.depth(DEAD_LETTER_QUEUE)

    def api_idle(self) -> bool:
        """The management API agrees nothing is queued or unacknowledged (lags up to 5 s)."""
        queues = self.api_queues()
        return len(queues) > 3 and all(q.get("messages", 0) == 0 for q in queues)

    def close(self) -> None:
        self.connection.release()


PICK = st.integers(min_value=0, max_value=1000)
OWN = st.sampled_from([True, True, True, True, True, False])  # mostly the right department
# mostly at an order (assignment) where the model predicts the action is allowed; else blindly,
# or at one where it predicts a refusal (a state conflict or bad input, rarely met blindly:
# the reply before the opinions, an extension of a stopped clock, the lead as an assistant)
REFUSED = "refused"
Aim = bool | str
AIM = st.sampled_from([True, True, True, False, REFUSED])
KIND = st.sampled_from(["routed", "routed", "unrouted", "resolved"])
SATISFACTION = st.sampled_from([None, "satisfied", "basically_satisfied", "unsatisfied"])


def quiescent(rpc: Any, services: tuple[str, ...], probe: QueueProbe) -> bool:
    """Every service's outbox published and every queue of the vhost empty."""
    return all(not getattr(rpc, s).outbox_status()["pending"] for s in services) \
        and bool(probe.empty())


class LifecycleMachine(RuleBasedStateMachine):
    driver: Any = None           # set by the test
    max_orders = 3
    settle_timeout = 20.0
    tally: Counter[str] = Counter()  # accepted / refused actions and statuses reached, per run

    def __init__(self) -> None:
        super().__init__()
        self.orders: list[m.Order] = []
        self.urges_seen: set[int] = set()

    # -- helpers ---------------------------------------------------------------------------------
    # Most steps aim at an order (and assignment) where the model predicts the action is
    # accepted, so that runs get deep into the lifecycle (signed, replied, called back,
    # reopened); some pick blindly; the rest (REFUSED) pick one refusal the model predicts
    # somewhere, each distinct refusal (kind and state or field) equally likely — for an
    # assignment, those that name something other than its own state first (a reply before
    # the opinions, an extension of a stopped clock, a pass-down during a return), which
    # blind picks rarely meet, unlike the plain ones (signing twice).
    @staticmethod
    def refusal_groups(items: list[Any], outcome: Any) -> list[list[Any]]:
        groups: dict[str, list[Any]] = {}
        for item in items:
            refused = outcome(item)
            if refused is not None:
                groups.setdefault(repr(refused), []).append(item)
        return [groups[k] for k in sorted(groups)]

    def order(self, pick: int, aim: Aim = False, accepts: Any = None) -> m.Order:
        orders = self.orders
        if aim is True and accepts is not None:
            orders = [o for o in self.orders if accepts(copy.deepcopy(o)) is None] or orders
        elif aim == REFUSED and accepts is not None:
            groups = self.refusal_groups(self.orders, lambda o: accepts(copy.deepcopy(o)))
            orders = groups[pick % len(groups)] if groups else orders
        return orders[pick % len(orders)]

    def target(self, o: int, p: int, aim: Aim, accepts: Any) -> tuple[m.Order, m.Assignment | None]:
        """An order and one of its assignments; ``accepts(order, assignment)`` runs on copies
        (aimed: one it accepts; REFUSED: one it refuses)."""
        pairs = [(order, a) for order in self.orders for a in order.ordered()]

        def outcome(pair: tuple[m.Order, m.Assignment]) -> Any:
            twin = copy.deepcopy(pair[0])
            return accepts(twin, twin.assignments[pair[1].id])
        if aim is True:
            pairs = [pair for pair in pairs if outcome(pair) is None] or pairs
        elif aim == REFUSED:
            def rule(pair: tuple[m.Order, m.Assignment]) -> Any:
                refused = outcome(pair)
                return refused if refused is not None and refused.state != pair[1].state else None
            groups = self.refusal_groups(pairs, rule) or self.refusal_groups(pairs, outcome)
            pairs = groups[o % len(groups)] if groups else pairs
        if not pairs:
            return self.order(o), None
        if not aim:
            order = self.order(o)
            items = order.ordered()
            return order, (items[p % len(items)] if items else None)
        return pairs[p % len(pairs)]

    @staticmethod
    def department(a: m.Assignment, own: bool, pick: int) -> str:
        if own:
            return a.department_code
        others = [d for d in m.DEPARTMENTS if d != a.department_code]
        return others[pick % len(others)]

    def attempt(self, action: str, order: m.Order, expected: m.Refusal | None, call: Any,
                accepted: Any = None) -> Any:
        """Run ``call``: accepted when the model says so (then ``accepted(result)`` completes
        the model before the system is compared with it), else refused as predicted with the
        order left exactly as it was."""
        outcome = "accepted" if expected is None else expected.kind.__name__
        if expected is not None and (expected.state or expected.field_name):  # which, exactly
            outcome += f"({expected.state or expected.field_name})"
        self.tally[f"{action}: {outcome}"] += 1
        if expected is None:
            result = call()
            if accepted is not None:
                accepted(result)
            self.settle(order)
            return result
        before = self.driver.observe(order.no)
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - checked against the expectation just below
            expected.check(exc)
        else:
            raise AssertionError(f"{order.no} ({order.status}): expected {expected!r}, "
                                 "the services accepted the action")
        self.settle(order)
        assert self.driver.observe(order.no) == before, f"{order.no}: a refused action changed it"
        return None

    def settle(self, order: m.Order | None = None) -> None:
        """Wait (with a deadline) until nothing is in flight and every order shows what the
        model predicts, all in one pass between two quiescent readings (a message being
        handled is not in any queue's depth, but its effect shows in some order or outbox);
        fail with the difference if that never happens."""
        deadline = time.monotonic() + self.settle_timeout
        while True:
            quiet = self.driver.quiescent()
            if quiet and all([m.converged(o, *self.driver.observe(o.no)) for o in self.orders]) \
                    and self.driver.quiescent():
                return
            if time.monotonic() > deadline:
                details = {o.no: {"expected": m.summary(o),
                                  "observed": m.observed_summary(o, *self.driver.observe(o.no))}
                           for o in self.orders}
                raise AssertionError(f"not settled after {self.settle_timeout}s "
                                     f"(quiescent={quiet}): {details}")
            time.sleep(0.02)  # polling interval of a wait with a deadline

    # -- orders ----------------------------------------------------------------------------------
    def _register(self, kind: str) -> None:
        no = self.driver.register(kind)
        order = m.Order(no=no, kind=kind, statuses=list(m.INITIAL_STATUSES[kind]))
        if kind == "routed":
            order.new_round("chengguan", ["jy_nancheng"])
        self.orders.append(order)
        self.settle(order)

    @initialize(kinds=st.lists(KIND, min_size=1, max_size=2))
    def register_first(self, kinds: list[str]) -> None:
        self._register("routed")  # at least one dispatched order in every run
        for kind in kinds:
            self._register(kind)

    def register(self, kind: str) -> None:
        if len(self.orders) < self.max_orders:
            self._register(kind)

    # -- department actions --------------------------------------------------------------------
    def sign(self, o: int, p: int, own: bool, aim: Aim) -> None:
        order, a = self.target(o, p, aim, lambda t, x: m.sign(t, x, True))
        if a is None:
            return
        dept = self.department(a, own, p)
        self.attempt("sign", order, m.sign(order, a, own), lambda: self.driver.sign(a.id, dept))

    def opinion(self, o: int, p: int, own: bool, aim: Aim) -> None:
        """协办意见: by the assistant after signing (aimed); blind picks try it on leads,
        unsigned or finished assistants, twice, or as another department."""
        order, a = self.target(o, p, aim, lambda t, x: m.opinion(t, x, True))
        if a is None:
            return
        dept = self.department(a, own, p)
        self.attempt("opinion", order, m.opinion(order, a, own),
                     lambda: self.driver.opinion(a.id, dept))

    def pass_down(self, o: int, p: int, own: bool, aim: Aim, unit: str) -> None:
        """下派 by the street to its community (aimed), or to a wrong unit, or by a bureau."""
        if aim is True:
            unit = "jy_baizhaopai"
        order, a = self.target(o, p, aim, lambda t, x: m.pass_down(t, x, True, unit))
        if a is None:
            return
        dept = self.department(a, own, p)
        self.attempt("pass_down", order, m.pass_down(order, a, own, unit),
                     lambda: self.driver.pass_down(a.id, dept, unit),
                     lambda child: m.passed_down(order, a, int(child["id"]), unit))

    def reply(self, o: int, p: int, own: bool, aim: Aim) -> None:
        order, a = self.target(o, p, aim, lambda t, x: m.reply(t, x, True))
        if a is None:
            return
        dept = self.department(a, own, p)
        self.attempt("reply", order, m.reply(order, a, own), lambda: self.driver.reply(a.id, dept))

    def request_return(self, o: int, p: int, own: bool, aim: Aim) -> None:
        order, a = self.target(o, p, aim, lambda t, x: m.request_return(t, x, True))
        if a is None:
            return
        dept = self.department(a, own, p)
        self.attempt("request_return", order, m.request_return(order, a, own),
                     lambda: self.driver.request_return(a.id, dept),
                     lambda rid: m.return_requested(order, rid))

    def race(self, o: int, p: int, again: bool, approve: bool) -> None:
        """The lead's reply and its return request back to back, without waiting in between
        (``again``: the reply first). Whichever the services see first wins: the other is
        refused as the model predicts, or — the reply reached dispatch before it heard of the
        request — the request is withdrawn and the order replied."""
        def both(order: m.Order, a: m.Assignment) -> bool:  # each accepted alone
            one, two = copy.deepcopy(order), copy.deepcopy(order)
            return m.request_return(one, one.assignments[a.id], True) is None \
                and m.reply(two, two.assignments[a.id], True) is None
        candidates = [(order, a) for order in self.orders for a in order.ordered()
                      if both(order, a)]
        if not candidates:
            return
        order, a = candidates[(o + p) % len(candidates)]
        dept = a.department_code
        rid: int | None = None
        if not again:  # the return request first
            rid = self.driver.request_return(a.id, dept)
            try:
                self.driver.reply(a.id, dept)
            except Conflict as exc:  # dispatch heard of the request first
                m.Refusal(Conflict, "reply", "return_requested").check(exc)
                self.tally["race (return first): reply refused"] += 1
                assert m.request_return(order, a, True) is None
                m.return_requested(order, rid)
            else:
                self.tally["race (return first): return withdrawn"] += 1
                assert m.request_return(order, a, True) is None
                m.return_requested(order, rid)
                m.reply_withdraws_return(order, a)
        else:  # the reply first
            self.driver.reply(a.id, dept)
            try:
                rid = self.driver.request_return(a.id, dept)
            except Conflict as exc:  # supervision applied the reply first
                m.Refusal(Conflict, "return", "replied").check(exc)
                self.tally["race (reply first): return refused"] += 1
                assert m.reply(order, a, True) is None
            else:
                self.tally["race (reply first): return withdrawn"] += 1
                assert m.request_return(order, a, True) is None
                m.return_requested(order, rid)
                m.reply_withdraws_return(order, a)
        self.settle(order)
        if rid is not None and order.returns[rid] == "withdrawn":
            # the center, unaware, decides the withdrawn request: refused, nothing changes
            self.attempt("decide_return", order, m.decide_return(order, rid, approve),
                         lambda: self.driver.decide_return(rid, approve))

    def stop_pending_extension(self, o: int, p: int, days: int) -> None:
        """A return pending: an assignment of the order asks for an extension, the center
        approves the return (every open clock stops), then decides the extension (refused:
        stopped) and the assignment asks again (refused: stopped)."""
        orders = [x for x in self.orders if x.pending_return is not None
                  and any(m.request_extension(copy.deepcopy(x), copy.deepcopy(a), True,
                                              max(days, 1)) is None for a in x.ordered())]
        if not orders:
            return
        order = orders[o % len(orders)]
        rid = order.pending_return
        assert rid is not None
        open_ = [a for a in order.ordered() if m.request_extension(
            copy.deepcopy(order), copy.deepcopy(a), True, max(days, 1)) is None]
        a = open_[p % len(open_)]
        self.tally["stop_pending_extension: ran"] += 1
        self.request_extension_of(order, a, True, max(days, 1))
        self.attempt("decide_return", order, m.decide_return(order, rid, True),
                     lambda: self.driver.decide_return(rid, True))
        self.decide_extension_of(order, a, p % 2 == 0)
        self.request_extension_of(order, a, True, max(days, 1))

    def request_extension(self, o: int, p: int, own: bool, aim: Aim, days: int) -> None:
        order, a = self.target(o, p, aim, lambda t, x: m.request_extension(t, x, True, days))
        if a is None:
            return
        self.request_extension_of(order, a, own, days, p)

    def request_extension_of(self, order: m.Order, a: m.Assignment, own: bool, days: int,
                             p: int = 0) -> None:
        dept = self.department(a, own, p)
        self.attempt("request_extension", order, m.request_extension(order, a, own, days),
                     lambda: self.driver.request_extension(a.id, dept, days),
                     lambda eid: setattr(a, "extension_id", eid))

    # -- the center's actions ------------------------------------------------------------------
    def decide_return(self, o: int, aim: Aim, approve: bool, again: bool) -> None:
        if again:  # a decided (or withdrawn) return cannot be decided again
            decided = [(x, rid) for x in self.orders for rid, st_ in x.returns.items()
                       if st_ != "pending"]
            if aim == REFUSED:  # a withdrawn one, if any
                decided = [(x, r) for x, r in decided if x.returns[r] == "withdrawn"] or decided
            if not decided:
                return
            order, rid = decided[o % len(decided)]
        else:
            pending = [x for x in self.orders if x.pending_return is not None]
            if not pending:
                return
            order = pending[o % len(pending)]
            rid = order.pending_return  # type: ignore[assignment]
        self.attempt("decide_return", order, m.decide_return(order, rid, approve),
                     lambda: self.driver.decide_return(rid, approve))

    def decide_extension(self, o: int, aim: Aim, approve: bool, again: bool) -> None:
        asked = [(order, a) for order in self.orders for a in order.ordered()
                 if a.extension_id is not None and (a.extension == "pending") != again]
        if aim == REFUSED:  # a pending one whose clock stopped since, if any
            asked = [(x, a) for x, a in asked if a.stopped] or asked
        if not asked:
            return
        order, a = asked[o % len(asked)]
        self.decide_extension_of(order, a, approve)

    def decide_extension_of(self, order: m.Order, a: m.Assignment, approve: bool) -> None:
        old_due, eid = a.handle_due, a.extension_id
        expected = m.decide_extension(order, a, approve)

        def decided(record: dict[str, Any]) -> None:
            assert record["old_due"] == old_due, record
            if approve:
                assert m.instant(record["new_due"]) > m.instant(record["old_due"]), record
                a.handle_due = record["new_due"]  # moved exactly once, by this approval
            else:
                assert record["new_due"] is None, record

        self.attempt("decide_extension", order, expected,
                     lambda: self.driver.decide_extension(eid, approve), decided)

    def callback(self, o: int, aim: Aim, reached: bool, solved: bool | None,
                 satisfaction: str | None, attributable: bool) -> None:
        order = self.order(o, aim, lambda t: m.close(t) if t.status == "replied" else "no")
        expected, outcome = m.record_callback(order, reached, solved, satisfaction, attributable)
        got = self.attempt("callback", order, expected, lambda: self.driver.callback(
            order.no, {"reached": reached, "solved": solved, "satisfaction": satisfaction,
                       "attributable": attributable}))
        if expected is None:
            assert got == outcome, f"{order.no}: callback outcome {got} ≠ {outcome}"
            self.tally[f"callback outcome {outcome}"] += 1

    def close(self, o: int, aim: Aim) -> None:
        order = self.order(o, aim, m.close)
        self.attempt("close", order, m.close(order), lambda: self.driver.close_order(order.no))

    def urge(self, o: int, aim: Aim) -> None:
        order = self.order(o, aim, m.urge)
        self.attempt("urge", order, m.urge(order), lambda: self.driver.urge(order.no))

    def sweep(self, hours: int) -> None:
        """The deadline sweep as of a future instant: urges, marks overdue, moves no deadline."""
        self.tally["sweep: accepted"] += 1
        self.driver.sweep((datetime.now(UTC) + timedelta(hours=hours)).isoformat())
        self.settle()

    def dispatch(self, o: int, aim: Aim, lead: str, assists: list[str]) -> None:
        if aim is True:  # mostly a valid dispatch; blind ones may name the lead as assistant
            assists = [x for x in assists if x != lead]
        elif aim == REFUSED:  # an order waiting for one, the lead named as an assistant too
            assists = [*assists, lead]
        order = self.order(o, bool(aim), lambda t: m.manual_dispatch(t, "minzheng", []))
        self.attempt("dispatch", order, m.manual_dispatch(order, lead, assists),
                     lambda: self.driver.dispatch(order.no, lead, assists))

    def advance(self, o: int, p: int, approve: bool, reached: bool, satisfaction: str | None,
                attributable: bool, lead: str, assists: list[str]) -> None:
        """The deepest next step some order allows (see ``ADVANCE``), aimed and by the right
        department; a callback that reaches the citizen then always gives an answer. While
        assistants still owe their opinion, the lead sometimes tries to reply first."""
        def some(rule: Any) -> bool:  # the model accepts it for some assignment (on copies)
            for order in self.orders:
                for a in order.ordered():
                    twin = copy.deepcopy(order)
                    if rule(twin, twin.assignments[a.id], True) is None:
                        return True
            return False
        allowed = {
            "callback": any(t.status == "replied" for t in self.orders),
            "reply": some(m.reply), "opinion": some(m.opinion), "sign": some(m.sign),
            "decide_return": any(t.pending_return is not None for t in self.orders),
            "dispatch": any(t.status == "pending_dispatch" for t in self.orders)}
        action = next((x for x in ADVANCE if allowed[x]), None)
        if action in ("opinion", "sign") and not approve:
            # now and then the lead tries to reply before its assistants answered: the gate
            early = [(order, a) for order in self.orders for a in order.ordered()
                     if a.role == "lead" and a.state == "signed"
                     and any(x.state not in m.FINISHED for x in order.assists_of(a))]
            if early:
                order, a = early[p % len(early)]
                self.attempt("reply", order, m.reply(order, a, True),
                             lambda: self.driver.reply(a.id, a.department_code))
        if action in ("reply", "opinion", "sign"):
            getattr(self, action)(o, p, True, True)
        elif action == "callback":
            self.callback(o, True, reached, reached or None, satisfaction or "unsatisfied",
                          attributable)
        elif action == "decide_return":
            self.decide_return(o, True, approve, False)
        elif action == "dispatch":
            self.dispatch(o, True, lead if lead in m.DEPARTMENTS else "minzheng", assists)

    # -- one rule: every step draws an action (weighted) and all the parameters any action takes.
    # (One rule rather than one per action: hypothesis's swarm testing would switch whole
    # actions off for an example, and short runs would then rarely reach deep states.)
    @rule(action=st.sampled_from(WEIGHTED), o=PICK, p=PICK, own=OWN, aim=AIM,
          days=st.integers(min_value=0, max_value=12), approve=st.booleans(),
          again=st.sampled_from([False, False, False, True]), reached=st.booleans(),
          solved=st.sampled_from([None, True, False]), satisfaction=SATISFACTION,
          attributable=st.booleans(), hours=st.integers(min_value=1, max_value=24 * 60),
          lead=st.sampled_from([*m.DEPARTMENTS, "nosuch"]),
          assists=st.lists(st.sampled_from(m.DEPARTMENTS), max_size=2), kind=KIND,
          unit=st.sampled_from(m.PASS_TARGETS))
    def act(self, action: str, o: int, p: int, own: bool, aim: Aim, days: int, approve: bool,
            again: bool, reached: bool, solved: bool | None, satisfaction: str | None,
            attributable: bool, hours: int, lead: str, assists: list[str], kind: str,
            unit: str) -> None:
        args = {"o": o, "p": p, "own": own, "aim": aim, "days": days, "approve": approve,
                "again": again, "reached": reached, "solved": solved,
                "satisfaction": satisfaction, "attributable": attributable, "hours": hours,
                "lead": lead, "assists": assists, "kind": kind, "unit": unit}
        method = getattr(self, action)
        names = method.__code__.co_varnames[1:method.__code__.co_argcount]
        method(**{n: args[n] for n in names})

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def lifecycle_invariants(self) -> None:
        for order in self.orders:
            self.tally[f"status {order.status}"] += 1
            state, assignments = self.driver.observe(order.no)
            m.check_invariants(order, state, assignments)
            # a new urge (by hand, by a sweep, monthly) targets a clock the model holds open:
            # never a replied, returned or stopped one, never a closed order's
            for u in state["urges"]:
                if u["id"] in self.urges_seen:
                    continue
                self.urges_seen.add(u["id"])
                a = order.assignments.get(u["assignment_id"])
                assert a is not None and not a.replied and not a.stopped \
                    and order.status not in ("closed", "resolved_at_intake"), \
                    f"{order.no} ({order.status}): urge of a finished assignment {u} {a}"

    @invariant()
    def nothing_dead_lettered(self) -> None:
        if self.orders:
            assert self.driver.dead_letters() == 0, "an event was dead-lettered"

