"""Routing help (派单辅助): departments ranked for an order's text, with reasons.
Owned by knowledge: these routes only authenticate, authorize and call it."""

from __future__ import annotations

from typing import Any

from services.gateway.domain import Principal


class KnowledgeRoutingRoutes:
    """(Step 4: being built.)"""

    knowledge: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError
