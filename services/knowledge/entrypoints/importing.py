"""Bulk import of plain text, Markdown and .docx documents (批量导入), split into entries by their
headings (the rules: ``services/knowledge/importing.py``)."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from services.knowledge import importing
from services.knowledge.domain import ARTICLE_TYPES, Actor
from services.knowledge.entrypoints.base import KnowledgeBase
from services.knowledge.models import Article
from services.knowledge.schemas import ArticleInSchema
from shared.database import translate_db_errors
from shared.errors import Forbidden, HotlineError, load_or_invalid
from shared.rpc import rpc
from shared.vocabulary import CATEGORIES

log = logging.getLogger(__name__)

MAX_FILES = 20


class ImportFileSchema(Schema):
    filename = fields.String(required=True, validate=validate.Length(min=1, max=200))
    content_base64 = fields.String(required=True)


class ImportFilesSchema(Schema):
    files = fields.List(fields.Nested(ImportFileSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_FILES))


class ImportOptionsSchema(Schema):
    """``article_type``: the type of entries whose title does not name a policy document;
    ``department_code``: the owner of every entry; ``categories``: what they apply to;
    ``publish``: publish at once (the center only); ``skip_existing``: a file imported before
    (an entry's source names it) is skipped — for loaders that run more than once (the demo)."""

    article_type = fields.String(load_default=None, allow_none=True,
                                 validate=validate.OneOf(list(ARTICLE_TYPES)))
    department_code = fields.String(load_default=None, allow_none=True,
                                    validate=validate.Length(min=1, max=32))
    categories = fields.List(fields.String(validate=validate.OneOf(list(CATEGORIES))),
                             load_default=list)
    publish = fields.Boolean(load_default=False)
    skip_existing = fields.Boolean(load_default=False)


class ImportEntrypoints(KnowledgeBase):
    """Uses the articles area's ``_add_article(form, actor, source)`` and
    ``_publish(article, actor)`` (one class at run time): imported entries are created and
    published exactly as entries entered by hand — versions, review log, index, events."""

    @rpc
    @translate_db_errors
    def import_documents(self, files: list[dict[str, Any]], options: dict[str, Any] | None,
                         actor: dict[str, Any]) -> dict[str, Any]:
        """Import ``files`` (``[{filename, content_base64}]``) as entries, each file in its own
        transaction: all its entries or none. A file that cannot be read (malformed .docx,
        undecodable text, unknown extension, empty) or whose entries are refused (a field, a
        permission) is reported with the reason; the others are imported.

        ``actor``: ``{name, role, department_code}`` as on every knowledge RPC. A department
        imports drafts of its own department: another ``department_code`` or ``publish`` →
        :class:`Forbidden`; the center imports for any department, and publishes. Bad
        ``files``, options or actor → :class:`Invalid` naming the field, before anything is
        written.

        Answer: ``{files: [{filename, status: ok|error|skipped, articles: [{id, title,
        status}], error}], imported, failed}``."""
        batch = load_or_invalid(ImportFilesSchema(), {"files": files})["files"]
        opts = load_or_invalid(ImportOptionsSchema(), options or {})
        who = Actor.of(actor)
        if not who.is_center:
            if who.role != "department":
                raise Forbidden(f"无权导入资料 role {who.role} may not import entries",
                                {"action": "kb.import", "role": who.role})
            if opts["department_code"] not in (None, who.department_code):
                raise Forbidden("部门只能导入本部门的资料 a department imports only its own entries",
                                {"action": "kb.import", "department_code": opts["department_code"]})
            if opts["publish"]:
                raise Forbidden("部门导入的资料为草稿，由中心审核发布 a department imports drafts; "
                                "the center reviews and publishes", {"action": "kb.publish"})
            opts["department_code"] = who.department_code
        report = [self._import_file(f, opts, who) for f in batch]
        failed = sum(1 for r in report if r["status"] == "error")
        imported = sum(len(r["articles"]) for r in report if r["status"] == "ok")
        log.info("documents imported", extra={"actor": who.name, "files": len(report),
                                              "failed": failed, "articles": imported})
        return {"files": report, "imported": imported, "failed": failed}

    def _import_file(self, upload: dict[str, Any], opts: dict[str, Any],
                     who: Actor) -> dict[str, Any]:
        """One file, committed or rolled back as a whole; never raises a per-file failure."""
        filename = upload["filename"]
        result: dict[str, Any] = {"filename": filename, "status": "error", "articles": [],
                                  "error": None}
        try:
            data = base64.b64decode(upload["content_base64"], validate=True)
        except binascii.Error:
            return {**result, "error": "文件内容不是合法的 base64 content_base64 is not valid "
                                       "base64"}
        try:
            drafts = importing.parse_document(filename, data, article_type=opts["article_type"],
                                              categories=opts["categories"])
        except importing.DocumentError as exc:
            return {**result, "error": exc.reason}
        if opts["skip_existing"]:
            before = self._imported_before(filename)
            if before:
                return {**result, "status": "skipped", "articles": before,
                        "error": "已导入过，跳过 imported before: skipped"}
        try:
            articles = [self._add_article(_form(
                {"article_type": d.article_type, "title": d.title, "body": d.body,
                 "department_code": opts["department_code"], "categories": list(d.categories),
                 "note": f"批量导入 imported from {filename}"[:500]}), who, source=d.source)
                for d in drafts]
            if opts["publish"]:
                for article in articles:
                    self._publish(article, who, "批量导入 bulk import")
            self.db.session.flush()
            listed = [{"id": a.id, "title": a.title, "status": a.status} for a in articles]
            self.db.commit()
        except HotlineError as exc:
            self.db.rollback()
            fields_ = (exc.details or {}).get("fields")
            return {**result, "error": exc.message + (f" {fields_}" if fields_ else "")}
        except BaseException:
            self.db.rollback()
            raise
        return {**result, "status": "ok", "articles": listed}

    @rpc
    @translate_db_errors
    def load_entries(self, entries: list[dict[str, Any]], actor: dict[str, Any]
                     ) -> dict[str, Any]:
        """Provision entries (demo data, a city's starter set): each ``{key, publish, …the
        entry's form}`` is created — and published when ``publish`` — unless an entry with
        source ``demo:<key>``, or one of the same type and title, is there already (so loading
        twice creates nothing twice). Each entry in its own transaction; a refused one is
        reported, not raised; ``actor`` as on every knowledge RPC (the center's, to publish).
        Answer: ``{created, skipped, errors: [{key, error, fields}]}``."""
        who = Actor.of(actor)
        created, skipped, errors = 0, 0, []
        for entry in entries:
            payload = {k: v for k, v in entry.items() if k != "key"}
            source = f"demo:{entry['key']}"[:200]
            there = self.db.session.scalar(select(Article.id).where(
                (Article.source == source) | ((Article.article_type == payload.get("article_type"))
                                              & (Article.title == payload.get("title")))).limit(1))
            if there is not None:
                self.db.rollback()
                skipped += 1
                continue
            try:
                form = load_or_invalid(ArticleInSchema(), payload)
                publish = form.pop("publish")
                article = self._add_article(form, who, source=source)
                if publish:
                    self._publish(article, who)
                self.db.commit()
                created += 1
            except HotlineError as exc:
                self.db.rollback()
                errors.append({"key": entry["key"], "error": exc.message,
                               "fields": (exc.details or {}).get("fields")})
            except BaseException:
                self.db.rollback()
                raise
        if errors:
            log.warning("entries not loaded", extra={"errors": errors[:5]})
        return {"created": created, "skipped": skipped, "errors": errors}

    def _imported_before(self, filename: str) -> list[dict[str, Any]]:
        name = filename.replace("\\", "/").rsplit("/", 1)[-1]
        rows = self.db.session.execute(
            select(Article.id, Article.title, Article.status)
            .where(Article.source.startswith(f"import:{name}#", autoescape=True))
            .order_by(Article.id)).all()
        self.db.rollback()
        return [{"id": r.id, "title": r.title, "status": r.status} for r in rows]


def _form(payload: dict[str, Any]) -> dict[str, Any]:
    """An imported entry's form, validated as one entered by hand (:class:`ArticleInSchema`)."""
    form = load_or_invalid(ArticleInSchema(), payload)
    form.pop("publish")
    return form
