"""Exports of a periodic report (通报导出): XLSX (one sheet per table) and CSV (one table), both
rendered from the frozen snapshot alone (``reports.build_snapshot``).

CSV is UTF-8 with a BOM so that Excel opens Chinese correctly. Rates are written as
percentages with their sample sizes beside them. Text cells that a spreadsheet would run as a
formula (``= + - @`` first) are prefixed with ``'``. 涉密 orders and instructions are never
listed: a row states how many were left out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from services.reporting.reports import (
    FIGURE_NAMES,
    INSTRUCTION_FIGURES,
    THREE_RATES,
)

# sheet id (the CSV's ``sheet`` parameter) → the sheet's Chinese name
KPI_SHEETS: dict[str, str] = {"overview": "概览", "ranking": "部门排名", "department": "部门",
                              "category": "分类", "territory": "属地", "channel": "渠道",
                              "orders": "超期及通报"}
INSTRUCTION_SHEETS: dict[str, str] = {"overview": "概览", "units": "批示件汇总",
                                      "items": "批示件清单"}
KPI_COUNTS = ("intake", "dispatched", "closed", "overdue", "rejected_returns")
KPI_RATES = ("resolved_at_intake", "on_time_sign", "on_time_completion", "return_rate",
             "callback_rate", "resolution", "satisfaction", "reopen_rate", "repeat_calls")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

Table = tuple[list[str], list[list[Any]]]


class ExportError(ValueError):
    """An export this report does not have; ``field`` names the input (→ 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def sheets_of(snapshot: Mapping[str, Any]) -> dict[str, str]:
    return INSTRUCTION_SHEETS if snapshot.get("kind") == "instructions" else KPI_SHEETS


def table(snapshot: Mapping[str, Any], sheet: str) -> Table:
    """One sheet of the report: (headers, rows)."""
    names = sheets_of(snapshot)
    if sheet not in names:
        raise ExportError("sheet", f"未知的表 unknown sheet {sheet!r}; valid: "
                          f"{', '.join(names)}")
    if snapshot.get("kind") == "instructions":
        return _instruction_table(snapshot, sheet)
    if sheet == "overview":
        return _overview(snapshot)
    if sheet == "ranking":
        return _ranking(snapshot)
    if sheet == "orders":
        return _orders(snapshot)
    return _kpi_table(snapshot["by"][sheet], KPI_SHEETS[sheet])


def _pct(r: Mapping[str, Any] | None) -> float | None:
    rate = (r or {}).get("rate")
    return None if rate is None else round(float(rate) * 100, 2)


def _sample(r: Mapping[str, Any] | None) -> int:
    return int((r or {}).get("sample") or 0)


def _info(snapshot: Mapping[str, Any]) -> list[list[Any]]:
    p = snapshot["period"]
    return [["标题", snapshot["title"]], ["周期", f"{p['label']}（{p['from']} 至 {p['to']}）"],
            ["生成时间", snapshot["generated_at"]]]


def _overview(snapshot: Mapping[str, Any]) -> Table:
    w = snapshot["weights"]
    rows = _info(snapshot)
    rows.append(["三率权重", "响应率 {response:g} / 解决率 {resolution:g} / 满意率 "
                 "{satisfaction:g}".format(**w)])
    rows.append(["排名最小样本", snapshot["min_sample"]])
    rows.append([])
    rows.append(["指标", "本期", "上期", "变化", "样本"])
    comparison = snapshot["comparison"]
    overall = snapshot["overall"]
    for k, c in comparison["counts"].items():
        rows.append([FIGURE_NAMES[k], c["value"], c["previous"], c["change"], None])
    for k, c in comparison["rates"].items():
        rows.append([f"{FIGURE_NAMES[k]}(%)", _pct(overall.get(k)),
                     None if c["previous"] is None else round(c["previous"] * 100, 2),
                     c["points"], _sample(overall.get(k))])
    rows.append([])
    rows.extend([["要点", line] for line in snapshot["highlights"]])
    return ["项目", "内容", "", "", ""], rows


def _ranking(snapshot: Mapping[str, Any]) -> Table:
    headers = ["名次", "部门代码", "部门", "三率综合得分"]
    for k, name in THREE_RATES.items():
        headers += [f"{name}(%)" + ("（按时签收率）" if k == "response" else ""), f"{name}样本"]
    headers += ["上期名次", "得分变化", "备注"]
    rows = []
    for e in snapshot["ranking"]:
        row: list[Any] = [e["rank"] if e["ranked"] else "未排名", e["department"], e["label"],
                          e["score"]]
        for k in THREE_RATES:
            row += [_pct(e[k]), _sample(e[k])]
        row += [e["previous_rank"], e["score_change"], e["note"]]
        rows.append(row)
    return headers, rows


def _kpi_table(rows_in: list[Mapping[str, Any]], dimension: str) -> Table:
    headers = [f"{dimension}代码", dimension] + [FIGURE_NAMES[k] for k in KPI_COUNTS]
    for k in KPI_RATES:
        headers += [f"{FIGURE_NAMES[k]}(%)", f"{FIGURE_NAMES[k]}样本"]
    rows = []
    for r in rows_in:
        row: list[Any] = [r.get("group"), r.get("group_label") or r.get("group")]
        row += [int(r.get(k) or 0) for k in KPI_COUNTS]
        for k in KPI_RATES:
            row += [_pct(r.get(k)), _sample(r.get(k))]
        rows.append(row)
    return headers, rows


def _orders(snapshot: Mapping[str, Any]) -> Table:
    headers = ["类型", "工单编号", "部门", "办理期限/督办时间", "办结/通报时间", "状态"]
    rows: list[list[Any]] = []
    for o in snapshot["overdue"]["items"]:
        rows.append(["超期", o["ticket_no"], o["department"], o["due"], o["replied_at"],
                     o["state"]])
    for o in snapshot["escalated"]["items"]:
        rows.append(["通报", o["ticket_no"], o["department"], o["supervised_at"],
                     o["escalated_at"], "督办逾期通报"])
    for key, name in (("overdue", "超期"), ("escalated", "通报")):
        part = snapshot[key]
        rows.append([f"{name}合计", part["count"], None, None, None,
                     f"其中涉密 {part['confidential']} 件不列明细" if part["confidential"]
                     else ""])
    return headers, rows


def _instruction_table(snapshot: Mapping[str, Any], sheet: str) -> Table:
    data = snapshot["instructions"]
    if sheet == "overview":
        rows = _info(snapshot)
        rows.append([])
        rows.append(["指标", "本期", "上期", "变化"])
        for k, name in INSTRUCTION_FIGURES.items():
            rows.append([name, data["total"][k], snapshot["comparison"]["previous"][k],
                         snapshot["comparison"]["change"][k]])
        rows.append([])
        rows.extend([["要点", line] for line in snapshot["highlights"]])
        return ["项目", "内容", "", ""], rows
    if sheet == "units":
        headers = ["单位代码", "单位"] + list(INSTRUCTION_FIGURES.values())
        rows = [[u["department"], u.get("label") or u["department"]]
                + [u[k] for k in INSTRUCTION_FIGURES] for u in data["units"]]
        rows.append(["合计", ""] + [data["total"][k] for k in INSTRUCTION_FIGURES])
        return headers, rows
    headers = ["批示件编号", "单位代码", "类别", "领导层级", "登记时间", "反馈期限", "首次反馈",
               "状态"]
    rows = [[i["number"], i["department"], i["kind"], i["leader_level"], i["registered_at"],
             i["feedback_due"], i["first_feedback_at"], i["state"]] for i in data["items"]]
    if data["total"]["confidential"]:
        rows.append([f"涉密批示件 {data['total']['confidential']} 件不列明细"] + [None] * 7)
    return headers, rows


def _safe(value: Any) -> Any:
    """A text cell a spreadsheet would read as a formula gets a leading apostrophe (a lone
    ``-``, the KPI engine's "unknown" group, is left alone)."""
    if isinstance(value, str) and len(value) > 1 and value[0] in ("=", "+", "-", "@", "\t",
                                                                   "\r"):
        return "'" + value
    return value


def to_csv(snapshot: Mapping[str, Any], sheet: str) -> bytes:
    """One sheet as CSV: UTF-8 with BOM, CRLF line ends (Excel's defaults)."""
    headers, rows = table(snapshot, sheet)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([_safe(h) for h in headers])
    for row in rows:
        writer.writerow(["" if v is None else _safe(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(snapshot: Mapping[str, Any]) -> bytes:
    """Every sheet of the report in one workbook."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for sheet, name in sheets_of(snapshot).items():
        headers, rows = table(snapshot, sheet)
        ws = book.create_sheet(title=name)
        ws.append([_safe(h) for h in headers])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([_safe(v) for v in row])
        for i, h in enumerate(headers, 1):
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = max(
                10, min(40, len(str(h)) * 2 + 2))
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def export(snapshot: Mapping[str, Any], fmt: str, sheet: str | None = None
           ) -> tuple[bytes, str, str]:
    """(body, content type, filename) of the export in ``fmt`` (csv: ``sheet``, default the
    ranking — or the unit summary for 批示件汇总)."""
    title = str(snapshot["title"])
    if fmt == "xlsx":
        return to_xlsx(snapshot), CONTENT_TYPES["xlsx"], f"{title}.xlsx"
    if fmt == "csv":
        names = sheets_of(snapshot)
        chosen = sheet or ("units" if snapshot.get("kind") == "instructions" else "ranking")
        body = to_csv(snapshot, chosen)
        return body, CONTENT_TYPES["csv"], f"{title}-{names[chosen]}.csv"
    raise ExportError("format", f"不支持的导出格式 unsupported format {fmt!r}; valid: csv, xlsx")
