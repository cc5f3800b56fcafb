"""The inbound API for department systems over HTTP, against every service running as a
process: API keys and their scopes, the access matrix generated from the route list, refusals
in the audit log, idempotent department actions, and credentials that stop working at once.

The access matrix is built from :data:`services.gateway.http.ROUTES`, so a new route is covered
the day it is added: department A (``huanbao``) — its user and its system's key — calls every
route with department B's (``chengguan``) real order, assignment, urge, supervision order,
instruction … ids; an Open311 client key, a key without the ``assignments`` scope and a caller
without credentials call every protected route too. A route with a path parameter the table
below does not know fails the test, so that a new kind of id gets a real value.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

import services.gateway.service  # noqa: F401  (registers the routes)
from hotline.client import ApiError, HotlineClient, wait_for
from services.gateway.domain import PERMISSIONS
from services.gateway.http import ROUTES, RouteSpec
from services.gateway.openapi import SCHEMAS
from services.reporting import periods
from shared.business_time import business_today
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

A, B = "huanbao", "chengguan"
ORDER = {
    "category": "complaint", "phone": "0830-2345678", "caller_name": "赵先生",
    "territory_code": "510502001002", "address": "水井沟社区",
    "content": "楼下流动摊贩占道经营，晚上十点以后还在营业，请城管处理。",
}
PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
TEXT = "访问矩阵测试，不应生效"

# Routes a department may call that are not about one department's orders: reference data it
# shares with everyone, or its own figures. Each says what it must not show of B. A new route a
# department may call must be department-scoped (and so tested with B's ids) or listed here.
SHARED: dict[str, dict[str, Any]] = {
    "departments": {},
    "kb_search": {"q": "社保"},
    "kb_article": {},
    "kb_articles": {},  # its own entries only (checked below)
    "kb_monitor": {},  # its own entries' figures only (checked below)
    "kpis": {"group_by": "department", "from": "today", "to": "today"},  # its own row only
    "list_instructions": {},  # its own instructions only (checked below)
    # Step 5: its own assessment results, items, history and objections; the rule sets; the
    # published periodic reports (drafts are the center's) — each checked below
    "assessment_list": {"quarter": "this_quarter"},
    "assessment_rules": {},
    "assessment_history": {"quarter": "this_quarter"},
    "assessment_items": {"quarter": "this_quarter"},
    "assessment_objections": {},
    "periodic_reports": {},
}
THIS_QUARTER = periods.containing("quarter", business_today()).key


def draft_report(sup: HotlineClient) -> dict[str, Any]:
    """A draft of a long-past year nobody publishes (a second run finds it in place)."""
    try:
        return sup.create_report("year", "2020")
    except ApiError as exc:
        assert exc.status == 409, exc
        return next(r for r in sup.reports(kind="year", status="draft")["items"]
                    if r["period"]["key"] == "2020")


def lead_of(client: HotlineClient, no: str) -> dict[str, Any]:
    detail = wait_for(lambda: (d := client.ticket(no))["assignments"] and d, what="dispatch")
    return next(a for a in detail["assignments"] if a["role"] == "lead")


def sheet(**overrides: Any) -> dict[str, Any]:
    return {"leader_name": "王副市长", "leader_level": "vice_mayor",
            "words": "请市综合执法局阅处，抓紧整治，并将结果报我。",
            "source_title": "关于滨江路夜市占道经营的群众来信", "source_doc_no": "泸市信〔2026〕89号",
            "received_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            "units": [B], **overrides}


@pytest.fixture(scope="module")
def world(system: System) -> dict[str, Any]:
    """Department B's real objects (the path-parameter table) and A's callers."""
    agent, sup, admin = system.login("agent1"), system.login("supervisor1"), system.login("admin")
    dept_b = system.login(f"dept_{B}")
    no = agent.register(ORDER)["ticket_no"]
    lead = lead_of(agent, no)
    assert lead["department_code"] == B
    wait_for(lambda: lead_of(agent, no)["clock"], what="clock")
    extension = dept_b.request("POST", f"/api/v1/assignments/{lead['id']}/extension",
                               json={"days": 2, "reason": "需现场勘查"})
    [urge] = sup.request("POST", f"/api/v1/tickets/{no}/urge",
                         json={"assignment_id": lead["id"], "channel": "phone"})["urges"]
    [order] = sup.supervise(no, assignment_id=lead["id"], note="群众反映强烈")["supervision_orders"]
    no2 = agent.register({**ORDER, "content": ORDER["content"] + "（第二单）"})["ticket_no"]
    lead2 = lead_of(agent, no2)
    wait_for(lambda: lead_of(agent, no2)["clock"], what="clock")
    ret = dept_b.request("POST", f"/api/v1/assignments/{lead2['id']}/return",
                         json={"reason_code": "territory", "basis": "该地址不在本辖区"})
    instruction = sup.register_instruction(sheet())
    feedback = dept_b.instruction_feedback(instruction["id"], "已部署整治。")
    rule = admin.routing_rules()["items"][0]
    article = next(i for i in sup.request("GET", "/api/v1/kb/search",
                                          params={"q": "社保"})["items"])
    key_b = admin.issue_api_key(B, "城管业务系统")
    # Step 5: B's draft assessment of this quarter (a department sees published results only,
    # and only its own) and a draft report (drafts are the center's)
    [assessment] = sup.request("POST", "/api/v1/reports/assessments/compute", json={
        "quarter": THIS_QUARTER, "department_code": B})["computed"]
    report = draft_report(sup)
    params = {
        "ticket_no": no, "assignment_id": lead["id"], "code": B, "urge_id": urge["id"],
        "order_id": order["id"], "instruction_id": instruction["id"],
        "feedback_id": feedback["id"], "extension_id": extension["id"], "return_id": ret["id"],
        "rule_id": rule["id"], "article_id": article["id"], "key_id": key_b["key_id"],
        "username": f"dept_{B}",
        "assessment_id": assessment["id"], "report_id": report["id"], "chart": "scores",
        # the center's own records (refused by role before the id is read)
        "item_id": 1, "objection_id": 1, "alert_id": 1,
        # staff-only routes (回头看 results): a department is refused by role before the id
        # is read, and the demo has no re-check; any id shows that
        "recheck_id": 1,
        # the operators' routes of department endpoints and webhook deliveries (admin only,
        # refused by role first): B's own endpoint and delivery where there are some
        "endpoint_id": optional_id(lambda: admin.request(
            "POST", f"/api/v1/admin/departments/{B}/endpoints", json={"kind": "pull"})),
        "delivery_id": optional_id(lambda: admin.request(
            "GET", "/api/v1/admin/deliveries", params={"department_code": B})["items"][0]),
    }
    key_a = admin.issue_api_key(A, "环保业务系统")
    narrow = admin.issue_api_key(A, "环保系统（仅 Open311）", scopes=["open311"])
    client = admin.issue_api_key(None, "i泸州 市民 app")
    assert client["department_code"] is None and client["scopes"] == ["open311"]
    return {
        "params": params, "no": no, "lead": lead, "instruction": instruction["id"],
        "user_a": system.login(f"dept_{A}"),
        "key_a": HotlineClient(system.url, api_key=key_a["api_key"]), "key_a_id": key_a["key_id"],
        "narrow": HotlineClient(system.url, api_key=narrow["api_key"]),
        "client": HotlineClient(system.url, api_key=client["api_key"]),
        "anonymous": HotlineClient(system.url),
    }


def optional_id(make: Any) -> int:
    """The id of an object of B's that a route of another branch makes; 1 when that route is
    not there (yet) or has nothing of B's."""
    try:
        return int(make()["id"])
    except (ApiError, IndexError, KeyError):
        return 1


