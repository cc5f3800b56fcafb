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
from services.knowledge.domain import ARTICLE_TYPES
from services.knowledge.entrypoints.base import KnowledgeBase
from services.knowledge.models import Article
from shared.database import translate_db_errors
from shared.errors import Forbidden, HotlineError, load_or_invalid
from shared.rpc import rpc

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
    categories = fields.List(fields.String(validate=validate.Length(min=1, max=32)),
                             load_default=list)
    publish = fields.Boolean(load_default=False)
    skip_existing = fields.Boolean(load_default=False)


def _who(actor: Any) -> tuple[str, str | None, str | None]:
    """(name, role, department_code) of the importer: the gateway passes
    ``{name, role, department_code}``; a bare name is the center's (CLI over RPC, the demo)."""
    if isinstance(actor, dict):
        return str(actor.get("name") or "unknown"), actor.get("role"), actor.get("department_code")
    return str(actor), None, None


class ImportEntrypoints(KnowledgeBase):
    """Uses the articles area's ``_add_article(form, actor, source)`` and
    ``_publish(article, actor)`` (one class at run time): imported entries are created and
    published exactly as entries entered by hand — versions, review log, index, events."""

    @rpc
    @translate_db_errors
    def import_documents(self, files: list[dict[str, Any]], options: dict[str, Any] | None,
                         actor: Any) -> dict[str, Any]:
        """Import ``files`` (``[{filename, content_base64}]``) as entries, each file in its own
        transaction: all its entries or none. A file that cannot be read (malformed .docx,
        undecodable text, unknown extension, empty) or whose entries are refused (a field, a
        permission) is reported with the reason; the others are imported.

        A department (``actor.role == "department"``) imports drafts of its own department:
        another ``department_code`` or ``publish`` → :class:`Forbidden`. Bad ``files`` or
        options → :class:`Invalid` naming the field, before anything is written.

        Answer: ``{files: [{filename, status: ok|error|skipped, articles: [{id, title,
        status}], error}], imported, failed}``."""
        batch = load_or_invalid(ImportFilesSchema(), {"files": files})["files"]
        opts = load_or_invalid(ImportOptionsSchema(), options or {})
        name, role, own_department = _who(actor)
        if role == "department":
            if opts["department_code"] not in (None, own_department):
                raise Forbidden("部门只能导入本部门的资料 a department imports only its own entries",
                                {"action": "kb.import", "department_code": opts["department_code"]})
            if opts["publish"]:
                raise Forbidden("部门导入的资料为草稿，由中心审核发布 a department imports drafts; "
                                "the center reviews and publishes", {"action": "kb.publish"})
            opts["department_code"] = own_department
        report = [self._import_file(f, opts, actor) for f in batch]
        failed = sum(1 for r in report if r["status"] == "error")
        imported = sum(len(r["articles"]) for r in report if r["status"] == "ok")
        log.info("documents imported", extra={"actor": name, "files": len(report),
                                              "failed": failed, "articles": imported})
        return {"files": report, "imported": imported, "failed": failed}

    def _import_file(self, upload: dict[str, Any], opts: dict[str, Any],
                     actor: Any) -> dict[str, Any]:
        """One file, committed or rolled back as a whole; never raises a per-file failure."""
        filename = upload["filename"]
        result: dict[str, Any] = {"filename": filename, "status": "error", "articles": [],
                                  "error": None}
        try:
            data = base64.b64decode(upload["content_base64"], validate=True)
            drafts = importing.parse_document(filename, data, article_type=opts["article_type"],
                                              categories=opts["categories"])
        except (binascii.Error, ValueError) as exc:
            reason = exc.reason if isinstance(exc, importing.DocumentError) else \
                "文件内容不是合法的 base64 content_base64 is not valid base64"
            return {**result, "error": reason}
        if opts["skip_existing"]:
            before = self._imported_before(filename)
            if before:
                return {**result, "status": "skipped", "articles": before,
                        "error": "已导入过，跳过 imported before: skipped"}
        try:
            articles = [self._add_article(
                {"article_type": d.article_type, "title": d.title, "body": d.body,
                 "department_code": opts["department_code"], "categories": list(d.categories)},
                _actor_name(actor), source=d.source) for d in drafts]
            if opts["publish"]:
                for article in articles:
                    self._publish(article, _actor_name(actor))
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
    def load_entries(self, entries: list[dict[str, Any]], actor: str) -> dict[str, Any]:
        """Provision entries (demo data, a city's starter set): each ``{key, publish, …the
        entry's form}`` is created — and published when ``publish`` — unless an entry with
        source ``demo:<key>``, or one of the same type and title, is there already (so loading
        twice creates nothing twice). Each entry in its own transaction; a refused one is
        reported, not raised. Answer: ``{created, skipped, errors: [{key, error}]}``."""
        created, skipped, errors = 0, 0, []
        for entry in entries:
            form = {k: v for k, v in entry.items() if k not in ("key", "publish")}
            source = f"demo:{entry['key']}"[:200]
            there = self.db.session.scalar(select(Article.id).where(
                (Article.source == source) | ((Article.article_type == form.get("article_type"))
                                              & (Article.title == form.get("title")))).limit(1))
            if there is not None:
                self.db.rollback()
                skipped += 1
                continue
            try:
                article = self._add_article(form, actor, source=source)
                if entry.get("publish"):
                    self._publish(article, actor)
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


def _actor_name(actor: Any) -> str:
    return _who(actor)[0]
