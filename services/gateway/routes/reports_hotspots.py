"""Hotspots 热点: top categories, places and keywords per window, and the spike alerts 突发热点
raised to the supervisors. Owned by reporting: these routes only authenticate, authorize and
call it, passing the viewer (reporting refuses a department viewer as well)."""

from __future__ import annotations

from typing import Any

from services.gateway.domain import Principal
from services.gateway.http import read_json, route
from services.gateway.openapi import SCHEMAS

TOP_QUERY = ("period", "from", "to", "hours", "limit")
ALERT_QUERY = ("status", "limit", "offset")

SCHEMAS["HotspotAcknowledge"] = {
    "type": "object",
    "description": "确认突发热点告警 acknowledge a spike alert, with an optional note (audited)",
    "properties": {"note": {"type": "string", "maxLength": 500}}}


def viewer(who: Principal) -> dict[str, Any]:
    return {"role": who.role, "department_code": who.department_code, "via": who.via}


def _args(request: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k in names}


class ReportHotspotRoutes:
    reporting: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError

    @route("GET", "/api/v1/reports/hotspots", summary="热点排行 Top categories, places and "
           "keywords of a window (period=2026-11 | from/to | hours; default the last 24 hours)",
           action="hotspots.read", query=TOP_QUERY)
    def hotspot_top(self, request: Any) -> Any:
        """``{window, from, to, total_calls, categories, places, keywords}``, each entry with
        its calls and share; 涉密 orders are left out. A window over 92 days or an unknown
        period is 422 naming the field."""
        who = self._authorize(request, "hotspots.read")
        return self.reporting.hotspot_top(_args(request, TOP_QUERY), viewer(who))

    @route("GET", "/api/v1/reports/hotspots/alerts", summary="突发热点告警 Spike alerts "
           "(status=open | acknowledged | all), newest first", action="hotspots.read",
           query=ALERT_QUERY)
    def hotspot_alerts(self, request: Any) -> Any:
        who = self._authorize(request, "hotspots.read")
        return self.reporting.hotspot_alerts(_args(request, ALERT_QUERY), viewer(who))

    @route("POST", "/api/v1/reports/hotspots/alerts/<int:alert_id>/acknowledge",
           summary="确认突发热点 Acknowledge a spike alert (once; audited)",
           action="hotspots.manage", body="HotspotAcknowledge")
    def hotspot_acknowledge(self, request: Any, alert_id: int) -> Any:
        who = self._authorize(request, "hotspots.manage")
        return self.reporting.acknowledge_hotspot(alert_id, read_json(request), who.as_actor(),
                                                  viewer(who))