def protected_api_routes() -> list[tuple[RouteSpec, str]]:
    return [(spec, method) for spec in ROUTES if spec.action is not None
            and spec.path.startswith("/api/v1/") for method in spec.method.split(",")]


def concrete(spec: RouteSpec, params: dict[str, Any]) -> str:
    unknown = [m.group(2) for m in PARAM.finditer(spec.path) if m.group(2) not in params]
    assert not unknown, (f"{spec.name} ({spec.path}) has path parameters {unknown} that the "
                         "access matrix does not know: add a real value of department B's "
                         "to the table in world()")
    return PARAM.sub(lambda m: str(params[m.group(2)]), spec.path)


def body_for(spec: RouteSpec) -> dict[str, Any] | None:
    """A body that passes validation, so that what answers is the access rule."""
    if not spec.body:
        return None
    schema = SCHEMAS[spec.body]
    body: dict[str, Any] = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        if "enum" in prop:
            body[name] = prop["enum"][0]
        else:
            body[name] = {"integer": 1, "boolean": True, "array": [B],
                          "object": {}}.get(prop.get("type", "string"), TEXT)
    if spec.body == "Return":
        body["reason_code"] = "territory"
    if spec.body == "Article":  # an entry of B's: a department writes for itself only
        body["department_code"] = B
    return body


