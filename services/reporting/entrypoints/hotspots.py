"""Hotspots 热点: top categories, places and keywords per window, and spike alerts 突发热点.
(Step 5: being built.)"""

from __future__ import annotations

from services.reporting.entrypoints.base import ReportingBase


class HotspotEntrypoints(ReportingBase):
    pass
