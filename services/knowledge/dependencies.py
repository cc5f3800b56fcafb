"""Knowledge's dependency providers: the search index (检索索引) of one process.

**What is kept where.** ``search_document`` (one row per entry ever published) is the index's
persistent copy: the analysed live version of each entry (``doc``, the search module's
:meth:`AnalyzedDocument.to_dict`), whether it is still ``active``, the analyzer that made it and
a ``rev``. Each process holds one loaded :class:`Analyzer` and one in-memory :class:`Index`,
built from those rows when the service starts and kept current by following ``rev``.

**Revisions.** Every write of a row takes the next value of ``index_counter('search_document')``
(``UPDATE … SET value = value + 1`` then read, in the writing transaction). The row lock (or
SQLite's single writer) is held to commit, so revs are handed out in commit order: an instance
that has applied every row up to rev N and reads ``rev > N`` misses nothing.

**Following.** The writing instance applies its change to its own index right after its
transaction commits (``after_commit``; nothing is applied on rollback); every instance also
polls for rows with ``rev`` above the last it applied (:meth:`IndexAccess.follow`, called by a
timer every ``KNOWLEDGE_INDEX_POLL_SECONDS``, default 0.5 s), so a publication on another
instance is found within a second. A row is applied only if newer than what the index holds
for that entry.

**Start.** The first follow builds the index from every active row. A row made by another
analyzer version (a new dictionary, new synonyms) is re-analysed here from the
:class:`Document` it stores, not rewritten: instances of two versions may run side by side
during a deploy. A live entry without a row (Step-1 data, migrated) gets one.
"""

from __future__ import annotations

import logging
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider
from sqlalchemy import event, select, text

from services.knowledge.analysis import Analyzer, load_synonyms, shared_analyzer
from services.knowledge.domain import document_text
from services.knowledge.models import Article, ArticleVersion, IndexCounter, SearchDocument
from services.knowledge.search import (
    AnalyzedDocument,
    Document,
    Filters,
    Index,
    Results,
    analyze,
)
from shared.events import utcnow
from shared.segmentation import DEFAULT_MIN_FREQ
from shared.timers import configured_timer

log = logging.getLogger(__name__)

COUNTER = "search_document"
_NEXT_REV = text("UPDATE index_counter SET value = value + 1 WHERE name = :name")
_READ_REV = text("SELECT value FROM index_counter WHERE name = :name")


class LiveIndex:
    """One process's index and how far it has followed ``search_document``."""

    def __init__(self, analyzer: Analyzer):
        self.analyzer = analyzer
        self.index = Index(analyzer)
        self.applied_rev = 0  # every row up to this rev is applied
        self.revs: dict[int, int] = {}  # article_id → rev of what the index holds for it
        self.built = False
        self.lock = eventlet.semaphore.Semaphore(1)  # one follow at a time per process

    def apply(self, article_id: int, rev: int, analyzed: AnalyzedDocument | None) -> bool:
        """Put (``analyzed``) or remove (None) one entry if ``rev`` is newer than what the
        index holds for it; whether it changed anything."""
        if self.revs.get(article_id, 0) >= rev:
            return False
        self.revs[article_id] = rev
        if analyzed is None:
            self.index.remove(article_id)
        else:
            self.index.put(analyzed)
        return True

    def analysed(self, row: Any) -> AnalyzedDocument:
        stored = AnalyzedDocument.from_dict(row.doc)
        if row.analyzer_version == self.analyzer.version:
            return stored
        return analyze(stored.document, self.analyzer)


