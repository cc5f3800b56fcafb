"""Hotspots 热点: top categories, places and keywords per window, and spike alerts 突发热点.

The rules are in ``services/reporting/hotspots.py``; the keywords and spikes are projected by
the event consumer (``entrypoints/events.py``). Hotspots are the center's (supervisors,
leaders, dispatchers): a department viewer is refused here as at the gateway.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.reporting import hotspots
from services.reporting.entrypoints.base import ReportingBase
from services.reporting.models import HotspotAlert, ReportingAudit
from services.reporting.schemas import (
    HotspotAcknowledgeSchema,
    HotspotAlertQuerySchema,
    HotspotQuerySchema,
)
from shared.database import translate_db_errors
from shared.errors import Conflict, Forbidden, NotFound, load_or_invalid
from shared.events import utcnow
from shared.rpc import rpc


class HotspotEntrypoints(ReportingBase):
    def _center_only(self, viewer: dict[str, Any] | None) -> None:
        if self._own_department(viewer) is not None:
            raise Forbidden("热点仅限中心查看 hotspots are for the center",
                            {"viewer": (viewer or {}).get("role")})

    @rpc
    @translate_db_errors
    def hotspot_top(self, query: dict[str, Any],
                    viewer: dict[str, Any] | None = None) -> dict[str, Any]:
        """Top categories, places and keywords of a window's calls (涉密 orders left out)."""
        self._center_only(viewer)
        q = load_or_invalid(HotspotQuerySchema(utcnow(), hotspots.max_window_days(self.settings)),
                            query)
        lists = hotspots.top_lists(self.db.session, q["start"], q["end"], q["limit"])
        return {"window": q["window"], "from": q["start"].isoformat(),
                "to": q["end"].isoformat(), **lists}

    @rpc
    @translate_db_errors
    def hotspot_alerts(self, query: dict[str, Any],
                       viewer: dict[str, Any] | None = None) -> dict[str, Any]:
        """Spike alerts, newest first: ``open`` (default), ``acknowledged`` or ``all``."""
        self._center_only(viewer)
        q = load_or_invalid(HotspotAlertQuerySchema(), query)
        return hotspots.list_alerts(self.db.session, q["status"], q["limit"], q["offset"])

    @rpc
    @translate_db_errors
    def acknowledge_hotspot(self, alert_id: int, body: dict[str, Any], actor: str,
                            viewer: dict[str, Any] | None = None) -> dict[str, Any]:
        """A supervisor acknowledges an alert (once; audited with the optional note)."""
        self._center_only(viewer)
        b = load_or_invalid(HotspotAcknowledgeSchema(), body or {})
        session = self.db.session
        alert = session.scalar(select(HotspotAlert).where(HotspotAlert.id == alert_id)
                               .with_for_update())
        if alert is None:
            raise NotFound(f"热点告警不存在 no hotspot alert {alert_id}", {"alert_id": alert_id})
        if alert.acknowledged_at is not None:
            raise Conflict("该告警已确认 the alert was acknowledged already",
                           {"alert_id": alert_id, "acknowledged_by": alert.acknowledged_by})
        now = utcnow()
        alert.acknowledged_at, alert.acknowledged_by = now, actor
        session.add(ReportingAudit(at=now, actor=actor, action="hotspot.acknowledged",
                                   subject=f"hotspot_alert:{alert_id}",
                                   detail={"note": b.get("note"), "matter_key": alert.matter_key,
                                           "calls": alert.calls}))
        result = hotspots.alert_dict(alert)
        self.db.commit()
        return result
