"""Open311 GeoReport v2 conformance over HTTP, every service running as a process
(docs/OPEN311.md; mySociety's servicerequestupdates).

Every method in both formats (the XML parsed with xml.etree and its structure checked), every
error in the spec's format and status, paging, the status mapping through a real lifecycle
(dispatch → sign → extension → the department system's CLOSED update, its reply → callback →
closed), confidential orders never listed, personal fields never present.

API keys are issued by writing the gateway's database through ``services.gateway.access``
(the admin route for Open311 client keys belongs to another part of Step 3).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from hotline.client import Open311Client, wait_for
from services.gateway import access
from services.gateway.open311_format import REQUEST_FIELDS
from shared.config import database_url, load_config
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

FORMATS = ("json", "xml")
PERSONAL = {"email": "wang.e2e@example.com", "first_name": "小明", "last_name": "王",
            "phone": "13912340000", "device_id": "device-e2e-1", "account_id": "acct-e2e-1"}
COMPLAINT = {"service_code": "complaint", "attribute[subject]": "滨江路烧烤摊",
             "attribute[urgency]": "urgent", "address_string": "泸州市江阳区滨江路12号",
             "lat": "28.8717", "long": "105.4423", "media_url": "https://img.example/o311.jpg",
             "description": "滨江路烧烤摊占道经营，油烟扰民，晚上十点后仍在营业。"}


class _Uow:
    def __init__(self, url: str):
        self.session = Session(create_engine(url, connect_args={"timeout": 30}
                                             if url.startswith("sqlite") else {}))

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


@pytest.fixture(scope="module")
def keys(system: System) -> dict[str, str]:
    uow = _Uow(database_url(load_config(env=system.env), "gateway"))
    made = {
        "client": access.create_api_key(uow, None, "e2e app", "admin")["api_key"],
        "unscoped": access.create_api_key(uow, None, "no scope", "admin",
                                          scopes=["assignments"])["api_key"],
        "revoked": access.create_api_key(uow, None, "old app", "admin"),
    }
    access.revoke_api_key(uow, made["revoked"]["key_id"], "admin")
    made["revoked"] = made["revoked"]["api_key"]
    return made


@pytest.fixture(scope="module")
def o311(system: System, keys: dict[str, str]) -> Open311Client:
    return Open311Client(system.url, keys["client"])


def department_key(system: System, code: str) -> str:
    admin = system.login("admin")
    return admin.request("POST", "/api/v1/admin/api-keys", json={"department_code": code})["api_key"]


def xml(r: Any) -> ET.Element:
    assert r.headers["Content-Type"].startswith("text/xml"), r.headers["Content-Type"]
    assert r.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(r.content)


def errors_of(r: Any, fmt: str) -> list[tuple[int, str]]:
    """The spec's error answer, either format, as (code, description) pairs."""
    if fmt == "json":
        assert r.headers["Content-Type"].startswith("application/json")
        return [(e["code"], e["description"]) for e in r.json()]
    root = xml(r)
    assert root.tag == "errors" and all(e.tag == "error" for e in root)
    return [(int(e.findtext("code") or 0), e.findtext("description") or "") for e in root]


