"""Service layer: the gateway's inbound API edges, called through ``worker_factory`` with real
werkzeug requests — API key scopes, refusals in the audit log, tokens of deactivated users,
key revocation, and ``Idempotency-Key`` replay on the department action routes.

Real: the gateway's database (a migrated SQLite file), its access rules and idempotency
records. Replaced (this layer's edge): the RPC clients of the other services (``dispatch``,
``supervision`` …), as ``Mock``s whose calls are counted — one call is one effect.
"""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import Mock

import pytest
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import access
from services.gateway.models import AuditEntry, IdempotencyRecord
from services.gateway.service import GatewayService
from shared import auth
from shared.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from tests.service.conftest import Worker

SECRET = "test-secret"
CONFIG = {"SECRET_KEY": SECRET, "TOKEN_TTL_SECONDS": 600}
SIGNED = {"id": 7, "state": "signed", "department_code": "chengguan", "signed_by": "x"}


def request(method: str, path: str, headers: dict[str, str] | None = None,
            body: Any = None, **values: Any) -> Request:
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    r = Request(EnvironBuilder(method=method, path=path, headers=headers or {}, data=data,
                               content_type="application/json").get_environ())
    r.path_values = values
    return r


@pytest.fixture
def db(store: Any) -> Any:
    return store("gateway")


@pytest.fixture
def users(db: Any) -> None:
    access.upsert_users(db.unit_of_work(), [
        {"username": "dept_chengguan", "password": "pw", "role": "department",
         "department_code": "chengguan"},
        {"username": "agent1", "password": "pw", "role": "agent"},
        {"username": "admin", "password": "pw", "role": "admin"}])


def token(username: str, role: str, dept: str | None = None) -> dict[str, str]:
    claims = {"sub": username, "role": role, "dept": dept, "name": username}
    return {"Authorization": f"Bearer {auth.issue_token(claims, SECRET, 600)}"}


def new_key(db: Any, dept: str | None = "chengguan", scopes: list[str] | None = None) -> dict:
    issued = access.create_api_key(db.unit_of_work(), dept, "sys", "admin", scopes)
    return {"X-Api-Key": issued["api_key"], "_id": issued["key_id"]}


def headers_of(k: dict[str, str], **extra: str) -> dict[str, str]:
    return {**{h: v for h, v in k.items() if not h.startswith("_")}, **extra}


def audit(db: Any, action: str) -> list[AuditEntry]:
    with db.sessionmaker() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.id)))


def gateway(db: Any, **rpc: Any) -> Worker:
    return Worker(GatewayService, db, config=CONFIG, **rpc)


