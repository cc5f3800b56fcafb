"""Service layer: the gateway's KPI report and board routes in front of a real reporting
worker (both with real databases, no broker), through real werkzeug requests.

What the routes add is authentication, the action's roles and the viewer they pass on;
reporting enforces that a department sees its own row only — asserted end to end here."""

from __future__ import annotations

from typing import Any
from unittest.mock import Mock

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import access
from services.gateway.service import GatewayService
from services.reporting.service import ReportingService
from shared.errors import Forbidden, Invalid
from tests.service.conftest import Worker
from tests.service.test_gateway_inbound import CONFIG, token
from tests.service.test_reporting_service import november


@pytest.fixture
def gateway(store: Any) -> Worker:
    db = store("gateway")
    access.upsert_users(db.unit_of_work(), [
        {"username": u, "password": "pw", "role": role, "department_code": dept}
        for u, role, dept in (("supervisor1", "supervisor", None), ("leader1", "leader", None),
                              ("agent1", "agent", None), ("dept_cg", "department", "CG"))])
    reporting = Worker(ReportingService, store("reporting"), consumer="reporting.on_any_event")
    november(reporting)
    return Worker(GatewayService, db, config=CONFIG, reporting=reporting)


def get(path: str, headers: dict[str, str], **query: str) -> Request:
    r = Request(EnvironBuilder(method="GET", path=path, headers=headers,
                               query_string=query).get_environ())
    r.path_values = {}
    return r


def kpis(headers: dict[str, str], **query: str) -> Request:
    return get("/api/v1/reports/kpis", headers, **query)


def sup() -> dict[str, str]:
    return token("supervisor1", "supervisor")


def dept() -> dict[str, str]:
    return token("dept_cg", "department", "CG")


class TestKpiRoute:
    def test_a_supervisor_reads_every_department(self, gateway: Worker) -> None:
        r = gateway.kpis(kpis(sup(), period="2026-11", group_by="department"))
        assert [row["group"] for row in r["rows"]] == ["CG", "GA", "JT"]
        assert r["rows"][0]["on_time_completion"] == {"rate": 0.5, "numerator": 1, "sample": 2}
        ranged = gateway.kpis(kpis(token("leader1", "leader"), **{
            "from": "2026-11-01", "to": "2026-11-30", "group_by": "category"}))
        assert {row["group_label"] for row in ranged["rows"]} == {"投诉", "求助"}

    def test_a_department_gets_its_own_row_only(self, gateway: Worker) -> None:
        r = gateway.kpis(kpis(dept(), period="2026-11"))
        assert [row["group"] for row in r["rows"]] == ["CG"]
        assert r["total"]["intake"] == 2
        with pytest.raises(Invalid) as err:
            gateway.kpis(kpis(dept(), period="2026-11", group_by="territory"))
        assert "group_by" in err.value.details["fields"]

    def test_bad_queries_are_422_naming_the_field(self, gateway: Worker) -> None:
        with pytest.raises(Invalid) as err:
            gateway.kpis(kpis(sup(), period="2026-11", group_by="weekday"))
        assert "channel" in err.value.details["fields"]["group_by"][0]
        with pytest.raises(Invalid) as err:
            gateway.kpis(kpis(sup(), **{"from": "2020-01-01", "to": "2026-01-01"}))
        assert "to" in err.value.details["fields"]

    def test_roles(self, gateway: Worker) -> None:
        with pytest.raises(Forbidden):
            gateway.kpis(kpis(token("agent1", "agent"), period="2026-11"))
        with pytest.raises(access.Unauthorized):
            gateway.kpis(kpis({}, period="2026-11"))

    def test_only_the_query_parameters_and_the_viewer_reach_reporting(self, store: Any) -> None:
        db = store("gateway")
        access.upsert_users(db.unit_of_work(), [{"username": "dept_cg", "password": "pw",
                                                 "role": "department", "department_code": "CG"}])
        reporting = Mock()
        Worker(GatewayService, db, config=CONFIG, reporting=reporting).kpis(
            kpis(dept(), period="2026Q1", group_by="department", other="x"))
        query, viewer = reporting.kpis.call_args.args
        assert query == {"period": "2026Q1", "group_by": "department"}
        assert viewer == {"role": "department", "department_code": "CG", "via": "token"}


class TestBoardRoute:
    def test_supervisors_and_leaders_read_the_board(self, gateway: Worker) -> None:
        board = gateway.reports_board(get("/api/v1/reports/board", sup()))
        assert {"intake_today", "overdue_now", "due_within_2h", "due_today",
                "three_rates_today", "three_rates_month"} <= set(board)
        assert board["overdue_by_department"] == [{"department_code": "GA", "overdue": 1}]
        gateway.reports_board(get("/api/v1/reports/board", token("leader1", "leader")))

    def test_departments_do_not(self, gateway: Worker) -> None:
        with pytest.raises(Forbidden):
            gateway.reports_board(get("/api/v1/reports/board", dept()))
