"""Routing help's entrypoints (knowledge) with a real migrated SQLite database and no broker
(worker_factory): learning from registrations, dispatches, returns and recalls exactly once,
the suggestion emitted for an order no rule matched, the on-demand RPC. Replaced: dispatch's
RPC (the demo city's departments) and the 部门职能 index (the labelled set's entries in the
search module's Index, or in its stand-in before the module is present)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from hotline import demo
from services.knowledge import routing
from services.knowledge.entrypoints.base import OutOfOrder
from services.knowledge.models import OrderProfile, TermDepartment
from services.knowledge.routing_index import ResponsibilityIndex, RoutingKit
from services.knowledge.service import KnowledgeService
from shared.business_time import business_today
from shared.errors import Invalid
from shared.events import Event, load_envelope, make_envelope
from tests.routing_fakes import engine
from tests.routing_labelled import ADMIN, ENTRIES, entry_payload, publish
from tests.service.conftest import Worker, outbox

NOW = datetime.now(UTC)
OWNERS = {e.article_id: (e.title, e.department_code) for e in ENTRIES}


def event(event_type: str, no: str, **data: Any) -> Event:
    return load_envelope(make_envelope(event_type, data, producer="test", ticket_no=no,
                                       sequence=1))


def registered(no: str, content: str, territory: str | None = "510502001",
               **data: Any) -> Event:
    return event("ticket.registered", no, **{
        "ticket_no": no, "registered_at": NOW, "channel": "phone", "category": "complaint",
        "urgency": "normal", "title": content[:20], "content": content,
        "territory_code": territory, "confidential": False, **data})


def dispatched(no: str, round_: int, lead: str, lead_id: int, *assists: tuple[str, int]) -> Event:
    return event("ticket.dispatched", no, ticket_no=no, dispatched_at=NOW, actor="d1",
                 round=round_, category="complaint", urgency="normal", rule_id=None,
                 assignments=[{"assignment_id": lead_id, "department_code": lead, "role": "lead"},
                              *[{"assignment_id": i, "department_code": d, "role": "assist"}
                                for d, i in assists]])


def return_decided(no: str, assignment_id: int, department: str, approved: bool = True) -> Event:
    return event("assignment.return_decided", no, return_id=assignment_id, ticket_no=no,
                 assignment_id=assignment_id, department_code=department, approved=approved,
                 at=NOW, actor="supervisor1")


def pending(no: str, waiting_reason: str | None = "unmatched") -> Event:
    return event("ticket.pending_dispatch", no, ticket_no=no, at=NOW,
                 reason="派单目录无匹配规则 no routing rule matched",
                 waiting_reason=waiting_reason)


class Responsibilities:
    """The labelled set's 部门职能 entries, ranked by the engine's index."""

    def __init__(self) -> None:
        self.eng = engine()

    def hits(self, session: Any, terms: list[str], territory_code: str | None, on: Any,
             limit: int, category: str | None = None) -> list[routing.EntryHit]:
        filters = self.eng.filters(**routing.responsibility_filters_kwargs(territory_code, on,
                                                                           category))
        return routing.entry_hits(self.eng.index, terms, filters, limit, OWNERS)


class DispatchRpc:
    def __init__(self) -> None:
        self.calls = 0

    def departments(self) -> list[dict[str, Any]]:
        self.calls += 1
        return [{"active": True, **d} for d in demo.DEPARTMENTS]

    def territories(self) -> list[dict[str, Any]]:
        return demo.TERRITORIES


@pytest.fixture(scope="module")
def responsibilities() -> Responsibilities:
    return Responsibilities()


@pytest.fixture
def kb(store: Any, responsibilities: Responsibilities) -> Any:
    db = store("knowledge")
    kit = RoutingKit(routing.RoutingSettings(), responsibilities.eng.analyzer, responsibilities)
    rpc = DispatchRpc()
    worker = Worker(KnowledgeService, db, consumer="knowledge.test", routing_help=kit,
                    dispatch_rpc=rpc)
    return worker, db, rpc


def profile(db: Any, no: str) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(select(OrderProfile.__table__).where(
            OrderProfile.ticket_no == no)).first()


def counts(db: Any) -> dict[tuple[str, str], float]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(TermDepartment.term, TermDepartment.department_code,
                                   TermDepartment.count))
        return {(t, d): c for t, d, c in rows if c}


def totals(db: Any) -> dict[str, float]:
    return {d: c for (t, d), c in counts(db).items() if t == ""}


def suggested(db: Any) -> list[dict[str, Any]]:
    found = [e for e in outbox(db) if e["type"] == "kb.departments_suggested"]
    for e in found:
        load_envelope(e)  # each loads with its catalogue schema
    return found


class TestLearning:
    def test_an_order_is_kept_as_terms_once_and_confidential_ones_are_not(self, kb: Any) -> None:
        worker, db, _ = kb
        first = registered("A1", "滨江路有流动摊贩占道经营，晚上油烟很大")
        worker.keep_order_profile(first)
        worker.keep_order_profile(first)  # redelivered: no second effect
        kept = profile(db, "A1")
        assert kept is not None and kept.excluded is None and kept.territory_code == "510502001"
        assert kept.terms and "滨江路有流动摊贩占道经营" not in kept.terms
        worker.keep_order_profile(registered("S1", "涉密举报内容", confidential=True))
        worker.keep_order_profile(registered("R1", "停水咨询", resolved_at_intake=True))
        secret, resolved = profile(db, "S1"), profile(db, "R1")
        assert secret is not None and secret.excluded == "confidential" and secret.terms == []
        assert secret.territory_code is None
        assert resolved is not None and resolved.excluded == "resolved"
        worker.learn_dispatch(dispatched("S1", 1, "gongan", 1))  # known, excluded: not learned
        assert counts(db) == {}

    def test_a_dispatch_counts_once_a_return_uncounts_a_redispatch_moves(self, kb: Any) -> None:
        worker, db, _ = kb
        worker.keep_order_profile(registered("A1", "小区门口流动摊贩占道经营"))
        first = dispatched("A1", 1, "jy_nancheng", 10, ("chengguan", 11))
        worker.learn_dispatch(first)
        worker.learn_dispatch(first)  # redelivered
        assert totals(db) == {"jy_nancheng": 1}
        terms = profile(db, "A1").terms
        assert all(counts(db)[(t, "jy_nancheng")] == 1 for t in terms)
        worker.learn_dispatch(return_decided("A1", 11, "chengguan"))  # the assistant's
        assert totals(db) == {"jy_nancheng": 1}
        worker.learn_dispatch(return_decided("A1", 10, "jy_nancheng", approved=False))
        assert totals(db) == {"jy_nancheng": 1}
        worker.learn_dispatch(return_decided("A1", 10, "jy_nancheng"))  # 职能不符, approved
        assert totals(db) == {} and counts(db) == {}
        worker.learn_dispatch(dispatched("A1", 2, "chengguan", 12))
        assert totals(db) == {"chengguan": 1}
        assert profile(db, "A1").counted

    def test_a_redispatch_overtaking_the_return_and_a_recall(self, kb: Any) -> None:
        worker, db, _ = kb
        worker.keep_order_profile(registered("A1", "路灯不亮"))
        worker.learn_dispatch(dispatched("A1", 1, "chengguan", 10))
        worker.learn_dispatch(dispatched("A1", 2, "zhujian", 12))
        worker.learn_dispatch(return_decided("A1", 10, "chengguan"))  # late: void
        worker.learn_dispatch(dispatched("A1", 1, "chengguan", 10))  # a stale copy, new id
        assert totals(db) == {"zhujian": 1}
        worker.learn_dispatch(event("ticket.recalled", "A1", ticket_no="A1", round=2, at=NOW,
                                    actor="dispatcher1", reason="派错", assignment_ids=[12],
                                    departments=["zhujian"]))
        assert totals(db) == {}

    def test_a_dispatch_before_its_registration_is_retried(self, kb: Any) -> None:
        worker, db, _ = kb
        with pytest.raises(OutOfOrder):
            worker.learn_dispatch(dispatched("A9", 1, "chengguan", 10))
        worker.learn_dispatch(return_decided("A9", 10, "chengguan"))  # nothing to undo yet
        worker.keep_order_profile(registered("A9", "占道经营"))
        worker.learn_dispatch(dispatched("A9", 1, "chengguan", 10))  # the retry
        assert totals(db) == {"chengguan": 1}


class TestSuggesting:
    def test_an_unmatched_order_gets_ranked_departments_with_reasons_once(self, kb: Any) -> None:
        worker, db, _ = kb
        for i in range(3):  # history: 占道经营 went to 城管
            no = f"H{i}"
            worker.keep_order_profile(registered(no, f"夜市摊贩占道经营堵路{i}"))
            worker.learn_dispatch(dispatched(no, 1, "chengguan", 100 + i))
        worker.keep_order_profile(registered("N1", "南城街道有流动摊贩占道经营，夜市堵路"))
        waiting = pending("N1")
        worker.suggest_for_pending_order(waiting)
        worker.suggest_for_pending_order(waiting)  # redelivered
        [emitted] = suggested(db)
        data = emitted["data"]
        assert emitted["ticket_no"] == "N1" and data["round"] == 1
        top = data["suggestions"][0]
        assert top["department_code"] == "chengguan" and 0 < top["score"] <= 1
        assert data["confidence"] == pytest.approx(
            top["score"] - (data["suggestions"][1]["score"] if len(data["suggestions"]) > 1
                            else 0), abs=1e-3)
        assert any(r.startswith("部门职能「市综合行政执法局主要职责」命中：") for r in top["reasons"])
        history = [r for r in top["reasons"] if r.startswith("相似历史工单 3 件派往该部门")]
        assert history and "如 H" in history[0]
        assert [s["score"] for s in data["suggestions"]] == sorted(
            (s["score"] for s in data["suggestions"]), reverse=True)

    def test_a_wrong_lead_gets_the_order_a_new_suggestion_without_it(self, kb: Any) -> None:
        worker, db, _ = kb
        worker.keep_order_profile(registered("W1", "路边窨井盖丢了，污水井往外冒水"))
        worker.learn_dispatch(dispatched("W1", 1, "chengguan", 10))
        assert suggested(db) == []
        worker.learn_dispatch(return_decided("W1", 10, "chengguan", approved=False))
        assert suggested(db) == []  # rejected: the department keeps it
        approved = return_decided("W1", 10, "chengguan")
        worker.learn_dispatch(approved)
        worker.learn_dispatch(approved)  # redelivered
        [after_return] = suggested(db)
        codes = [x["department_code"] for x in after_return["data"]["suggestions"]]
        assert after_return["data"]["round"] == 2
        assert codes[0] == "shuiwu" and "chengguan" not in codes
        worker.learn_dispatch(dispatched("W1", 2, "shuiwu", 12))
        worker.learn_dispatch(event("ticket.recalled", "W1", ticket_no="W1", round=2, at=NOW,
                                    actor="dispatcher1", reason="派错", assignment_ids=[12],
                                    departments=["shuiwu"]))
        after_recall = suggested(db)[-1]["data"]
        assert after_recall["round"] == 3
        assert "shuiwu" not in [x["department_code"] for x in after_recall["suggestions"]]

    def test_review_waits_and_confidential_orders_get_nothing(self, kb: Any) -> None:
        worker, db, _ = kb
        worker.keep_order_profile(registered("N2", "占道经营"))
        worker.suggest_for_pending_order(pending("N2", waiting_reason="review"))
        worker.keep_order_profile(registered("S2", "涉密", confidential=True))
        worker.suggest_for_pending_order(pending("S2"))
        assert suggested(db) == []
        with pytest.raises(OutOfOrder):
            worker.suggest_for_pending_order(pending("N3"))

    def test_departments_are_asked_of_dispatch_once_per_ttl(self, kb: Any) -> None:
        worker, _, rpc = kb
        for _ in range(3):
            worker.suggest_departments({"text": "拖欠工资"})
        assert rpc.calls == 1


class TestOnDemand:
    def test_suggest_departments_for_a_text_and_territory(self, kb: Any) -> None:
        worker, _, _ = kb
        found = worker.suggest_departments({"text": "老旧小区楼道堆放杂物没人管",
                                            "territory_code": "510504001", "limit": 3})
        assert found["suggestions"] and len(found["suggestions"]) <= 3
        top = found["suggestions"][0]
        assert top["department_code"] == "lmt_xiaoshi"
        assert top["department_name"] == "龙马潭区小市街道办事处"
        assert "属地：小市街道" in top["reasons"]
        elsewhere = worker.suggest_departments({"text": "老旧小区楼道堆放杂物没人管",
                                                "territory_code": "510502002"})
        assert "lmt_xiaoshi" not in [s["department_code"] for s in elsewhere["suggestions"]]

    @pytest.mark.parametrize("query, field", [
        ({"text": "   "}, "text"), ({}, "text"), ({"text": "x", "category": "poem"}, "category"),
        ({"text": "x", "limit": 0}, "limit"), ({"text": "x", "bogus": 1}, "bogus")])
    def test_bad_input_names_the_field(self, kb: Any, query: dict[str, Any], field: str) -> None:
        worker, _, _ = kb
        with pytest.raises(Invalid) as err:
            worker.suggest_departments(query)
        assert field in err.value.details["fields"]


class TestResponsibilityIndex:
    """The real 部门职能 index (services/knowledge/routing_index.py) over the entries in the
    database: only live responsibility entries, rebuilt when one is published."""

    def test_it_follows_publication(self, store: Any) -> None:
        analysis = pytest.importorskip("services.knowledge.analysis")
        pytest.importorskip("services.knowledge.search")

        db = store("knowledge")
        worker = Worker(KnowledgeService, db)
        water, urban = ENTRIES[9], ENTRIES[0]
        assert (water.department_code, urban.department_code) == ("shuiwu", "chengguan")
        worker.create_article(entry_payload(water), ADMIN)
        draft = worker.create_article(entry_payload(urban, publish=False), ADMIN)
        worker.create_article({"article_type": "faq", "title": "窨井盖丢了找谁",
                               "body": "窨井盖 占道经营", "department_code": "gongan",
                               "publish": True}, ADMIN)
        analyzer = analysis.shared_analyzer()
        index = ResponsibilityIndex(analyzer)
        terms = routing.order_terms(analyzer.terms("窨井盖丢了，门口还有流动摊贩占道经营"))

        def owners() -> set[str]:
            uow = db.unit_of_work()
            try:
                return {h.department_code for h in index.hits(uow.session, terms, "510502001",
                                                              business_today(), 10)}
            finally:
                uow.rollback()

        assert owners() == {"shuiwu"}
        publish(worker, draft["id"])
        assert owners() == {"shuiwu", "chengguan"}
