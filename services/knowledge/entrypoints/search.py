"""Search (检索) over the published, valid entries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from services.knowledge import domain
from services.knowledge.entrypoints.base import KnowledgeBase
from services.knowledge.models import Article
from services.knowledge.schemas import SearchSchema
from shared.database import translate_db_errors
from shared.errors import Invalid, load_or_invalid
from shared.rpc import rpc


class SearchEntrypoints(KnowledgeBase):
    @rpc
    @translate_db_errors
    def search(self, query: dict[str, Any]) -> dict[str, Any]:
        """Published articles containing every term, best first, with a snippet."""
        q = load_or_invalid(SearchSchema(), query)
        terms = domain.query_terms(q["q"])
        if not terms:
            raise Invalid.fields({"q": ["查询内容不能为空 query must not be empty"]})
        stmt = select(Article).where(Article.status == "published").where(
            or_(*[Article.title.contains(t) | Article.body.contains(t) for t in terms]))
        scored = [(domain.score(a.title, a.body, terms), a) for a in self.db.session.scalars(stmt)]
        hits = sorted([(s, a) for s, a in scored if s], key=lambda sa: (-sa[0], sa[1].id))
        return {"q": " ".join(terms), "total": len(hits), "items": [
            {"id": a.id, "title": a.title, "article_type": a.article_type,
             "department_code": a.department_code, "score": s,
             "snippet": domain.snippet(a.body, terms)} for s, a in hits[: q["limit"]]]}
