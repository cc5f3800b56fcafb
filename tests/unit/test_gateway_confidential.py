"""Unit tests for the gateway's confidentiality rules (涉密 clearance, 保密 masking, unmasking)."""

from __future__ import annotations

import pytest

from services.gateway.domain import (
    PERMISSIONS,
    Principal,
    check_unmask_reason,
    mask_name,
    mask_phone,
    may_see_confidential,
    needs_clearance_lookup,
    sees_every_confidential,
)

ASSIGNED = frozenset({"chengguan"})


def see(role: str, *, name: str | None = None, dept: str | None = None, via: str = "token",
        cleared: bool = False, registered_by: str = "agent1") -> bool:
    who = Principal(name=name or f"{role}9", role=role, department_code=dept, via=via)
    return may_see_confidential(who, registered_by=registered_by, departments=ASSIGNED,
                                cleared=cleared)


class TestConfidentialClearance:
    @pytest.mark.parametrize("role", ["supervisor", "leader", "admin"])
    def test_cleared_roles_see_it(self, role: str) -> None:
        assert see(role)

    def test_the_registering_agent_sees_it_other_agents_do_not(self) -> None:
        assert see("agent", name="agent1")
        assert not see("agent", name="agent2")

    def test_assigned_departments_see_it_others_do_not(self) -> None:
        assert see("department", dept="chengguan")
        assert not see("department", dept="gongan")

    def test_department_systems_never_do_even_when_assigned(self) -> None:
        assert not see("department", dept="chengguan", via="api_key")
        assert not see("department", dept="chengguan", via="api_key", cleared=True)

    def test_per_user_clearance_for_agents_and_dispatchers_only(self) -> None:
        assert not see("dispatcher") and see("dispatcher", cleared=True)
        assert see("agent", name="agent2", cleared=True)
        assert not see("auditor", cleared=True)

    def test_unknown_registering_agent_does_not_match(self) -> None:
        who = Principal(name="agent1", role="agent")
        assert not may_see_confidential(who, registered_by=None, departments=ASSIGNED)

    def test_list_filter_and_lookup(self) -> None:
        assert sees_every_confidential(Principal("s", "supervisor"))
        assert not sees_every_confidential(Principal("a", "agent"))
        assert sees_every_confidential(Principal("a", "agent"), cleared=True)
        assert not sees_every_confidential(Principal("k", "department", "cg", via="api_key"))
        assert needs_clearance_lookup(Principal("a", "agent"))
        assert needs_clearance_lookup(Principal("d", "dispatcher"))
        assert not needs_clearance_lookup(Principal("s", "supervisor"))


class TestMasking:
    @pytest.mark.parametrize("phone, masked", [
        ("13812345678", "138****5678"), ("0830-2345678", "0830-****5678"),
        ("010-62345678-123", "010-****5678-123"), (None, None), ("", "")])
    def test_phone(self, phone: str | None, masked: str | None) -> None:
        assert mask_phone(phone) == masked

    @pytest.mark.parametrize("name, masked", [("李秀英", "李**"), ("王", "王*"), (None, None)])
    def test_name_of_a_caller_who_asked_for_privacy(self, name: str | None,
                                                    masked: str | None) -> None:
        assert mask_name(name) == masked


class TestUnmask:
    @pytest.mark.parametrize("reason", [None, "", "   ", "回电", 12, "x" * 501])
    def test_reason_is_required_and_bounded(self, reason: object) -> None:
        assert check_unmask_reason(reason)

    def test_a_real_reason_passes(self) -> None:
        assert check_unmask_reason("需回电核实现场地址") is None

    def test_who_may_unmask_and_read_the_audit_log(self) -> None:
        assert "department" in PERMISSIONS["ticket.unmask"]
        assert "auditor" not in PERMISSIONS["ticket.unmask"]
        assert PERMISSIONS["audit.read"] == {"auditor", "admin"}
        assert PERMISSIONS["ticket.link"] == PERMISSIONS["ticket.related"] == {
            "agent", "supervisor", "admin"}
