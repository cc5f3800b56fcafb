"""The knowledge index across instances, on SQLite and PostgreSQL (``backend``): a publication on
one container is found on another within a second (following ``search_document.rev``); a new
container on the same database finds what the old one published (the index survives
restarts); two instances' expiry sweeps archive an entry once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from nameko.testing.services import entrypoint_hook, entrypoint_waiter
from sqlalchemy import create_engine, select, text

from hotline.client import wait_for
from hotline.registry import service_class
from services.knowledge.models import metadata
from shared.business_time import business_today
from shared.database import make_engine

CENTER = {"name": "supervisor1", "role": "supervisor", "department_code": None}
AGENT = {"name": "agent1", "role": "agent", "department_code": None}
FAQ = {"article_type": "faq", "title": "停水了怎么查询恢复供水时间",
       "body": "计划停水信息由市水务局提前发布。", "department_code": "shuiwu"}


def knowledge(container_factory: Any, config: dict[str, Any], **overrides: Any) -> Any:
    container = container_factory(service_class("knowledge"), {**config, **overrides})
    container.start()
    return container


def call(container: Any, method: str, *args: Any) -> Any:
    with entrypoint_hook(container, method) as hook:
        return hook(*args)


def found(container: Any, q: str) -> list[int]:
    return [i["id"] for i in call(container, "search", {"q": q}, AGENT)["items"]]


def test_published_on_one_instance_found_on_another_within_a_second_and_after_restart(
        config: dict[str, Any], container_factory: Any) -> None:
    first, second = (knowledge(container_factory, config) for _ in range(2))
    assert found(second, "停水") == []  # built (empty) before the publication
    article = call(first, "create_article", {**FAQ, "publish": True}, CENTER)
    assert found(first, "停水") == [article["id"]]  # its own index: at once, after commit
    wait_for(lambda: found(second, "停水") == [article["id"]], timeout=1.0,
             what="the second instance to follow")
    # a new version published on the second: the first follows it
    call(second, "edit_article", article["id"], {"body": "计划停水和降压信息提前发布。"}, CENTER)
    call(second, "publish_article", article["id"], {}, CENTER)
    wait_for(lambda: found(first, "降压") == [article["id"]], timeout=1.0,
             what="the first instance to follow the new version")

    for container in (first, second):
        container.stop()
    restarted = knowledge(container_factory, config)
    assert found(restarted, "降压") == [article["id"]]
    call(restarted, "archive_article", article["id"], {"comment": "过时"}, CENTER)
    assert found(restarted, "停水") == []
    # an archived entry stays out of a freshly built index too
    assert found(knowledge(container_factory, config), "停水") == []


def test_two_instances_archive_an_expired_entry_once(config: dict[str, Any],
                                                     container_factory: Any) -> None:
    quick = {"KNOWLEDGE_EXPIRY_SECONDS": 0.1}
    first, second = (knowledge(container_factory, config, **quick) for _ in range(2))
    today = business_today()
    articles = [call(first, "create_article", {**FAQ, "title": f"停水通知{n}", "publish": True,
                                                "valid_until": str(today)}, CENTER)
                for n in range(3)]
    engine = make_engine(config["DATABASES"]["knowledge"])
    try:
        with engine.begin() as conn:  # their validity ended yesterday
            conn.execute(text("UPDATE article_version SET valid_until = :d"),
                         {"d": today - timedelta(days=1)})
        wait_for(lambda: all(call(first, "get_article", a["id"], CENTER)["status"] == "archived"
                             for a in articles), timeout=10, what="expiry")
        for container in (first, second, first, second):  # more sweeps on both: nothing more
            with entrypoint_waiter(container, "archive_expired", timeout=5):
                pass
        # a plain reader: the services' engines begin every transaction IMMEDIATE (SQLite's
        # write lock), and two instances sweeping every 0.1 s can starve a locker for 5 s;
        # under WAL a deferred reader never waits
        reader = create_engine(config["DATABASES"]["knowledge"])
        try:
            with reader.connect() as conn:
                outbox = metadata.tables["outbox"]
                archived = conn.execute(select(outbox.c.payload).where(
                    outbox.c.type == "kb.article_archived")).scalars().all()
                log = conn.execute(text("SELECT article_id FROM article_event "
                                        "WHERE action = 'archive'")).scalars().all()
        finally:
            reader.dispose()
    finally:
        engine.dispose()
    assert sorted(e["data"]["article_id"] for e in archived) == [a["id"] for a in articles]
    assert sorted(log) == [a["id"] for a in articles]
    for container in (first, second):
        wait_for(lambda c=container: found(c, "停水") == [], timeout=1.0,
                 what="the archived entries to leave every index")
