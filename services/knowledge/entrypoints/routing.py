"""Routing help (派单辅助): departments ranked by their 部门职能 entries and by where similar past orders went."""

from __future__ import annotations

from services.knowledge.entrypoints.base import KnowledgeBase


class RoutingEntrypoints(KnowledgeBase):
    """(Step 4: being built.)"""