def assert_error(r: Any, fmt: str, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    errs = errors_of(r, fmt)
    assert errs and all(code == status for code, _ in errs), errs
    assert any(text in d for _, d in errs), errs


def submit(o311: Open311Client, **extra: Any) -> dict[str, Any]:
    return o311.submit(**{**COMPLAINT, **extra})


class TestDiscoveryAndServices:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_discovery(self, o311: Open311Client, fmt: str) -> None:
        r = o311.raw("GET", "discovery", fmt)
        assert r.status_code == 200
        if fmt == "json":
            doc = r.json()
            [endpoint] = doc["endpoints"]
            assert endpoint["url"].endswith("/open311/v2")
            assert set(endpoint["formats"]) == {"text/xml", "application/json"}
            assert {"changeset", "contact", "key_service"} <= set(doc)
        else:
            root = xml(r)
            assert root.tag == "discovery"
            endpoint = root.find("endpoints/endpoint")
            assert endpoint is not None and endpoint.findtext("specification", "").startswith(
                "http://wiki.open311.org/GeoReport_v2")
            assert [f.text for f in endpoint.findall("formats/format")] == [
                "text/xml", "application/json"]

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_services_are_our_categories_in_chinese(self, o311: Open311Client, fmt: str) -> None:
        r = o311.raw("GET", "services", fmt)
        assert r.status_code == 200
        if fmt == "json":
            items = r.json()
        else:
            root = xml(r)
            assert root.tag == "services"
            items = [{c.tag: c.text for c in s} for s in root.findall("service")]
            assert all(i["metadata"] in ("true", "false") for i in items)
        by_code = {i["service_code"]: i for i in items}
        assert by_code["complaint"]["service_name"] == "投诉"
        assert by_code["consultation"]["service_name"] == "咨询"
        assert {i["type"] for i in items} == {"realtime"}
        assert all(set(i) == {"service_code", "service_name", "description", "metadata",
                              "type", "keywords", "group"} for i in items)

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_service_definition(self, o311: Open311Client, fmt: str) -> None:
        r = o311.raw("GET", "services/complaint", fmt)
        assert r.status_code == 200
        if fmt == "json":
            doc = r.json()
            attrs = {a["code"]: a for a in doc["attributes"]}
            assert doc["service_code"] == "complaint"
            assert attrs["subject"]["required"] is True
            assert attrs["urgency"]["datatype"] == "singlevaluelist"
            assert {v["key"] for v in attrs["urgency"]["values"]} == {"normal", "urgent"}
        else:
            root = xml(r)
            assert root.tag == "service_definition"
            assert root.findtext("service_code") == "complaint"
            attrs_x = {a.findtext("code"): a for a in root.findall("attributes/attribute")}
            assert attrs_x["subject"].findtext("required") == "true"
            territory = {v.findtext("key"): v.findtext("name")
                         for v in attrs_x["territory"].findall("values/value")}
            assert territory["510502001"] == "江阳区南城街道"
            assert attrs_x["urgency"].findtext("datatype") == "singlevaluelist"
            assert [v.findtext("key") for v in attrs_x["urgency"].findall("values/value")] == [
                "normal", "urgent"]
            assert set(c.tag for c in attrs_x["urgency"]) == {
                "variable", "code", "datatype", "required", "datatype_description", "order",
                "description", "values"}

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_unknown_service_jurisdiction_resource_and_format(self, o311: Open311Client,
                                                              fmt: str) -> None:
        assert_error(o311.raw("GET", "services/nosuch", fmt), fmt, 404, "nosuch")
        assert_error(o311.raw("GET", "services", fmt, params={"jurisdiction_id": "elsewhere"}),
                     fmt, 404, "jurisdiction_id")
        assert_error(o311.raw("GET", "nothing", fmt), fmt, 404, "no such resource")
        assert o311.raw("GET", "services", fmt, params={"jurisdiction_id": "12345"}).status_code == 200
        r = o311.raw("GET", "services", "html")
        assert_error(r, "xml", 404, "format")


class TestPostRequests:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_submit_answers_the_order_and_a_token(self, o311: Open311Client, fmt: str) -> None:
        r = o311.raw("POST", "requests", fmt, data={**COMPLAINT, **PERSONAL,
                                                    "api_key": o311.api_key})
        assert r.status_code == 200, r.text
        if fmt == "json":
            [item] = r.json()
        else:
            root = xml(r)
            assert root.tag == "service_requests"
            [req] = root.findall("request")
            item = {c.tag: c.text for c in req}
        assert set(item) == {"service_request_id", "service_notice", "account_id", "token"}
        assert item["account_id"] == PERSONAL["account_id"]
        assert item["service_request_id"] in item["service_notice"]
        found = o311.raw("GET", f"tokens/{item['token']}", fmt)
        assert found.status_code == 200
        if fmt == "json":
            assert found.json() == [{"service_request_id": item["service_request_id"],
                                     "token": item["token"]}]
        else:
            [tok] = xml(found).findall("request")
            assert (tok.findtext("service_request_id"), tok.findtext("token")) == (
                item["service_request_id"], item["token"])

    def test_a_retry_with_the_same_idempotency_key_returns_the_first_order(
            self, o311: Open311Client) -> None:
        key = f"retry-{uuid.uuid4().hex[:8]}"
        first = o311.submit(idempotency_key=key, **COMPLAINT)
        again = o311.submit(idempotency_key=key, **COMPLAINT)
        other = o311.submit(**COMPLAINT)
        assert again["service_request_id"] == first["service_request_id"]
        assert again["token"] == first["token"]
        assert other["service_request_id"] != first["service_request_id"]

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_bad_input_is_400(self, o311: Open311Client, fmt: str) -> None:
        def post(**form: Any) -> Any:
            return o311.raw("POST", "requests", fmt, data={"api_key": o311.api_key, **form})

        located = {k: v for k, v in COMPLAINT.items() if k != "service_code"}
        assert_error(post(**located), fmt, 400, "service_code")
        assert_error(post(**{**COMPLAINT, "service_code": "nosuch"}), fmt, 400, "nosuch")
        unlocated = {k: v for k, v in COMPLAINT.items()
                     if k not in ("lat", "long", "address_string")}
        assert_error(post(**unlocated), fmt, 400, "location")
        assert_error(post(**{**unlocated, "lat": "28.8"}), fmt, 400, "lat")
        assert_error(post(**{**COMPLAINT, "description": "长" * 4001}), fmt, 400, "4000")
        assert post(**{**COMPLAINT, "description": "长" * 4000}).status_code == 200
        no_subject = {k: v for k, v in COMPLAINT.items() if k != "attribute[subject]"}
        assert_error(post(**no_subject), fmt, 400, "attribute[subject]")
        assert_error(post(**{**COMPLAINT, "attribute[urgency]": "critical"}), fmt, 400,
                     "attribute[urgency]")
        assert_error(post(**{**COMPLAINT, "phone": "12345"}), fmt, 400, "phone")
        assert_error(post(**{**COMPLAINT, "attribute[territory]": "999"}), fmt, 400,
                     "attribute[territory]")
        # only the address: enough
        assert post(service_code="consultation", address_string="江阳区政务中心",
                    description="办理居住证需要什么材料？").status_code == 200
        assert_error(post(**{**COMPLAINT, "jurisdiction_id": "elsewhere"}), fmt, 404,
                     "jurisdiction_id")

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_api_key_missing_invalid_revoked_unscoped_is_403(
            self, system: System, o311: Open311Client, keys: dict[str, str], fmt: str) -> None:
        assert_error(o311.raw("POST", "requests", fmt, data=COMPLAINT), fmt, 403, "api_key")
        for key in ("hk_deadbeef_nothing", "not-a-key", keys["revoked"], keys["unscoped"]):
            assert_error(o311.raw("POST", "requests", fmt, data={**COMPLAINT, "api_key": key}),
                         fmt, 403, "")
        audit = system.login("admin").request("GET", "/api/v1/admin/audit",
                                              params={"action": "auth.api_key_rejected"})
        reasons = {e["target"]: e["detail"]["reason"] for e in audit["items"]}
        assert reasons.get("deadbeef") == "unknown"
        assert "revoked" in reasons.values()


class TestGetRequests:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_fields_exactly_and_no_personal_field(self, o311: Open311Client, fmt: str) -> None:
        no = o311.submit(**COMPLAINT, **PERSONAL)["service_request_id"]
        r = o311.raw("GET", f"requests/{no}", fmt)
        assert r.status_code == 200
        if fmt == "json":
            [item] = r.json()
            assert tuple(item) == REQUEST_FIELDS
        else:
            root = xml(r)
            assert root.tag == "service_requests"
            [req] = root.findall("request")
            assert tuple(c.tag for c in req) == REQUEST_FIELDS
            item = {c.tag: c.text for c in req}
        assert item["service_request_id"] == no and item["service_code"] == "complaint"
        assert item["service_name"] == "投诉" and item["status"] == "open"
        assert item["description"].endswith(COMPLAINT["description"])
        assert float(item["lat"]) == 28.8717 and item["address"] == COMPLAINT["address_string"]
        assert item["requested_datetime"].endswith("Z")
        for value in PERSONAL.values():
            assert value not in r.text
        listed = o311.raw("GET", "requests", fmt, params={"service_request_id": no})
        for value in PERSONAL.values():
            assert value not in listed.text

    def test_filters_limits_and_paging(self, o311: Open311Client) -> None:
        nos = [o311.submit(**{**COMPLAINT, "service_code": code, "attribute[subject]": "x"})[
            "service_request_id"] for code in ("report", "report", "suggestion")]
        ids = ",".join(nos)
        got = o311.get("requests", service_request_id=ids)
        assert sorted(i["service_request_id"] for i in got) == sorted(nos)
        # service_request_id overrides every other filter
        assert len(o311.get("requests", service_request_id=ids, service_code="praise",
                            status="closed")) == 3
        r = o311.raw("GET", "requests", params={"service_request_id": ids, "page_size": 2})
        assert r.headers["X-Total-Count"] == "3"
        page1 = o311.get("requests", service_request_id=ids, page_size=2)
        page2 = o311.get("requests", service_request_id=ids, page_size=2, page=2)
        assert len(page1) == 2 and len(page2) == 1
        assert {i["service_request_id"] for i in page1 + page2} == set(nos)
        reports = o311.get("requests", service_code="report,suggestion")
        assert set(nos) <= {i["service_request_id"] for i in reports}
        assert {i["service_code"] for i in reports} <= {"report", "suggestion"}
        assert not {i["service_request_id"] for i in o311.get("requests", status="closed")} & set(nos)
        assert set(nos) <= {i["service_request_id"] for i in o311.get("requests", status="open")}
        future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert o311.get("requests", start_date=future) == []
        start = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S+08:00")
        assert set(nos) <= {i["service_request_id"] for i in o311.get("requests",
                                                                      start_date=start)}
        assert len(o311.get("requests", page_size=1)) == 1

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_bad_query_is_400_unknown_is_404(self, o311: Open311Client, fmt: str) -> None:
        def get(resource: str = "requests", **params: Any) -> Any:
            return o311.raw("GET", resource, fmt, params=params)

        assert_error(get(start_date="2026-11-01"), fmt, 400, "start_date")
        assert_error(get(end_date="yesterday"), fmt, 400, "end_date")
        assert_error(get(start_date="2026-01-01T00:00:00Z", end_date="2026-05-01T00:00:00Z"),
                     fmt, 400, "90")
        assert_error(get(start_date="2026-05-01T00:00:00Z", end_date="2026-04-01T00:00:00Z"),
                     fmt, 400, "end_date")
        assert_error(get(status="pending"), fmt, 400, "status")
        assert_error(get(page_size="1001"), fmt, 400, "page_size")
        assert_error(get(service_code="nosuch"), fmt, 400, "nosuch")
        assert_error(get("requests/20990101000001"), fmt, 404, "20990101000001")
        assert_error(get("tokens/no-such-token"), fmt, 404, "token")
        assert_error(get(jurisdiction_id="elsewhere"), fmt, 404, "jurisdiction_id")
        assert_error(get("servicerequestupdates", start_date="bad"), fmt, 400, "start_date")

    def test_confidential_never_listed_phoned_orders_without_personal_data(
            self, system: System, o311: Open311Client) -> None:
        agent = system.login("agent1")
        order = {"category": "complaint", "phone": "13912349876", "caller_name": "钱秘密",
                 "address": "江阳区某单位", "territory_code": "510502001002",
                 "content": "反映某单位内部问题，请求保密处理。"}
        secret = agent.register({**order, "confidential": True})["ticket_no"]
        phoned = agent.register(order)["ticket_no"]
        wait_for(lambda: o311.get(f"requests/{phoned}"), what="the phoned order listed")
        for fmt in FORMATS:
            assert_error(o311.raw("GET", f"requests/{secret}", fmt), fmt, 404, secret)
            listed = o311.raw("GET", "requests", fmt,
                              params={"service_request_id": f"{secret},{phoned}"})
            assert secret not in listed.text and phoned in listed.text
            assert "13912349876" not in listed.text and "钱秘密" not in listed.text
            assert order["content"] not in listed.text and order["address"] not in listed.text
        everything = o311.raw("GET", "requests", "json").text
        assert secret not in everything
        [item] = o311.get("requests", service_request_id=phoned)
        assert item["description"] is None and item["lat"] is None


class TestLifecycle:
    def test_status_mapping_dispatch_extension_department_update_reply_close(
            self, system: System, o311: Open311Client) -> None:
        # 白招牌社区 (南城街道): 城管 leads, the street assists (the demo catalogue)
        no = submit(o311, **PERSONAL, **{"attribute[territory]": "510502001001"})[
            "service_request_id"]
        supervisor, dispatcher = system.login("supervisor1"), system.login("dispatcher1")

        def lead() -> dict[str, Any] | None:
            return next((a for a in supervisor.ticket(no)["assignments"]
                         if a["role"] == "lead" and a["clock"]), None)

        def queued() -> bool:
            return any(i["ticket_no"] == no for i in dispatcher.dispatch_queue(limit=500)["items"])

        wait_for(lambda: supervisor.ticket(no)["assignments"] or queued(), what="routed")
        if not supervisor.ticket(no)["assignments"]:  # 预审: a dispatcher chooses
            dispatcher.dispatch(no, lead="chengguan", reason="占道经营属城管")
        a = wait_for(lead, what="the lead's clock")
        dept_name = next(d["name"] for d in supervisor.request("GET", "/api/v1/departments")[
            "items"] if d["code"] == a["department_code"])

        item = wait_for(lambda: (i := o311.get(f"requests/{no}")[0])["expected_datetime"]
                        and i, what="dispatched in Open311")
        assert (item["status"], item["status_notes"]) == ("open", "已派单")
        assert item["agency_responsible"] == dept_name
        handle_due = datetime.fromisoformat(a["clock"]["handle_due"])
        assert datetime.fromisoformat(item["expected_datetime"].replace("Z", "+00:00")) == \
            handle_due.replace(microsecond=0)

        dept = system.login(f"dept_{a['department_code']}")
        dept.sign(a["id"])
        wait_for(lambda: o311.get(f"requests/{no}")[0]["status_notes"] == "办理中",
                 what="办理中")
        ext = dept.request("POST", f"/api/v1/assignments/{a['id']}/extension",
                           json={"days": 3, "reason": "需协调商户搬迁"})
        supervisor.request("POST", f"/api/v1/extensions/{ext['id']}/decision",
                           json={"approve": True, "note": "同意"})
        item = wait_for(lambda: (i := o311.get(f"requests/{no}")[0])["status_notes"] == "延期中"
                        and i, what="延期中")
        assert item["expected_datetime"] > o311.get(f"requests/{no}")[0]["requested_datetime"]
        assert datetime.fromisoformat(item["expected_datetime"].replace("Z", "+00:00")) > \
            handle_due.replace(microsecond=0)

        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assists = [x for x in supervisor.ticket(no)["assignments"] if x["role"] == "assist"]
        assert assists, "the street assists an order of its territory"
        for assist in assists:
            # an assisting department's system: its CLOSED update is its opinion (协办意见)
            helper = Open311Client(system.url, department_key(system, assist["department_code"]))
            got = helper.post_update(service_request_id=no, update_id="op-1", status="closed",
                                     updated_datetime=stamp, description="已配合处理。")
            assert got == {"update_id": f"opinion-{assist['id']}"}
            assert helper.post_update(service_request_id=no, update_id="op-1",
                                      status="closed", updated_datetime=stamp,
                                      description="已配合处理。") == got  # a retry
        system.give_opinions(no)  # any assistant still owing one
        key = department_key(system, a["department_code"])
        other = department_key(system, "shuiwu" if a["department_code"] != "shuiwu" else "jiaotong")
        update = {"service_request_id": no, "update_id": "ext-1", "status": "CLOSED",
                  "updated_datetime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "description": "已取缔占道烧烤摊，督促商户安装油烟净化设备。"}
        client_key = Open311Client(system.url, key)
        for fmt in FORMATS:  # another department's system: not its order
            r = client_key.raw("POST", "servicerequestupdates", fmt,
                               data={**update, "api_key": other})
            assert_error(r, fmt, 404, no)
        r = client_key.raw("POST", "servicerequestupdates", "xml",
                           data={**update, "api_key": o311.api_key})
        assert_error(r, "xml", 403, "department")  # an Open311 client key is no department
        r = client_key.raw("POST", "servicerequestupdates", "json",
                           data={k: v for k, v in update.items() if k != "status"} | {
                               "api_key": key})
        assert_error(r, "json", 400, "status")
        r = client_key.raw("POST", "servicerequestupdates", "xml", data={**update, "api_key": key})
        assert r.status_code == 200, r.text
        root = xml(r)
        assert root.tag == "service_request_updates"
        assert root.findtext("request_update/update_id") == f"reply-{a['id']}"
        again = client_key.post_update(**update)  # a retry of the same update
        assert again == {"update_id": f"reply-{a['id']}"}
        r = client_key.raw("POST", "servicerequestupdates", "json", data=update,
                           headers={"X-Api-Key": key})  # the REST API's header works too
        assert r.json() == [{"update_id": f"reply-{a['id']}"}]

        item = wait_for(lambda: (i := o311.get(f"requests/{no}")[0])["status_notes"]
                        == "已答复待回访" and i, what="已答复待回访")
        assert item["status"] == "open" and item["service_notice"] == update["description"]

        supervisor.request("POST", f"/api/v1/tickets/{no}/callback", json={
            "reached": True, "solved": True, "satisfaction": "satisfied"})
        item = wait_for(lambda: (i := o311.get(f"requests/{no}")[0])["status"] == "closed"
                        and i, what="closed")
        assert item["status_notes"] == "办结"
        assert no in {i["service_request_id"] for i in o311.get("requests", status="closed")}

        start = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for fmt in FORMATS:
            r = o311.raw("GET", "servicerequestupdates", fmt, params={"start_date": start})
            assert r.status_code == 200
            if fmt == "json":
                steps = [s for s in r.json() if s["service_request_id"] == no]
            else:
                root = xml(r)
                assert root.tag == "service_request_updates"
                steps = [{c.tag: c.text for c in u} for u in root.findall("request_update")
                         if u.findtext("service_request_id") == no]
            assert all(set(s) == {"update_id", "service_request_id", "status",
                                  "updated_datetime", "description", "media_url"} for s in steps)
            assert update["description"] in [s["description"] for s in steps]
            assert steps[-1]["status"] == "closed"
            for value in PERSONAL.values():
                assert value not in r.text

    def test_an_open_update_is_a_progress_note(self, system: System,
                                               o311: Open311Client) -> None:
        no = submit(o311)["service_request_id"]
        supervisor, dispatcher = system.login("supervisor1"), system.login("dispatcher1")
        wait_for(lambda: supervisor.ticket(no)["assignments"] or any(
            i["ticket_no"] == no for i in dispatcher.dispatch_queue(limit=500)["items"]),
            what="routed")
        if not supervisor.ticket(no)["assignments"]:
            dispatcher.dispatch(no, lead="chengguan", reason="占道经营属城管")
        a = wait_for(lambda: next((x for x in supervisor.ticket(no)["assignments"]
                                   if x["role"] == "lead"), None), what="the lead")
        dept = Open311Client(system.url, department_key(system, a["department_code"]))
        got = dept.post_update(service_request_id=no, update_id="p-1", status="OPEN",
                               updated_datetime=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               description="已现场核实，正在约谈商户。")
        assert got["update_id"].startswith("note-")
        start = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        wait_for(lambda: any(s["description"] == "已现场核实，正在约谈商户。"
                             for s in o311.get("servicerequestupdates", start_date=start)),
                 what="the note among the updates")
