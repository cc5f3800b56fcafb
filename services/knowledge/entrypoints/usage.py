"""Use and monitoring of the knowledge base (资料库运行监控)."""

from __future__ import annotations

from services.knowledge.entrypoints.base import KnowledgeBase


class UsageEntrypoints(KnowledgeBase):
    """(Step 4: being built.)"""
