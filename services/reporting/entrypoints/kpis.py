"""KPIs (KPI关键指标监控, 分类统计报表) for any period and grouping, and the live board."""

from __future__ import annotations

from typing import Any

from services.reporting.domain import period_bounds
from services.reporting.entrypoints.base import ReportingBase
from services.reporting.kpis import kpi_table
from services.reporting.schemas import KpiQuerySchema
from shared.database import translate_db_errors
from shared.errors import load_or_invalid
from shared.events import utcnow
from shared.rpc import rpc


class KpiEntrypoints(ReportingBase):
    @rpc
    @translate_db_errors
    def kpis(self, query: dict[str, Any]) -> dict[str, Any]:
        q = load_or_invalid(KpiQuerySchema(), query)
        start, end = period_bounds(q["from_"], q["to"])
        rows = kpi_table(self.db.session, start, end, q["group_by"], utcnow())
        return {"from": q["from_"].isoformat(), "to": q["to"].isoformat(),
                "group_by": q["group_by"], "rows": rows}
