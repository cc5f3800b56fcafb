"""What several of knowledge's entrypoint mixins share.

Every mixin of :class:`services.knowledge.service.KnowledgeService` derives from
:class:`KnowledgeBase`; the dependencies (``self.db``, …) are declared on the service class,
and a mixin may call another area's helpers through ``self`` (they are one class at run time).
"""

from __future__ import annotations

from typing import Any

from services.knowledge.models import Article
from shared.errors import NotFound


class OutOfOrder(Exception):
    """A fact arrived before the fact it depends on; retried later."""


class KnowledgeBase:
    """The helpers several areas use; the dependencies are the service class's."""

    db: Any

    def _get(self, article_id: int) -> Article:
        article = self.db.session.get(Article, article_id)
        if article is None:
            raise NotFound(f"资料不存在 article {article_id} not found", {"article_id": article_id})
        return article
