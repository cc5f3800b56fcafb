"""Knowledge's tables (资料库子系统, DOMAIN.md §7).

- ``article`` — one entry: its type, owner department, workflow state and which version is live;
- ``article_version`` — every edit a new, immutable version (the history, and diffs between any
  two); the live content is ``article.published_version``'s, so a published entry stays
  searchable while its next version is drafted and reviewed;
- ``article_event`` — the review log (录入、送审、退回、发布、归档): who, when, from/to, comment;
- ``search_document`` — the analysed form of each live version (terms per field, filters), the
  index's persistent copy: a process builds its in-memory index from these rows at start and
  follows ``rev`` to pick up what other instances published;
- ``article_view`` / ``search_log`` / ``article_resolution`` — use (资料库运行监控): which entries
  were opened and by whom, every search with its number of results, which entries resolved
  orders at intake (直接办结, from ``ticket.resolved_at_intake``);
- ``order_profile`` / ``term_department`` — routing help: the analysed terms of past orders and
  where they went, and the term × department counts learned from confirmed dispatches.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import add_messaging_tables
from shared.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


metadata = Base.metadata
add_messaging_tables(metadata)


class Article(Base):
    """One knowledge entry. ``status``: draft → in_review → published → archived (the state of
    the working version ``current_version``); ``published_version`` is what agents and the
    public see, kept while a newer version is drafted or in review."""

    __tablename__ = "article"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))  # the working version's title
    body: Mapped[str] = mapped_column(Text)  # the working version's body (listing, Step-1 rows)
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)  # owner
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)  # [] = every category
    territories: Mapped[list[str]] = mapped_column(JSON, default=list)  # [] = the whole city
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    review_due: Mapped[date | None] = mapped_column(Date, index=True)
    source: Mapped[str | None] = mapped_column(String(200))  # e.g. "import:003_….txt#3"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    archive_reason: Mapped[str | None] = mapped_column(String(200))


class ArticleVersion(Base):
    """One immutable version of an entry's content. ``fields`` holds the 办事指南 fields
    (project_name 项目名称, basis 设立依据, materials 申报材料, procedure 办事程序,
    time_limit 承诺期限, fee_basis 收费依据, fee_standard 收费标准, window_authority 窗口权限)."""

    __tablename__ = "article_version"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    territories: Mapped[list[str]] = mapped_column(JSON, default=list)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    review_due: Mapped[date | None] = mapped_column(Date)
    edited_at: Mapped[datetime] = mapped_column(UtcDateTime())
    edited_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))  # the editor's change note


class ArticleEvent(Base):
    """The review log: every workflow action on an entry (create, edit, submit, reject,
    publish, archive, restore), with the version it concerned."""

    __tablename__ = "article_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    comment: Mapped[str | None] = mapped_column(String(500))


class SearchDocument(Base):
    """The analysed live version of an entry (``doc``: the search module's serialised form).
    ``rev`` grows with every change (from ``index_counter``), so an instance that has applied
    up to rev N loads only rows with rev > N; an archived entry keeps its row, inactive."""

    __tablename__ = "search_document"

    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), primary_key=True)
    rev: Mapped[int] = mapped_column(Integer, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    analyzer_version: Mapped[str] = mapped_column(String(64))
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IndexCounter(Base):
    """One row per counter (``search_document``): ``UPDATE … SET value = value + 1`` serialises
    writers on the row lock, so revs are unique and increasing on SQLite and PostgreSQL."""

    __tablename__ = "index_counter"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class ArticleView(Base):
    """An entry opened (by an agent on a call, a department, the public)."""

    __tablename__ = "article_view"
    __table_args__ = (Index("ix_article_view_article_at", "article_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str | None] = mapped_column(String(64))  # None: the public
    role: Mapped[str | None] = mapped_column(String(16))
    department_code: Mapped[str | None] = mapped_column(String(32))
    ticket_no: Mapped[str | None] = mapped_column(String(20))  # the call it was opened for
    via: Mapped[str | None] = mapped_column(String(16))  # search | direct | public | routing


class SearchLog(Base):
    """A search: the (normalised, truncated) query, its filters and number of results."""

    __tablename__ = "search_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    query: Mapped[str] = mapped_column(String(200))
    normalized: Mapped[str] = mapped_column(String(200), index=True)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[int] = mapped_column(Integer)
    did_you_mean: Mapped[str | None] = mapped_column(String(200))


class ArticleResolution(Base):
    """An order resolved at intake (直接办结) citing the entry (``ticket.resolved_at_intake``)."""

    __tablename__ = "article_resolution"

    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    article_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str | None] = mapped_column(String(64))


class OrderProfile(Base):
    """A past order as routing help needs it: category, territory, analysed terms (never the
    text) and the lead department of its latest dispatch round; ``counted``: its terms are in
    ``term_department`` for that lead now (an approved return or a recall takes them out, a
    re-dispatch puts them in for the new lead).

    ``excluded`` orders (``confidential``: 涉密; ``resolved``: 直接办结, never dispatched) keep
    only their number, time and category — no terms, no territory — so a later fact about them
    is recognised and ignored rather than retried as one that arrived too early."""

    __tablename__ = "order_profile"
    __table_args__ = (Index("ix_order_profile_lead", "lead_department", "registered_at"),)

    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    category: Mapped[str] = mapped_column(String(16))
    territory_code: Mapped[str | None] = mapped_column(String(32))
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    excluded: Mapped[str | None] = mapped_column(String(16))  # confidential | resolved
    lead_department: Mapped[str | None] = mapped_column(String(32))
    lead_assignment_id: Mapped[int | None] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer, default=0)
    counted: Mapped[bool] = mapped_column(Boolean, default=False)  # in term_department now


class TermDepartment(Base):
    """How many confirmed past orders containing ``term`` went to ``department_code``
    (``term`` '' counts the department's orders): the learned half of routing help."""

    __tablename__ = "term_department"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[float] = mapped_column(Float, default=0.0)
