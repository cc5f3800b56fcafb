"""The knowledge base's bulk import and monitoring over HTTP (every service a process):
multipart uploads with a per-file report and the size limits; the monitor's role scoping; an
order resolved at intake citing an entry shows up in the monitor."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.client import ApiError, wait_for
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

WATER = ("第一篇:泸州市江阳区计划停水通知\n因滨江路供水管网改造，12月5日8:00至18:00"
         "滨江路沿线停水，请居民提前储水。\n"
         "第二篇:供水管网抢修服务承诺\n接到爆管报修后城区2小时内到达现场，4小时内恢复供水。\n")
FAQ_MD = "# 停水期间可以申请送水吗\n\n连续停水超过12小时的片区，可向市水务局申请送水车。\n"


def _error(exc: pytest.ExceptionInfo[ApiError]) -> dict[str, Any]:
    return exc.value.body["error"]


class TestImport:
    def test_a_mixed_batch_is_reported_per_file(self, system: System) -> None:
        sup = system.login("supervisor1")
        report = sup.kb_import([("water.txt", WATER.encode()), ("delivery.md", FAQ_MD.encode()),
                                ("broken.docx", b"PK\x03\x04 not a word file")],
                               publish=True, article_type="faq", department_code="shuiwu")
        files = {f["filename"]: f for f in report["files"]}
        assert [a["title"] for a in files["water.txt"]["articles"]] == [
            "泸州市江阳区计划停水通知", "供水管网抢修服务承诺"]
        assert files["delivery.md"]["status"] == "ok"
        assert files["broken.docx"]["status"] == "error"
        assert ".docx" in files["broken.docx"]["error"] and not files["broken.docx"]["articles"]
        assert (report["imported"], report["failed"]) == (3, 1)
        article = sup.request("GET", f"/api/v1/kb/articles/{files['water.txt']['articles'][0]['id']}")
        assert article["department_code"] == "shuiwu"
        found = wait_for(lambda: sup.request("GET", "/api/v1/kb/search",
                                             params={"q": "送水车"})["items"], what="indexed")
        assert found[0]["id"] == files["delivery.md"]["articles"][0]["id"]

    def test_who_may_import_and_the_limits(self, system: System) -> None:
        for user in ("agent1", "dept_shuiwu"):
            with pytest.raises(ApiError) as err:
                system.login(user).kb_import([("a.txt", WATER.encode())])
            assert err.value.status == 403
        admin = system.login("admin")
        with pytest.raises(ApiError) as err:
            admin.kb_import([("big.txt", b"x" * (5 * 1024 * 1024 + 1))])
        assert err.value.status == 413
        with pytest.raises(ApiError) as err:
            admin.request("POST", "/api/v1/kb/import", data={"publish": "true"},
                          files={"": ("", b"")})
        assert err.value.status == 422
        with pytest.raises(ApiError) as err:
            admin.request("POST", "/api/v1/kb/import", json={"files": []})
        assert err.value.status == 400
        with pytest.raises(ApiError) as err:
            admin.kb_import([("a.txt", WATER.encode())], article_type="poem")
        assert err.value.status == 422 and "article_type" in _error(err)["fields"]
        many = [(f"{n}.txt", WATER.encode()) for n in range(21)]
        with pytest.raises(ApiError) as err:
            admin.kb_import(many)
        assert err.value.status == 422 and "files" in _error(err)["fields"]


class TestMonitor:
    def test_role_scoping_and_bad_input(self, system: System) -> None:
        sup, dept = system.login("supervisor1"), system.login("dept_shuiwu")
        everything = sup.kb_monitor()
        assert everything["department_code"] is None
        assert len(everything["departments"]) > 1
        own = dept.kb_monitor()
        assert own["department_code"] == "shuiwu"
        assert {d["department_code"] for d in own["departments"]} <= {"shuiwu"}
        assert all(e["department_code"] == "shuiwu" for e in own["never_used"])
        assert dept.kb_monitor(department_code="shuiwu")["department_code"] == "shuiwu"
        with pytest.raises(ApiError) as err:
            dept.kb_monitor(department_code="chengguan")
        assert err.value.status == 403
        with pytest.raises(ApiError) as err:
            system.login("agent1").kb_monitor()
        assert err.value.status == 403
        assert system.login("leader1").kb_monitor()["department_code"] is None
        with pytest.raises(ApiError) as err:
            sup.kb_monitor(department_code="nosuch")
        assert err.value.status == 422 and "department_code" in _error(err)["fields"]
        with pytest.raises(ApiError) as err:
            sup.kb_monitor(**{"from": "2026-12-01", "to": "2026-11-01"})
        assert err.value.status == 422 and "from" in _error(err)["fields"]

    def test_an_order_resolved_at_intake_is_counted(self, system: System) -> None:
        sup, agent = system.login("supervisor1"), system.login("agent1")
        [entry] = sup.kb_import([("outage-faq.md", "# 停水后水发黄怎么办\n\n放水几分钟即可恢复。\n"
                                  .encode())], publish=True, article_type="faq",
                                department_code="shuiwu")["files"][0]["articles"]
        ticket = agent.register({
            "category": "consultation", "phone": "13812345678", "territory_code": "510502001",
            "content": "停水恢复后自来水发黄，能不能喝？",
            "resolution": {"answer": "放水几分钟即可恢复，仍发黄请报修。",
                           "article_id": entry["id"]}})

        def counted() -> Any:
            resolved = sup.kb_monitor(department_code="shuiwu")["resolved"]
            return next((r for r in resolved if r["article_id"] == entry["id"]), None)

        row = wait_for(counted, what="resolution recorded")
        assert row["resolutions"] == 1 and row["ticket_nos"] == [ticket["ticket_no"]]


class TestDemoKnowledge:
    def test_the_seeds_and_responsibilities_are_published_and_found(self, system: System) -> None:
        agent = system.login("agent1")

        def titles(q: str) -> list[str]:
            return [i["title"] for i in agent.request("GET", "/api/v1/kb/search",
                                                      params={"q": q, "limit": 10})["items"]]

        # seed 004, in traditional characters, found by a simplified query
        assert "瀘州市人民政府政務服務中心部門窗口考核辦法" in titles("部门窗口考核办法")
        assert "市政府办公厅领导批示件办理工作规程" in titles("领导批示件办理工作规程")
        assert "市综合行政执法局（城管）主要职责" in titles("占道经营")
        assert "市水务局主要职责" in titles("停水 排水")
        assert "居住证申领" in titles("居住证")

    def test_loading_the_demo_again_adds_nothing(self, system: System) -> None:
        from hotline import commands
        from shared.config import load_config

        def monitor_total() -> int:
            return system.login("supervisor1").kb_monitor()["totals"]["published"]

        before = monitor_total()
        commands.load_demo(load_config(env=system.env))
        assert monitor_total() == before
