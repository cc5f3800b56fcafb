"""Knowledge service (资料库子系统), Step 1: articles stored, published, found by keyword."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from services.knowledge import domain
from services.knowledge.models import Article, metadata
from services.knowledge.schemas import ArticleInSchema, ArticleSchema, SearchSchema
from shared.database import Database, translate_db_errors
from shared.errors import Conflict, Invalid, NotFound, load_or_invalid
from shared.events import utcnow
from shared.logs import LogContext
from shared.operations import Operations
from shared.rpc import rpc


class KnowledgeService(Operations):
    name = "knowledge"

    db = Database(metadata)
    log_context = LogContext()

    @rpc
    @translate_db_errors
    def create_article(self, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        form = load_or_invalid(ArticleInSchema(), payload)
        publish = form.pop("publish")
        article = Article(**form, status="draft", created_at=utcnow())
        self.db.session.add(article)
        self.db.session.flush()
        if publish:
            self._publish(article)
        self.db.commit()
        return ArticleSchema().dump(article)

    @rpc
    @translate_db_errors
    def publish(self, article_id: int, actor: str) -> dict[str, Any]:
        article = self._get(article_id)
        if article.status == "published":
            raise Conflict("已发布 article is already published",
                           {"action": "publish", "state": article.status})
        self._publish(article)
        self.db.commit()
        return ArticleSchema().dump(article)

    @rpc
    @translate_db_errors
    def get_article(self, article_id: int) -> dict[str, Any]:
        return ArticleSchema().dump(self._get(article_id))

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

    @rpc
    @translate_db_errors
    def article_count(self) -> int:
        return int(self.db.session.scalar(select(func.count()).select_from(Article)) or 0)

    def _get(self, article_id: int) -> Article:
        article = self.db.session.get(Article, article_id)
        if article is None:
            raise NotFound(f"资料不存在 article {article_id} not found", {"article_id": article_id})
        return article

    def _publish(self, article: Article) -> None:
        article.status, article.published_at = "published", utcnow()
        self.db.emit("kb.article_published", {
            "article_id": article.id, "title": article.title,
            "article_type": article.article_type, "department_code": article.department_code,
            "published_at": article.published_at})
