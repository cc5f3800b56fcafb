"""``hotline reporting rebuild``: its arguments, over RPC (a fake proxy) and directly on a
SQLite database file (real replay)."""

from __future__ import annotations

import argparse
import random
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.orm import Session

from hotline import commands
from hotline.cli import add_reporting_parser
from services.reporting.models import EventLog, KpiCube, TicketFact, metadata
from tests.kpi_world import random_history


def test_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_reporting_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["reporting", "rebuild", "--direct", "--database-url", "sqlite://"])
    assert (args.reporting_command, args.direct, args.database_url) == (
        "rebuild", True, "sqlite://")
    assert parser.parse_args(["reporting", "rebuild"]).direct is False
    with pytest.raises(SystemExit):
        parser.parse_args(["reporting"])


def test_over_rpc_prints_events_and_rate(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    class Reporting:
        def rebuild(self) -> dict[str, Any]:
            return {"events_replayed": 12000, "seconds": 1.5, "events_per_second": 8000.0,
                    "cube_rows": 345}

    @contextmanager
    def fake_rpc(config: Any, timeout: float = 30) -> Any:
        yield type("Rpc", (), {"reporting": Reporting()})()

    monkeypatch.setattr(commands, "cluster_rpc", fake_rpc)
    assert commands.reporting_rebuild({}) == 0
    out = capsys.readouterr().out
    assert "replayed 12000 events in 1.5 s (8,000 events/s); KPI cube rows 345" in out


def test_direct_on_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    h = random_history(random.Random(5), 20, datetime(2026, 10, 1, tzinfo=UTC))
    with Session(engine) as s:
        s.execute(insert(EventLog), [{
            "event_id": e.event_id, "type": e.type, "version": e.version,
            "producer": e.producer, "ticket_no": e.ticket_no, "sequence": e.sequence,
            "occurred_at": e.occurred_at, "received_at": e.occurred_at, "envelope": e.raw}
            for e in h.events])
        s.commit()
    assert commands.reporting_rebuild({}, direct=True, database_url=url) == 0
    assert f"replayed {len(h.events)} events" in capsys.readouterr().out
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(TicketFact)) == 20
        assert s.scalar(select(func.count()).select_from(KpiCube)) > 0
    engine.dispose()
