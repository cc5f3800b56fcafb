"""What several of knowledge's entrypoint mixins share.

Every mixin of :class:`services.knowledge.service.KnowledgeService` derives from
:class:`KnowledgeBase`; the dependencies (``self.db``, ``self.search_index``) are declared on
the service class, and a mixin may call another area's helpers through ``self`` (they are one
class at run time).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from services.knowledge import domain
from services.knowledge.domain import Actor
from services.knowledge.models import Article, ArticleEvent, ArticleVersion
from shared.errors import NotFound
from shared.events import utcnow


class OutOfOrder(Exception):
    """A fact arrived before the fact it depends on; retried later."""


class KnowledgeBase:
    """The helpers several areas use; the dependencies are the service class's."""

    db: Any
    search_index: Any

    def _get(self, article_id: int, *, lock: bool = False) -> Article:
        """The entry (``lock``: its row locked to the end of the transaction, so two actions
        on one entry take turns and the second sees the first's state)."""
        article = self.db.session.get(Article, article_id, with_for_update=lock or None)
        if article is None:
            raise NotFound(f"资料不存在 article {article_id} not found", {"article_id": article_id})
        return article

    def _version(self, article: Article, version: int | None) -> ArticleVersion:
        row = None if version is None else self.db.session.scalar(
            select(ArticleVersion).where(ArticleVersion.article_id == article.id,
                                         ArticleVersion.version == version))
        if row is None:
            raise NotFound(f"资料 {article.id} 没有第 {version} 版 article {article.id} has no "
                           f"version {version}", {"article_id": article.id, "version": version})
        return row

    def _live_version(self, article: Article, today: date) -> ArticleVersion | None:
        """The version agents and the public read today, or None (not published, archived,
        outside its validity)."""
        if article.published_version is None or article.status == "archived":
            return None
        version = self._version(article, article.published_version)
        if not domain.valid_on(version.valid_from, version.valid_until, today):
            return None
        return version

    def _visible(self, article_id: int, actor: Actor, today: date, *,
                 lock: bool = False) -> Article:
        """The entry, if ``actor`` may see it at all (its editors always; others when it is
        live); otherwise :class:`NotFound`, as if it did not exist."""
        article = self._get(article_id, lock=lock)
        if not domain.may_see_working(actor, article.department_code) \
                and self._live_version(article, today) is None:
            raise NotFound(f"资料不存在 article {article_id} not found", {"article_id": article_id})
        return article

    def _log(self, article: Article, action: str, from_status: str | None, actor: str,
             comment: str | None = None) -> None:
        """A row of the review log (article_event) for the entry's working version."""
        self.db.session.add(ArticleEvent(
            article_id=article.id, version=article.current_version, action=action,
            from_status=from_status, to_status=article.status, actor=actor, at=utcnow(),
            comment=comment))
