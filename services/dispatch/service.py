"""Dispatch service (派单): routes orders to departments and owns assignments.

Departments act on their assignments here (sign-for 签收, 协办意见, 下派, reply 答复); every call
that acts for a department names it, and an assignment of another department is reported as not
found. Dispatchers review routing suggestions (预审) and dispatch by hand; administrators edit
the routing catalogue (派单目录), every change a revision with the catalogue version it made.

This module is the assembly: the dependencies, and the class that combines one entrypoint
mixin per concept (``services/dispatch/entrypoints/``; nameko finds entrypoints on base
classes, as it does :class:`Operations`'). The plain rules are in domain.py, endpoints.py,
feed.py and reference.py, the webhook delivery loop in deliverer.py; the helpers several
mixins share are in ``entrypoints/base.py``.
"""

from __future__ import annotations

from services.dispatch.deliverer import Deliverer
from services.dispatch.dependencies import Settings
from services.dispatch.entrypoints.assignments import AssignmentEntrypoints
from services.dispatch.entrypoints.base import OutOfOrder
from services.dispatch.entrypoints.catalogue import CatalogueEntrypoints
from services.dispatch.entrypoints.deadlines import DeadlineEntrypoints
from services.dispatch.entrypoints.delivery import DeliveryEntrypoints
from services.dispatch.entrypoints.dispatching import DispatchingEntrypoints
from services.dispatch.entrypoints.endpoints import EndpointEntrypoints
from services.dispatch.entrypoints.inbox import InboxEntrypoints
from services.dispatch.entrypoints.oversight import OversightEntrypoints
from services.dispatch.entrypoints.queue import QueueEntrypoints
from services.dispatch.entrypoints.recalls import RecallEntrypoints
from services.dispatch.entrypoints.reference import ReferenceEntrypoints
from services.dispatch.entrypoints.returns import ReturnEntrypoints
from services.dispatch.models import metadata
from services.dispatch.reference import ReferenceCache
from shared.database import Database
from shared.logs import LogContext
from shared.operations import Operations

__all__ = ["DispatchService", "OutOfOrder"]


class DispatchService(DispatchingEntrypoints, QueueEntrypoints, ReturnEntrypoints,
                      DeadlineEntrypoints, OversightEntrypoints, AssignmentEntrypoints,
                      InboxEntrypoints, CatalogueEntrypoints, ReferenceEntrypoints,
                      RecallEntrypoints, DeliveryEntrypoints, EndpointEntrypoints, Operations):
    name = "dispatch"

    db = Database(metadata)
    reference = ReferenceCache()
    settings = Settings()
    deliverer = Deliverer()
    log_context = LogContext()