class IndexAccess:
    """What a worker may do with the process's index: search it, stage a change of an entry's
    row in its transaction (applied here after commit), follow other instances' changes."""

    def __init__(self, live: LiveIndex):
        self._live = live

    @property
    def analyzer_version(self) -> str:
        return self._live.analyzer.version

    def normalize(self, q: str) -> str:
        return self._live.analyzer.normalize(q)

    def search(self, session: Any, q: str, filters: Filters, limit: int, offset: int) -> Results:
        """The index's answer (``ValueError`` when ``q`` has no terms); builds the index first
        if this instance has not yet (a search that arrives before the first timer tick)."""
        if not self._live.built:
            self.follow(session)
        return self._live.index.search(q, filters, limit=limit, offset=offset)

    def __contains__(self, article_id: int) -> bool:
        return article_id in self._live.index

    def put(self, session: Any, document: Document, *, now: bool = False) -> None:
        """Write ``document`` (an entry's new live version) as its row, with the next rev;
        applied here after commit (``now``: at once — for rows of entries already live)."""
        analyzed = analyze(document, self._live.analyzer)
        rev = _next_rev(session)
        row = session.get(SearchDocument, document.article_id)
        values = {"rev": rev, "active": True, "analyzer_version": analyzed.analyzer_version,
                  "doc": analyzed.to_dict(), "updated_at": utcnow()}
        if row is None:
            session.add(SearchDocument(article_id=document.article_id, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
        session.flush()
        if now:
            self._live.apply(document.article_id, rev, analyzed)
        else:
            self._after_commit(session, document.article_id, rev, analyzed)

    def remove(self, session: Any, article_id: int) -> None:
        """Mark the entry's row inactive (it leaves every instance's index), with the next rev.
        An entry never published has no row and nothing to remove."""
        row = session.get(SearchDocument, article_id)
        if row is None or not row.active:
            return
        rev = _next_rev(session)
        row.rev, row.active, row.updated_at = rev, False, utcnow()
        session.flush()
        self._after_commit(session, article_id, rev, None)

    def follow(self, session: Any) -> int:
        """Apply every row with a rev above the last applied; the first call builds the whole
        index and writes rows for live entries that have none (the caller commits). How many
        entries changed."""
        live = self._live
        with live.lock:
            rows = session.execute(
                select(SearchDocument.article_id, SearchDocument.rev, SearchDocument.active,
                       SearchDocument.analyzer_version, SearchDocument.doc)
                .where(SearchDocument.rev > live.applied_rev)
                .order_by(SearchDocument.rev)).all()
            changed = 0
            for row in rows:
                analyzed = live.analysed(row) if row.active else None
                changed += live.apply(row.article_id, row.rev, analyzed)
                live.applied_rev = max(live.applied_rev, row.rev)
                eventlet.sleep(0)  # a big first build must not starve the hub
            if not live.built:
                for document in _unindexed(session):  # live already: in the index now
                    self.put(session, document, now=True)
                live.built = True
                log.info("search index built", extra={"entries": len(live.index),
                                                      "rev": live.applied_rev})
            return changed

    def _after_commit(self, session: Any, article_id: int, rev: int,
                      analyzed: AnalyzedDocument | None) -> None:
        live = self._live

        def applied(_session: Any) -> None:
            live.apply(article_id, rev, analyzed)

        event.listen(session, "after_commit", applied, once=True)


def document_of(article: Article, version: ArticleVersion) -> Document:
    """The index's view of one version of an entry."""
    return Document(
        article_id=article.id, version=version.version, title=version.title,
        text=document_text(version.body, version.fields), article_type=article.article_type,
        department_code=article.department_code, categories=tuple(version.categories or ()),
        territories=tuple(version.territories or ()), valid_from=version.valid_from,
        valid_until=version.valid_until)


def _unindexed(session: Any) -> list[Document]:
    """Live entries (published, not archived) whose live version has no row: Step-1 entries."""
    rows = session.execute(
        select(Article, ArticleVersion)
        .join(ArticleVersion, (ArticleVersion.article_id == Article.id)
              & (ArticleVersion.version == Article.published_version))
        .outerjoin(SearchDocument, SearchDocument.article_id == Article.id)
        .where(Article.status != "archived", SearchDocument.article_id.is_(None))).all()
    return [document_of(article, version) for article, version in rows]


def _next_rev(session: Any) -> int:
    if session.execute(_NEXT_REV, {"name": COUNTER}).rowcount == 0:  # made without migration 0002
        session.add(IndexCounter(name=COUNTER, value=1))
        session.flush()
    return int(session.execute(_READ_REV, {"name": COUNTER}).scalar_one())


class SearchIndex(DependencyProvider):
    """Injects :class:`IndexAccess` over this container's :class:`LiveIndex`, made in
    ``setup()`` with the process's shared analyzer: ``KNOWLEDGE_SYNONYMS`` (a synonym table's
    path; default the packaged services/knowledge/synonyms.txt) and
    ``KNOWLEDGE_DICTIONARY_MIN_FREQ`` (jieba's dictionary without rarer words). A change of
    either changes the analyzer's version: rows of the old one are re-analysed at start."""

    def setup(self) -> None:
        config = self.container.config
        path = config.get("KNOWLEDGE_SYNONYMS")
        analyzer = shared_analyzer(
            synonyms=load_synonyms(path) if path else None,
            dictionary_min_freq=int(config.get("KNOWLEDGE_DICTIONARY_MIN_FREQ",
                                               DEFAULT_MIN_FREQ)))
        self.live = LiveIndex(analyzer)

    def get_dependency(self, worker_ctx: Any) -> IndexAccess:
        return IndexAccess(self.live)


# the index's follow timer (eager: the first tick builds the index as the service starts), and
# the expiry sweep's (it archives each entry with a conditional update, so once)
index_timer = configured_timer("KNOWLEDGE_INDEX_POLL_SECONDS", 0.5, eager=True)
expiry_timer = configured_timer("KNOWLEDGE_EXPIRY_SECONDS", 300)
