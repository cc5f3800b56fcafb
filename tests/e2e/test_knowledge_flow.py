"""The knowledge base over HTTP, every service a process: a department drafts and submits, the
center reviews and publishes, agents and the public find only what is live; the refusals
(403 another department's entry, 422 a guide missing fields, 422 an empty query) and a long
query truncated, not refused."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.client import HotlineClient
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

GUIDE = {
    "article_type": "guide", "title": "灵活就业人员参加职工养老保险登记",
    "body": "灵活就业人员可在户籍所在地或居住地参保。",
    "fields": {"project_name": "灵活就业人员参保登记", "materials": "居民身份证",
               "procedure": "到社保经办窗口或网上办理", "time_limit": "即办",
               "fee_standard": "不收费"},
}


def ids(found: dict[str, Any]) -> list[int]:
    return [i["id"] for i in found["items"]]


@pytest.fixture(scope="module")
def people(system: System) -> dict[str, HotlineClient]:
    return {name: system.login(name) for name in (
        "dept_renshe", "dept_shuiwu", "supervisor1", "agent1")}


class TestWorkflowWithRoles:
    def test_department_drafts_submits_center_publishes_agent_finds(
            self, system: System, people: dict[str, HotlineClient]) -> None:
        dept, sup, agent = people["dept_renshe"], people["supervisor1"], people["agent1"]
        draft = dept.kb_create(**GUIDE)
        assert (draft["status"], draft["department_code"], draft["version"]) == (
            "draft", "renshe", 1)
        no = draft["id"]
        assert agent.raw("GET", f"/api/v1/kb/articles/{no}").status_code == 404
        assert agent.kb_search("灵活就业")["total"] == 0
        assert dept.kb_act(no, "submit")["status"] == "in_review"
        r = dept.raw("POST", f"/api/v1/kb/articles/{no}/publish", json={})
        assert r.status_code == 403
        rejected = sup.kb_act(no, "reject", "请写明网上办理的入口")
        assert rejected["status"] == "draft"
        dept.kb_edit(no, body=GUIDE["body"] + "网上办理：天府通办。", base_version=1)
        dept.kb_act(no, "submit")
        published = sup.kb_act(no, "publish", "同意发布")
        assert (published["status"], published["published_version"]) == ("published", 2)
        found = agent.kb_search("灵活就业 养老保险")
        assert ids(found)[0] == no
        hit = found["items"][0]
        assert "<mark>" in hit["title_html"] + hit["snippet_html"]
        read = agent.kb_article(no, via="search")
        assert (read["view"], read["version"]) == ("live", 2)
        public = HotlineClient(system.url)  # no login
        assert no in ids(public.kb_public_search("灵活就业"))
        article = public.kb_public_article(no)
        assert article["fields"]["materials"] == "居民身份证" and "created_by" not in article
        history = dept.kb_versions(no)
        assert [e["action"] for e in history["events"]] == [
            "create", "submit", "reject", "edit", "submit", "publish"]
        diff = dept.kb_diff(no, 1, 2)
        assert diff["body_changed"] and any(op["op"] != "equal" for op in diff["body"])

    def test_a_department_editing_another_departments_entry_is_403(
            self, people: dict[str, HotlineClient]) -> None:
        sup, renshe = people["supervisor1"], people["dept_renshe"]
        theirs = sup.kb_create(article_type="faq", title="水表报修电话",
                               body="水表损坏可拨打供水服务热线报修。", department_code="shuiwu",
                               publish=True)
        r = renshe.raw("PATCH", f"/api/v1/kb/articles/{theirs['id']}", json={"title": "改"})
        assert r.status_code == 403 and "本部门" in r.json()["error"]["message"]
        assert sup.kb_article(theirs["id"])["version"] == 1  # unchanged
        # a draft of another department's is not there for it at all
        draft = people["dept_shuiwu"].kb_create(article_type="faq", title="草稿", body="内部")
        r = renshe.raw("PATCH", f"/api/v1/kb/articles/{draft['id']}", json={"title": "改"})
        assert r.status_code == 404
        assert [a["department_code"] for a in renshe.kb_articles()["items"]] \
            == ["renshe"] * len(renshe.kb_articles()["items"])

    def test_publishing_a_guide_without_required_fields_is_422_naming_them(
            self, people: dict[str, HotlineClient]) -> None:
        sup = people["supervisor1"]
        guide = sup.kb_create(article_type="guide", title="居住证办理",
                              body="持身份证到派出所办理。",
                              fields={"project_name": "居住证办理", "procedure": "派出所"})
        r = sup.raw("POST", f"/api/v1/kb/articles/{guide['id']}/publish", json={})
        assert r.status_code == 422
        assert set(r.json()["error"]["fields"]) == {
            "fields.materials", "fields.time_limit", "fields.fee_standard"}

    def test_wrong_state_is_409(self, people: dict[str, HotlineClient]) -> None:
        sup = people["supervisor1"]
        article = sup.kb_create(article_type="faq", title="临时", body="临时内容")
        r = sup.raw("POST", f"/api/v1/kb/articles/{article['id']}/reject",
                    json={"comment": "退回"})
        assert r.status_code == 409
        assert (r.json()["error"]["state"], r.json()["error"]["action"]) == ("draft", "reject")


class TestQueries:
    def test_empty_query_is_422_and_a_long_one_truncated(
            self, system: System, people: dict[str, HotlineClient]) -> None:
        agent = people["agent1"]
        for params in ({"q": "   "}, {}):
            r = agent.raw("GET", "/api/v1/kb/search", params=params)
            assert r.status_code == 422 and "q" in r.json()["error"]["fields"]
        r = HotlineClient(system.url).raw("GET", "/api/v1/kb/public/search", params={"q": ""})
        assert r.status_code == 422 and "q" in r.json()["error"]["fields"]
        long = agent.kb_search("社保" * 150)
        assert len(long["q"]) == 200
