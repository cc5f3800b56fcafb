"""What routing help (派单辅助) keeps per process: the analyser, an index of the live 部门职能
entries, dispatch's departments, and its settings — injected as one narrow object
(:class:`RoutingKit`) by the :class:`RoutingHelp` dependency provider.

Why an index of its own, beside the search index of every entry: BM25's idf is a property of
the corpus. Over the whole knowledge base, policy texts and guides make the words of a remit
(占道经营, 拖欠工资) look common or rare by accident; over the responsibility entries alone,
a word is rare when few departments claim it — exactly the discrimination routing needs. The
corpus is small (one or a few entries per department), so building it costs milliseconds.

Freshness: before each look-up a query of the responsibility entries' (id, live version,
status) — a few hundred small rows — is compared with what the index was built from; on any
difference (published, re-published, archived, on another instance too) the index is rebuilt
and swapped in whole, so concurrent workers see either the old or the new one, never half.

Departments come from dispatch (their owner) by RPC, cached for ``DIRECTORY_TTL`` seconds:
they change rarely, and routing must not ask dispatch on every order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from nameko.extensions import DependencyProvider
from sqlalchemy import and_, select

from services.knowledge import routing
from services.knowledge.models import Article, ArticleVersion

DIRECTORY_TTL = 300.0


class ResponsibilityIndex:
    """The live 部门职能 entries in a search ``Index``, with each entry's title and owner."""

    def __init__(self, analyzer: Any):
        self.analyzer = analyzer
        self._fingerprint: tuple[Any, ...] | None = None
        self._index: Any = None
        self._entries: dict[int, tuple[str, str | None]] = {}
        self._lock = threading.Lock()

    def hits(self, session: Any, terms: list[str], territory_code: str | None, on: date,
             limit: int, category: str | None = None) -> list[routing.EntryHit]:
        from services.knowledge.search import Filters

        self._refresh(session)
        index, entries = self._index, self._entries
        if index is None or not terms:
            return []
        filters = Filters(**routing.responsibility_filters_kwargs(territory_code, on, category))
        return routing.entry_hits(index, terms, filters, limit, entries)

    def _refresh(self, session: Any) -> None:
        fingerprint = tuple(session.execute(
            select(Article.id, Article.published_version, Article.current_version,
                   Article.status)
            .where(Article.article_type == routing.RESPONSIBILITY).order_by(Article.id)).all())
        if fingerprint == self._fingerprint:
            return
        from services.knowledge.search import Document, Index, analyze

        index = Index(self.analyzer)
        entries: dict[int, tuple[str, str | None]] = {}
        v = ArticleVersion
        rows = session.execute(
            select(Article, v).outerjoin(v, and_(v.article_id == Article.id,
                                                 v.version == Article.published_version))
            .where(Article.article_type == routing.RESPONSIBILITY,
                   Article.status != "archived"))
        for a, version in rows:
            live = version is not None or a.status == "published"
            if not live:
                continue  # a draft never published is not anyone's remit yet
            src = version if version is not None else a
            index.put(analyze(Document(
                article_id=a.id, version=version.version if version else a.current_version,
                title=src.title, text=src.body, article_type=routing.RESPONSIBILITY,
                department_code=a.department_code, categories=tuple(src.categories or ()),
                territories=tuple(src.territories or ()), valid_from=src.valid_from,
                valid_until=src.valid_until), self.analyzer))
            entries[a.id] = (src.title, a.department_code)
        with self._lock:
            self._index, self._entries, self._fingerprint = index, entries, fingerprint


class RoutingKit:
    """The per-process part of routing help a worker uses."""

    def __init__(self, settings: routing.RoutingSettings, analyzer: Any,
                 responsibilities: Any, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.analyzer = analyzer
        self.responsibilities = responsibilities
        self._clock = clock
        self._directory: routing.Directory | None = None
        self._directory_at = 0.0

    def terms(self, text: str) -> list[str]:
        """The order's analysed terms as learned and looked up."""
        return routing.order_terms(self.analyzer.terms(text or ""))

    def hits(self, session: Any, terms: list[str], territory_code: str | None, on: date,
             category: str | None = None) -> list[routing.EntryHit]:
        return self.responsibilities.hits(session, terms, territory_code, on,
                                          self.settings.entries, category)

    def directory(self, fetch: Callable[[], tuple[list[Any], list[Any]]]) -> routing.Directory:
        """Dispatch's departments and territories, fetched by ``fetch`` at most every
        ``DIRECTORY_TTL`` seconds (a failed fetch with a cached copy keeps the copy)."""
        now = self._clock()
        if self._directory is None or now - self._directory_at > DIRECTORY_TTL:
            try:
                departments, territories = fetch()
            except Exception:
                if self._directory is None:
                    raise
                return self._directory
            self._directory = routing.Directory.from_rows(departments, territories)
            self._directory_at = now
        return self._directory


class RoutingHelp(DependencyProvider):
    """Injects the process's :class:`RoutingKit`; settings from ``KB_ROUTING``, the analyser
    loaded once in ``setup()`` (jieba's dictionary: never at import, never per request)."""

    def setup(self) -> None:
        from services.knowledge.analysis import load_synonyms, shared_analyzer
        from shared.segmentation import DEFAULT_MIN_FREQ

        config = self.container.config
        settings = routing.RoutingSettings.from_config(config.get("KB_ROUTING"))
        # the search index's configuration, so one analyser serves both (and a city's synonyms
        # fold the words of orders as they fold those of the entries)
        path = config.get("KNOWLEDGE_SYNONYMS")
        analyzer = shared_analyzer(
            synonyms=load_synonyms(path) if path else None,
            dictionary_min_freq=int(config.get("KNOWLEDGE_DICTIONARY_MIN_FREQ",
                                               DEFAULT_MIN_FREQ)))
        self.kit = RoutingKit(settings, analyzer, ResponsibilityIndex(analyzer))

    def get_dependency(self, worker_ctx: Any) -> RoutingKit:
        return self.kit
