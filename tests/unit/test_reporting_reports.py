"""Periodic reports' plain rules: the 三率 ranking (weights, ties, the small-sample rule), report
input, and the files rendered from a snapshot (SVG well-formed and escaped, CSV with BOM and
Chinese headers, XLSX sheets and values). The snapshot is built by ``build_snapshot`` over an
in-memory SQLite with a stand-in KPI engine (the engine itself is tested in its own files)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.reporting import charts, exports, periods, reports
from services.reporting.models import metadata

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def rate(numerator: int, sample: int) -> dict[str, Any]:
    return {"rate": round(numerator / sample, 4) if sample else None, "numerator": numerator,
            "sample": sample}


def row(group: str, sign: tuple[int, int], solved: tuple[int, int], satisfied: tuple[int, int],
        intake: int = 0, label: str | None = None) -> dict[str, Any]:
    three = {"response": rate(*sign), "resolution": rate(*solved),
             "satisfaction": rate(*satisfied), "score": None}
    return {"group": group, "group_label": label or group, "intake": intake, "dispatched": intake,
            "closed": 0, "overdue": 0, "rejected_returns": 0, "on_time_sign": rate(*sign),
            "resolution": rate(*solved), "satisfaction": rate(*satisfied),
            "on_time_completion": rate(0, 0), "callback_rate": rate(0, 0),
            "return_rate": rate(0, 0), "three_rates": three}


class TestRanking:
    ROWS = [row("a", (10, 10), (8, 10), (9, 10)),  # 30 + 28 + 31.5 = 89.5
            row("b", (5, 10), (10, 10), (10, 10)),  # 15 + 35 + 35 = 85
            row("c", (3, 3), (3, 3), (3, 3)),  # perfect, but 3 samples
            row("未派单", (0, 0), (1, 1), (1, 1))]

    def test_default_weights_and_the_small_sample_rule(self) -> None:
        ranked = reports.rank_departments(self.ROWS, reports.DEFAULT_WEIGHTS)
        assert [(e["department"], e["rank"], e["score"], e["ranked"]) for e in ranked] == [
            ("a", 1, 89.5, True), ("b", 2, 85.0, True), ("c", None, 100.0, False)]
        assert ranked[2]["note"] == "样本不足 10 件（响应率、解决率、满意率），不参与排名"

    def test_weights_change_the_order(self) -> None:
        ranked = reports.rank_departments(
            self.ROWS, {"response": 0, "resolution": 50, "satisfaction": 50}, min_sample=3)
        assert [(e["department"], e["rank"], e["score"]) for e in ranked] == [
            ("b", 1, 100.0), ("c", 1, 100.0), ("a", 3, 85.0)]  # a tie shares the place

    def test_an_unmeasured_rate_leaves_a_department_unranked(self) -> None:
        ranked = reports.rank_departments([row("a", (0, 0), (20, 20), (20, 20))],
                                          reports.DEFAULT_WEIGHTS)
        assert (ranked[0]["score"], ranked[0]["ranked"], ranked[0]["rank"]) == (None, False, None)
        assert "响应率" in ranked[0]["note"] and "解决率" not in ranked[0]["note"]

    def test_previous_rank_and_score_change(self) -> None:
        before = {"a": {"rank": 2, "score": 80.0}}
        ranked = reports.rank_departments(self.ROWS, reports.DEFAULT_WEIGHTS, previous=before)
        assert (ranked[0]["previous_rank"], ranked[0]["score_change"]) == (2, 9.5)
        assert (ranked[1]["previous_rank"], ranked[1]["score_change"]) == (None, None)


class TestInput:
    def test_periods_must_suit_the_kind(self) -> None:
        assert reports.report_period("quarter", "2026Q1").start == date(2025, 12, 1)
        assert reports.report_period("year", "2026").end == date(2026, 11, 30)
        assert reports.report_period("instructions", "2026-11-H2").start == date(2026, 11, 16)
        for kind, key, field in (("month", "2026Q1", "period"), ("annual", "2026", "kind"),
                                 ("instructions", "2026-11-03", "period"),
                                 ("month", "2026-13", "period")):
            with pytest.raises(reports.ReportError) as err:
                reports.report_period(kind, key)
            assert err.value.field == field

    def test_weights(self) -> None:
        assert reports.check_weights(None) == {"response": 30.0, "resolution": 35.0,
                                               "satisfaction": 35.0}
        assert reports.check_weights({"response": 1, "resolution": 1, "satisfaction": 2}) == {
            "response": 1.0, "resolution": 1.0, "satisfaction": 2.0}
        for bad in ({"response": 1}, {"response": -1, "resolution": 1, "satisfaction": 1},
                    {"response": True, "resolution": 1, "satisfaction": 1},
                    {"response": "1", "resolution": 1, "satisfaction": 1},
                    {"response": 0, "resolution": 0, "satisfaction": 0}):
            with pytest.raises(reports.ReportError):
                reports.check_weights(bad)

    def test_previous_period_of_the_same_kind(self) -> None:
        assert reports.previous_period(periods.parse("2026Q1")).key == "2025Q4"
        assert reports.previous_period(periods.parse("2026-11-H1")).key == "2026-10-H2"
        assert reports.previous_period(periods.parse("2026")).key == "2025"


@pytest.fixture
def snapshot() -> dict[str, Any]:
    """A month's snapshot over an empty fact store, from a stand-in KPI engine."""
    rows = {"department": [row("a", (10, 10), (8, 10), (9, 10), 20, "=HYPERLINK(\"x\")"),
                           row("b<script>", (5, 10), (10, 10), (10, 10), 10, "<水务&局>"),
                           row("c", (3, 3), (3, 3), (3, 3), 3)],
            "category": [row("help", (0, 0), (0, 0), (0, 0), 25, "求助"),
                         row("complaint", (0, 0), (0, 0), (0, 0), 8, "投诉")],
            "territory": [row("t1", (0, 0), (0, 0), (0, 0), 33)],
            "channel": [row("phone", (0, 0), (0, 0), (0, 0), 33, "电话")]}

    def kpi(session: Any, start: date, end: date, group_by: str, now: datetime,
            **_: Any) -> dict[str, Any]:
        current = start == date(2026, 11, 1)
        found = rows[group_by] if current else []
        total = row("全部", (18, 23), (21, 23), (22, 23), 33 if current else 30)
        return {"rows": found, "total": total}

    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        snap = reports.build_snapshot(session, "month", periods.parse("2026-11"),
                                      reports.DEFAULT_WEIGHTS, NOW, kpi=kpi)
    engine.dispose()
    return snap


