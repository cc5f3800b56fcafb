"""Leader instructions (领导批示件) over HTTP against every service running as a process:
the office registers, a unit feeds back, the office approves; 涉密 items stay hidden from a
department's own system (API key) and from departments not on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotline.client import ApiError, HotlineClient
from shared.business_time import business_today
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e


def sheet(**overrides: Any) -> dict[str, Any]:
    return {"leader_name": "王副市长", "leader_level": "vice_mayor",
            "words": "请市综合执法局阅处，抓紧整治，并将结果报我。",
            "source_title": "关于滨江路夜市占道经营的群众来信", "source_doc_no": "泸市信〔2026〕88号",
            "received_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            "units": ["chengguan"], **overrides}


def status_of(call: Any) -> int:
    with pytest.raises(ApiError) as e:
        call()
    return e.value.status


class TestLeaderInstructionsOverHttp:
    def test_register_feed_back_approve_complete(self, system: System) -> None:
        sup, dept = system.login("supervisor1"), system.login("dept_chengguan")
        got = sup.register_instruction(sheet(units=["chengguan", "zhujian"]))
        assert got["number"].startswith(f"批〔{business_today().year}〕") and got["kind"] == "handle"
        no = got["id"]

        assert no in [i["id"] for i in dept.instructions()["items"]]
        urged = sup.urge_instruction(no, channel="phone", note="电话催办")["urges"]
        assert sorted(u["department_code"] for u in urged) == ["chengguan", "zhujian"]
        fb = dept.instruction_feedback(no, "已组织夜间联合执法，取缔占道摊点12处。")
        assert fb["state"] == "pending"
        back = sup.decide_instruction_feedback(no, fb["id"], False, "请补充长效管控措施")
        assert back["state"] == "returned"
        fb2 = dept.instruction_feedback(no, "已取缔占道摊点12处，设立固定疏导点并安排每日巡查。")
        sup.decide_instruction_feedback(no, fb2["id"], True)
        zhujian = system.login("dept_zhujian")
        fb3 = zhujian.instruction_feedback(no, "已督促物业清理公共区域。")
        sup.decide_instruction_feedback(no, fb3["id"], True)

        detail = sup.instruction(no)
        assert detail["status"] == "completed"
        assert [h["action"] for h in detail["history"]][-1] == "complete"
        assert [f["department_code"] for f in dept.instruction(no)["feedback"]] == [
            "chengguan", "chengguan"]  # a unit sees only its own feedback
        today = business_today().isoformat()
        rows = {r["group"]: r for r in sup.instruction_summary(today, today)["rows"]}
        assert rows["chengguan"]["on_time"] >= 1 and rows["zhujian"]["approved_first"] >= 1

        # bad input and roles: 4xx naming the field / the action
        err = status_of(lambda: sup.register_instruction(sheet(units=["nosuchdept"])))
        assert err == 422
        assert status_of(lambda: dept.register_instruction(sheet())) == 403
        assert status_of(lambda: dept.decide_instruction_feedback(no, fb2["id"], True)) == 403

    def test_confidential_hidden_from_api_key_and_other_departments(self, system: System) -> None:
        sup, admin = system.login("supervisor1"), system.login("admin")
        secret = sup.register_instruction(sheet(confidential=True))["id"]
        plain = sup.register_instruction(sheet())["id"]
        issued = admin.request("POST", "/api/v1/admin/api-keys",
                               json={"department_code": "chengguan", "name": "城管业务系统"})
        key = HotlineClient(system.url, api_key=issued["api_key"])
        ids = [i["id"] for i in key.instructions()["items"]]
        assert plain in ids and secret not in ids
        assert status_of(lambda: key.instruction(secret)) == 404
        assert status_of(lambda: key.instruction_feedback(secret, "系统回传的反馈")) == 404
        other = system.login("dept_jiaotong")
        assert secret not in [i["id"] for i in other.instructions()["items"]]
        assert status_of(lambda: other.instruction(secret)) == 404
        assert status_of(lambda: other.instruction_feedback(plain, "我们不是承办单位")) == 404
        # the unit's own users and the leaders see it
        assert system.login("dept_chengguan").instruction(secret)["confidential"] is True
        assert system.login("leader1").instruction(secret)["id"] == secret
