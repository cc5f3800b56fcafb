"""Entries (资料), their versions and the review workflow (录入、送审、审核、发布、归档), and
the expiry of entries past their validity (有效期届满自动归档).

Every RPC that acts for someone takes ``actor``: ``{"name", "role", "department_code"}``
(:class:`services.knowledge.domain.Actor`); the rules of who may do what, in which state, are
in :mod:`services.knowledge.domain`. Order of refusals: an entry the actor may not see is 404,
an action it may not take 403, the wrong state 409, bad input 422.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select, update

from services.knowledge import domain
from services.knowledge.dependencies import document_of, expiry_timer
from services.knowledge.domain import Actor
from services.knowledge.entrypoints.base import KnowledgeBase
from services.knowledge.models import Article, ArticleEvent, ArticleVersion
from services.knowledge.schemas import (
    ActionSchema,
    ArticleEditSchema,
    ArticleEventSchema,
    ArticleInSchema,
    ArticleSchema,
    DiffQuerySchema,
    ListSchema,
    PublicArticleSchema,
    ReadSchema,
    RejectionSchema,
    VersionSchema,
    VersionSummarySchema,
)
from shared.business_time import business_today
from shared.database import translate_db_errors
from shared.errors import Conflict, Forbidden, Invalid, NotFound, load_or_invalid
from shared.events import utcnow
from shared.rpc import rpc

# the content of a version, as stored on article_version (and mirrored on article)
CONTENT = ("title", "body", "categories", "territories", "valid_from", "valid_until",
           "review_due")
EXPIRY_BATCH = 200


class ArticleEntrypoints(KnowledgeBase):
    # -- writing ---------------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def create_article(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """录入: a new entry, version 1, in draft (``publish``: the center publishes it at once).
        → the entry as :meth:`get_article` answers its editors."""
        who = Actor.of(actor)
        form = load_or_invalid(ArticleInSchema(), payload)
        publish = form.pop("publish")
        article = self._add_article(form, who)
        if publish:
            self._publish(article, who)
        answer = self._working(article)
        self.db.commit()
        return answer

    @rpc
    @translate_db_errors
    def edit_article(self, article_id: int, payload: dict[str, Any], actor: dict[str, Any]
                     ) -> dict[str, Any]:
        """修改: a new version from the fields given (the others as in the working version);
        the entry goes (back) to draft, its live version stays live until this one is
        published. ``base_version``: 409 if someone else edited since."""
        who = Actor.of(actor)
        today = business_today()
        article = self._visible(article_id, who, today, lock=True)
        domain.check_allowed(who, "edit", article.department_code)
        form = load_or_invalid(ArticleEditSchema(), payload)
        base = form.pop("base_version", None)
        if base is not None and base != article.current_version:
            raise Conflict(f"资料已被修改为第 {article.current_version} 版，请刷新后再改 edited "
                           f"since version {base}; reload", {
                               "action": "edit", "state": article.status,
                               "current_version": article.current_version})
        status = domain.next_status(article.status, "edit")
        owner = form.pop("department_code", article.department_code)
        if owner != article.department_code and not who.is_center:
            raise Forbidden("只有热线中心可以更改资料的所属部门 only the center may change an "
                            "entry's department", {"action": "edit", "field": "department_code"})
        current = self._version(article, article.current_version)
        content = {name: form.get(name, getattr(current, name)) for name in CONTENT}
        given = form.get("guide_fields", current.fields)
        content["fields"] = domain.complete_fields(article.article_type, content["body"], given)
        content["article_type"] = article.article_type
        domain.check_content(content)
        if owner == article.department_code and form.get("note") is None and all(
                content[name] == getattr(current, name) for name in CONTENT) \
                and content["fields"] == (current.fields or {}):
            raise Invalid.fields({"_body": ["没有修改 nothing changed"]})
        previous = article.status
        article.department_code = owner
        self._new_version(article, content, who, form.get("note"))
        article.status = status
        self._log(article, "edit", previous, who.name, form.get("note"))
        answer = self._working(article)
        self.db.commit()
        return answer

    @rpc
    @translate_db_errors
    def submit_article(self, article_id: int, payload: dict[str, Any] | None,
                       actor: dict[str, Any]) -> dict[str, Any]:
        """送审: the working version goes to the center for review (draft → in_review)."""
        return self._transition(article_id, "submit", ActionSchema(), payload, actor)

    @rpc
    @translate_db_errors
    def reject_article(self, article_id: int, payload: dict[str, Any] | None,
                       actor: dict[str, Any]) -> dict[str, Any]:
        """退回: the center sends the version back to its editors with a ``comment``
        (in_review → draft)."""
        return self._transition(article_id, "reject", RejectionSchema(), payload, actor)

    @rpc
    @translate_db_errors
    def publish_article(self, article_id: int, payload: dict[str, Any] | None,
                        actor: dict[str, Any]) -> dict[str, Any]:
        """发布: the working version goes live (draft or in_review → published), replacing the
        live one; 422 naming the fields a guide lacks."""
        return self._transition(article_id, "publish", ActionSchema(), payload, actor)

    @rpc
    @translate_db_errors
    def archive_article(self, article_id: int, payload: dict[str, Any] | None,
                        actor: dict[str, Any]) -> dict[str, Any]:
        """归档: the entry leaves the knowledge base (``comment``: the reason)."""
        return self._transition(article_id, "archive", ActionSchema(), payload, actor)

    def _transition(self, article_id: int, action: str, schema: Any,
                    payload: dict[str, Any] | None, actor: dict[str, Any]) -> dict[str, Any]:
        who = Actor.of(actor)
        article = self._visible(article_id, who, business_today(), lock=True)
        domain.check_allowed(who, action, article.department_code)
        domain.next_status(article.status, action)  # 409 before the body is looked at
        comment = load_or_invalid(schema, payload or {})["comment"]
        if action == "publish":
            self._publish(article, who, comment)
        elif action == "archive":
            self._archive(article, who.name, comment or "manual", comment)
        else:
            previous = article.status
            article.status = domain.next_status(article.status, action)
            article.updated_at, article.updated_by = utcnow(), who.name
            self._log(article, action, previous, who.name, comment)
        answer = self._working(article)
        self.db.commit()
        return answer

    # -- helpers other areas call (bulk import) --------------------------------------------------
    def _add_article(self, form: dict[str, Any], actor: Actor | dict[str, Any],
                     source: str | None = None) -> Article:
        """A new entry from ``form`` (as :class:`ArticleInSchema` loads it; ``publish`` is
        ignored here) → the article, version 1 and its review-log row, flushed (not
        committed). :class:`Forbidden` when ``actor`` may not write for the owner department,
        :class:`Invalid` naming bad content."""
        who = Actor.of(actor)
        owner = domain.owner_for_create(who, form.get("department_code"))
        article_type = form["article_type"]
        content = {name: form.get(name) for name in CONTENT}
        content["categories"] = list(content["categories"] or [])
        content["territories"] = list(content["territories"] or [])
        content["fields"] = domain.complete_fields(
            article_type, content["body"], form.get("guide_fields", form.get("fields")))
        content["article_type"] = article_type
        domain.check_content(content)
        now = utcnow()
        article = Article(article_type=article_type, department_code=owner, status="draft",
                          current_version=0, published_version=None, source=source,
                          created_at=now, created_by=who.name)
        self.db.session.add(article)
        self._new_version(article, content, who, form.get("note"))
        self._log(article, "create", None, who.name, form.get("note"))
        self.db.session.flush()
        return article

    def _publish(self, article: Article, actor: Actor | dict[str, Any],
                 comment: str | None = None) -> None:
        """Publish the working version: who and state checked, the guide's required fields and
        the validity checked (422 naming them), the search document written (every instance's
        index follows), ``kb.article_published`` emitted — all in the caller's transaction."""
        who = Actor.of(actor)
        domain.check_allowed(who, "publish", article.department_code)
        status = domain.next_status(article.status, "publish")
        version = self._version(article, article.current_version)
        domain.check_publishable({**{name: getattr(version, name) for name in CONTENT},
                                  "fields": version.fields, "article_type": article.article_type},
                                 business_today())
        previous, now = article.status, utcnow()
        article.status, article.published_version, article.published_at = (
            status, article.current_version, now)
        article.archived_at = article.archive_reason = None
        article.updated_at, article.updated_by = now, who.name
        self.search_index.put(self.db.session, document_of(article, version))
        self._log(article, "publish", previous, who.name, comment)
        self.db.emit("kb.article_published", {
            "article_id": article.id, "title": version.title,
            "article_type": article.article_type, "department_code": article.department_code,
            "published_at": now, "version": version.version})

    def _archive(self, article: Article, actor: str, reason: str,
                 comment: str | None = None) -> None:
        """Archive the entry (its state already checked by the caller): it leaves the index
        of every instance, ``kb.article_archived`` emitted. It has no live version any more
        (an edit starts it again as a draft, to be published anew)."""
        previous, now = article.status, utcnow()
        article.status, article.archived_at, article.archive_reason = "archived", now, reason
        article.published_version = None
        article.updated_at, article.updated_by = now, actor
        self.search_index.remove(self.db.session, article.id)
        self._log(article, "archive", previous, actor, comment or reason)
        self.db.emit("kb.article_archived", {
            "article_id": article.id, "title": article.title,
            "department_code": article.department_code, "archived_at": now, "actor": actor,
            "reason": reason})

    def _new_version(self, article: Article, content: dict[str, Any], who: Actor,
                     note: str | None) -> ArticleVersion:
        """The next immutable version; the entry's columns mirror it (the working version)."""
        now = utcnow()
        article.current_version = (article.current_version or 0) + 1
        for name in CONTENT:
            setattr(article, name, content[name])
        article.updated_at, article.updated_by = now, who.name
        self.db.session.flush()  # the article's id
        version = ArticleVersion(
            article_id=article.id, version=article.current_version, fields=content["fields"],
            edited_at=now, edited_by=who.name, note=note,
            **{name: content[name] for name in CONTENT})
        self.db.session.add(version)
        return version

    # -- reading ---------------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def get_article(self, article_id: int, actor: dict[str, Any],
                    options: dict[str, Any] | None = None) -> dict[str, Any]:
        """One entry: its editors (the center, its department) read the working version (or
        ``options.version``), everyone else the live one (404 if there is none). Reading a
        live version is recorded (``options.via``, ``options.ticket_no``: the call it was
        opened on)."""
        who = Actor.of(actor)
        opts = load_or_invalid(ReadSchema(), options or {})
        today = business_today()
        article = self._visible(article_id, who, today)
        live = self._live_version(article, today)
        if domain.may_see_working(who, article.department_code):
            version = self._version(article, opts["version"] or article.current_version)
            view = "working" if version.version == article.current_version else "version"
        else:
            if opts["version"] not in (None, live.version if live else None):
                raise Forbidden("只能查看已发布的版本 only the live version may be read",
                                {"action": "read", "version": opts["version"]})
            version, view = live, "live"  # type: ignore[assignment]
        if live is not None and version.version == live.version:
            self._record_view(article.id, version.version, actor=who.name, role=who.role,
                              department_code=who.department_code, via=opts["via"],
                              ticket_no=opts["ticket_no"])
        answer = self._detail(article, version, view, live=live is not None)
        self.db.commit()  # the view's record, if any
        return answer

    @rpc
    @translate_db_errors
    def live_article(self, article_id: int) -> dict[str, Any]:
        """The entry if agents may cite it today (published, valid, not archived):
        ``{id, version, title, article_type, department_code}``; 404 otherwise."""
        article = self._get(article_id)
        live = self._live_version(article, business_today())
        if live is None:
            raise self._not_found(article_id)
        return {"id": article.id, "version": live.version, "title": live.title,
                "article_type": article.article_type, "department_code": article.department_code}

    @rpc
    @translate_db_errors
    def public_article(self, article_id: int) -> dict[str, Any]:
        """A live entry as the public reads it (no login): content only; 404 otherwise."""
        article = self._get(article_id)
        live = self._live_version(article, business_today())
        if live is None:
            raise self._not_found(article_id)
        self._record_view(article.id, live.version, actor=None, role=None,
                          department_code=None, via="public")
        self.db.commit()
        return PublicArticleSchema().dump({
            **{name: getattr(live, name) for name in CONTENT}, "fields": live.fields,
            "id": article.id, "article_type": article.article_type,
            "article_type_name": domain.ARTICLE_TYPES[article.article_type],
            "department_code": article.department_code, "version": live.version,
            "published_at": article.published_at})

    @rpc
    @translate_db_errors
    def list_articles(self, filters: dict[str, Any] | None, actor: dict[str, Any]
                      ) -> dict[str, Any]:
        """Entries, newest change first: the center any (filters ``status``,
        ``article_type``, ``department_code``, ``review_due_before``); a department its own
        (another department's: 403); others live entries only."""
        who = Actor.of(actor)
        f = load_or_invalid(ListSchema(), filters or {})
        stmt = select(Article)
        if who.role == domain.DEPARTMENT_ROLE:
            if f["department_code"] not in (None, who.department_code):
                raise Forbidden("部门只能查看本部门的资料列表 a department lists its own entries "
                                "only", {"action": "list", "department_code": f["department_code"]})
            stmt = stmt.where(Article.department_code == who.department_code)
        elif not who.is_center:
            stmt = stmt.where(Article.published_version.is_not(None),
                              Article.status != "archived")
        if f["department_code"]:
            stmt = stmt.where(Article.department_code == f["department_code"])
        if f["status"]:
            stmt = stmt.where(Article.status == f["status"])
        if f["article_type"]:
            stmt = stmt.where(Article.article_type == f["article_type"])
        if f["review_due_before"]:
            stmt = stmt.where(Article.review_due < f["review_due_before"])
        session = self.db.session
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = list(session.scalars(stmt.order_by(Article.updated_at.desc(), Article.id.desc())
                                    .limit(f["limit"]).offset(f["offset"])))
        editor = who.is_center or who.role == domain.DEPARTMENT_ROLE
        titles = {} if editor else self._live_titles(rows)
        return {"total": int(total), "limit": f["limit"], "offset": f["offset"], "items": [
            {"id": a.id, "article_type": a.article_type, "department_code": a.department_code,
             "title": titles.get(a.id, a.title), "status": a.status,
             "current_version": a.current_version, "published_version": a.published_version,
             "valid_until": _iso(a.valid_until), "review_due": _iso(a.review_due),
             "updated_at": _iso(a.updated_at), "updated_by": a.updated_by,
             "source": a.source if editor else None} for a in rows]}

    def _live_titles(self, rows: list[Article]) -> dict[int, str]:
        wanted = [(a.id, a.published_version) for a in rows if a.published_version]
        if not wanted:
            return {}
        found = self.db.session.execute(
            select(ArticleVersion.article_id, ArticleVersion.title).where(or_(*[
                and_(ArticleVersion.article_id == a, ArticleVersion.version == v)
                for a, v in wanted]))).all()
        return {a: t for a, t in found}

    @rpc
    @translate_db_errors
    def article_history(self, article_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """The entry's versions (newest first) and its review log (oldest first): its editors
        only (others 403, or 404 when they may not see the entry at all)."""
        who = Actor.of(actor)
        article = self._editable_view(article_id, who)
        versions = self.db.session.scalars(
            select(ArticleVersion).where(ArticleVersion.article_id == article.id)
            .order_by(ArticleVersion.version.desc()))
        events = self.db.session.scalars(
            select(ArticleEvent).where(ArticleEvent.article_id == article.id)
            .order_by(ArticleEvent.id))
        return {"article_id": article.id, "status": article.status,
                "current_version": article.current_version,
                "published_version": article.published_version,
                "versions": VersionSummarySchema(many=True).dump(list(versions)),
                "events": ArticleEventSchema(many=True).dump(list(events))}

    @rpc
    @translate_db_errors
    def article_diff(self, article_id: int, query: dict[str, Any], actor: dict[str, Any]
                     ) -> dict[str, Any]:
        """What changed between versions ``from`` and ``to`` (either order): field by field,
        and the body as line and character operations (domain.diff_versions)."""
        who = Actor.of(actor)
        article = self._editable_view(article_id, who)
        q = load_or_invalid(DiffQuerySchema(), query or {})
        old = VersionSchema().dump(self._version(article, q["from_"]))
        new = VersionSchema().dump(self._version(article, q["to"]))
        return {"article_id": article.id, "from": q["from_"], "to": q["to"],
                **domain.diff_versions(old, new)}

    def _editable_view(self, article_id: int, who: Actor) -> Article:
        article = self._visible(article_id, who, business_today())
        if not domain.may_see_working(who, article.department_code):
            raise Forbidden("只有所属部门和热线中心可以查看修改历史 only the entry's department and "
                            "the center may read its history",
                            {"action": "history", "reason": "not_owner"})
        return article

    @rpc
    @translate_db_errors
    def article_count(self) -> int:
        return int(self.db.session.scalar(select(func.count()).select_from(Article)) or 0)

    def _working(self, article: Article) -> dict[str, Any]:
        return self._detail(article, self._version(article, article.current_version), "working")

    def _detail(self, article: Article, version: ArticleVersion, view: str,
                live: bool | None = None) -> dict[str, Any]:
        if live is None:
            live = self._live_version(article, business_today()) is not None
        return {**ArticleSchema().dump(article), **VersionSchema().dump(version),
                "article_type_name": domain.ARTICLE_TYPES[article.article_type],
                "status_name": domain.STATUSES[article.status], "view": view, "live": live}

    @staticmethod
    def _not_found(article_id: int) -> Exception:
        return NotFound(f"资料不存在 article {article_id} not found", {"article_id": article_id})

    # -- expiry ----------------------------------------------------------------------------------
    @expiry_timer
    @translate_db_errors
    def archive_expired(self) -> int:
        """有效期届满: archive every published entry whose live version's validity ended before
        today (business date, Asia/Shanghai). Drafts are left to their editors (an expired one
        cannot be published). Safe on many instances: each entry is claimed by a conditional
        update (one of them wins, one ``kb.article_archived``), in id order (no deadlock
        between two sweeps). How many."""
        session = self.db.session
        today = business_today()
        candidates = session.execute(
            select(Article.id, Article.status)
            .join(ArticleVersion, (ArticleVersion.article_id == Article.id)
                  & (ArticleVersion.version == Article.published_version))
            .where(Article.status != "archived", ArticleVersion.valid_until < today)
            .order_by(Article.id).limit(EXPIRY_BATCH)).all()
        archived = 0
        for article_id, status in candidates:
            claimed = session.execute(
                update(Article).where(Article.id == article_id, Article.status == status)
                .values(status="archived").execution_options(synchronize_session=False))
            if claimed.rowcount != 1:
                continue  # another instance (or an editor) got there first
            article = session.get(Article, article_id, populate_existing=True)
            article.status = status  # as it was, for the review log's from_status
            self._archive(article, domain.SYSTEM.name, "expired",
                          f"有效期届满 valid until {article.valid_until}")
            archived += 1
        self.db.commit()
        return archived


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
