"""Knowledge's use and monitoring (资料库运行监控): the resolved-at-intake handler and
``usage_report`` on known rows, through ``worker_factory`` on a migrated SQLite file.

The entries, views and searches are written straight into knowledge's tables (the article and
search entrypoints that normally write them are not what is under test here)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from services.knowledge.models import Article, ArticleResolution, ArticleView, SearchLog
from services.knowledge.service import KnowledgeService
from shared.business_time import business_today
from shared.errors import Invalid
from shared.events import load_envelope, make_envelope
from tests.service.conftest import Worker

NOW = datetime.now(UTC)


@pytest.fixture
def kb(store: Any) -> Any:
    db = store("knowledge")
    return Worker(KnowledgeService, db), db


def _resolved(no: str, article_id: int | None, at: datetime = NOW, event_id: str | None = None) -> Any:
    envelope = make_envelope("ticket.resolved_at_intake", {
        "ticket_no": no, "resolved_at": at, "actor": "agent1", "answer": "已答复",
        "article_id": article_id}, producer="intake", ticket_no=no)
    if event_id:
        envelope["event_id"] = event_id
    return load_envelope(envelope)


def _article(session: Any, title: str, dept: str | None, *, status: str = "published",
             published: datetime | None = NOW - timedelta(days=90),
             review_due: date | None = None) -> int:
    article = Article(article_type="faq", title=title, body=title, department_code=dept,
                      status=status, current_version=1,
                      published_version=1 if status == "published" else None,
                      created_at=NOW - timedelta(days=100), published_at=published,
                      review_due=review_due)
    session.add(article)
    session.flush()
    return article.id


def _seed(db: Any) -> dict[str, int]:
    uow = db.unit_of_work()
    s = uow.session
    ids = {
        "water": _article(s, "停水了怎么查询恢复供水时间", "shuiwu"),
        "pension": _article(s, "城乡居民养老保险参保登记", "renshe",
                            review_due=business_today() - timedelta(days=10)),
        "stalls": _article(s, "占道经营投诉处理", "chengguan"),
        "unused": _article(s, "供水管网报修", "shuiwu",
                           review_due=business_today() + timedelta(days=30)),
        "draft": _article(s, "草稿", "shuiwu", status="draft", published=None),
    }
    for days, actor in ((1, "agent1"), (2, "agent1"), (3, "agent2"), (40, "agent3")):
        s.add(ArticleView(article_id=ids["water"], version=1, at=NOW - timedelta(days=days),
                          actor=actor, role="agent", via="search"))
    s.add(ArticleView(article_id=ids["water"], version=1, at=NOW - timedelta(hours=1),
                      actor=None, role=None, via="public"))
    s.add(ArticleView(article_id=ids["pension"], version=1, at=NOW - timedelta(days=5),
                      actor="agent2", role="agent", via="direct"))
    for q, days, filters in (("新能源车充电桩", 1, {}), ("新能源车 充电桩", 2, {}),
                             ("ＥＴＣ办理", 3, {}), ("停水赔偿", 4, {"department_code": "shuiwu"}),
                             ("很久以前", 45, {})):
        s.add(SearchLog(at=NOW - timedelta(days=days), actor="agent1", role="agent", query=q,
                        normalized=q, filters=filters, total=0))
    s.add(SearchLog(at=NOW - timedelta(days=1), actor="agent1", role="agent", query="停水",
                    normalized="停水", filters={}, total=3))
    uow.commit()
    return ids


class TestResolvedAtIntake:
    def test_the_same_event_twice_makes_one_row(self, kb: Any) -> None:
        worker, db = kb
        worker = Worker(KnowledgeService, db, consumer="knowledge.on_resolved_at_intake")
        event = _resolved("20261201000001", 7)
        worker.on_resolved_at_intake(event)
        worker.on_resolved_at_intake(event)
        # a second event for the same order (another producer's retry): still one row
        worker.on_resolved_at_intake(_resolved("20261201000001", 7, event_id="other-id"))
        with db.engine.connect() as conn:
            rows = conn.execute(select(ArticleResolution.ticket_no, ArticleResolution.article_id,
                                       ArticleResolution.actor)).all()
        assert [tuple(r) for r in rows] == [("20261201000001", 7, "agent1")]

    def test_an_order_resolved_without_an_entry_leaves_no_row(self, kb: Any) -> None:
        _, db = kb
        worker = Worker(KnowledgeService, db, consumer="knowledge.on_resolved_at_intake")
        worker.on_resolved_at_intake(_resolved("20261201000002", None))
        with db.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(ArticleResolution)) == 0
            assert conn.scalar(select(func.count()).select_from(db.tables["inbox"])) == 1


class TestUsageReport:
    def test_the_last_30_days_for_the_center(self, kb: Any) -> None:
        worker, db = kb
        ids = _seed(db)
        handler = Worker(KnowledgeService, db, consumer="knowledge.on_resolved_at_intake")
        for n, days in ((1, 1), (2, 2), (3, 3)):
            handler.on_resolved_at_intake(_resolved(f"2026120100000{n}", ids["water"],
                                                    NOW - timedelta(days=days)))
        handler.on_resolved_at_intake(_resolved("20261001000009", ids["stalls"],
                                                NOW - timedelta(days=50)))  # before the period

        report = worker.usage_report({})
        today = business_today()
        assert report["period"] == {"from": (today - timedelta(days=29)).isoformat(),
                                    "to": today.isoformat()}
        water = report["opened"][0]
        assert (water["article_id"], water["views"], water["users"], water["public_views"]) == (
            ids["water"], 3, 2, 1)  # the view 40 days ago is outside; agent1 twice
        assert [o["article_id"] for o in report["opened"]] == [ids["water"], ids["pension"]]
        [resolved] = report["resolved"]
        assert resolved["article_id"] == ids["water"] and resolved["resolutions"] == 3
        assert resolved["ticket_nos"] == ["20261201000001", "20261201000002", "20261201000003"]
        gaps = report["searches_without_result"]
        assert [(g["query"], g["count"]) for g in gaps] == [
            ("新能源车充电桩", 1), ("新能源车 充电桩", 1), ("etc办理", 1), ("停水赔偿", 1)]
        assert gaps[2]["examples"] == ["ＥＴＣ办理"]
        # stalls was cited by a resolution (before the period): used; the draft is not live
        assert [a["article_id"] for a in report["never_used"]] == [ids["unused"]]
        [overdue] = report["review_overdue"]
        assert (overdue["article_id"], overdue["days_overdue"]) == (ids["pension"], 10)
        assert report["totals"] == {"published": 4, "views": 4, "public_views": 1,
                                    "resolutions": 3, "searches": 5,
                                    "searches_without_result": 4, "never_used": 1,
                                    "review_overdue": 1}
        by_dept = {d["department_code"]: d for d in report["departments"]}
        assert by_dept["shuiwu"] == {"department_code": "shuiwu", "published": 2, "views": 3,
                                     "resolutions": 3, "never_used": 1, "review_overdue": 0}
        assert by_dept["renshe"]["review_overdue"] == 1

    def test_one_department_sees_its_own_entries(self, kb: Any) -> None:
        worker, db = kb
        ids = _seed(db)
        report = worker.usage_report({"department_code": "shuiwu"})
        assert {o["article_id"] for o in report["opened"]} == {ids["water"]}
        assert report["review_overdue"] == []
        assert [g["query"] for g in report["searches_without_result"]] == ["停水赔偿"]
        assert [d["department_code"] for d in report["departments"]] == ["shuiwu"]
        assert report["totals"]["searches"] is None

    def test_an_explicit_period_and_the_limit(self, kb: Any) -> None:
        worker, db = kb
        ids = _seed(db)
        today = business_today()
        first = (today - timedelta(days=60)).isoformat()
        report = worker.usage_report({"from": first, "to": today.isoformat(), "limit": 1})
        assert report["opened"][0]["views"] == 4  # agent3's view 40 days ago is inside now
        assert len(report["searches_without_result"]) == 1
        assert report["totals"]["searches_without_result"] == 5
        assert report["opened"][0]["article_id"] == ids["water"]

    @pytest.mark.parametrize("query, field", [
        ({"from": "2026-12-01", "to": "2026-11-01"}, "from"),
        ({"from": "2020-01-01", "to": "2026-11-01"}, "from"),
        ({"from": "not a date"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"limit": 0}, "limit"),
        ({"department_code": ""}, "department_code"),
    ])
    def test_bad_input_names_the_field(self, kb: Any, query: dict[str, Any], field: str) -> None:
        worker, _ = kb
        with pytest.raises(Invalid) as err:
            worker.usage_report(query)
        assert field in err.value.details["fields"]
