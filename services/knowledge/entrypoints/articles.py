"""Entries (资料), their versions and the review workflow (录入、审核、发布)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from services.knowledge.entrypoints.base import KnowledgeBase
from services.knowledge.models import Article
from services.knowledge.schemas import ArticleInSchema, ArticleSchema
from shared.database import translate_db_errors
from shared.errors import Conflict, load_or_invalid
from shared.events import utcnow
from shared.rpc import rpc


class ArticleEntrypoints(KnowledgeBase):
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
    def article_count(self) -> int:
        return int(self.db.session.scalar(select(func.count()).select_from(Article)) or 0)

    def _publish(self, article: Article) -> None:
        article.status, article.published_at = "published", utcnow()
        self.db.emit("kb.article_published", {
            "article_id": article.id, "title": article.title,
            "article_type": article.article_type, "department_code": article.department_code,
            "published_at": article.published_at})
