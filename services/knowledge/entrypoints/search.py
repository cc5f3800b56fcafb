"""Search (检索) over the published, valid entries, and the index's follow timer.

The ranking, segmentation and snippets are the search engine's (``services/knowledge/search.py``
and ``analysis.py``); this mixin validates the query, asks the process's index
(:mod:`services.knowledge.dependencies`), shapes the hits and records the search.
"""

from __future__ import annotations

from typing import Any

from services.knowledge import domain
from services.knowledge.dependencies import index_timer
from services.knowledge.domain import Actor
from services.knowledge.entrypoints.base import KnowledgeBase
from services.knowledge.schemas import SearchSchema
from services.knowledge.search import Filters, Hit
from shared.business_time import business_today
from shared.database import translate_db_errors
from shared.errors import Invalid, load_or_invalid
from shared.rpc import rpc

FILTERS = ("article_type", "department_code", "category", "territory_code")


class SearchEntrypoints(KnowledgeBase):
    @rpc
    @translate_db_errors
    def search(self, query: dict[str, Any], actor: dict[str, Any] | None = None
               ) -> dict[str, Any]:
        """Live entries matching ``q`` (required: empty or white space → 422 naming ``q``; over
        200 characters → truncated), filtered by ``article_type``, ``department_code``,
        ``category``, ``territory_code``; ``limit`` (≤ 50), ``offset``. →
        ``{q, terms, total, limit, offset, did_you_mean, items: [{id, version, title,
        article_type, article_type_name, department_code, score, matched, snippet,
        highlights, title_highlights, snippet_html, title_html}]}``; ``highlights`` are
        ``[start, end)`` offsets into ``snippet`` (``title_highlights`` into ``title``); the
        ``*_html`` forms are escaped, with ``<mark>`` around the matches."""
        who = Actor.of(actor) if actor is not None else None
        return self._search(query, who, public=False)

    @rpc
    @translate_db_errors
    def public_search(self, query: dict[str, Any]) -> dict[str, Any]:
        """:meth:`search` for the public (no login): the same entries, no internal fields."""
        return self._search(query, None, public=True)

    def _search(self, query: dict[str, Any], who: Actor | None, public: bool) -> dict[str, Any]:
        form = load_or_invalid(SearchSchema(), query)
        q = domain.clean_query(form["q"])
        filters = {name: form[name] for name in FILTERS if form[name]}
        try:
            results = self.search_index.search(
                self.db.session, q, Filters(**filters, on=business_today()),
                form["limit"], form["offset"])
        except ValueError:
            raise Invalid.fields({"q": ["查询没有可检索的词 the query has no searchable words"]}
                                 ) from None
        self._record_search(q, self.search_index.normalize(q), filters, results.total,
                            actor=who.name if who else None,
                            role=who.role if who else ("public" if public else None),
                            did_you_mean=results.did_you_mean)
        self.db.commit()
        return {"q": q, "terms": list(results.terms), "total": results.total,
                "limit": form["limit"], "offset": form["offset"],
                "did_you_mean": results.did_you_mean,
                "items": [_hit(h, public) for h in results.hits]}

    @index_timer
    @translate_db_errors
    def follow_index(self) -> int:
        """Apply what other instances published or archived (and build the index at start)."""
        changed = self.search_index.follow(self.db.session)
        self.db.commit()
        return changed


def _hit(hit: Hit, public: bool) -> dict[str, Any]:
    spans = [[int(s), int(e)] for s, e in hit.highlights]
    title_spans = [[int(s), int(e)] for s, e in hit.title_highlights]
    item = {"id": hit.article_id, "version": hit.version, "title": hit.title,
            "article_type": hit.article_type,
            "article_type_name": domain.ARTICLE_TYPES.get(hit.article_type, hit.article_type),
            "department_code": hit.department_code, "snippet": hit.snippet,
            "highlights": spans, "title_highlights": title_spans,
            "snippet_html": domain.highlight_html(hit.snippet, spans),
            "title_html": domain.highlight_html(hit.title, title_spans)}
    if not public:
        item.update(score=round(float(hit.score), 4), matched=list(hit.matched))
    return item