class TestIdempotentActions:
    def test_a_repeat_is_replayed_with_one_effect(self, db: Any) -> None:
        k, dispatch = new_key(db), Mock()
        dispatch.sign.return_value = SIGNED
        h = headers_of(k, **{"Idempotency-Key": "sign-7"})
        first = gateway(db, dispatch=dispatch).sign(
            request("POST", "/api/v1/assignments/7/sign", h, assignment_id=7), assignment_id=7)
        again = gateway(db, dispatch=dispatch).sign(
            request("POST", "/api/v1/assignments/7/sign", h, assignment_id=7), assignment_id=7)
        assert first == SIGNED
        assert again == (200, SIGNED, {"Idempotent-Replayed": "true"})
        assert dispatch.sign.call_count == 1

    def test_status_and_headers_are_replayed(self, db: Any) -> None:
        k, supervision = new_key(db), Mock()
        supervision.request_extension.return_value = {"id": 3, "state": "requested"}
        h = headers_of(k, **{"Idempotency-Key": "ext-1"})
        body = {"days": 3, "reason": "需现场勘查"}
        call = lambda: gateway(db, supervision=supervision).request_extension(  # noqa: E731
            request("POST", "/api/v1/assignments/7/extension", h, body, assignment_id=7),
            assignment_id=7)
        assert call() == (201, {"id": 3, "state": "requested"})
        assert call() == (201, {"id": 3, "state": "requested"}, {"Idempotent-Replayed": "true"})
        assert supervision.request_extension.call_count == 1

    def test_the_same_key_for_another_request_is_422_naming_the_header(self, db: Any) -> None:
        k, dispatch = new_key(db), Mock()
        dispatch.reply.return_value = {"id": 7, "state": "replied"}
        h = headers_of(k, **{"Idempotency-Key": "reply-7"})
        g = gateway(db, dispatch=dispatch)
        g.reply(request("POST", "/api/v1/assignments/7/reply", h, {"reply": "已处理"},
                        assignment_id=7), assignment_id=7)
        with pytest.raises(Invalid) as err:
            g.reply(request("POST", "/api/v1/assignments/7/reply", h, {"reply": "另一答复"},
                            assignment_id=7), assignment_id=7)
        assert "Idempotency-Key" in err.value.details["fields"]
        assert "different request" in err.value.details["fields"]["Idempotency-Key"][0]
        assert dispatch.reply.call_count == 1

    def test_a_repeat_while_the_first_runs_is_409(self, db: Any) -> None:
        k, dispatch = new_key(db), Mock()
        h = headers_of(k, **{"Idempotency-Key": "slow"})
        seen: list[Exception] = []

        def sign_while_repeated(*_: Any) -> dict:
            try:  # the department system's retry arrives before the first answer
                gateway(db, dispatch=dispatch).sign(
                    request("POST", "/api/v1/assignments/7/sign", h, assignment_id=7),
                    assignment_id=7)
            except Conflict as exc:
                seen.append(exc)
            return SIGNED

        dispatch.sign.side_effect = sign_while_repeated
        assert gateway(db, dispatch=dispatch).sign(
            request("POST", "/api/v1/assignments/7/sign", h, assignment_id=7),
            assignment_id=7) == SIGNED
        assert len(seen) == 1 and seen[0].details["state"] == "in_flight"
        assert dispatch.sign.call_count == 1

    def test_a_validation_error_is_kept_and_replayed(self, db: Any) -> None:
        k, dispatch = new_key(db), Mock()
        dispatch.reply.side_effect = Invalid.fields({"reply": ["必填 required"]})
        h = headers_of(k, **{"Idempotency-Key": "empty"})
        call = lambda: gateway(db, dispatch=dispatch).reply(request(  # noqa: E731
            "POST", "/api/v1/assignments/7/reply", h, {}, assignment_id=7), assignment_id=7)
        with pytest.raises(Invalid):
            call()
        status, body, headers = call()
        assert status == 422 and "reply" in body["error"]["fields"]
        assert headers == {"Idempotent-Replayed": "true"}
        assert dispatch.reply.call_count == 1

    @pytest.mark.parametrize("refusal", [
        Conflict("协办单位尚未提交意见", {"action": "reply", "state": "assists_pending"}),
        NotFound("任务不存在 assignment 7 not found", {"assignment_id": 7})])
    def test_an_answer_of_the_moment_is_not_kept_so_a_later_retry_runs(
            self, db: Any, refusal: Exception) -> None:
        k, dispatch = new_key(db), Mock()
        dispatch.reply.side_effect = [refusal, {"id": 7, "state": "replied"}]
        h = headers_of(k, **{"Idempotency-Key": "reply-when-ready"})
        call = lambda: gateway(db, dispatch=dispatch).reply(request(  # noqa: E731
            "POST", "/api/v1/assignments/7/reply", h, {"reply": "已处理"}, assignment_id=7),
            assignment_id=7)
        with pytest.raises(type(refusal)):
            call()
        assert call() == {"id": 7, "state": "replied"}  # the same key, now allowed
        assert call() == (200, {"id": 7, "state": "replied"}, {"Idempotent-Replayed": "true"})
        assert dispatch.reply.call_count == 2

    def test_a_server_error_is_not_kept_so_a_retry_can_succeed(self, db: Any) -> None:
        k, dispatch = new_key(db), Mock()
        dispatch.sign.side_effect = [Unavailable("dispatch down"), SIGNED]
        h = headers_of(k, **{"Idempotency-Key": "retry"})
        with pytest.raises(Unavailable):
            gateway(db, dispatch=dispatch).sign(
                request("POST", "/api/v1/assignments/7/sign", h, assignment_id=7),
                assignment_id=7)
        assert gateway(db, dispatch=dispatch).sign(
            request("POST", "/api/v1/assignments/7/sign", h, assignment_id=7),
            assignment_id=7) == SIGNED
        assert dispatch.sign.call_count == 2

    def test_keys_are_per_principal(self, db: Any, users: None) -> None:
        k, dispatch = new_key(db), Mock()
        dispatch.sign.return_value = SIGNED
        for h in (headers_of(k, **{"Idempotency-Key": "same"}),
                  {**token("dept_chengguan", "department", "chengguan"),
                   "Idempotency-Key": "same"}):
            assert gateway(db, dispatch=dispatch).sign(
                request("POST", "/api/v1/assignments/7/sign", h, assignment_id=7),
                assignment_id=7) == SIGNED
        assert dispatch.sign.call_count == 2

    @pytest.mark.parametrize("value", ["", "k" * 81])
    def test_an_unfit_key_is_422_naming_the_header(self, db: Any, value: str) -> None:
        k, dispatch = new_key(db), Mock()
        with pytest.raises(Invalid) as err:
            gateway(db, dispatch=dispatch).sign(request(
                "POST", "/api/v1/assignments/7/sign",
                headers_of(k, **{"Idempotency-Key": value}), assignment_id=7), assignment_id=7)
        assert "Idempotency-Key" in err.value.details["fields"]
        assert not dispatch.sign.called

    def test_without_the_header_nothing_is_recorded(self, db: Any) -> None:
        k, dispatch = new_key(db), Mock()
        dispatch.sign.return_value = SIGNED
        for _ in range(2):
            gateway(db, dispatch=dispatch).sign(request(
                "POST", "/api/v1/assignments/7/sign", headers_of(k), assignment_id=7),
                assignment_id=7)
        assert dispatch.sign.call_count == 2
        with db.sessionmaker() as s:
            assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0

    def test_expired_records_no_longer_count_and_are_purged(self, db: Any) -> None:
        k, dispatch = new_key(db), Mock()
        dispatch.sign.return_value = SIGNED
        h = headers_of(k, **{"Idempotency-Key": "old"})
        config = {**CONFIG, "IDEMPOTENCY_TTL_SECONDS": 0}
        for _ in range(2):
            Worker(GatewayService, db, config=config, dispatch=dispatch).sign(
                request("POST", "/api/v1/assignments/7/sign", h, assignment_id=7),
                assignment_id=7)
        assert dispatch.sign.call_count == 2
        Worker(GatewayService, db, config=config).purge_idempotency_records()
        with db.sessionmaker() as s:
            assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0

    def test_a_refused_caller_records_nothing(self, db: Any) -> None:
        k, dispatch = new_key(db, scopes=["open311"]), Mock()
        with pytest.raises(Forbidden):
            gateway(db, dispatch=dispatch).sign(request(
                "POST", "/api/v1/assignments/7/sign",
                headers_of(k, **{"Idempotency-Key": "x"}), assignment_id=7), assignment_id=7)
        with db.sessionmaker() as s:
            assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


