"""The reporting benchmark (bench/reporting.py, bench/reporting_data.py): the generated year is
deterministic and shaped as the issue asks, its events are valid catalogue events that the
projections turn into exactly the rows the bulk load writes, report comparison finds every
difference, and a quick run on SQLite writes a complete results file whose cube and plain
reports agree. No timing is asserted."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bench import reporting, reporting_data
from bench.reporting_data import NOW, YEAR_START, counts, events, fact_rows, plan

pytestmark = pytest.mark.timeout(600)


def orders(n: int, seed: int = 7) -> list[reporting_data.Order]:
    return [o for chunk in plan(n, seed) for o in chunk]


class TestGeneratedYear:
    def test_the_same_seed_gives_the_same_orders_whatever_the_size(self):
        small, large = orders(300), orders(reporting_data.CHUNK + 50)
        assert fact_rows(small) == fact_rows(large[:300])
        assert fact_rows(orders(300, seed=8)) != fact_rows(small)

    def test_a_slice_from_an_offset_is_the_same_orders(self):
        whole = orders(reporting_data.CHUNK + 40)
        tail = [o for chunk in plan(reporting_data.CHUNK + 40, 7, first=reporting_data.CHUNK - 10)
                for o in chunk]
        assert [o.ticket_no for o in tail] == [o.ticket_no for o in whole[-50:]]
        assert fact_rows(tail) == fact_rows(whole[-50:])

    def test_the_shape_of_the_year(self):
        c = counts(orders(10_000))
        assert c["orders"] == 10_000
        assert 1.2 <= c["assignments"] / c["orders"] <= 1.4  # incl. assisting ones
        assert 0.05 <= c["resolved_at_intake"] / c["orders"] <= 0.12
        assert 0.01 <= c["lead_replied_late"] / c["lead_replied"] <= 0.10  # a few per cent late
        assert c["lead_open_overdue"] > 0 and c["extensions"] > 0
        assert c["returns_approved"] > c["returns_rejected"] > 0
        assert c["reopened"] > 0 and c["unreachable_3"] > 0 and c["linked_calls"] > 0
        assert c["satisfied_or_basically"] / c["rated"] >= 0.85  # mostly satisfied
        rows = fact_rows(orders(10_000))
        tickets = rows["ticket_fact"]
        assert len({t[3] for t in tickets}) == 5  # channels
        assert len({t[4] for t in tickets}) == 7  # categories
        assert len({t[6] for t in tickets}) == 16  # territories
        assert len({a[2] for a in rows["assignment_fact"]}) == 40  # departments
        months = {(t[2].year, t[2].month) for t in tickets}
        assert len(months) == 12  # the assessment year's 12 months
        assert all(YEAR_START <= t[1] < NOW for t in tickets)

    def test_nothing_happens_after_the_benchmark_instant(self):
        rows = fact_rows(orders(3000))
        for table, cols in reporting_data.TABLES.items():
            for r in rows[table]:
                for c, v in zip(cols, r, strict=True):
                    if hasattr(v, "tzinfo") and v.tzinfo is not None and c not in (
                            "sign_due", "handle_due"):
                        assert v < NOW, (table, c, r)

    def test_overdue_marks_follow_the_deadlines(self):
        for a in fact_rows(orders(3000))["assignment_fact"]:
            (_, _, _, _, _, _, sign_due, handle_due, _, signed, replied, sign_over, handle_over,
             ended, reason) = a
            if sign_over is not None:
                assert signed is None or signed > sign_due
            if replied is not None and replied > handle_due:
                assert handle_over is not None  # replied late: it was marked overdue
            if handle_over is not None:
                assert replied is None or replied > handle_due
            assert (ended is None) == (reason is None)

    def test_events_are_catalogue_events_that_project_to_the_bulk_rows(self):
        from services.reporting import projections
        from services.reporting.models import metadata
        from shared.events import load_envelope

        sample = orders(400)
        engine = create_engine("sqlite://")
        metadata.create_all(engine)
        with Session(engine) as session:
            envelopes = [e for o in sample for e in events(o)]
            assert len(envelopes) > 10 * len(sample)
            projections.project_all(session, (load_envelope(e) for e in envelopes))
            session.commit()
        url_facts = {}
        with engine.connect() as conn:
            for table, cols in reporting_data.TABLES.items():
                t = metadata.tables[table]
                url_facts[table] = [tuple(r) for r in conn.execute(
                    t.select().with_only_columns(*(t.c[c] for c in cols)))]
        assert reporting.compare_facts(url_facts, fact_rows(sample)) == []

    def test_compare_facts_names_each_difference(self):
        rows = fact_rows(orders(20))
        changed = {k: list(v) for k, v in rows.items()}
        t = changed["ticket_fact"][3]
        changed["ticket_fact"][3] = (*t[:21], "other", *t[22:])
        del changed["assignment_fact"][0]
        diffs = reporting.compare_facts(changed, rows)
        assert any(d.startswith(f"ticket_fact {t[0]}.close_reason") for d in diffs)
        assert any(d.startswith("assignment_fact") and "only generated" in d for d in diffs)


class TestReportDifferences:
    REPORT = {"from": "2026-06-01", "to": "2026-06-30", "group_by": "department",
              "rows": [{"group": "a", "intake": 3, "on_time_sign": {"rate": 0.5, "numerator": 1,
                                                                    "sample": 2}},
                       {"group": "b", "intake": 1}],
              "total": {"group": "全部", "intake": 4}, "as_of": "x"}

    def test_equal_reports_agree_whenever_they_were_made(self):
        other = json.loads(json.dumps(self.REPORT))
        other["as_of"] = "y"
        assert reporting.differences(self.REPORT, other) == []

    def test_every_differing_figure_and_group_is_named(self):
        other = json.loads(json.dumps(self.REPORT))
        other["rows"][0]["on_time_sign"]["numerator"] = 2
        other["rows"].pop()
        other["total"]["intake"] = 3
        diffs = reporting.differences(self.REPORT, other)
        assert any(d.startswith("a.on_time_sign") for d in diffs)
        assert "group b: only in cube" in diffs
        assert any(d.startswith("total.intake") for d in diffs)


class TestOptions:
    def test_quick_and_backends(self):
        opts = reporting.options({"quick": True, "backend": "sqlite"})
        assert opts["orders"] == 5000 and opts["backends"] == ["sqlite"]
        assert reporting.options({})["backends"] == ["sqlite", "postgresql"]
        assert reporting.options({"database": "postgres"})["backends"] == ["postgresql"]
        assert reporting.options({"orders": 300})["replay_orders"] == 300

    @pytest.mark.parametrize("bad", [{"backend": "oracle"}, {"orders": 5}, {"rate": 3}])
    def test_bad_options_are_refused(self, bad):
        with pytest.raises(ValueError):
            reporting.options(bad)


def test_a_quick_run_on_sqlite_writes_its_results_and_the_reports_agree(tmp_path):
    code = reporting.run({}, quick=True, backend="sqlite", results_dir=str(tmp_path))
    path = tmp_path / "reporting-n5000-sqlite-quick.json"
    result = json.loads(path.read_text("utf-8"))
    assert (tmp_path / "reporting-n5000-sqlite-quick.md").read_text("utf-8").startswith(
        "#### `hotline bench reporting`")
    assert code == 0 and result["checks_ok"] is True
    assert result["backends"] == ["sqlite"] and result["parameters"]["orders"] == 5000
    assert result["machine"]["cpu_count"] and result["versions"]["sqlite"]
    assert result["build"]["rows"]["ticket_fact"] == 5000
    x = result["per_backend"]["sqlite"]
    for name in ("month", "all_time"):
        r = x["reports"][name]
        assert r["agree"] is True and r["differences"] == []
        assert r["cube"]["n"] == 3 and r["plain"]["n"] == 2
        assert r["cube"]["p50"] > 0 and r["cube"]["p95"] >= r["cube"]["p50"]
        assert r["groups"] >= 30  # by department
    assert x["reports"]["all_time"]["total"]["intake"] == 5000
    assert 0 < x["reports"]["month"]["total"]["intake"] < 5000
    assert x["reports"]["cube_rows"] > 0
    assert x["rebuild"]["facts_equal_generated"] is True
    assert x["rebuild"]["events"] > 200 * 10 and x["rebuild"]["events_per_s"] > 0
    # not the reference size: the targets are not judged
    assert x["targets"]["month_ms"]["met"] is None


def test_benchmark_instant_is_the_end_of_the_assessment_year():
    assert NOW - YEAR_START == timedelta(days=365)
