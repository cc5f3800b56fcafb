"""Service layer: the gateway's periodic-report routes (通报), through ``worker_factory`` with
real werkzeug requests.

Real: the gateway's database and access rules, its HTTP responses. Replaced: reporting and
dispatch, as ``Mock``s — what reaches them is what the routes decided to send."""

from __future__ import annotations

import base64
from typing import Any
from unittest.mock import Mock
from urllib.parse import unquote

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import access
from services.gateway.http import ROUTES, JsonRoute
from services.gateway.service import GatewayService
from shared.errors import Forbidden
from tests.service.conftest import Worker
from tests.service.test_gateway_inbound import CONFIG, token

BASE = "/api/v1/reports/periodic"


@pytest.fixture
def db(store: Any) -> Any:
    db = store("gateway")
    access.upsert_users(db.unit_of_work(), [
        {"username": u, "password": "pw", "role": role, "department_code": dept}
        for u, role, dept in (("supervisor1", "supervisor", None), ("leader1", "leader", None),
                              ("agent1", "agent", None), ("dept_shuiwu", "department", "shuiwu"))])
    return db


def call(db: Any, name: str, method: str, path: str, headers: dict[str, str],
         reporting: Mock, query: dict[str, str] | None = None, body: bytes | None = None,
         **values: Any) -> Any:
    dispatch = Mock()
    dispatch.departments.return_value = [{"code": "shuiwu", "name": "水务局"}]
    dispatch.territories.return_value = [{"code": "t1", "name": "城关区"}]
    r = Request(EnvironBuilder(method=method, path=path, headers=headers, query_string=query,
                               data=body, content_type="application/json").get_environ())
    r.path_values = values
    worker = Worker(GatewayService, db, config=CONFIG, reporting=reporting, dispatch=dispatch)
    return getattr(worker, name)(r, **values)


def sup() -> dict[str, str]:
    return token("supervisor1", "supervisor")


def dept() -> dict[str, str]:
    return token("dept_shuiwu", "department", "shuiwu")


def test_routes_are_declared_with_their_actions() -> None:
    mine = {(r.method, r.path): r.action for r in ROUTES if r.path.startswith(BASE)}
    assert mine == {
        ("GET", BASE): "reports.read", ("POST", BASE): "reports.manage",
        ("GET", BASE + "/<int:report_id>"): "reports.read",
        ("PATCH", BASE + "/<int:report_id>"): "reports.manage",
        ("DELETE", BASE + "/<int:report_id>"): "reports.manage",
        ("POST", BASE + "/<int:report_id>/regenerate"): "reports.manage",
        ("POST", BASE + "/<int:report_id>/publish"): "reports.manage",
        ("GET", BASE + "/<int:report_id>/charts/<chart>"): "reports.read",
        ("GET", BASE + "/<int:report_id>/export"): "reports.read"}


def test_create_passes_the_body_the_actor_and_the_names(db: Any) -> None:
    reporting = Mock()
    reporting.create_report.return_value = {"id": 7, "status": "draft"}
    status, payload, headers = call(db, "create_periodic_report", "POST", BASE, sup(), reporting,
                                    body=b'{"kind": "month", "period": "2026-10"}')
    assert (status, payload, headers) == (201, {"id": 7, "status": "draft"},
                                          {"Location": f"{BASE}/7"})
    reporting.create_report.assert_called_once_with(
        {"kind": "month", "period": "2026-10"}, "supervisor1",
        {"department": {"shuiwu": "水务局"}, "territory": {"t1": "城关区"}})


