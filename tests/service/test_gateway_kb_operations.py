"""Service layer: the gateway's knowledge-base import and monitor routes, through
``worker_factory`` with real werkzeug requests (multipart bodies, query strings).

Real: the gateway's database and access rules. Replaced: knowledge and dispatch, as ``Mock``s —
what reaches them is what the routes decided to send."""

from __future__ import annotations

import base64
import io
from typing import Any
from unittest.mock import Mock

import pytest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import access
from services.gateway.http import BadRequest
from services.gateway.routes.kb_operations import MAX_FILE_BYTES
from services.gateway.service import GatewayService
from shared.errors import Forbidden, Invalid
from tests.service.conftest import Worker
from tests.service.test_gateway_inbound import CONFIG, token


@pytest.fixture
def db(store: Any) -> Any:
    db = store("gateway")
    access.upsert_users(db.unit_of_work(), [
        {"username": u, "password": "pw", "role": role, "department_code": dept}
        for u, role, dept in (("supervisor1", "supervisor", None), ("leader1", "leader", None),
                              ("agent1", "agent", None),
                              ("dept_shuiwu", "department", "shuiwu"))])
    return db


def gateway(db: Any, **rpc: Any) -> Worker:
    return Worker(GatewayService, db, config=CONFIG, **rpc)


def upload(headers: dict[str, str], files: list[tuple[str, bytes]],
           form: dict[str, str] | None = None) -> Request:
    data: dict[str, Any] = dict(form or {})
    for n, (name, content) in enumerate(files):
        data[f"file{n}"] = (io.BytesIO(content), name)
    r = Request(EnvironBuilder(method="POST", path="/api/v1/kb/import", headers=headers,
                               data=data, content_type="multipart/form-data").get_environ())
    r.path_values = {}
    return r


def get(headers: dict[str, str], **query: str) -> Request:
    r = Request(EnvironBuilder(method="GET", path="/api/v1/kb/monitor", headers=headers,
                               query_string=query).get_environ())
    r.path_values = {}
    return r


# Tokens are issued when a test runs, not at collection: they expire after 10 minutes, and the
# whole suite takes longer than that before it reaches these tests.
def sup() -> dict[str, str]:
    return token("supervisor1", "supervisor")


def dept() -> dict[str, str]:
    return token("dept_shuiwu", "department", "shuiwu")


class TestImportRoute:
    def test_files_and_options_reach_knowledge(self, db: Any) -> None:
        knowledge = Mock()
        knowledge.import_documents.return_value = {"files": [], "imported": 0, "failed": 0}
        gateway(db, knowledge=knowledge).kb_import(upload(
            sup(), [("停水.txt", "第一篇:停水\n明日停水。".encode()), ("b.docx", b"PK")],
            {"publish": "true", "article_type": "faq", "department_code": "shuiwu",
             "categories": "help, consultation", "ignored": "x"}))
        files, options, actor = knowledge.import_documents.call_args.args
        assert [f["filename"] for f in files] == ["停水.txt", "b.docx"]
        assert base64.b64decode(files[0]["content_base64"]).decode() == "第一篇:停水\n明日停水。"
        assert options == {"publish": "true", "article_type": "faq", "department_code": "shuiwu",
                           "categories": ["help", "consultation"]}
        assert actor == {"name": "supervisor1", "role": "supervisor", "department_code": None}

    def test_limits(self, db: Any) -> None:
        g = gateway(db, knowledge=Mock())
        with pytest.raises(RequestEntityTooLarge):
            g.kb_import(upload(sup(), [("big.txt", b"x" * (MAX_FILE_BYTES + 1))]))
        with pytest.raises(Invalid) as err:
            g.kb_import(upload(sup(), [], {"publish": "true"}))
        assert "files" in err.value.details["fields"]
        with pytest.raises(Invalid) as err:
            g.kb_import(upload(sup(), [(f"{n}.txt", b"x") for n in range(21)]))
        assert "files" in err.value.details["fields"]
        json_body = Request(EnvironBuilder(method="POST", path="/api/v1/kb/import", headers=sup(),
                                           json={"files": []}).get_environ())
        with pytest.raises(BadRequest):
            g.kb_import(json_body)

    @pytest.mark.parametrize("who", [("agent1", "agent", None),
                                     ("dept_shuiwu", "department", "shuiwu"),
                                     ("leader1", "leader", None)])
    def test_only_the_center_imports(self, db: Any, who: tuple[str, str, str | None]) -> None:
        knowledge = Mock()
        with pytest.raises(Forbidden):
            gateway(db, knowledge=knowledge).kb_import(upload(token(*who), [("a.txt", b"x")]))
        knowledge.import_documents.assert_not_called()


class TestMonitorRoute:
    def test_the_center_sees_all_or_one_known_department(self, db: Any) -> None:
        knowledge, dispatch = Mock(), Mock()
        dispatch.departments.return_value = [{"code": "shuiwu"}, {"code": "chengguan"}]
        g = gateway(db, knowledge=knowledge, dispatch=dispatch)
        g.kb_monitor(get(sup(), **{"from": "2026-11-01", "to": "2026-11-30", "x": "y"}))
        assert knowledge.usage_report.call_args.args == ({"from": "2026-11-01",
                                                          "to": "2026-11-30"},)
        g.kb_monitor(get(token("leader1", "leader"), department_code="chengguan"))
        assert knowledge.usage_report.call_args.args == ({"department_code": "chengguan"},)
        with pytest.raises(Invalid) as err:
            g.kb_monitor(get(sup(), department_code="nosuch"))
        assert "department_code" in err.value.details["fields"]

    def test_a_department_sees_only_its_own(self, db: Any) -> None:
        knowledge, dispatch = Mock(), Mock()
        g = gateway(db, knowledge=knowledge, dispatch=dispatch)
        g.kb_monitor(get(dept()))
        assert knowledge.usage_report.call_args.args == ({"department_code": "shuiwu"},)
        with pytest.raises(Forbidden):
            g.kb_monitor(get(dept(), department_code="chengguan"))
        assert knowledge.usage_report.call_count == 1
        dispatch.departments.assert_not_called()

    def test_agents_may_not(self, db: Any) -> None:
        with pytest.raises(Forbidden):
            gateway(db, knowledge=Mock()).kb_monitor(get(token("agent1", "agent")))
