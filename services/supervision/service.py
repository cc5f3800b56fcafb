"""Supervision service (督办): the order's lifecycle status, clocks, callbacks and closure.

It is the single source of truth for an order's status (DOMAIN.md §3). Facts from intake and
dispatch arrive as events on one queue, so they are applied roughly in the order they
happened; a fact that arrives before the one it depends on (a signature before its dispatch)
raises :class:`OutOfOrder` and is retried with backoff rather than applied to missing state.

This module is the assembly: the dependencies, and the class that combines one entrypoint
mixin per concept (``services/supervision/entrypoints/``; nameko finds entrypoints on base
classes, as it does :class:`Operations`'). The plain rules are in domain.py, urging.py,
supervising.py, instructions.py and policy.py; the helpers several mixins share are in
``entrypoints/base.py``.
"""

from __future__ import annotations

from nameko.dependency_providers import Config

from services.supervision.dependencies import Calendar, InstructionPolicy, Policy
from services.supervision.entrypoints.base import OutOfOrder
from services.supervision.entrypoints.callbacks import CallbackEntrypoints
from services.supervision.entrypoints.clocks import ClockEntrypoints
from services.supervision.entrypoints.extensions import ExtensionEntrypoints
from services.supervision.entrypoints.facts import FactEntrypoints
from services.supervision.entrypoints.instructions import InstructionEntrypoints
from services.supervision.entrypoints.lifecycle import LifecycleEntrypoints
from services.supervision.entrypoints.oversight import OversightEntrypoints
from services.supervision.entrypoints.recalls import RecallEntrypoints
from services.supervision.entrypoints.rechecks import RecheckEntrypoints
from services.supervision.entrypoints.returns import ReturnEntrypoints
from services.supervision.entrypoints.urging import UrgingEntrypoints
from services.supervision.models import metadata
from shared.database import Database
from shared.logs import LogContext
from shared.operations import Operations

__all__ = ["OutOfOrder", "SupervisionService"]


class SupervisionService(FactEntrypoints, LifecycleEntrypoints, ClockEntrypoints,
                         CallbackEntrypoints, ExtensionEntrypoints, ReturnEntrypoints,
                         RecallEntrypoints, UrgingEntrypoints, OversightEntrypoints,
                         RecheckEntrypoints, InstructionEntrypoints, Operations):
    name = "supervision"

    db = Database(metadata)
    calendar = Calendar()
    policy = Policy()
    settings = Config()
    log_context = LogContext()
    instruction_policy = InstructionPolicy()
