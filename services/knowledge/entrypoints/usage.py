"""Use and monitoring of the knowledge base (资料库运行监控).

- ``_record_view`` / ``_record_search``: records of use, written in the transaction of the read
  or search they record (called by the article and search entrypoints);
- ``on_resolved_at_intake``: ``ticket.resolved_at_intake`` citing an entry → one
  ``article_resolution`` row per order (idempotent: the inbox claim, and the order number as
  the row's key);
- ``usage_report``: the monitoring report (the rules and what each list means: ``usage.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import and_, exists, func, or_, select, true

from services.knowledge import usage
from services.knowledge.entrypoints.base import KnowledgeBase
from services.knowledge.models import Article, ArticleResolution, ArticleView, SearchLog
from shared.business_time import business_today
from shared.database import translate_db_errors
from shared.errors import Invalid, load_or_invalid
from shared.events import Event, utcnow
from shared.messaging import event_handler
from shared.rpc import rpc


class UsageQuerySchema(Schema):
    """``usage_report``'s query: business dates ``from``/``to`` (inclusive), an owner
    department, and how many rows each list holds."""

    from_ = fields.Date(data_key="from", load_default=None, allow_none=True)
    to = fields.Date(load_default=None, allow_none=True)
    department_code = fields.String(load_default=None, allow_none=True,
                                    validate=validate.Length(min=1, max=32))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


def _live() -> Any:
    """Entries agents and the public can read: a published version, not archived."""
    return and_(Article.status != "archived",
                or_(Article.published_version.is_not(None), Article.status == "published"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class UsageEntrypoints(KnowledgeBase):
    """Records of use, written in the transaction of the search or read that they record."""

    def _record_view(self, article_id: int, version: int | None, *, actor: str | None,
                     role: str | None, department_code: str | None, via: str | None,
                     ticket_no: str | None = None) -> None:
        """An entry was opened (``via``: search | direct | public | routing)."""
        self.db.session.add(ArticleView(
            article_id=article_id, version=version, at=utcnow(), actor=actor, role=role,
            department_code=department_code, via=via, ticket_no=ticket_no))

    def _record_search(self, query: str, normalized: str, filters: dict[str, Any], total: int,
                       *, actor: str | None, role: str | None,
                       did_you_mean: str | None = None) -> None:
        """A search and how many results it had (0: a gap in the knowledge base)."""
        self.db.session.add(SearchLog(
            at=utcnow(), actor=actor, role=role, query=query[:200], normalized=normalized[:200],
            filters=filters, total=total, did_you_mean=did_you_mean))

    # -- facts -------------------------------------------------------------------------------
    @event_handler("ticket.resolved_at_intake")
    def on_resolved_at_intake(self, event: Event) -> None:
        """直接办结 citing an entry: one ``article_resolution`` per order. An order resolved
        without citing an entry (``article_id`` null) leaves no row; a redelivered event or a
        second event for the same order has no second effect."""
        if not self.db.claim(event):
            return
        data = event.data
        if data.get("article_id") is not None and \
                self.db.session.get(ArticleResolution, data["ticket_no"]) is None:
            self.db.session.add(ArticleResolution(
                ticket_no=data["ticket_no"], article_id=data["article_id"],
                at=data["resolved_at"], actor=data.get("actor")))
        self.db.commit()

    # -- the report --------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def usage_report(self, query: dict[str, Any]) -> dict[str, Any]:
        """资料库运行监控 for a period (``from``/``to``, business dates, default the last 30
        days) and optionally one owner department (``department_code``: only its entries, and
        only the zero-result searches that filtered on it). Bad bounds → :class:`Invalid`
        naming ``from``/``to``. The department code is not checked here (knowledge does not
        own departments): the gateway checks it against dispatch's.

        Answer: ``period``, ``department_code``, ``totals``, ``opened``, ``resolved``,
        ``searches_without_result``, ``never_used``, ``review_overdue``, ``departments``
        (each list at most ``limit`` rows; the totals count them all; ``totals.searches`` is
        None for one department: searches belong to no department)."""
        q = load_or_invalid(UsageQuerySchema(), query or {})
        today = business_today()
        span, errors = usage.period(q["from_"], q["to"], today)
        if span is None:
            raise Invalid.fields(errors)
        dept, limit = q["department_code"], q["limit"]
        session = self.db.snapshot()
        owned = Article.department_code == dept if dept else true()
        in_period = and_(ArticleView.at >= span.start, ArticleView.at < span.end)

        opened = [{
            "article_id": r.id, "title": r.title, "department_code": r.department_code,
            "views": int(r.views), "users": int(r.users), "public_views": int(r.public_views),
            "last_opened": _iso(r.last_opened)} for r in session.execute(
            select(Article.id, Article.title, Article.department_code,
                   func.count(ArticleView.actor).label("views"),
                   func.count(func.distinct(ArticleView.actor)).label("users"),
                   (func.count() - func.count(ArticleView.actor)).label("public_views"),
                   func.max(ArticleView.at).label("last_opened"))
            .join(ArticleView, ArticleView.article_id == Article.id)
            .where(in_period, owned)
            .group_by(Article.id, Article.title, Article.department_code)
            .order_by(func.count(ArticleView.actor).desc(), func.max(ArticleView.at).desc()))]

        resolution_rows = session.execute(
            select(Article.id, Article.title, Article.department_code, ArticleResolution.ticket_no,
                   ArticleResolution.at)
            .join(ArticleResolution, ArticleResolution.article_id == Article.id)
            .where(ArticleResolution.at >= span.start, ArticleResolution.at < span.end, owned)
            .order_by(ArticleResolution.at.desc())).all()
        resolved_by: dict[int, dict[str, Any]] = {}
        for r in resolution_rows:
            entry = resolved_by.setdefault(r.id, {
                "article_id": r.id, "title": r.title, "department_code": r.department_code,
                "resolutions": 0, "ticket_nos": [], "last_resolved": _iso(r.at)})
            entry["resolutions"] += 1
            if len(entry["ticket_nos"]) < usage.SAMPLE_TICKETS:
                entry["ticket_nos"].append(r.ticket_no)
        # most resolutions first; among equals the most recent (rows come newest first)
        resolved = sorted(resolved_by.values(), key=lambda e: -e["resolutions"])

        gaps_stmt = select(SearchLog.query, SearchLog.normalized, SearchLog.at, SearchLog.filters) \
            .where(SearchLog.total == 0, SearchLog.at >= span.start, SearchLog.at < span.end)
        gap_rows = [{"query": r.query, "normalized": r.normalized, "at": r.at}
                    for r in session.execute(gaps_stmt)
                    if not dept or (r.filters or {}).get("department_code") == dept]
        gaps = usage.group_gaps(gap_rows, limit=10**6)

        live = [{"article_id": r.id, "title": r.title, "department_code": r.department_code,
                 "published_at": r.published_at, "review_due": r.review_due}
                for r in session.execute(
                    select(Article.id, Article.title, Article.department_code,
                           Article.published_at, Article.review_due)
                    .where(_live(), owned).order_by(Article.id))]
        used_view = exists().where(ArticleView.article_id == Article.id,
                                   or_(Article.published_at.is_(None),
                                       ArticleView.at >= Article.published_at))
        used_resolution = exists().where(ArticleResolution.article_id == Article.id)
        never_used = [{"article_id": r.id, "title": r.title,
                       "department_code": r.department_code,
                       "published_at": _iso(r.published_at)} for r in session.execute(
            select(Article.id, Article.title, Article.department_code, Article.published_at)
            .where(_live(), owned, ~used_view, ~used_resolution)
            .order_by(Article.published_at, Article.id))]
        overdue = [{"article_id": a["article_id"], "title": a["title"],
                    "department_code": a["department_code"],
                    "review_due": a["review_due"].isoformat(),
                    "days_overdue": usage.days_overdue(a["review_due"], today)}
                   for a in sorted((a for a in live if a["review_due"] is not None
                                    and a["review_due"] < today),
                                   key=lambda a: (a["review_due"], a["article_id"]))]
        searches = session.scalar(select(func.count()).select_from(SearchLog).where(
            SearchLog.at >= span.start, SearchLog.at < span.end)) or 0
        self.db.rollback()  # a read: release the snapshot (and SQLite's lock) at once

        return {
            "period": span.as_dict(),
            "department_code": dept,
            "totals": {
                "published": len(live),
                "views": sum(o["views"] for o in opened),
                "public_views": sum(o["public_views"] for o in opened),
                "resolutions": sum(r["resolutions"] for r in resolved),
                "searches": int(searches) if not dept else None,
                "searches_without_result": sum(g["count"] for g in gaps),
                "never_used": len(never_used),
                "review_overdue": len(overdue),
            },
            "opened": opened[:limit],
            "resolved": resolved[:limit],
            "searches_without_result": [{**g, "last_seen": _iso(g["last_seen"])}
                                        for g in gaps[:limit]],
            "never_used": never_used[:limit],
            "review_overdue": overdue[:limit],
            "departments": usage.by_department(live, opened, resolved, never_used, overdue),
        }