class TestRefusalsAreAudited:
    def test_a_key_without_the_scope_is_403_and_audited(self, db: Any) -> None:
        k, dispatch = new_key(db, scopes=["open311"]), Mock()
        with pytest.raises(Forbidden) as err:
            gateway(db, dispatch=dispatch).sign(request(
                "POST", "/api/v1/assignments/7/sign", headers_of(k), assignment_id=7),
                assignment_id=7)
        assert err.value.details["scope"] == "assignments" and not dispatch.sign.called
        [entry] = audit(db, "access.denied")
        assert entry.actor == f"apikey:{k['_id']}" and entry.target == "assignment_id=7"
        assert entry.detail["route"] == "POST /api/v1/assignments/<int:assignment_id>/sign"
        assert entry.detail["status"] == 403 and entry.detail["scope"] == "assignments"

    def test_an_open311_client_key_is_403_in_the_api_and_audited(self, db: Any) -> None:
        k = new_key(db, dept=None)
        with pytest.raises(Forbidden):
            gateway(db, dispatch=Mock()).inbox(request(
                "GET", "/api/v1/departments/chengguan/inbox", headers_of(k), code="chengguan"),
                code="chengguan")
        [entry] = audit(db, "access.denied")
        assert entry.detail["role"] == "open311_client" and entry.detail["via"] == "api_key"

    def test_a_role_refusal_is_403_and_audited(self, db: Any, users: None) -> None:
        with pytest.raises(Forbidden):
            gateway(db).users(request("GET", "/api/v1/admin/users", token("agent1", "agent")))
        [entry] = audit(db, "access.denied")
        assert entry.actor == "agent1" and entry.detail["action"] == "admin"

    def test_another_departments_assignment_is_404_and_audited(self, db: Any,
                                                               users: None) -> None:
        dispatch = Mock()
        dispatch.reply.side_effect = NotFound("任务不存在 assignment 9 not found",
                                              {"assignment_id": 9})
        for h in (headers_of(new_key(db)), token("dept_chengguan", "department", "chengguan")):
            with pytest.raises(NotFound):
                gateway(db, dispatch=dispatch).reply(request(
                    "POST", "/api/v1/assignments/9/reply", h, {"reply": "不是我们的"},
                    assignment_id=9), assignment_id=9)
        entries = audit(db, "access.denied")
        assert [e.detail["status"] for e in entries] == [404, 404]
        assert {e.detail["via"] for e in entries} == {"api_key", "token"}
        assert all(e.target == "assignment_id=9" for e in entries)

    def test_another_departments_inbox_is_404_and_audited(self, db: Any) -> None:
        with pytest.raises(NotFound):
            gateway(db, dispatch=Mock()).inbox(request(
                "GET", "/api/v1/departments/huanbao/inbox", headers_of(new_key(db)),
                code="huanbao"), code="huanbao")
        [entry] = audit(db, "access.denied")
        assert entry.target == "code=huanbao" and entry.detail["department_code"] == "chengguan"

    def test_a_staff_404_is_not_an_access_refusal(self, db: Any, users: None) -> None:
        intake = Mock()
        intake.get_ticket.side_effect = NotFound("no order", {"ticket_no": "x"})
        with pytest.raises(NotFound):
            gateway(db, intake=intake).link_call(request(
                "POST", "/api/v1/tickets/x/link", token("agent1", "agent"), {},
                ticket_no="x"), ticket_no="x")
        assert audit(db, "access.denied") == []