class TestSnapshot:
    def test_comparison_and_highlights(self, snapshot: dict[str, Any]) -> None:
        assert snapshot["comparison"]["counts"]["intake"] == {
            "value": 33, "previous": 30, "change": 3, "percent": 10.0}
        assert snapshot["comparison"]["rates"]["on_time_sign"]["points"] == 0.0
        assert snapshot["highlights"][0] == ("2026年11月共受理诉求 33 件，较上期增加 3 件（10.0%）；"
                                             "派单 33 件，办结 0 件。")
        assert snapshot["highlights"][1] == "按时签收率 78.3%，按时办结率 —，解决率 91.3%，满意率 95.7%。"
        assert "1 个部门样本不足 10 件，列示但不参与排名。" in snapshot["highlights"]
        assert len(snapshot["daily_intake"]) == 30


class TestCharts:
    def test_svg_is_well_formed_and_escapes_labels(self, snapshot: dict[str, Any]) -> None:
        for chart in charts.charts_of("month"):
            svg = charts.render(snapshot, chart)
            root = ET.fromstring(svg.encode("utf-8"))
            assert root.tag == f"{SVG}svg"
            assert "<script>" not in svg and "<水务" not in svg
        svg = charts.render(snapshot, "scores")
        texts = [t.text for t in ET.fromstring(svg.encode()).iter(f"{SVG}text")]
        assert "<水务&局>" in texts and "样本不足，未排名" in texts
        rects = [r for r in ET.fromstring(svg.encode()).iter(f"{SVG}rect")
                 if r.get("fill") == charts.GREY]
        assert len(rects) == 2  # c's bar and the legend's swatch

    def test_unknown_chart(self, snapshot: dict[str, Any]) -> None:
        with pytest.raises(charts.ChartError):
            charts.render(snapshot, "units")

    def test_empty_chart_is_still_a_document(self) -> None:
        ET.fromstring(charts.bars("空", [], unit="件", y_max=None).encode())
        ET.fromstring(charts.line("空", []).encode())


class TestExports:
    def test_csv_has_a_bom_chinese_headers_and_no_formulas(self, snapshot: dict[str, Any]
                                                           ) -> None:
        body, content_type, filename = exports.export(snapshot, "csv")
        assert body[:3] == b"\xef\xbb\xbf" and content_type == "text/csv; charset=utf-8"
        assert filename == "2026年11月月度通报-部门排名.csv"
        lines = body.decode("utf-8-sig").splitlines()
        assert lines[0].split(",")[:4] == ["名次", "部门代码", "部门", "三率综合得分"]
        assert lines[1].startswith("1,a,\"'=HYPERLINK(\"\"x\"\")\",89.5,100.0,10,80.0,10,90.0,10")
        assert lines[3].startswith("未排名,c,c,100.0")
        category = exports.to_csv(snapshot, "category").decode("utf-8-sig").splitlines()
        assert category[0].startswith("分类代码,分类,受理量,派单量,办结量,超期件")
        assert category[1].startswith("help,求助,25,")

    def test_xlsx_opens_with_the_expected_sheets(self, snapshot: dict[str, Any]) -> None:
        from openpyxl import load_workbook
        body, content_type, filename = exports.export(snapshot, "xlsx")
        assert content_type == exports.CONTENT_TYPES["xlsx"] and filename.endswith(".xlsx")
        book = load_workbook(io.BytesIO(body))
        assert book.sheetnames == ["概览", "部门排名", "部门", "分类", "属地", "渠道", "超期及通报"]
        ranking = book["部门排名"]
        assert [c.value for c in ranking[1]][:4] == ["名次", "部门代码", "部门", "三率综合得分"]
        assert [c.value for c in ranking[2]][:4] == [1, "a", "'=HYPERLINK(\"x\")", 89.5]
        assert ranking.cell(row=2, column=3).data_type == "s"  # text, not a formula
        overview = {r[0].value: r[1].value for r in book["概览"].iter_rows() if r[0].value}
        assert overview["标题"] == "2026年11月月度通报" and overview["受理量"] == 33
        assert overview["按时签收率(%)"] == 78.26
        assert [c.value for c in book["分类"][3]][:3] == ["complaint", "投诉", 8]

    def test_unknown_format_or_sheet(self, snapshot: dict[str, Any]) -> None:
        with pytest.raises(exports.ExportError) as err:
            exports.export(snapshot, "pdf")
        assert err.value.field == "format"
        with pytest.raises(exports.ExportError) as err:
            exports.export(snapshot, "csv", "units")
        assert err.value.field == "sheet"


def test_a_lone_dash_is_not_a_formula() -> None:
    assert exports._safe("-") == "-" and exports._safe("-1+2") == "'-1+2"
    assert exports._safe(-3) == -3
