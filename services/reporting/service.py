"""Reporting service (统计报表, 管理监督): the append-only event log, the facts and KPIs built
only from events, the department assessment (部门考核), periodic reports (通报) and hotspots
(热点).

Its read models are built only from events (ARCHITECTURE.md); ``rebuild`` replays the log.
This module is the assembly: the dependencies, and the class that combines one entrypoint
mixin per concept (``services/reporting/entrypoints/``). The plain rules are in periods.py,
domain.py, projections.py, kpis.py and the modules each mixin names.
"""

from __future__ import annotations

from nameko.dependency_providers import Config

from services.reporting.dependencies import Calendar, HotspotTokenizer
from services.reporting.entrypoints.assessment import AssessmentEntrypoints
from services.reporting.entrypoints.events import EventEntrypoints
from services.reporting.entrypoints.hotspots import HotspotEntrypoints
from services.reporting.entrypoints.kpis import KpiEntrypoints
from services.reporting.entrypoints.reports import ReportEntrypoints
from services.reporting.models import metadata
from shared.database import Database
from shared.logs import LogContext
from shared.operations import Operations


class ReportingService(EventEntrypoints, KpiEntrypoints, AssessmentEntrypoints,
                       ReportEntrypoints, HotspotEntrypoints, Operations):
    name = "reporting"

    db = Database(metadata)
    settings = Config()
    log_context = LogContext()
    calendar = Calendar()  # working days of the assessment objections' clocks
    tokenizer = HotspotTokenizer()  # hotspots' keywords; loaded at start, used by hotspots.py
