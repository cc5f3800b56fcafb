"""Periodic reports 通报 (半月报, 月度通报, 季报, 年报, 批示件汇总): drafts, publication as
frozen snapshots, charts and exports.

A draft's snapshot is rebuilt on request (``regenerate_report``, or by editing its settings);
``publish_report`` freezes it as it stands — what the supervisor reviewed is what is
published — and emits ``report.published``. A published report never changes: regenerating,
editing or deleting it is 409, and every chart and export is rendered from the frozen
snapshot. Departments see published reports only (a draft is 404 to them); the center sees
all. Every change is state-checked in its UPDATE (``WHERE status = 'draft'``), so a
concurrent publish and regenerate cannot both win.

``actor`` is the caller's name (for the record), ``viewer`` the caller as the gateway
authenticated it (``{"role", "department_code", "via"}``); ``names`` (optional) the Chinese
names of departments and territories by code, ``{"department": {code: name}, "territory":
{...}}`` (dispatch owns them; a rebuilt draft keeps the last ones given).
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from services.reporting import charts, exports, reports
from services.reporting.entrypoints.base import ReportingBase
from services.reporting.models import Report
from services.reporting.schemas import (
    ReportCreateSchema,
    ReportEditSchema,
    ReportExportSchema,
    ReportListSchema,
)
from shared.database import translate_db_errors
from shared.errors import Conflict, Invalid, NotFound, load_or_invalid
from shared.events import utcnow
from shared.rpc import rpc


def _invalid(exc: reports.ReportError | exports.ExportError) -> Invalid:
    return Invalid.fields({exc.field: [str(exc)]})


class ReportEntrypoints(ReportingBase):
    # -- drafts ----------------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def create_report(self, payload: dict[str, Any], actor: str,
                      names: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
        """新建通报草稿: ``{"kind", "period", "weights"?, "min_sample"?, "title"?}`` → the
        report with its snapshot. One report per kind and period (409 names the existing one)."""
        form = load_or_invalid(ReportCreateSchema(), payload)
        try:
            period = reports.report_period(form["kind"], form["period"])
            weights = reports.check_weights(form["weights"])
        except reports.ReportError as exc:
            raise _invalid(exc) from None
        session = self.db.session
        existing = session.scalar(select(Report.id).where(
            Report.kind == form["kind"], Report.period_start == period.start,
            Report.period_end == period.end))
        if existing is not None:
            raise self._exists(existing)
        now = utcnow()
        min_sample = form["min_sample"] or reports.MIN_SAMPLE
        snapshot = reports.build_snapshot(session, form["kind"], period, weights, now,
                                          min_sample, names)
        snapshot["title"] = (form["title"] or "").strip() or snapshot["title"]
        report = Report(kind=form["kind"], period_start=period.start, period_end=period.end,
                        title=snapshot["title"], status="draft", weights=weights,
                        snapshot=snapshot, created_at=now, created_by=actor)
        session.add(report)
        try:
            session.flush()
        except IntegrityError:  # created concurrently by someone else
            session.rollback()
            raise self._exists(session.scalar(select(Report.id).where(
                Report.kind == form["kind"], Report.period_start == period.start,
                Report.period_end == period.end))) from None
        answer = self._full(report)
        self.db.commit()
        return answer

    @rpc
    @translate_db_errors
    def regenerate_report(self, report_id: int, actor: str,
                          names: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
        """重新生成: rebuild a draft's snapshot from the current facts (409 once published)."""
        report = self._get(report_id, None)
        self._check_draft(report, "regenerate")
        return self._rebuild(report, report.weights, int(report.snapshot.get(
            "min_sample") or reports.MIN_SAMPLE), report.title, "regenerate", names)

    @rpc
    @translate_db_errors
    def update_report(self, report_id: int, payload: dict[str, Any], actor: str,
                      names: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
        """修改草稿: its title, 三率 weights or minimum sample; the snapshot is rebuilt with
        them (409 once published)."""
        report = self._get(report_id, None)
        self._check_draft(report, "edit")
        form = load_or_invalid(ReportEditSchema(), payload)
        if not form:
            raise Invalid.fields({"_body": ["没有要修改的内容 nothing to change: title, weights "
                                            "or min_sample"]})
        try:
            weights = reports.check_weights(form.get("weights", report.weights))
        except reports.ReportError as exc:
            raise _invalid(exc) from None
        min_sample = form.get("min_sample") or int(report.snapshot.get("min_sample")
                                                    or reports.MIN_SAMPLE)
        title = (form.get("title") or report.title).strip()
        return self._rebuild(report, weights, min_sample, title, "edit", names)

    @rpc
    @translate_db_errors
    def delete_report(self, report_id: int, actor: str) -> dict[str, Any]:
        """删除草稿 (409 once published: a published report is never removed)."""
        report = self._get(report_id, None)
        self._check_draft(report, "delete")
        done = self.db.session.execute(delete(Report).where(
            Report.id == report_id, Report.status == "draft"))
        if done.rowcount != 1:
            raise self._published_conflict(report_id, "delete")
        self.db.commit()
        return {"id": report_id, "deleted": True}

    @rpc
    @translate_db_errors
    def publish_report(self, report_id: int, actor: str) -> dict[str, Any]:
        """发布: freeze the draft's snapshot as it stands and emit ``report.published`` (once:
        a second publish is 409)."""
        report = self._get(report_id, None)
        self._check_draft(report, "publish")
        now = utcnow()
        done = self.db.session.execute(
            update(Report).where(Report.id == report_id, Report.status == "draft")
            .values(status="published", published_at=now, published_by=actor)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:  # published by someone else meanwhile
            raise self._published_conflict(report_id, "publish")
        self.db.emit("report.published", {
            "report_id": report.id, "kind": report.kind, "period_start": report.period_start,
            "period_end": report.period_end, "title": report.title, "published_at": now,
            "actor": actor})
        self.db.session.expire(report)
        answer = self._full(report)
        self.db.commit()
        return answer

    # -- reading ---------------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def list_reports(self, query: dict[str, Any], viewer: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
        """通报列表, newest period first: a department sees published ones only."""
        q = load_or_invalid(ReportListSchema(), query)
        if "kind" in q and q["kind"] not in reports.KINDS:
            raise Invalid.fields({"kind": [f"未知的通报类型 unknown kind; valid: "
                                           f"{', '.join(reports.KINDS)}"]})
        cond = []
        if "kind" in q:
            cond.append(Report.kind == q["kind"])
        if self._own_department(viewer) is not None:
            if q.get("status") == "draft":
                return {"items": [], "total": 0}
            cond.append(Report.status == "published")
        elif "status" in q:
            cond.append(Report.status == q["status"])
        session = self.db.session
        total = session.scalar(select(func.count()).select_from(Report).where(*cond))
        rows = session.scalars(select(Report).where(*cond).order_by(
            Report.period_start.desc(), Report.kind, Report.id.desc())
            .limit(q["limit"]).offset(q["offset"]))
        return {"items": [self._report_summary(r) for r in rows], "total": int(total or 0)}

    @rpc
    @translate_db_errors
    def get_report(self, report_id: int, viewer: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
        """One report with its snapshot (a draft is 404 to a department)."""
        return self._full(self._get(report_id, viewer))

    @rpc
    @translate_db_errors
    def report_chart(self, report_id: int, chart: str, viewer: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
        """A chart of the report as SVG: ``{"content_type", "filename", "body"}``."""
        report = self._get(report_id, viewer)
        try:
            svg = charts.render(report.snapshot, chart)
        except charts.ChartError:
            raise NotFound(f"没有该图表 no chart {chart!r}; this report has: "
                           f"{', '.join(charts.charts_of(report.kind))}",
                           {"chart": chart}) from None
        return {"content_type": "image/svg+xml; charset=utf-8",
                "filename": f"{report.title}-{charts.CHARTS[chart]}.svg", "body": svg}

    @rpc
    @translate_db_errors
    def export_report(self, report_id: int, query: dict[str, Any],
                      viewer: dict[str, Any] | None = None) -> dict[str, Any]:
        """导出: ``{"format": "xlsx"|"csv", "sheet"?}`` → ``{"content_type", "filename",
        "body_base64"}`` (CSV: one sheet, UTF-8 with BOM)."""
        q = load_or_invalid(ReportExportSchema(), query)
        report = self._get(report_id, viewer)
        try:
            body, content_type, filename = exports.export(report.snapshot, q["format"],
                                                          q["sheet"])
        except exports.ExportError as exc:
            raise _invalid(exc) from None
        return {"content_type": content_type, "filename": filename,
                "body_base64": base64.b64encode(body).decode("ascii")}

    # -- helpers ---------------------------------------------------------------------------------
    def _get(self, report_id: int, viewer: dict[str, Any] | None) -> Report:
        report = self.db.session.get(Report, report_id)
        if report is None or (report.status != "published"
                              and self._own_department(viewer) is not None):
            raise NotFound(f"通报不存在 report {report_id} not found", {"report_id": report_id})
        return report

    def _check_draft(self, report: Report, action: str) -> None:
        if report.status != "draft":
            raise self._published_conflict(report.id, action)

    @staticmethod
    def _published_conflict(report_id: int, action: str) -> Conflict:
        return Conflict("通报已发布，不能修改、重新生成或删除 the report is published: its "
                        "snapshot is frozen", {"action": action, "state": "published",
                                               "report_id": report_id})

    @staticmethod
    def _exists(report_id: int | None) -> Conflict:
        return Conflict(f"该周期的通报已存在（编号 {report_id}） a report of this kind and period "
                        "exists already", {"action": "create", "state": "exists",
                                           "report_id": report_id})

    def _rebuild(self, report: Report, weights: dict[str, float], min_sample: int, title: str,
                 action: str, names: dict[str, dict[str, str]] | None) -> dict[str, Any]:
        period = reports.report_period(report.kind, report.snapshot["period"]["key"])
        snapshot = reports.build_snapshot(self.db.session, report.kind, period, weights,
                                          utcnow(), min_sample,
                                          names or report.snapshot.get("names"))
        snapshot["title"] = title
        done = self.db.session.execute(
            update(Report).where(Report.id == report.id, Report.status == "draft")
            .values(snapshot=snapshot, weights=weights, title=title)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:  # published meanwhile
            raise self._published_conflict(report.id, action)
        self.db.session.expire(report)
        answer = self._full(report)
        self.db.commit()
        return answer

    @staticmethod
    def _report_summary(r: Report) -> dict[str, Any]:
        return {"id": r.id, "kind": r.kind, "kind_name": reports.KINDS.get(r.kind, r.kind),
                "title": r.title, "status": r.status, "period": r.snapshot.get("period"),
                "weights": r.weights, "min_sample": r.snapshot.get("min_sample"),
                "created_at": r.created_at.isoformat(), "created_by": r.created_by,
                "published_at": r.published_at.isoformat() if r.published_at else None,
                "published_by": r.published_by,
                "generated_at": r.snapshot.get("generated_at"),
                "charts": list(charts.charts_of(r.kind)),
                "sheets": exports.sheets_of(r.snapshot)}

    def _full(self, r: Report) -> dict[str, Any]:
        return {**self._report_summary(r), "snapshot": r.snapshot}