def call(client: HotlineClient, spec: RouteSpec, method: str, params: dict[str, Any]
         ) -> requests.Response:
    special = {"today": business_today().isoformat(), "this_quarter": THIS_QUARTER}
    query = {k: special.get(v, v) for k, v in SHARED.get(spec.name, {}).items()}
    return client.raw(method, concrete(spec, params), json=body_for(spec),
                      params=query if method == "GET" else None)


def denied_count(admin: HotlineClient, actor: str) -> int:
    return len(admin.audit_log(action="access.denied", actor=actor, limit=500)["items"])


class TestAccessMatrix:
    def test_every_path_parameter_is_in_the_table(self, world: dict[str, Any]) -> None:
        for spec in ROUTES:
            if spec.action is not None:  # the routes the matrix calls
                concrete(spec, world["params"])

    @pytest.mark.parametrize("caller", ["user_a", "key_a"])
    def test_department_a_never_reaches_department_bs_orders(
            self, system: System, world: dict[str, Any], caller: str) -> None:
        client, params = world[caller], world["params"]
        admin = system.login("admin")
        actor = f"dept_{A}" if caller == "user_a" else f"apikey:{world['key_a_id']}"
        before = denied_count(admin, actor)
        refused, problems = 0, []
        for spec, method in protected_api_routes():
            r = call(client, spec, method, params)
            where = f"{method} {spec.path} → {r.status_code} {r.text[:200]}"
            if "department" not in PERMISSIONS[spec.action]:  # type: ignore[index]
                ok = r.status_code == 403
            elif spec.name in SHARED:
                ok = r.status_code == 200 and not shows_b(spec, r.json(), world)
            elif spec.department_scoped:
                ok = r.status_code in (403, 404)
            else:
                pytest.fail(f"{spec.name}: a department may call it, but it is neither "
                            "department-scoped nor listed in SHARED — classify it")
            if not ok:
                problems.append(where)
            refused += r.status_code in (403, 404)
        assert problems == []
        assert refused > 30
        # every refusal is on record, with the route and the target
        assert denied_count(admin, actor) - before == refused

    def test_an_open311_client_key_may_do_nothing_in_the_api(self, world: dict[str, Any]) -> None:
        problems = [f"{m} {s.path} → {r.status_code}" for s, m in protected_api_routes()
                    if (r := call(world["client"], s, m, world["params"])).status_code != 403]
        assert problems == []

    def test_a_key_without_the_assignments_scope_is_refused_everywhere(
            self, world: dict[str, Any]) -> None:
        problems = [f"{m} {s.path} → {r.status_code}" for s, m in protected_api_routes()
                    if (r := call(world["narrow"], s, m, world["params"])).status_code != 403]
        assert problems == []
        r = world["narrow"].raw("POST", f"/api/v1/assignments/{world['lead']['id']}/sign")
        assert r.json()["error"]["scope"] == "assignments"

    def test_no_credentials_is_401_on_every_protected_route(self, world: dict[str, Any]) -> None:
        routes = [(s, m) for s in ROUTES if s.action is not None for m in s.method.split(",")]
        problems = [f"{m} {s.path} → {r.status_code}" for s, m in routes
                    if (r := call(world["anonymous"], s, m, world["params"])).status_code != 401]
        assert problems == []