class TestCredentials:
    @pytest.mark.parametrize("text, reason", [("hk_0123abcd_nosuchsecret", "unknown"),
                                              ("not-a-key", "malformed")])
    def test_bad_keys_are_401_and_audited(self, db: Any, text: str, reason: str) -> None:
        with pytest.raises(access.Unauthorized):
            gateway(db).users(request("GET", "/api/v1/admin/users", {"X-Api-Key": text}))
        [entry] = audit(db, "auth.api_key_rejected")
        assert entry.detail["reason"] == reason

    def test_a_revoked_key_stops_at_once(self, db: Any) -> None:
        k, dispatch = new_key(db), Mock()
        dispatch.inbox.return_value = {"items": [], "next_cursor": None}
        inbox = lambda: gateway(db, dispatch=dispatch).inbox(request(  # noqa: E731
            "GET", "/api/v1/departments/chengguan/inbox", headers_of(k), code="chengguan"),
            code="chengguan")
        assert inbox()["items"] == []
        assert access.revoke_api_key(db.unit_of_work(), k["_id"], "admin")
        with pytest.raises(access.Unauthorized):
            inbox()
        [entry] = audit(db, "auth.api_key_rejected")
        assert entry.target == k["_id"] and entry.detail["reason"] == "revoked"
        revoked = audit(db, "api_key.revoked")
        assert access.revoke_api_key(db.unit_of_work(), k["_id"], "admin")  # again: no-op
        assert len(audit(db, "api_key.revoked")) == len(revoked) == 1

    def test_a_deactivated_users_token_stops_at_once(self, db: Any, users: None) -> None:
        h = token("dept_chengguan", "department", "chengguan")
        dispatch = Mock()
        dispatch.inbox.return_value = {"items": [], "next_cursor": None}
        call = lambda: gateway(db, dispatch=dispatch).inbox(request(  # noqa: E731
            "GET", "/api/v1/departments/chengguan/inbox", h, code="chengguan"),
            code="chengguan")
        call()
        gateway(db).set_user_active(request(
            "PUT", "/api/v1/admin/users/dept_chengguan/active", token("admin", "admin"),
            {"active": False}, username="dept_chengguan"), username="dept_chengguan")
        with pytest.raises(access.Unauthorized) as err:
            call()
        assert err.value.details["reason"] == "inactive"
        assert audit(db, "user.deactivated")[0].target == "dept_chengguan"
        assert audit(db, "auth.token_rejected")[0].detail["reason"] == "inactive"

    def test_a_token_whose_role_changed_stops(self, db: Any, users: None) -> None:
        stale = token("agent1", "admin")  # claims a role the account does not have
        with pytest.raises(access.Unauthorized):
            gateway(db).users(request("GET", "/api/v1/admin/users", stale))

    def test_forged_tokens_are_audited_expired_ones_are_not(self, db: Any) -> None:
        claims = {"sub": "admin", "role": "admin", "dept": None}
        for text in (auth.issue_token(claims, "another-secret", 600), "forged.token",
                     auth.issue_token(claims, SECRET, 600, now=1.0)):
            with pytest.raises(access.Unauthorized):
                gateway(db).users(request("GET", "/api/v1/admin/users",
                                          {"Authorization": f"Bearer {text}"}))
        assert [e.detail["reason"] for e in audit(db, "auth.token_rejected")] == [
            "bad signature", "malformed token"]


