"""Service layer: the gateway's hotspot routes (热点) through ``worker_factory`` with real
werkzeug requests. Real: the gateway's database and access rules. Replaced: reporting, as a
``Mock`` — what reaches it is what the routes decided to send."""

from __future__ import annotations

from typing import Any
from unittest.mock import Mock

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import access
from services.gateway.service import GatewayService
from shared.errors import Forbidden
from tests.service.conftest import Worker
from tests.service.test_gateway_inbound import CONFIG, token


@pytest.fixture
def db(store: Any) -> Any:
    db = store("gateway")
    access.upsert_users(db.unit_of_work(), [
        {"username": u, "password": "pw", "role": role, "department_code": dept}
        for u, role, dept in (("supervisor1", "supervisor", None), ("leader1", "leader", None),
                              ("dispatcher1", "dispatcher", None), ("agent1", "agent", None),
                              ("dept_cg", "department", "chengguan"))])
    return db


def call(db: Any, reporting: Mock, name: str, req: Request, **values: Any) -> Any:
    return getattr(Worker(GatewayService, db, config=CONFIG, reporting=reporting), name)(
        req, **values)


def req(method: str, path: str, headers: dict[str, str], query: dict[str, str] | None = None,
        body: bytes | None = None) -> Request:
    r = Request(EnvironBuilder(method=method, path=path, headers=headers, query_string=query,
                               data=body, content_type="application/json").get_environ())
    r.path_values = {}
    return r


def test_top_lists_pass_the_window_and_the_viewer(db: Any) -> None:
    reporting = Mock()
    reporting.hotspot_top.return_value = {"total_calls": 0}
    call(db, reporting, "hotspot_top", req("GET", "/api/v1/reports/hotspots",
         token("leader1", "leader"), {"period": "2026-11", "limit": "5", "other": "x"}))
    query, viewer = reporting.hotspot_top.call_args.args
    assert query == {"period": "2026-11", "limit": "5"}
    assert viewer == {"role": "leader", "department_code": None, "via": "token"}


def test_alerts_for_the_center_acknowledge_for_supervisors(db: Any) -> None:
    reporting = Mock()
    call(db, reporting, "hotspot_alerts", req("GET", "/api/v1/reports/hotspots/alerts",
         token("dispatcher1", "dispatcher"), {"status": "all"}))
    assert reporting.hotspot_alerts.call_args.args[0] == {"status": "all"}
    call(db, reporting, "hotspot_acknowledge", req(
        "POST", "/api/v1/reports/hotspots/alerts/7/acknowledge",
        token("supervisor1", "supervisor"), body='{"note": "已通知"}'.encode()), alert_id=7)
    alert_id, body, actor, viewer = reporting.acknowledge_hotspot.call_args.args
    assert (alert_id, body, viewer["role"]) == (7, {"note": "已通知"}, "supervisor")
    assert "supervisor1" in actor


@pytest.mark.parametrize("name,who,path", [
    ("hotspot_top", ("dept_cg", "department", "chengguan"), "/api/v1/reports/hotspots"),
    ("hotspot_top", ("agent1", "agent", None), "/api/v1/reports/hotspots"),
    ("hotspot_alerts", ("dept_cg", "department", "chengguan"),
     "/api/v1/reports/hotspots/alerts")])
def test_others_may_not_read(db: Any, name: str, who: tuple[str, str, str | None],
                             path: str) -> None:
    reporting = Mock()
    with pytest.raises(Forbidden):
        call(db, reporting, name, req("GET", path, token(*who)))
    assert not reporting.method_calls


@pytest.mark.parametrize("who", [("leader1", "leader", None), ("dispatcher1", "dispatcher", None)])
def test_only_supervisors_acknowledge(db: Any, who: tuple[str, str, None]) -> None:
    reporting = Mock()
    with pytest.raises(Forbidden):
        call(db, reporting, "hotspot_acknowledge", req(
            "POST", "/api/v1/reports/hotspots/alerts/7/acknowledge", token(*who), body=b"{}"),
            alert_id=7)
    assert not reporting.method_calls


def test_routes_are_in_the_openapi_document() -> None:
    from services.gateway.openapi import openapi_document
    paths = openapi_document()["paths"]
    assert "/api/v1/reports/hotspots" in paths
    assert "/api/v1/reports/hotspots/alerts/{alert_id}/acknowledge" in paths
