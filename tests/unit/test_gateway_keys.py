"""Unit tests for the API key rules of services.gateway.domain: which scope each action needs,
how a key's scopes limit it, and what a key request may ask for."""

from __future__ import annotations

import pytest

from services.gateway.domain import (
    API_KEY_SCOPES,
    PERMISSIONS,
    Principal,
    authorize,
    check_api_key_request,
    key_scope,
    key_scopes_table,
)
from shared.errors import Forbidden, Invalid

DEPARTMENTS = frozenset({"chengguan", "huanbao"})


def key(role: str = "department", scopes: tuple[str, ...] = API_KEY_SCOPES,
        dept: str | None = "chengguan") -> Principal:
    return Principal("apikey:0123abcd", role, dept, via="api_key", scopes=frozenset(scopes))


class TestKeyScope:
    def test_every_action_is_mapped_to_a_known_scope_or_none(self) -> None:
        table = key_scopes_table()
        assert set(table) == set(PERMISSIONS)
        assert set(table.values()) <= {*API_KEY_SCOPES, None}

    @pytest.mark.parametrize("action", [
        "assignment.act", "assignment.read", "inbox.read", "urge.answer", "supervision.explain",
        "instruction.respond", "instruction.read", "ticket.read", "ticket.unmask"])
    def test_department_actions_need_assignments(self, action: str) -> None:
        assert key_scope(action) == "assignments"

    @pytest.mark.parametrize("action", [
        "ticket.register", "ticket.dispatch", "ticket.close", "admin", "audit.read",
        "return.decide", "extension.decide", "catalogue.write", "instruction.manage"])
    def test_staff_actions_are_for_no_key(self, action: str) -> None:
        assert key_scope(action) is None

    def test_actions_department_users_may_take_are_exactly_those_with_the_assignments_scope(
            self) -> None:
        for action, roles in PERMISSIONS.items():
            assert (key_scope(action) == "assignments") == ("department" in roles), action

    def test_an_unknown_action_has_no_scope(self) -> None:
        assert key_scope("no.such.action") is None


class TestAuthorizeKeys:
    def test_a_department_key_with_assignments_may_act(self) -> None:
        authorize(key(), "assignment.act")
        authorize(key(scopes=("assignments",)), "inbox.read")

    def test_a_key_without_the_scope_is_refused_naming_it(self) -> None:
        with pytest.raises(Forbidden) as err:
            authorize(key(scopes=("open311",)), "assignment.act")
        assert err.value.details == {"action": "assignment.act", "scope": "assignments"}

    @pytest.mark.parametrize("action", sorted(PERMISSIONS))
    def test_an_open311_client_may_do_nothing_in_the_api(self, action: str) -> None:
        with pytest.raises(Forbidden):
            authorize(key("open311_client", ("open311",), None), action)

    def test_department_users_have_no_scopes_and_need_none(self) -> None:
        user = Principal("dept_chengguan", "department", "chengguan")
        authorize(user, "assignment.act")
        assert user.has_scope("assignments") and user.has_scope("open311")

    def test_role_is_checked_before_scope(self) -> None:
        with pytest.raises(Forbidden) as err:
            authorize(key(), "admin")
        assert err.value.details["role"] == "department"


class TestKeyRequest:
    def test_department_key_defaults_to_its_code_and_every_scope(self) -> None:
        assert check_api_key_request({"department_code": "chengguan"}, DEPARTMENTS) == (
            "chengguan", "chengguan", ["assignments", "open311"])

    def test_client_key_needs_a_name_and_gets_open311_only(self) -> None:
        assert check_api_key_request({"name": "i泸州 app"}, DEPARTMENTS) == (
            None, "i泸州 app", ["open311"])
        with pytest.raises(Invalid) as err:
            check_api_key_request({}, DEPARTMENTS)
        assert set(err.value.details["fields"]) == {"name"}

    def test_narrowed_scopes(self) -> None:
        assert check_api_key_request({"department_code": "huanbao", "name": "环保系统",
                                      "scopes": ["assignments"]}, DEPARTMENTS)[2] == [
            "assignments"]

    @pytest.mark.parametrize("body, field", [
        ({"department_code": "mars", "name": "x"}, "department_code"),
        ({"department_code": 7, "name": "x"}, "department_code"),
        ({"department_code": "chengguan", "scopes": ["everything"]}, "scopes"),
        ({"department_code": "chengguan", "scopes": []}, "scopes"),
        ({"department_code": "chengguan", "scopes": "assignments"}, "scopes"),
        ({"name": "app", "scopes": ["assignments"]}, "scopes"),
        ({"department_code": "chengguan", "name": "长" * 101}, "name"),
        ({"department_code": "chengguan", "name": 5}, "name"),
    ])
    def test_bad_requests_name_the_field(self, body: dict, field: str) -> None:
        with pytest.raises(Invalid) as err:
            check_api_key_request(body, DEPARTMENTS)
        assert field in err.value.details["fields"], err.value.details