class TestKeyAdministration:
    def admin(self) -> dict[str, str]:
        return token("admin", "admin")

    def create(self, db: Any, body: dict) -> Any:
        dispatch = Mock()
        dispatch.departments.return_value = [{"code": "chengguan"}, {"code": "huanbao"}]
        return gateway(db, dispatch=dispatch).create_api_key(
            request("POST", "/api/v1/admin/api-keys", self.admin(), body))

    def test_issue_list_revoke(self, db: Any, users: None) -> None:
        status, dept = self.create(db, {"department_code": "chengguan", "name": "城管系统"})
        assert status == 201 and dept["scopes"] == ["assignments", "open311"]
        _, client = self.create(db, {"name": "i泸州"})
        assert client["department_code"] is None and client["scopes"] == ["open311"]
        listed = gateway(db).list_api_keys(request("GET", "/api/v1/admin/api-keys",
                                                   self.admin()))["items"]
        assert {k["key_id"]: k["kind"] for k in listed} == {
            dept["key_id"]: "department", client["key_id"]: "open311_client"}
        text = json.dumps(listed)
        assert dept["api_key"] not in text and "secret" not in text
        gateway(db).revoke_api_key(request("DELETE", f"/api/v1/admin/api-keys/{dept['key_id']}",
                                           self.admin(), key_id=dept["key_id"]),
                                   key_id=dept["key_id"])
        listed = gateway(db).list_api_keys(request("GET", "/api/v1/admin/api-keys",
                                                   self.admin()))["items"]
        assert next(k for k in listed if k["key_id"] == dept["key_id"])["revoked_at"]
        assert audit(db, "api_key.revoked")[0].actor == "admin"

    @pytest.mark.parametrize("body, field", [
        ({"department_code": "mars", "name": "x"}, "department_code"),
        ({"department_code": "chengguan", "scopes": ["root"]}, "scopes"),
        ({"scopes": ["open311"]}, "name"),
    ])
    def test_bad_requests_are_422_naming_the_field(self, db: Any, users: None, body: dict,
                                                   field: str) -> None:
        with pytest.raises(Invalid) as err:
            self.create(db, body)
        assert field in err.value.details["fields"]
