"""Unit tests for services.reporting.hotspots: title keywords, the spike rule on sorted call
times, and the top lists on hand-built events.

Real: jieba through shared/segmentation.py, the catalogue schemas (events go through
make_envelope / load_envelope), SQLAlchemy on an in-memory SQLite database built from
reporting's metadata. No broker, no service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from services.reporting import hotspots, projections
from services.reporting.hotspots import SpikeRule, detect
from services.reporting.models import TicketTerm, metadata
from shared.events import Event, load_envelope, make_envelope

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
RULE = SpikeRule(3, timedelta(minutes=60))


def registered(no: str, at: datetime, title: str, territory: str | None = "310101001",
               category: str = "complaint", confidential: bool = False) -> Event:
    return load_envelope(make_envelope("ticket.registered", {
        "ticket_no": no, "registered_at": at, "channel": "phone", "category": category,
        "urgency": "normal", "title": title, "content": "c", "territory_code": territory,
        "confidential": confidential}, producer="intake", ticket_no=no, sequence=1))


def linked(no: str, link_id: int, at: datetime) -> Event:
    return load_envelope(make_envelope("ticket.linked", {
        "ticket_no": no, "link_id": link_id, "linked_at": at, "content": "c", "channel": "phone",
        "agent": "a", "reason": "similar_matter"}, producer="intake", ticket_no=no))


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def project(session: Session, *events: Event, emitted: list[Any] | None = None) -> None:
    def emit(event_type: str, data: dict[str, Any]) -> None:
        assert emitted is not None
        emitted.append((event_type, data))

    for e in events:
        projections.apply(session, e)
        hotspots.on_event(session, e, RULE, emit if emitted is not None else None)
    session.flush()


class TestKeywords:
    def test_stop_words_single_characters_and_numbers_are_dropped(self) -> None:
        terms = hotspots.keywords("关于市民反映3号楼电梯故障的投诉问题")
        assert "电梯" in terms and "故障" in terms
        for dropped in ("关于", "市民", "反映", "投诉", "问题", "的", "3"):
            assert dropped not in terms
        assert all(len(t) > 1 for t in terms)

    def test_title_order_kept_once_and_domain_words_whole(self) -> None:
        assert hotspots.keywords("滨江路占道经营，占道经营扰民") == ["滨江路", "占道经营", "扰民"]
        assert hotspots.keywords("") == [] and hotspots.keywords(None) == []

    def test_confidential_orders_are_never_stored(self, session: Session) -> None:
        project(session, registered("A1", T0, "滨江路路灯不亮"),
                registered("S1", T0, "某单位涉密事项举报", confidential=True))
        stored = {(t.ticket_no, t.term, t.position) for t in session.scalars(select(TicketTerm))}
        assert stored == {("A1", "滨江路", 0), ("A1", "路灯", 1), ("A1", "不亮", 2)}


def calls(*minutes: float) -> list[tuple[datetime, str]]:
    return [(T0 + timedelta(minutes=m), f"T{i}") for i, m in enumerate(minutes)]


class TestDetect:
    def test_raised_at_the_nth_call_within_the_window(self) -> None:
        got = detect(calls(0, 20, 59), T0 + timedelta(minutes=59), [], RULE)
        assert [s.at for s in got] == [T0 + timedelta(minutes=59)] and len(got[0].calls) == 3

    def test_not_for_calls_spread_beyond_the_window(self) -> None:
        # (e − 60 min, e]: the call 60 minutes before the third is outside its window
        assert detect(calls(0, 30, 60), T0 + timedelta(minutes=60), [], RULE) == []

    def test_once_per_window_and_again_for_a_later_surge(self) -> None:
        c = calls(0, 1, 2, 3, 4, 30, 59, 130, 131, 132)
        raised: list[datetime] = []
        for i in range(len(c)):
            raised += [s.at for s in detect(c[:i + 1], c[i][0], raised, RULE)]
        # 3 … 59 are still within the first alert's hour; 130–132 are a new surge
        assert raised == [c[2][0], c[9][0]]

    def test_no_call_counts_in_two_alerts(self) -> None:
        c = calls(0, 1, 2, 3, 4, 62)
        raised: list[datetime] = []
        for i in range(len(c)):
            raised += [s.at for s in detect(c[:i + 1], c[i][0], raised, RULE)]
        # at 62 the window (2, 62] holds 3, 4 and 62: none of them was counted at 2
        assert raised == [c[2][0], c[5][0]]

    def test_a_late_call_completes_a_window_ending_at_a_later_call(self) -> None:
        c = calls(0, 10, 20)
        # the call at 10 arrives last: the window ending at 20 now holds three calls
        got = detect(c, c[1][0], [], RULE)
        assert [s.at for s in got] == [c[2][0]]


class TestTopLists:
    def test_counts_and_shares_without_confidential_orders(self, session: Session) -> None:
        project(session,
                registered("A1", T0, "滨江路路灯不亮"),
                registered("A2", T0 + timedelta(minutes=5), "滨江路路灯不亮"),
                registered("B1", T0 + timedelta(minutes=6), "幸福小区停水", territory="310101002",
                           category="help"),
                linked("A1", 1, T0 + timedelta(minutes=7)),
                registered("S1", T0, "涉密举报", territory="310101009", category="report",
                           confidential=True),
                registered("OLD", T0 - timedelta(days=2), "滨江路路灯不亮"))
        got = hotspots.top_lists(session, T0 - timedelta(hours=1), T0 + timedelta(hours=1), 10)
        assert got["total_calls"] == 4
        assert got["categories"] == [
            {"category": "complaint", "category_label": "投诉", "calls": 3, "share": 0.75},
            {"category": "help", "category_label": "求助", "calls": 1, "share": 0.25}]
        assert got["places"] == [{"territory_code": "310101001", "calls": 3, "share": 0.75},
                                 {"territory_code": "310101002", "calls": 1, "share": 0.25}]
        terms = {k["term"]: k["calls"] for k in got["keywords"]}
        assert terms["路灯"] == 3 and terms["停水"] == 1 and "涉密" not in terms
        assert got["keywords"][0]["calls"] == 3

    def test_limit(self, session: Session) -> None:
        project(session, *(registered(f"N{i}", T0, "路灯", territory=f"31010100{i}")
                           for i in range(5)))
        got = hotspots.top_lists(session, T0, T0 + timedelta(minutes=1), 2)
        assert len(got["places"]) == 2 and got["total_calls"] == 5
