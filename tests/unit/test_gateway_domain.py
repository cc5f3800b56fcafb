"""Unit tests for services.gateway.domain: who may do what, and what a department may see."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.domain import (
    PERMISSIONS,
    Principal,
    authorize,
    mask_phone,
    require_department,
    visible_to,
)
from shared.errors import Forbidden, NotFound
from shared.vocabulary import ROLES

FAST = settings(database=None, deadline=None, derandomize=True, max_examples=150)


def who(role: str, department: str | None = None) -> Principal:
    return Principal(name=f"{role}1", role=role, department_code=department)


class TestAuthorize:
    @pytest.mark.parametrize("role, action", [
        ("agent", "ticket.register"), ("agent", "ticket.read"), ("agent", "kb.search"),
        ("dispatcher", "ticket.dispatch"), ("dispatcher", "inbox.read"),
        ("department", "assignment.act"), ("department", "ticket.read"),
        ("department", "reports.read"), ("department", "inbox.read"),
        ("supervisor", "ticket.callback"), ("supervisor", "ticket.close"),
        ("supervisor", "kb.write"), ("leader", "reports.read"), ("leader", "ticket.list"),
        ("admin", "admin"), ("admin", "ticket.dispatch"),
    ])
    def test_allowed(self, role: str, action: str) -> None:
        authorize(who(role, "CG" if role == "department" else None), action)

    @pytest.mark.parametrize("role, action", [
        ("agent", "ticket.dispatch"), ("agent", "ticket.close"), ("agent", "admin"),
        ("dispatcher", "ticket.register"), ("dispatcher", "assignment.act"),
        ("department", "ticket.list"), ("department", "ticket.dispatch"),
        ("department", "kb.review"), ("department", "admin"),
        ("supervisor", "assignment.act"), ("supervisor", "ticket.dispatch"),
        ("leader", "ticket.register"), ("leader", "ticket.close"), ("leader", "kb.write"),
        ("auditor", "ticket.read"), ("auditor", "reports.read"),
        ("admin", "assignment.act"),
    ])
    def test_refused_naming_role_and_action(self, role: str, action: str) -> None:
        with pytest.raises(Forbidden) as info:
            authorize(who(role), action)
        assert info.value.details == {"action": action, "role": role}
        assert role in info.value.message and action in info.value.message

    def test_unknown_role_is_refused_everything(self) -> None:
        for action in PERMISSIONS:
            with pytest.raises(Forbidden):
                authorize(who("citizen"), action)

    def test_only_admin_administers(self) -> None:
        assert PERMISSIONS["admin"] == frozenset({"admin"})

    def test_every_permission_names_known_roles(self) -> None:
        for roles in PERMISSIONS.values():
            assert roles <= set(ROLES)

    def test_unknown_action_is_a_programming_error(self) -> None:
        with pytest.raises(KeyError):
            authorize(who("admin"), "ticket.teleport")


class TestRequireDepartment:
    def test_own_department(self) -> None:
        require_department(who("department", "CG"), "CG")

    def test_other_department_looks_like_it_does_not_exist(self) -> None:
        with pytest.raises(NotFound) as info:
            require_department(who("department", "CG"), "GA")
        assert info.value.details == {"department_code": "GA"}

    def test_department_principal_without_department(self) -> None:
        with pytest.raises(NotFound):
            require_department(who("department", None), "GA")

    @pytest.mark.parametrize("role", ["dispatcher", "supervisor", "admin", "leader"])
    def test_center_staff_may_look_at_any_department(self, role: str) -> None:
        require_department(who(role), "GA")


class TestVisibleTo:
    ASSIGNMENTS = [{"department_code": "CG", "role": "lead"},
                   {"department_code": "GA", "role": "assist"}]

    @pytest.mark.parametrize("department", ["CG", "GA"])
    def test_lead_and_assistant_see_the_order(self, department: str) -> None:
        assert visible_to(who("department", department), self.ASSIGNMENTS)

    def test_other_department_does_not(self) -> None:
        assert not visible_to(who("department", "HB"), self.ASSIGNMENTS)

    def test_department_cannot_see_an_undispatched_order(self) -> None:
        assert not visible_to(who("department", "CG"), [])

    @pytest.mark.parametrize("role", ["agent", "dispatcher", "supervisor", "leader", "admin"])
    def test_staff_see_everything(self, role: str) -> None:
        assert visible_to(who(role), [])


class TestMaskPhone:
    def test_mobile(self) -> None:
        assert mask_phone("13812345678") == "138****5678"

    @pytest.mark.parametrize("phone, masked", [
        ("010-62345678", "010-****5678"),
        ("0571-87654321", "0571-****4321"),
        ("0571-8765432", "0571-****5432"),
    ])
    def test_landline_keeps_area_code_and_last_four(self, phone: str, masked: str) -> None:
        assert mask_phone(phone) == masked

    def test_landline_with_extension(self) -> None:
        assert mask_phone("010-62345678-123") == "010-****5678-123"

    @pytest.mark.parametrize("empty", [None, ""])
    def test_nothing_to_mask(self, empty: str | None) -> None:
        assert mask_phone(empty) == empty

    def test_short_value_is_fully_hidden(self) -> None:
        assert mask_phone("1234567") == "****"

    @FAST
    @given(second=st.integers(3, 9), rest=st.text("0123456789", min_size=9, max_size=9))
    def test_a_mobile_never_shows_its_middle_four(self, second: int, rest: str) -> None:
        phone = f"1{second}{rest}"
        masked = mask_phone(phone)
        assert masked == phone[:3] + "****" + phone[7:]
        assert len(masked) == len(phone)
