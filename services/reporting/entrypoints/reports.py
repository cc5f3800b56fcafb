"""Periodic reports 通报 (半月报, 月度通报, 季报, 年报, 批示件汇总): drafts, publication as
frozen snapshots, charts and exports. (Step 5: being built.)"""

from __future__ import annotations

from services.reporting.entrypoints.base import ReportingBase


class ReportEntrypoints(ReportingBase):
    pass