def test_departments_read_but_do_not_manage(db: Any) -> None:
    reporting = Mock()
    reporting.list_reports.return_value = {"items": [], "total": 0}
    call(db, "periodic_reports", "GET", BASE, dept(), reporting, query={"kind": "month",
                                                                         "other": "x"})
    reporting.list_reports.assert_called_once_with(
        {"kind": "month"}, {"role": "department", "department_code": "shuiwu", "via": "token"})
    for name, method, path in (("create_periodic_report", "POST", BASE),
                               ("publish_periodic_report", "POST", BASE + "/1/publish")):
        with pytest.raises(Forbidden):
            call(db, name, method, path, dept(), reporting,
                 **({"report_id": 1} if "publish" in name else {}))
    with pytest.raises(Forbidden):  # agents do not read reports
        call(db, "periodic_reports", "GET", BASE, token("agent1", "agent"), reporting)
    reporting.create_report.assert_not_called()
    reporting.publish_report.assert_not_called()


def test_publish_and_delete(db: Any) -> None:
    reporting = Mock()
    reporting.publish_report.return_value = {"id": 3, "status": "published"}
    assert call(db, "publish_periodic_report", "POST", f"{BASE}/3/publish", sup(), reporting,
                report_id=3) == {"id": 3, "status": "published"}
    reporting.publish_report.assert_called_once_with(3, "supervisor1")
    response = call(db, "delete_periodic_report", "DELETE", f"{BASE}/3", sup(), reporting,
                    report_id=3)
    assert response.status_code == 204
    reporting.delete_report.assert_called_once_with(3, "supervisor1")


def test_chart_is_served_as_svg_with_a_chinese_filename(db: Any) -> None:
    reporting = Mock()
    reporting.report_chart.return_value = {
        "content_type": "image/svg+xml; charset=utf-8", "body": "<svg>水务</svg>",
        "filename": "2026年10月月度通报-三率综合得分.svg"}
    response = call(db, "periodic_report_chart", "GET", f"{BASE}/5/charts/scores", dept(),
                    reporting, report_id=5, chart="scores")
    reporting.report_chart.assert_called_once_with(
        5, "scores", {"role": "department", "department_code": "shuiwu", "via": "token"})
    assert response.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert response.get_data() == "<svg>水务</svg>".encode()
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('inline; filename="report-5-scores.svg"; filename*=UTF-8\'\'')
    assert unquote(disposition.split("UTF-8''")[1]) == "2026年10月月度通报-三率综合得分.svg"
    disposition.encode("latin-1")  # a header werkzeug can send as is


def test_export_is_served_as_a_file(db: Any) -> None:
    reporting = Mock()
    body = "\ufeff名次,部门\n".encode()
    reporting.export_report.return_value = {
        "content_type": "text/csv; charset=utf-8", "filename": "2026年10月月度通报-部门排名.csv",
        "body_base64": base64.b64encode(body).decode()}
    response = call(db, "export_periodic_report", "GET", f"{BASE}/5/export", sup(), reporting,
                    query={"format": "csv", "sheet": "ranking", "x": "y"}, report_id=5)
    reporting.export_report.assert_called_once_with(
        5, {"format": "csv", "sheet": "ranking"},
        {"role": "supervisor", "department_code": None, "via": "token"})
    assert response.status_code == 200 and response.get_data() == body
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="report-5.csv"; filename*=UTF-8\'\'2026%E5%B9%B4')
    # the HTTP entrypoint passes a Response through untouched (not wrapped as JSON)
    assert JsonRoute.response_from_result(Mock(), response) is response


def test_a_report_does_not_wait_for_dispatch(db: Any) -> None:
    reporting = Mock()
    reporting.regenerate_report.return_value = {"id": 2}
    dispatch = Mock()
    dispatch.departments.side_effect = RuntimeError("dispatch down")
    r = Request(EnvironBuilder(method="POST", path=f"{BASE}/2/regenerate",
                               headers=sup()).get_environ())
    r.path_values = {"report_id": 2}
    Worker(GatewayService, db, config=CONFIG, reporting=reporting,
           dispatch=dispatch).regenerate_periodic_report(r, report_id=2)
    reporting.regenerate_report.assert_called_once_with(2, "supervisor1", None)
