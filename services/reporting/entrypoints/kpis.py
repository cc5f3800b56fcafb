"""KPIs (KPI关键指标监控, 分类统计报表) for any period and grouping, and the live board."""

from __future__ import annotations

from typing import Any

from services.reporting import kpis
from services.reporting.entrypoints.base import ReportingBase
from services.reporting.schemas import KpiQuerySchema
from shared.database import translate_db_errors
from shared.errors import Invalid, load_or_invalid
from shared.events import utcnow
from shared.rpc import rpc


class KpiEntrypoints(ReportingBase):
    @rpc
    @translate_db_errors
    def kpis(self, query: dict[str, Any], viewer: dict[str, Any] | None = None) -> dict[str, Any]:
        """The KPI report for a period (``period`` key or ``from``/``to``) by ``group_by``.
        A department viewer gets its own row only (grouped by department)."""
        q = load_or_invalid(KpiQuerySchema(), query)
        department = self._own_department(viewer)
        group_by = q["group_by"]
        if department is not None and group_by not in ("department", "none"):
            raise Invalid.fields({"group_by": ["部门用户只能按部门查看 departments see their own "
                                               "figures, group_by=department"]})
        if department is not None:
            group_by = "department"
        period = q["period"]
        report = kpis.kpi_report(self.db.session, period.start, period.end, group_by, utcnow(),
                                 department)
        report["period"] = period.as_dict()
        return report

    @rpc
    @translate_db_errors
    def board(self, viewer: dict[str, Any] | None = None) -> dict[str, Any]:
        """The live "today" board 实时看板 (a department's own figures for a department)."""
        return kpis.board(self.db.session, utcnow(), self._own_department(viewer))
