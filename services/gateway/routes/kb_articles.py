"""The knowledge base's entries (资料库): search, entries, versions, the review workflow.
Owned by knowledge: these routes only authenticate, authorize and call it."""

from __future__ import annotations

from typing import Any

from services.gateway.domain import Principal
from services.gateway.http import read_json, route


def kb_actor(who: Principal) -> dict[str, Any]:
    """The caller as knowledge decides what it may see and do (services/knowledge/domain.Actor)."""
    return {"name": who.as_actor(), "role": who.role, "department_code": who.department_code}


class KnowledgeArticleRoutes:
    knowledge: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError

    @route("GET", "/api/v1/kb/search", summary="资料库检索 Search the knowledge base",
           action="kb.search", query=("q", "limit"))
    def kb_search(self, request: Any) -> Any:
        who = self._authorize(request, "kb.search")
        return self.knowledge.search({k: v for k, v in request.args.items() if k in ("q", "limit")},
                                     kb_actor(who))

    @route("POST", "/api/v1/kb/articles", summary="新增资料 Add an article", action="kb.write",
           body="Article")
    def kb_create(self, request: Any) -> Any:
        who = self._authorize(request, "kb.write")
        return 201, self.knowledge.create_article(read_json(request), kb_actor(who))

    @route("GET", "/api/v1/kb/articles/<int:article_id>", summary="资料详情 One article",
           action="kb.search")
    def kb_article(self, request: Any, article_id: int) -> Any:
        who = self._authorize(request, "kb.search")
        return self.knowledge.get_article(article_id, kb_actor(who))
