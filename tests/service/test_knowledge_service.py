"""Knowledge's entries, versions, review workflow, permissions, expiry and search, through
``worker_factory`` on a migrated SQLite file with a real in-process index (no broker)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from services.knowledge.analysis import shared_analyzer
from services.knowledge.dependencies import IndexAccess, LiveIndex
from services.knowledge.entrypoints import articles, search
from services.knowledge.service import KnowledgeService
from shared.business_time import business_today
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from tests.service.conftest import Worker, outbox

CENTER = {"name": "supervisor1", "role": "supervisor", "department_code": None}
ADMIN = {"name": "admin", "role": "admin", "department_code": None}
RENSHE = {"name": "dept_renshe", "role": "department", "department_code": "renshe"}
SHUIWU = {"name": "dept_shuiwu", "role": "department", "department_code": "shuiwu"}
AGENT = {"name": "agent1", "role": "agent", "department_code": None}

GUIDE_BODY = ("项目名称：城乡居民基本养老保险参保登记。申报材料：居民身份证、户口簿。"
              "办事程序：到社区社保服务窗口办理。承诺期限：即办。收费标准：不收费。")


def new_index() -> IndexAccess:
    return IndexAccess(LiveIndex(shared_analyzer()))


@pytest.fixture
def kb(store: Any) -> Any:
    db = store("knowledge")
    return Worker(KnowledgeService, db, search_index=new_index()), db


def faq(title: str = "停水了怎么查询恢复供水时间", body: str = "计划停水信息由市水务局提前发布。",
        **extra: Any) -> dict[str, Any]:
    return {"article_type": "faq", "title": title, "body": body, **extra}


def events_of(db: Any, kind: str) -> list[dict[str, Any]]:
    return [e for e in outbox(db) if e["type"] == kind]


def ids(found: dict[str, Any]) -> list[int]:
    return [i["id"] for i in found["items"]]


class TestStepOneBehaviour:
    def test_only_published_articles_are_found_best_first(self, kb: Any) -> None:
        worker, db = kb
        draft = worker.create_article(faq("停水查询", "计划停水信息提前发布"), ADMIN)
        guide = worker.create_article({"article_type": "guide", "title": "养老保险参保登记",
                                       "body": GUIDE_BODY + "养老保险到社区办理。",
                                       "department_code": "renshe", "publish": True}, ADMIN)
        other = worker.create_article(faq("社区服务", "可咨询养老保险事宜", publish=True), ADMIN)
        assert draft["status"] == "draft" and guide["status"] == "published"
        found = worker.search({"q": "养老保险"})
        assert set(ids(found)) == {guide["id"], other["id"]}
        assert worker.search({"q": "停水"})["total"] == 0
        worker.publish_article(draft["id"], {}, ADMIN)
        assert worker.search({"q": "停水"})["total"] == 1
        with pytest.raises(Conflict):
            worker.publish_article(draft["id"], {}, ADMIN)
        published = events_of(db, "kb.article_published")
        assert len(published) == 3 and published[-1]["data"]["version"] == 1

    def test_bad_queries_and_unknown_articles(self, kb: Any) -> None:
        worker, _ = kb
        for q in ("", "   ", None):
            with pytest.raises(Invalid) as err:
                worker.search({"q": q})
            assert "q" in err.value.details["fields"]
        with pytest.raises(Invalid) as err:
            worker.search({})
        assert "q" in err.value.details["fields"]
        assert worker.search({"q": "长" * 500})["q"] == "长" * 200  # truncated, not refused
        with pytest.raises(NotFound):
            worker.get_article(999, AGENT)
        with pytest.raises(Invalid) as err:
            worker.create_article({"article_type": "poem", "title": "", "body": "x"}, ADMIN)
        assert {"article_type", "title"} <= set(err.value.details["fields"])


class TestWorkflow:
    def test_department_drafts_submits_center_rejects_then_publishes(self, kb: Any) -> None:
        worker, db = kb
        draft = worker.create_article(faq("社保卡挂失", "社保卡丢失可拨打12333挂失。"), RENSHE)
        assert (draft["department_code"], draft["status"], draft["version"]) == (
            "renshe", "draft", 1)
        submitted = worker.submit_article(draft["id"], {}, RENSHE)
        assert submitted["status"] == "in_review"
        with pytest.raises(Invalid) as err:
            worker.reject_article(draft["id"], {}, CENTER)
        assert "comment" in err.value.details["fields"]
        rejected = worker.reject_article(draft["id"], {"comment": "请补充办理地点"}, CENTER)
        assert rejected["status"] == "draft"
        edited = worker.edit_article(draft["id"], {
            "body": "社保卡丢失可拨打12333挂失，或到社保服务窗口办理。", "note": "补充地点"}, RENSHE)
        assert (edited["version"], edited["status"]) == (2, "draft")
        worker.submit_article(draft["id"], {}, RENSHE)
        published = worker.publish_article(draft["id"], {"comment": "同意"}, CENTER)
        assert (published["status"], published["published_version"]) == ("published", 2)
        assert ids(worker.search({"q": "社保卡挂失"}, AGENT)) == [draft["id"]]
        history = worker.article_history(draft["id"], RENSHE)
        assert [e["action"] for e in history["events"]] == [
            "create", "submit", "reject", "edit", "submit", "publish"]
        assert history["events"][2]["comment"] == "请补充办理地点"
        assert [v["version"] for v in history["versions"]] == [2, 1]
        [event] = events_of(db, "kb.article_published")
        assert event["data"]["version"] == 2 and event["data"]["department_code"] == "renshe"

    def test_actions_in_the_wrong_state_are_409_naming_state_and_action(self, kb: Any) -> None:
        worker, _ = kb
        article = worker.create_article(faq(), SHUIWU)
        for action, state in (("reject", "draft"),):
            with pytest.raises(Conflict) as err:
                worker.reject_article(article["id"], {"comment": "不行"}, CENTER)
            assert err.value.details == {"action": action, "state": state}
        worker.submit_article(article["id"], {}, SHUIWU)
        with pytest.raises(Conflict) as err:
            worker.submit_article(article["id"], {}, SHUIWU)
        assert err.value.details == {"action": "submit", "state": "in_review"}
        worker.publish_article(article["id"], {}, CENTER)
        with pytest.raises(Conflict) as err:
            worker.publish_article(article["id"], {}, CENTER)
        assert err.value.details == {"action": "publish", "state": "published"}
        worker.archive_article(article["id"], {"comment": "政策调整"}, CENTER)
        for call in (worker.archive_article, worker.publish_article, worker.submit_article):
            with pytest.raises(Conflict) as err:
                call(article["id"], {}, CENTER)
            assert err.value.details["state"] == "archived"

    def test_an_archived_entry_edited_is_a_draft_until_published_again(self, kb: Any) -> None:
        worker, _ = kb
        article = worker.create_article(faq(publish=True), CENTER)
        worker.archive_article(article["id"], {}, CENTER)
        renewed = worker.edit_article(article["id"], {"body": "计划停水信息提前五天发布。"}, CENTER)
        assert (renewed["status"], renewed["published_version"], renewed["live"]) == (
            "draft", None, False)
        with pytest.raises(NotFound):
            worker.get_article(article["id"], AGENT)
        assert worker.search({"q": "停水"})["total"] == 0
        worker.publish_article(article["id"], {}, CENTER)
        assert worker.get_article(article["id"], AGENT)["version"] == 2

    def test_center_publishes_its_own_draft_directly(self, kb: Any) -> None:
        worker, _ = kb
        article = worker.create_article(faq(), CENTER)
        assert article["department_code"] is None
        assert worker.publish_article(article["id"], {}, CENTER)["status"] == "published"


class TestPermissions:
    def test_a_department_edits_only_its_own_entries(self, kb: Any) -> None:
        worker, _ = kb
        theirs = worker.create_article(faq(publish=True, department_code="shuiwu"), ADMIN)
        with pytest.raises(Forbidden) as err:
            worker.edit_article(theirs["id"], {"title": "改标题"}, RENSHE)
        assert err.value.details["reason"] == "not_owner"
        assert "本部门" in err.value.message
        with pytest.raises(Forbidden):
            worker.submit_article(theirs["id"], {}, RENSHE)
        with pytest.raises(Forbidden):  # the history of an entry it only reads
            worker.article_history(theirs["id"], RENSHE)
        # another department's draft is not even there for it
        draft = worker.create_article(faq("水表报修"), SHUIWU)
        for call in (lambda: worker.get_article(draft["id"], RENSHE),
                     lambda: worker.edit_article(draft["id"], {"title": "x"}, RENSHE),
                     lambda: worker.article_diff(draft["id"], {"from": 1, "to": 1}, RENSHE)):
            with pytest.raises(NotFound):
                call()
        # its own department only; the center decides the rest
        with pytest.raises(Forbidden):
            worker.create_article(faq(department_code="shuiwu"), RENSHE)
        mine = worker.create_article(faq("社保"), RENSHE)
        for call in (worker.publish_article, worker.archive_article):
            with pytest.raises(Forbidden) as err:
                call(mine["id"], {}, RENSHE)
            assert err.value.details["role"] == "department"
        with pytest.raises(Forbidden):
            worker.reject_article(mine["id"], {"comment": "不行"}, RENSHE)
        with pytest.raises(Forbidden):
            worker.edit_article(mine["id"], {"department_code": "shuiwu"}, RENSHE)
        with pytest.raises(Forbidden):
            worker.create_article(faq(), AGENT)
        with pytest.raises(Invalid) as err:
            worker.create_article(faq(), {"role": "admin"})
        assert "actor" in err.value.details["fields"]

    def test_lists_are_scoped(self, kb: Any) -> None:
        worker, _ = kb
        live = worker.create_article(faq(publish=True, department_code="shuiwu"), ADMIN)
        draft = worker.create_article(faq("水表报修"), SHUIWU)
        mine = worker.create_article(faq("社保"), RENSHE)
        assert set(ids(worker.list_articles({}, CENTER))) == {live["id"], draft["id"], mine["id"]}
        assert ids(worker.list_articles({}, RENSHE)) == [mine["id"]]
        with pytest.raises(Forbidden):
            worker.list_articles({"department_code": "shuiwu"}, RENSHE)
        assert ids(worker.list_articles({}, AGENT)) == [live["id"]]
        worker.edit_article(live["id"], {"title": "草拟中的新标题"}, SHUIWU)
        [item] = worker.list_articles({}, AGENT)["items"]
        assert item["title"] == live["title"]  # the live version's, not the draft's
        assert set(ids(worker.list_articles({"status": "draft", "department_code": "shuiwu"},
                                            CENTER))) == {draft["id"], live["id"]}
        due = worker.create_article(faq(review_due=str(business_today())), CENTER)
        assert ids(worker.list_articles({"review_due_before": str(
            business_today() + timedelta(days=1))}, CENTER)) == [due["id"]]


class TestGuides:
    def test_publishing_a_guide_without_its_required_fields_is_422_naming_them(
            self, kb: Any) -> None:
        worker, _ = kb
        guide = worker.create_article({"article_type": "guide", "title": "居住证办理",
                                       "body": "持身份证到派出所办理。",
                                       "fields": {"project_name": "居住证办理",
                                                  "procedure": "到派出所办理"}}, CENTER)
        with pytest.raises(Invalid) as err:
            worker.publish_article(guide["id"], {}, CENTER)
        assert set(err.value.details["fields"]) == {
            "fields.materials", "fields.time_limit", "fields.fee_standard"}
        worker.edit_article(guide["id"], {"fields": {
            "project_name": "居住证办理", "procedure": "到派出所办理", "materials": "身份证",
            "time_limit": "15个工作日", "fee_standard": "不收费"}}, CENTER)
        assert worker.publish_article(guide["id"], {}, CENTER)["status"] == "published"

    def test_labelled_body_fills_the_fields(self, kb: Any) -> None:
        worker, _ = kb
        guide = worker.create_article({"article_type": "guide", "title": "养老保险参保登记",
                                       "body": GUIDE_BODY, "publish": True}, CENTER)
        assert guide["fields"]["materials"] == "居民身份证、户口簿。"
        assert guide["status"] == "published"

    @pytest.mark.parametrize("form, field", [
        ({"article_type": "faq", "fields": {"materials": "x"}}, "fields"),
        ({"article_type": "guide", "fields": {"colour": "x"}}, "fields.colour"),
        ({"article_type": "faq", "valid_from": "2026-12-02", "valid_until": "2026-12-01"},
         "valid_until"),
        ({"article_type": "faq", "categories": ["weather"]}, "categories"),
        ({"article_type": "faq", "review_due": "someday"}, "review_due"),
    ])
    def test_bad_content_is_422_naming_the_field(self, kb: Any, form: dict[str, Any],
                                                 field: str) -> None:
        worker, _ = kb
        with pytest.raises(Invalid) as err:
            worker.create_article({"title": "t", "body": "b", **form}, CENTER)
        assert field in err.value.details["fields"]

    def test_an_expired_entry_cannot_be_published(self, kb: Any) -> None:
        worker, _ = kb
        yesterday = business_today() - timedelta(days=1)
        article = worker.create_article(faq(valid_until=str(yesterday)), CENTER)
        with pytest.raises(Invalid) as err:
            worker.publish_article(article["id"], {}, CENTER)
        assert "valid_until" in err.value.details["fields"]


class TestVersions:
    def test_the_live_version_stays_searchable_until_the_next_is_published(
            self, kb: Any) -> None:
        worker, _ = kb
        article = worker.create_article(faq("停水通知", "计划停水信息提前三天发布。",
                                            publish=True, department_code="shuiwu"), ADMIN)
        worker.edit_article(article["id"], {"title": "停水与降压通知",
                                            "body": "计划停水和降压信息提前五天发布。"}, SHUIWU)
        assert worker.get_article(article["id"], AGENT)["title"] == "停水通知"  # live
        working = worker.get_article(article["id"], SHUIWU)
        assert (working["title"], working["view"], working["live"]) == (
            "停水与降压通知", "working", True)
        assert ids(worker.search({"q": "停水"})) == [article["id"]]
        assert worker.search({"q": "降压"})["total"] == 0
        worker.submit_article(article["id"], {}, SHUIWU)
        worker.publish_article(article["id"], {}, CENTER)
        assert worker.search({"q": "降压"})["items"][0]["version"] == 2
        assert worker.get_article(article["id"], AGENT)["title"] == "停水与降压通知"
        old = worker.get_article(article["id"], SHUIWU, {"version": 1})
        assert (old["title"], old["view"]) == ("停水通知", "version")
        with pytest.raises(Forbidden):
            worker.get_article(article["id"], AGENT, {"version": 1})

    def test_diff_between_two_versions(self, kb: Any) -> None:
        worker, _ = kb
        article = worker.create_article(faq("停水通知", "第一行\n计划停水信息提前三天发布。\n"),
                                        CENTER)
        worker.edit_article(article["id"], {"title": "停水与降压通知",
                                            "body": "第一行\n计划停水信息提前五天发布。\n",
                                            "categories": ["consultation"]}, CENTER)
        diff = worker.article_diff(article["id"], {"from": "1", "to": "2"}, CENTER)
        changed = {c["field"]: c for c in diff["changes"]}
        assert set(changed) == {"title", "categories"}
        assert changed["title"]["from"] == "停水通知"
        assert diff["body"][0] == {"op": "equal", "text": "第一行\n"}
        [replace] = [op for op in diff["body"] if op["op"] == "replace"]
        assert {"op": "delete", "text": "三"} in replace["chars"]
        assert {"op": "insert", "text": "五"} in replace["chars"]
        with pytest.raises(NotFound):
            worker.article_diff(article["id"], {"from": 1, "to": 9}, CENTER)
        with pytest.raises(Invalid) as err:
            worker.article_diff(article["id"], {"from": "x"}, CENTER)
        assert {"from", "to"} <= set(err.value.details["fields"])

    def test_an_edit_from_a_stale_version_is_409_and_an_empty_edit_422(self, kb: Any) -> None:
        worker, _ = kb
        article = worker.create_article(faq(), CENTER)
        worker.edit_article(article["id"], {"title": "新标题", "base_version": 1}, CENTER)
        with pytest.raises(Conflict) as err:
            worker.edit_article(article["id"], {"title": "另一个", "base_version": 1}, CENTER)
        assert err.value.details["current_version"] == 2
        with pytest.raises(Invalid):
            worker.edit_article(article["id"], {"title": "新标题"}, CENTER)
        with pytest.raises(Invalid) as err:
            worker.edit_article(article["id"], {"article_type": "policy"}, CENTER)
        assert "article_type" in err.value.details["fields"]


class TestExpiry:
    def test_expired_entries_are_archived_once_and_leave_the_index(
            self, kb: Any, monkeypatch: Any) -> None:
        worker, db = kb
        today = business_today()
        article = worker.create_article(faq(publish=True, valid_until=str(today)), CENTER)
        keep = worker.create_article(faq("停水查询", "停水信息", publish=True,
                                         valid_until=str(today + timedelta(days=1))), CENTER)
        assert worker.archive_expired() == 0  # valid through today
        tomorrow = lambda: today + timedelta(days=1)  # noqa: E731
        for module in (articles, search):
            monkeypatch.setattr(module, "business_today", tomorrow)
        # not found from the day after its last valid day, even before the sweep
        assert ids(worker.search({"q": "停水"})) == [keep["id"]]
        with pytest.raises(NotFound):
            worker.live_article(article["id"])
        assert worker.archive_expired() == 1
        assert worker.archive_expired() == 0
        [archived] = events_of(db, "kb.article_archived")
        assert archived["data"]["article_id"] == article["id"]
        assert (archived["data"]["reason"], archived["data"]["actor"]) == ("expired", "system")
        detail = worker.get_article(article["id"], CENTER)
        assert (detail["status"], detail["archive_reason"]) == ("archived", "expired")
        assert worker.article_history(article["id"], CENTER)["events"][-1]["action"] == "archive"


class TestSearch:
    def test_filters_paging_highlights_and_records(self, kb: Any) -> None:
        worker, db = kb
        a = worker.create_article(faq("停水<b>通知</b>", "计划停水信息由市水务局提前发布。",
                                      publish=True, department_code="shuiwu",
                                      categories=["consultation"]), ADMIN)
        b = worker.create_article({"article_type": "policy", "title": "城市供水条例",
                                   "body": "停水应当提前24小时通知用户。", "publish": True,
                                   "department_code": "shuiwu", "categories": ["complaint"]},
                                  ADMIN)
        found = worker.search({"q": "停水", "limit": 1}, AGENT)
        assert found["total"] == 2 and len(found["items"]) == 1
        second = worker.search({"q": "停水", "limit": 1, "offset": 1}, AGENT)
        assert ids(found) + ids(second) in ([a["id"], b["id"]], [b["id"], a["id"]])
        assert ids(worker.search({"q": "停水", "article_type": "policy"}, AGENT)) == [b["id"]]
        assert ids(worker.search({"q": "停水", "category": "consultation"}, AGENT)) == [a["id"]]
        hit = next(i for i in worker.search({"q": "停水"}, AGENT)["items"] if i["id"] == a["id"])
        assert "<b>" not in hit["title_html"] and "&lt;b&gt;" in hit["title_html"]
        assert "<mark>停水</mark>" in hit["snippet_html"]
        s, e = hit["highlights"][0]
        assert hit["snippet"][s:e] == "停水"
        with pytest.raises(Invalid) as err:
            worker.search({"q": "停水", "article_type": "poem"})
        assert "article_type" in err.value.details["fields"]
        worker.get_article(a["id"], AGENT, {"via": "search", "ticket_no": "20261202000001"})
        with db.engine.connect() as conn:
            logs = conn.execute(text("SELECT actor, role, total FROM search_log")).all()
            views = conn.execute(text("SELECT actor, via, ticket_no FROM article_view")).all()
        assert ("agent1", "agent", 2) in logs
        assert views == [("agent1", "search", "20261202000001")]

    def test_public_search_and_read(self, kb: Any) -> None:
        worker, db = kb
        live = worker.create_article(faq(publish=True), CENTER)
        draft = worker.create_article(faq("停水内部草稿"), CENTER)
        found = worker.public_search({"q": "停水"})
        assert ids(found) == [live["id"]]
        assert "score" not in found["items"][0]
        article = worker.public_article(live["id"])
        assert article["title"] == live["title"] and "created_by" not in article
        assert "status" not in article and "review_due" not in article
        with pytest.raises(NotFound):
            worker.public_article(draft["id"])
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT via FROM article_view")).scalars().all() == ["public"]

    def test_step_one_entries_are_indexed_at_start(self, kb: Any, store: Any) -> None:
        worker, db = kb
        article = worker.create_article(faq(publish=True), CENTER)
        with db.engine.begin() as conn:  # as migrated from Step 1: no search document
            conn.execute(text("DELETE FROM search_document"))
        fresh = Worker(KnowledgeService, db, search_index=new_index())  # a new process
        assert ids(fresh.search({"q": "停水"})) == [article["id"]]
        with db.engine.connect() as conn:
            assert conn.execute(select(db.tables["search_document"].c.article_id)
                                ).scalars().all() == [article["id"]]

    def test_rows_of_another_analyzer_are_re_analysed_from_their_document(
            self, kb: Any) -> None:
        worker, db = kb
        article = worker.create_article(faq(publish=True), CENTER)
        table = db.tables["search_document"]
        with db.engine.begin() as conn:  # made by an older analyzer: its terms are useless now
            doc = conn.execute(select(table.c.doc)).scalar_one()
            doc = {**doc, "title_terms": {}, "text_terms": {}}
            conn.execute(table.update().values(analyzer_version="r0-old", doc=doc))
        fresh = Worker(KnowledgeService, db, search_index=new_index())
        assert ids(fresh.search({"q": "停水"})) == [article["id"]]
        with db.engine.connect() as conn:  # left as it was: an older instance may still read it
            assert conn.execute(select(table.c.analyzer_version)).scalar_one() == "r0-old"

    def test_a_second_instance_follows_and_archives_leave(self, kb: Any) -> None:
        worker, db = kb
        other = Worker(KnowledgeService, db, search_index=new_index())
        other.follow_index()
        article = worker.create_article(faq(publish=True), CENTER)
        assert other.search({"q": "停水"})["total"] == 0  # not followed yet
        other.follow_index()
        assert ids(other.search({"q": "停水"})) == [article["id"]]
        worker.archive_article(article["id"], {"comment": "过时"}, CENTER)
        other.follow_index()
        assert other.search({"q": "停水"})["total"] == 0
        assert worker.search({"q": "停水"})["total"] == 0
