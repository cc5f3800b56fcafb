"""KPI reports (KPI关键指标监控, 分类统计报表) and the live board (实时看板). Owned by reporting:
these routes only authenticate, authorize and pass the viewer; reporting decides what a
department may see (its own figures only)."""

from __future__ import annotations

from typing import Any

from services.gateway.domain import Principal
from services.gateway.http import route

KPI_QUERY = ("period", "from", "to", "group_by")


def viewer(who: Principal) -> dict[str, Any]:
    """The caller as reporting's ``viewer`` argument."""
    return {"role": who.role, "department_code": who.department_code, "via": who.via}


class ReportKpiRoutes:
    reporting: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError

    @route("GET", "/api/v1/reports/kpis",
           summary="KPI 汇总 KPI report for a period by department, category, territory or "
           "channel", action="reports.read", query=KPI_QUERY)
    def kpis(self, request: Any) -> Any:
        """``period`` (``2026-11``, ``2026-11-H1``, ``2026Q1``, ``2026``, ``2026-11-03``) or
        ``from``/``to``; ``group_by`` department (default), category, territory, channel or
        none. Rates carry their samples. A department gets its own row only. Bad input (an
        inverted or over-3-year range, an unknown group_by) is 422 naming the field."""
        who = self._authorize(request, "reports.read")
        query = {k: v for k, v in request.args.items() if k in KPI_QUERY}
        return self.reporting.kpis(query, viewer(who))

    @route("GET", "/api/v1/reports/board",
           summary="实时看板 Today's live figures for the supervisors' board",
           action="reports.board")
    def reports_board(self, request: Any) -> Any:
        """Today's intake, assignments overdue now, due within 2 hours and today, and the 三率
        today and month to date."""
        who = self._authorize(request, "reports.board")
        return self.reporting.board(viewer(who))