def shows_b(spec: RouteSpec, body: Any, world: dict[str, Any]) -> bool:
    """Whether a shared route's answer shows department A something of department B's."""
    if spec.name == "kpis":
        return any(row["group"] != A for row in body["rows"])
    if spec.name == "list_instructions":
        return world["instruction"] in [i["id"] for i in body["items"]]
    if spec.name == "assessment_list":
        return any(r["department_code"] != A for r in body["results"])
    if spec.name == "assessment_history":
        return body["department_code"] != A or any(
            r["department_code"] != A for r in body["revisions"])
    if spec.name == "assessment_items":
        return any(i["department_code"] != A for i in body["items"])
    if spec.name == "assessment_objections":
        return any(o["department_code"] != A for o in body["objections"])
    if spec.name == "periodic_reports":
        return any(r["status"] != "published" for r in body["items"])
    if spec.name == "kb_articles":
        return any(a["department_code"] != A for a in body["items"])
    if spec.name == "kb_monitor":
        rows = [r for key in ("opened", "resolved", "never_used", "review_overdue")
                for r in body[key]]
        return body["department_code"] != A or any(r["department_code"] != A for r in rows)
    return False


class TestDepartmentSystems:
    def test_a_reply_for_another_departments_order_is_404_and_audited(
            self, system: System, world: dict[str, Any]) -> None:
        lead = world["lead"]
        r = world["key_a"].raw("POST", f"/api/v1/assignments/{lead['id']}/reply",
                               json={"reply": "不是我们的单"})
        assert r.status_code == 404 and str(lead["id"]) in r.text
        entry = system.login("admin").audit_log(
            action="access.denied", actor=f"apikey:{world['key_a_id']}")["items"][0]
        assert entry["target"] == f"assignment_id={lead['id']}"
        assert entry["detail"]["route"] == "POST /api/v1/assignments/<int:assignment_id>/reply"
        assert entry["detail"]["status"] == 404
        detail = system.login("supervisor1").ticket(world["no"])
        assert not next(a for a in detail["assignments"] if a["id"] == lead["id"]).get("reply")

    def test_key_administration(self, system: System) -> None:
        admin = system.login("admin")
        issued = admin.issue_api_key(A, "环保12345接口", scopes=["assignments"])
        listed = admin.api_keys(department_code=A)["items"]
        mine = next(k for k in listed if k["key_id"] == issued["key_id"])
        assert mine == {**mine, "kind": "department", "scopes": ["assignments"],
                        "name": "环保12345接口", "revoked_at": None}
        assert issued["api_key"] not in str(admin.api_keys())
        for body, field in [({"department_code": "mars"}, "department_code"),
                            ({"department_code": A, "scopes": ["root"]}, "scopes"),
                            ({"scopes": ["open311"]}, "name")]:
            r = admin.raw("POST", "/api/v1/admin/api-keys", json=body)
            assert r.status_code == 422 and field in r.json()["error"]["fields"]
        r = system.login(f"dept_{A}").raw("GET", "/api/v1/admin/api-keys")
        assert r.status_code == 403

    def test_a_revoked_key_stops_at_once_and_is_audited(self, system: System) -> None:
        admin = system.login("admin")
        issued = admin.issue_api_key(A)
        key = HotlineClient(system.url, api_key=issued["api_key"])
        assert key.inbox(A)["items"] is not None
        admin.revoke_api_key(issued["key_id"])
        r = key.raw("GET", f"/api/v1/departments/{A}/inbox")
        assert r.status_code == 401
        [rejected] = admin.audit_log(action="auth.api_key_rejected",
                                     target=issued["key_id"])["items"]
        assert rejected["detail"]["reason"] == "revoked"
        assert admin.audit_log(action="api_key.revoked", target=issued["key_id"])["items"]
        listed = next(k for k in admin.api_keys()["items"] if k["key_id"] == issued["key_id"])
        assert listed["revoked_at"]

    def test_unknown_and_malformed_keys_are_401_and_audited(self, system: System) -> None:
        admin = system.login("admin")
        for text, reason in (("hk_00000000_nosuchsecret", "unknown"), ("garbage", "malformed")):
            r = HotlineClient(system.url, api_key=text).raw("GET", f"/api/v1/departments/{A}/inbox")
            assert r.status_code == 401
            newest = admin.audit_log(action="auth.api_key_rejected")["items"][0]
            assert newest["detail"]["reason"] == reason

    def test_a_deactivated_users_token_stops_working(self, system: System) -> None:
        admin, agent = system.login("admin"), system.login("agent2")
        assert agent.tickets(limit=1) is not None
        admin.set_user_active("agent2", False)
        try:
            r = agent.raw("GET", "/api/v1/tickets")
            assert r.status_code == 401 and r.json()["error"]["reason"] == "inactive"
            with pytest.raises(ApiError) as err:
                system.login("agent2")
            assert err.value.status == 401
        finally:
            admin.set_user_active("agent2", True)
        assert agent.tickets(limit=1) is not None  # the same token, the account active again


