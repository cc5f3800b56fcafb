"""The KPI cube against the plain GROUP BY on random histories, and rebuild by replay.

Real: the catalogue, projections, cube and both report paths on in-memory SQLite; the event
log filled as ``on_any_event`` fills it. Random histories come from ``tests/kpi_world.py``
(whole lifecycles with late replies, extensions, returns, recalls, reopenings, failed
callbacks and linked calls), drawn from a hypothesis seed; modest example counts.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session

from services.reporting import cube, kpis, kpis_plain, replay
from services.reporting.models import EventLog, metadata
from shared.events import load_envelope
from tests.kpi_world import History, random_history

START = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2027, 1, 1, tzinfo=UTC)
GROUPS = ("department", "category", "territory", "channel", "none")


def fresh() -> Session:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    return Session(engine)


def live(h: History) -> Session:
    """Events applied as the consumer applies them: logged, projected, cube refreshed."""
    s = fresh()
    received = datetime.now(UTC)
    for e in h.events:
        s.execute(insert(EventLog).values(
            event_id=e.event_id, type=e.type, version=e.version, producer=e.producer,
            ticket_no=e.ticket_no, sequence=e.sequence, occurred_at=e.occurred_at,
            received_at=received, envelope=e.raw))
        cube.project_event(s, e)
    s.commit()
    return s


def cube_cells(s: Session) -> list[Any]:
    return sorted(tuple(r) for r in s.execute(text(
        "SELECT metric, dimension, group_key, day_a, day_b, good, n FROM kpi_cube WHERE n != 0")))


def facts(s: Session) -> dict[str, list[Any]]:
    return {m.__tablename__: sorted(tuple(r) for r in s.execute(select(m.__table__)))
            for m in replay.FACT_TABLES}


days = st.integers(min_value=0, max_value=120)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), orders=st.integers(1, 25), first=days, length=days,
       group_by=st.sampled_from(GROUPS))
def test_cube_report_equals_the_plain_group_by(seed: int, orders: int, first: int,
                                               length: int, group_by: str) -> None:
    h = random_history(random.Random(seed), orders, START, span_days=40)
    s = live(h)
    start = date(2026, 10, 1) + timedelta(days=first)
    end = start + timedelta(days=length)
    assert kpis.kpi_report(s, start, end, group_by, NOW) == \
        kpis_plain.kpi_report(s, start, end, group_by, NOW)
    # and on the cube rebuilt in bulk from the facts
    live_cells = cube_cells(s)
    cube.rebuild_cube(s)
    assert cube_cells(s) == live_cells


def test_rebuild_by_replay_gives_identical_facts_cube_and_figures() -> None:
    h = random_history(random.Random(7), 120, START, span_days=60)
    h.instruction(START + timedelta(days=3))
    s = live(h)
    before_facts, before_cells = facts(s), cube_cells(s)
    reports = {g: kpis.kpi_report(s, date(2026, 10, 1), date(2026, 12, 31), g, NOW)
               for g in GROUPS}
    result = replay.replay(s, page=97)  # small pages: orders span many of them
    s.commit()
    assert result["events_replayed"] == len(h.events)
    assert facts(s) == before_facts
    assert cube_cells(s) == before_cells
    assert {g: kpis.kpi_report(s, date(2026, 10, 1), date(2026, 12, 31), g, NOW)
            for g in GROUPS} == reports


def test_a_second_replay_changes_nothing() -> None:
    s = live(random_history(random.Random(3), 40, START))
    replay.replay(s)
    first = facts(s), cube_cells(s)
    replay.replay(s)
    assert (facts(s), cube_cells(s)) == first


def test_logged_events_decode_as_the_full_load_does() -> None:
    h = random_history(random.Random(11), 60, START)
    h.instruction(START)
    for e in h.events:
        fast = replay.decode_logged(e.raw)
        full = load_envelope(e.raw)
        assert (fast.type, fast.data, fast.occurred_at, fast.ticket_no, fast.sequence) == (
            full.type, full.data, full.occurred_at, full.ticket_no, full.sequence)
