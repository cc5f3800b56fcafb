"""Knowledge (Step 1 minimum): articles stored, published, found by keyword."""

from __future__ import annotations

from typing import Any

import pytest

from services.knowledge.service import KnowledgeService
from shared.errors import Conflict, Invalid, NotFound
from tests.service.conftest import Worker, outbox


@pytest.fixture
def kb(store: Any) -> Any:
    db = store("knowledge")
    return Worker(KnowledgeService, db), db


def test_only_published_articles_are_found_best_first(kb: Any) -> None:
    worker, db = kb
    draft = worker.create_article({"article_type": "faq", "title": "停水查询",
                                   "body": "计划停水信息提前发布"}, "admin")
    guide = worker.create_article({"article_type": "guide", "title": "养老保险参保登记",
                                   "body": "申报材料：身份证。养老保险到社区办理。",
                                   "department_code": "renshe", "publish": True}, "admin")
    other = worker.create_article({"article_type": "faq", "title": "社区服务",
                                   "body": "可咨询养老保险事宜", "publish": True}, "admin")
    assert draft["status"] == "draft" and guide["status"] == "published"
    found = worker.search({"q": "养老保险"})
    assert [a["id"] for a in found["items"]] == [guide["id"], other["id"]]
    assert "养老保险" in found["items"][0]["snippet"]
    assert worker.search({"q": "停水"})["total"] == 0
    worker.publish(draft["id"], "admin")
    assert worker.search({"q": "停水"})["total"] == 1
    with pytest.raises(Conflict):
        worker.publish(draft["id"], "admin")
    published = [e for e in outbox(db) if e["type"] == "kb.article_published"]
    assert len(published) == 3


def test_bad_queries_and_unknown_articles(kb: Any) -> None:
    worker, _ = kb
    with pytest.raises(Invalid) as err:
        worker.search({"q": "   "})
    assert "q" in err.value.details["fields"]
    assert worker.search({"q": "长" * 500})["q"] == "长" * 200  # truncated, not refused
    with pytest.raises(NotFound):
        worker.get_article(999)
    with pytest.raises(Invalid) as err:
        worker.create_article({"article_type": "poem", "title": "", "body": "x"}, "admin")
    assert {"article_type", "title"} <= set(err.value.details["fields"])