class TestIdempotentActions:
    def new_lead(self, system: System) -> tuple[str, dict[str, Any]]:
        agent = system.login("agent1")
        no = agent.register(ORDER)["ticket_no"]
        lead = lead_of(agent, no)
        wait_for(lambda: lead_of(agent, no)["clock"], what="clock")
        return no, lead

    def test_a_repeated_sign_is_replayed_not_repeated(self, system: System) -> None:
        _, lead = self.new_lead(system)
        key = HotlineClient(system.url, api_key=system.login("admin").issue_api_key(B)["api_key"])
        path, h = f"/api/v1/assignments/{lead['id']}/sign", {"Idempotency-Key": str(uuid.uuid4())}
        first = key.raw("POST", path, h)
        again = key.raw("POST", path, h)
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json() and first.json()["state"] == "signed"
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        # the replay did not sign again: a real second sign is refused
        fresh = key.raw("POST", path, {"Idempotency-Key": str(uuid.uuid4())})
        assert fresh.status_code == 409 and fresh.json()["error"]["state"] == "signed"
        assert key.raw("POST", path, h).status_code == 200  # still the stored answer

    def test_a_repeated_reply_gives_one_reply(self, system: System) -> None:
        no, lead = self.new_lead(system)
        dept = system.login(f"dept_{B}")
        dept.sign(lead["id"])
        system.give_opinions(no)
        path, key = f"/api/v1/assignments/{lead['id']}/reply", str(uuid.uuid4())
        first = dept.act(path, {"reply": "已责令退出占道。"}, idempotency_key=key)
        again = dept.raw("POST", path, {"Idempotency-Key": key}, json={"reply": "已责令退出占道。"})
        assert again.status_code == 200 and again.json() == first
        assert again.headers["Idempotent-Replayed"] == "true"
        other = dept.raw("POST", path, {"Idempotency-Key": key}, json={"reply": "另一答复"})
        assert other.status_code == 422
        assert "different request" in other.json()["error"]["fields"]["Idempotency-Key"][0]
        sup = system.login("supervisor1")
        wait_for(lambda: sup.ticket(no)["status"] == "replied", what="replied")
        history = [h["to_status"] for h in sup.ticket(no)["lifecycle"]["history"]]
        assert history.count("replied") == 1

    def test_a_failed_validation_is_replayed_too(self, system: System) -> None:
        _, lead = self.new_lead(system)
        dept = system.login(f"dept_{B}")
        path, h = f"/api/v1/assignments/{lead['id']}/extension", {"Idempotency-Key": "ext-bad"}
        first = dept.raw("POST", path, h, json={"days": 2})
        again = dept.raw("POST", path, h, json={"days": 2})
        assert first.status_code == again.status_code == 422
        assert again.json()["error"]["fields"] == first.json()["error"]["fields"]
        assert again.headers["Idempotent-Replayed"] == "true"

    @pytest.mark.parametrize("value", ["", "k" * 81])
    def test_an_unfit_key_is_422_naming_the_header(self, system: System, value: str) -> None:
        dept = system.login(f"dept_{B}")
        r = dept.raw("POST", "/api/v1/assignments/1/sign", {"Idempotency-Key": value})
        assert r.status_code == 422 and "Idempotency-Key" in r.json()["error"]["fields"]

    def test_the_openapi_document_shows_the_header_and_the_scope(self, system: System) -> None:
        doc = requests.get(f"{system.url}/api/v1/openapi.json", timeout=5).json()
        sign = doc["paths"]["/api/v1/assignments/{assignment_id}/sign"]["post"]
        assert any(p["name"] == "Idempotency-Key" for p in sign["parameters"])
        assert sign["x-api-key-scope"] == "assignments"
        assert doc["paths"]["/api/v1/tickets/{ticket_no}/dispatch"]["post"][
            "x-api-key-scope"] is None
