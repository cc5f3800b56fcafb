"""Periodic reports 通报 (半月报, 月度通报, 季报, 年报, 批示件汇总): drafts, publication, charts
(SVG) and exports (XLSX, CSV). Owned by reporting: these routes authenticate, authorize and
pass the caller (:func:`viewer`); reporting decides what a department may see (published
reports only). Charts and exports are served as files, with a Chinese filename in an RFC 5987
``Content-Disposition``."""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import quote

from werkzeug.wrappers import Response

from services.gateway.domain import Principal
from services.gateway.http import read_json, route
from services.gateway.openapi import SCHEMAS

log = logging.getLogger(__name__)

BASE = "/api/v1/reports/periodic"
LIST_QUERY = ("kind", "status", "limit", "offset")
EXPORT_QUERY = ("format", "sheet")
KINDS = ["half_month", "month", "quarter", "year", "instructions"]
WEIGHTS = {"type": "object", "description": "三率权重 (default 30/35/35)",
           "required": ["response", "resolution", "satisfaction"],
           "properties": {k: {"type": "number", "minimum": 0, "maximum": 1000}
                          for k in ("response", "resolution", "satisfaction")},
           "additionalProperties": False}

SCHEMAS["PeriodicReport"] = {
    "type": "object", "required": ["kind", "period"],
    "description": "新建通报草稿 A draft report: 半月报 half_month (period 2026-11-H1), 月度通报 "
                   "month (2026-11), 季报 quarter (2026Q1, assessment quarter Dec–Feb…), 年报 "
                   "year (2026: Dec 2025–Nov 2026), 批示件汇总 instructions (any of those "
                   "periods)",
    "properties": {
        "kind": {"type": "string", "enum": KINDS},
        "period": {"type": "string", "maxLength": 40},
        "weights": WEIGHTS,
        "min_sample": {"type": "integer", "minimum": 1, "description": "排名最小样本 (default "
                       "10): a department with fewer samples in any of the three rates is "
                       "listed, not ranked"},
        "title": {"type": "string", "maxLength": 200}}}
SCHEMAS["PeriodicReportEdit"] = {
    "type": "object", "description": "修改草稿 A draft's settings (its snapshot is rebuilt)",
    "properties": {"weights": WEIGHTS, "min_sample": {"type": "integer", "minimum": 1},
                   "title": {"type": "string", "maxLength": 200}}}


def viewer(who: Principal) -> dict[str, Any]:
    """The caller as reporting decides visibility."""
    return {"role": who.role, "department_code": who.department_code, "via": who.via}


def content_disposition(filename: str, fallback: str) -> str:
    """``attachment`` with an ASCII fallback name and the real (Chinese) one per RFC 5987."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(body: bytes, content_type: str, filename: str, fallback: str,
                  inline: bool = False) -> Response:
    disposition = content_disposition(filename, fallback)
    if inline:
        disposition = "inline" + disposition[len("attachment"):]
    return Response(body, status=200, headers={
        "Content-Type": content_type, "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


class PeriodicReportRoutes:
    reporting: Any
    dispatch: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError

    def _names(self) -> dict[str, dict[str, str]] | None:
        """Departments' and territories' Chinese names (dispatch owns them) for the snapshot;
        None when dispatch cannot answer (the report shows codes, or the names a rebuilt
        draft had) — a report does not wait for dispatch."""
        try:
            return {"department": {d["code"]: d["name"] for d in self.dispatch.departments()},
                    "territory": {t["code"]: t["name"] for t in self.dispatch.territories()}}
        except Exception:  # noqa: BLE001 - names are a nicety; the figures are reporting's
            log.warning("department names unavailable for a report", exc_info=True)
            return None

    @route("GET", BASE, summary="通报列表 Periodic reports (departments: published ones)",
           action="reports.read", query=LIST_QUERY)
    def periodic_reports(self, request: Any) -> Any:
        who = self._authorize(request, "reports.read")
        query = {k: v for k, v in request.args.items() if k in LIST_QUERY}
        return self.reporting.list_reports(query, viewer(who))

    @route("POST", BASE, summary="新建通报草稿 Create a draft report (kind, period, weights)",
           action="reports.manage", body="PeriodicReport")
    def create_periodic_report(self, request: Any) -> Any:
        who = self._authorize(request, "reports.manage")
        report = self.reporting.create_report(read_json(request), who.as_actor(), self._names())
        return 201, report, {"Location": f"{BASE}/{report['id']}"}

    @route("GET", BASE + "/<int:report_id>", summary="通报详情 A report and its snapshot",
           action="reports.read", department_scoped=True)
    def periodic_report(self, request: Any, report_id: int) -> Any:
        who = self._authorize(request, "reports.read")
        return self.reporting.get_report(report_id, viewer(who))

    @route("PATCH", BASE + "/<int:report_id>", summary="修改通报草稿 Edit a draft's title, "
           "weights or minimum sample (published: 409)", action="reports.manage",
           body="PeriodicReportEdit")
    def edit_periodic_report(self, request: Any, report_id: int) -> Any:
        who = self._authorize(request, "reports.manage")
        return self.reporting.update_report(report_id, read_json(request), who.as_actor(),
                                            self._names())

    @route("DELETE", BASE + "/<int:report_id>", summary="删除通报草稿 Delete a draft "
           "(published: 409)", action="reports.manage")
    def delete_periodic_report(self, request: Any, report_id: int) -> Any:
        who = self._authorize(request, "reports.manage")
        self.reporting.delete_report(report_id, who.as_actor())
        return Response(status=204)

    @route("POST", BASE + "/<int:report_id>/regenerate", summary="重新生成 Rebuild a draft's "
           "snapshot from the current figures (published: 409)", action="reports.manage")
    def regenerate_periodic_report(self, request: Any, report_id: int) -> Any:
        who = self._authorize(request, "reports.manage")
        return self.reporting.regenerate_report(report_id, who.as_actor(), self._names())

    @route("POST", BASE + "/<int:report_id>/publish", summary="发布通报 Publish: the snapshot "
           "is frozen and every department can read it", action="reports.manage")
    def publish_periodic_report(self, request: Any, report_id: int) -> Any:
        who = self._authorize(request, "reports.manage")
        return self.reporting.publish_report(report_id, who.as_actor())

    @route("GET", BASE + "/<int:report_id>/charts/<chart>", summary="通报图表 A chart of the "
           "report (SVG): scores, intake, categories; 批示件汇总: units", action="reports.read",
           department_scoped=True)
    def periodic_report_chart(self, request: Any, report_id: int, chart: str) -> Any:
        who = self._authorize(request, "reports.read")
        answer = self.reporting.report_chart(report_id, chart, viewer(who))
        return file_response(answer["body"].encode("utf-8"), answer["content_type"],
                             answer["filename"], f"report-{report_id}-{chart}.svg", inline=True)

    @route("GET", BASE + "/<int:report_id>/export", summary="导出通报 Export the report: "
           "format=xlsx (every sheet) or csv (one sheet, UTF-8 with BOM)",
           action="reports.read", query=EXPORT_QUERY, department_scoped=True)
    def export_periodic_report(self, request: Any, report_id: int) -> Any:
        who = self._authorize(request, "reports.read")
        query = {k: v for k, v in request.args.items() if k in EXPORT_QUERY}
        answer = self.reporting.export_report(report_id, query, viewer(who))
        ext = answer["filename"].rsplit(".", 1)[-1]
        return file_response(base64.b64decode(answer["body_base64"]), answer["content_type"],
                             answer["filename"], f"report-{report_id}.{ext}")
