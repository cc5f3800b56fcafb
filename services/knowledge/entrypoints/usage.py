"""Use and monitoring of the knowledge base (资料库运行监控)."""

from __future__ import annotations

from typing import Any

from services.knowledge.entrypoints.base import KnowledgeBase
from services.knowledge.models import ArticleView, SearchLog
from shared.events import utcnow


class UsageEntrypoints(KnowledgeBase):
    """Records of use, written in the transaction of the search or read that they record."""

    def _record_view(self, article_id: int, version: int | None, *, actor: str | None,
                     role: str | None, department_code: str | None, via: str | None,
                     ticket_no: str | None = None) -> None:
        """An entry was opened (``via``: search | direct | public | routing)."""
        self.db.session.add(ArticleView(
            article_id=article_id, version=version, at=utcnow(), actor=actor, role=role,
            department_code=department_code, via=via, ticket_no=ticket_no))

    def _record_search(self, query: str, normalized: str, filters: dict[str, Any], total: int,
                       *, actor: str | None, role: str | None,
                       did_you_mean: str | None = None) -> None:
        """A search and how many results it had (0: a gap in the knowledge base)."""
        self.db.session.add(SearchLog(
            at=utcnow(), actor=actor, role=role, query=query[:200], normalized=normalized[:200],
            filters=filters, total=total, did_you_mean=did_you_mean))
