"""Unit tests for services.supervision.domain: the order lifecycle (DOMAIN.md §3) and callbacks
(回访)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from services.supervision.domain import (
    LAPSED,
    MAX_CALLBACK_ATTEMPTS,
    TRANSITIONS,
    callback_outcome,
    can,
    check_callback,
    check_extension_decision,
    check_extension_request,
    recall_moves,
    transition,
)
from shared.errors import Conflict, Invalid
from shared.vocabulary import SATISFACTION, STATUSES

FAST = settings(database=None, deadline=None, derandomize=True, max_examples=200)

# The lifecycle as DOMAIN.md §3 draws it (the part implemented so far), written out here
# rather than read from TRANSITIONS so the test is a specification, not a copy.
ALLOWED: list[tuple[str, str | None, str]] = [
    ("register", None, "registered"),
    ("resolve_at_intake", "registered", "resolved_at_intake"),
    ("resolve_at_intake", "pending_dispatch", "resolved_at_intake"),
    ("await_dispatch", "registered", "pending_dispatch"),
    ("dispatch", "registered", "dispatched"),
    ("dispatch", "pending_dispatch", "dispatched"),
    ("lead_sign", "dispatched", "in_progress"),
    ("lead_reply", "in_progress", "replied"),
    ("close", "replied", "closed"),
    ("close", "resolved_at_intake", "closed"),
    ("reopen", "replied", "reopened"),
    ("dispatch", "reopened", "dispatched"),
    ("request_return", "dispatched", "return_requested"),
    ("request_return", "in_progress", "return_requested"),
    ("approve_return", "return_requested", "pending_dispatch"),
    ("reject_return", "return_requested", "dispatched"),
    ("withdraw_return", "return_requested", "dispatched"),
    ("reinstate", "pending_dispatch", "dispatched"),
    # 撤回派单: the current round withdrawn before the lead replied → waits for dispatch
    ("recall", "dispatched", "pending_dispatch"),
    ("recall", "in_progress", "pending_dispatch"),
    ("recall", "return_requested", "pending_dispatch"),
]
ACTIONS = sorted(TRANSITIONS)
ALL_STATES: list[str | None] = [None, *STATUSES]
DISALLOWED = [(a, s) for a in ACTIONS for s in ALL_STATES
              if (a, s) not in {(a2, s2) for a2, s2, _ in ALLOWED}]


class TestTransitions:
    @pytest.mark.parametrize("action, status, expected", ALLOWED)
    def test_allowed(self, action: str, status: str | None, expected: str) -> None:
        assert transition(action, status) == expected
        assert can(action, status)

    def test_table_has_exactly_the_documented_transitions(self) -> None:
        actual = {(a, s, t) for a, m in TRANSITIONS.items() for s, t in m.items()}
        assert actual == set(ALLOWED)

    @pytest.mark.parametrize("action, status", [
        ("dispatch", "dispatched"), ("dispatch", "in_progress"), ("dispatch", "closed"),
        ("lead_sign", "in_progress"), ("lead_sign", "registered"),
        ("lead_reply", "dispatched"), ("lead_reply", "replied"),
        ("close", "in_progress"), ("close", "registered"), ("close", "closed"),
        ("register", "registered"), ("resolve_at_intake", "dispatched"),
        ("await_dispatch", "pending_dispatch"),
    ])
    def test_disallowed_raises_conflict_naming_action_and_state(self, action: str,
                                                                status: str) -> None:
        with pytest.raises(Conflict) as info:
            transition(action, status)
        assert info.value.details == {"action": action, "state": status}
        assert STATUSES[status] in info.value.message
        assert action in info.value.message
        assert not can(action, status)

    @pytest.mark.parametrize("action, status", DISALLOWED)
    def test_every_other_pair_is_refused(self, action: str, status: str | None) -> None:
        assert not can(action, status)
        with pytest.raises(Conflict):
            transition(action, status)

    @pytest.mark.parametrize("action", [a for a in ACTIONS if a != "register"])
    def test_nothing_but_register_starts_an_order(self, action: str) -> None:
        with pytest.raises(Conflict) as info:
            transition(action, None)
        assert info.value.details["state"] is None

    @pytest.mark.parametrize("action", ACTIONS)
    def test_nothing_leaves_closed(self, action: str) -> None:
        assert not can(action, "closed")

    def test_unknown_action_is_a_programming_error(self) -> None:
        with pytest.raises(KeyError):
            transition("teleport", "registered")

    @pytest.mark.parametrize("status", ["registered", "pending_dispatch", "replied", "reopened",
                                        "closed", "resolved_at_intake"])
    def test_a_recall_is_refused_where_no_round_is_out_with_departments(self,
                                                                       status: str) -> None:
        with pytest.raises(Conflict) as info:
            transition("recall", status)
        assert info.value.details == {"action": "recall", "state": status}
        assert "撤回派单" in info.value.message


class TestRecall:
    @pytest.mark.parametrize("status", ["dispatched", "in_progress", "return_requested"])
    def test_the_current_rounds_recall_moves_the_order_back_to_dispatch(self,
                                                                        status: str) -> None:
        assert recall_moves(status, later_round=False)

    @pytest.mark.parametrize("status", ["dispatched", "in_progress", "return_requested"])
    def test_a_recall_overtaken_by_a_later_round_moves_nothing(self, status: str) -> None:
        assert not recall_moves(status, later_round=True)

    @pytest.mark.parametrize("status", ["replied", "closed", "reopened", "pending_dispatch",
                                        "registered", "resolved_at_intake", None])
    def test_a_recall_that_crossed_a_reply_or_came_late_moves_nothing(
            self, status: str | None) -> None:
        assert not recall_moves(status, later_round=False)  # the reply stands


class TestCheckCallback:
    @pytest.mark.parametrize("status", ["registered", "dispatched", "in_progress", "closed"])
    def test_only_a_replied_order_is_called_back(self, status: str) -> None:
        with pytest.raises(Conflict) as info:
            check_callback(status, reached=True, solved=True, satisfaction="satisfied")
        assert info.value.details == {"action": "callback", "state": status}
        assert STATUSES[status] in info.value.message

    def test_reached_without_solved_and_satisfaction_names_both(self) -> None:
        with pytest.raises(Invalid) as info:
            check_callback("replied", reached=True, solved=None, satisfaction=None)
        assert set(info.value.details["fields"]) == {"solved", "satisfaction"}

    def test_reached_without_satisfaction(self) -> None:
        with pytest.raises(Invalid) as info:
            check_callback("replied", reached=True, solved=False, satisfaction=None)
        assert set(info.value.details["fields"]) == {"satisfaction"}

    def test_reached_without_solved(self) -> None:
        with pytest.raises(Invalid) as info:
            check_callback("replied", reached=True, solved=None, satisfaction="satisfied")
        assert set(info.value.details["fields"]) == {"solved"}

    def test_unknown_satisfaction_lists_the_valid_ones(self) -> None:
        with pytest.raises(Invalid) as info:
            check_callback("replied", reached=True, solved=True, satisfaction="ecstatic")
        (message,) = info.value.details["fields"]["satisfaction"]
        assert "'ecstatic'" in message
        assert all(code in message for code in SATISFACTION)

    def test_unknown_satisfaction_even_when_not_reached(self) -> None:
        with pytest.raises(Invalid):
            check_callback("replied", reached=False, solved=None, satisfaction="meh")

    def test_not_reached_needs_nothing_else(self) -> None:
        check_callback("replied", reached=False, solved=None, satisfaction=None)

    @pytest.mark.parametrize("satisfaction", list(SATISFACTION))
    @pytest.mark.parametrize("solved", [True, False])
    def test_complete_callbacks_pass(self, solved: bool, satisfaction: str) -> None:
        check_callback("replied", reached=True, solved=solved, satisfaction=satisfaction)


class TestCallbackOutcome:
    @pytest.mark.parametrize("reached, satisfaction, attributable, before, outcome", [
        (True, "satisfied", True, 0, "close"),
        (True, "basically_satisfied", False, 2, "close"),
        (True, "unsatisfied", True, 0, "reopen"),
        (True, "unsatisfied", False, 0, "close_unsatisfied"),
        (False, None, True, 0, "retry"),
        (False, None, True, MAX_CALLBACK_ATTEMPTS - 2, "retry"),
        (False, None, True, MAX_CALLBACK_ATTEMPTS - 1, "unreachable"),
    ])
    def test_outcomes(self, reached: bool, satisfaction: str | None, attributable: bool,
                      before: int, outcome: str) -> None:
        assert callback_outcome(reached, satisfaction, attributable, before) == outcome


class TestExtensionRules:
    NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    DUE = NOW + timedelta(days=10)

    def test_a_running_assignment_may_ask_once_within_the_limit(self) -> None:
        check_extension_request(False, self.NOW, self.DUE, False, 10, 10)

    @pytest.mark.parametrize("kwargs, state", [
        ({"replied": True}, "replied"),
        ({"stopped": True}, "stopped"),  # returned, passed down, or ended by the lead's reply
        ({"already_requested": True}, "extension_requested"),
        ({"now": DUE}, "overdue"),
    ])
    def test_refusals_name_the_state(self, kwargs: dict, state: str) -> None:
        args = {"replied": False, "now": self.NOW, "handle_due": self.DUE,
                "already_requested": False, "days": 3, "max_days": 10, **kwargs}
        stopped = args.pop("stopped", False)
        with pytest.raises(Conflict) as info:
            check_extension_request(**args, stopped=stopped)
        assert info.value.details == {"action": "extension", "state": state}

    def test_a_decision_needs_a_pending_request_of_a_running_assignment(self) -> None:
        check_extension_decision("pending")
        for state, stopped, named in [("approved", False, "approved"),
                                      ("pending", True, "stopped")]:
            with pytest.raises(Conflict) as info:
                check_extension_decision(state, stopped=stopped)
            assert info.value.details == {"action": "decide_extension", "state": named}

    def test_a_lapsed_request_is_not_decided(self) -> None:
        with pytest.raises(Conflict) as info:
            check_extension_decision(LAPSED)
        assert info.value.details == {"action": "decide_extension", "state": "lapsed"}
        assert "失效" in info.value.message


# -- random walks over the lifecycle ----------------------------------------------------------

REPLY_OR_INTAKE = {"lead_reply", "resolve_at_intake"}


def walk(actions: list[str]) -> list[tuple[str, str | None, str | None, bool]]:
    """Apply actions, skipping refused ones; (action, before, after, applied) of each step."""
    status: str | None = None
    steps = []
    for action in actions:
        before = status
        try:
            status = transition(action, status)
        except Conflict as exc:
            assert exc.details == {"action": action, "state": status}
            steps.append((action, before, status, False))
        else:
            steps.append((action, before, status, True))
    return steps


class TestLifecycleInvariants:
    @FAST
    @given(st.lists(st.sampled_from(ACTIONS), max_size=30))
    def test_invariants_over_random_action_sequences(self, actions: list[str]) -> None:
        applied: list[str] = []
        for action, before, after, ok in walk(actions):
            if ok:
                applied.append(action)
            else:
                assert after == before, "a refused action changes nothing"
            assert after is None or after in STATUSES
            if before == "closed":
                assert not ok and after == "closed", "nothing leaves closed"
            if after == "closed" and ok:
                assert action == "close"
                assert REPLY_OR_INTAKE & set(applied), "closed without a reply or intake answer"
            if action == "dispatch" and ok:
                assert before in ("registered", "pending_dispatch", "reopened")


class LifecycleMachine(RuleBasedStateMachine):
    """Model-based: every action is tried from every reachable status."""

    def __init__(self) -> None:
        super().__init__()
        self.status: str | None = None
        self.history: list[str] = []

    @rule(action=st.sampled_from(ACTIONS))
    def act(self, action: str) -> None:
        before = self.status
        if can(action, before):
            self.status = transition(action, before)
            self.history.append(action)
            if action == "dispatch":
                assert before in ("registered", "pending_dispatch", "reopened")
        else:
            with pytest.raises(Conflict):
                transition(action, before)
            assert self.status == before

    @precondition(lambda self: self.status == "closed")
    @rule(action=st.sampled_from(ACTIONS))
    def closed_is_final(self, action: str) -> None:
        assert not can(action, "closed")

    @invariant()
    def closed_only_after_reply_or_intake_resolution(self) -> None:
        if self.status == "closed":
            assert self.history[-1] == "close"
            assert REPLY_OR_INTAKE & set(self.history)

    @invariant()
    def register_happens_once_and_first(self) -> None:
        if self.history:
            assert self.history[0] == "register"
            assert self.history.count("register") == 1

    @invariant()
    def replied_only_after_sign(self) -> None:
        if self.status == "replied":
            assert self.history.index("lead_sign") < self.history.index("lead_reply")


LifecycleMachine.TestCase.settings = settings(
    database=None, deadline=None, derandomize=True, max_examples=100, stateful_step_count=25)
TestLifecycleStateMachine = LifecycleMachine.TestCase
