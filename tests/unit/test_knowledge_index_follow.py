"""The index provider's bookkeeping (services/knowledge/dependencies.LiveIndex): a row applies
only if newer than what the index holds for its entry, whatever order the after-commit
application and the poll deliver them in."""

from __future__ import annotations

from services.knowledge.analysis import shared_analyzer
from services.knowledge.dependencies import LiveIndex
from services.knowledge.search import Document, Filters, analyze


def doc(version: int, title: str) -> Document:
    return Document(article_id=7, version=version, title=title, text=title,
                    article_type="faq", department_code="shuiwu")


def test_only_newer_revisions_apply() -> None:
    live = LiveIndex(shared_analyzer())
    v1, v2 = (analyze(d, live.analyzer) for d in (doc(1, "停水通知"), doc(2, "降压通知")))
    assert live.apply(7, 5, v2)
    assert not live.apply(7, 4, v1)  # an older row read late by the poll
    assert not live.apply(7, 5, v2)  # the same row again
    assert live.index.search("降压", Filters()).hits[0].version == 2
    assert live.apply(7, 6, None)  # archived
    assert 7 not in live.index
    assert not live.apply(7, 5, v2)
    assert 7 not in live.index
