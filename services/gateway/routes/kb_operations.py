"""The knowledge base's bulk import (批量导入) and its use and monitoring (资料库运行监控).
Owned by knowledge: these routes only authenticate, authorize and call it.

Import is ``multipart/form-data`` (one or more files, any field name; form fields ``publish``,
``article_type``, ``department_code``, ``categories`` comma-separated): the files travel to
knowledge base64-encoded in one RPC, so their sizes are limited here — a file over
:data:`MAX_FILE_BYTES` or a request over :data:`MAX_REQUEST_BYTES` → 413, more than
:data:`MAX_FILES` files or none → 422 naming ``files``.
"""

from __future__ import annotations

import base64
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge

from services.gateway.domain import Principal
from services.gateway.http import BadRequest, route
from services.gateway.routes.kb_articles import kb_actor
from shared.errors import Forbidden, Invalid

MAX_FILE_BYTES = 5 * 1024 * 1024  # knowledge's own limit (importing.MAX_FILE_BYTES) is the same
MAX_REQUEST_BYTES = 12 * 1024 * 1024
MAX_FILES = 20
_IMPORT_FIELDS = ("publish", "article_type", "department_code")
_MONITOR_QUERY = ("from", "to", "department_code", "limit")


def _too_large(what: str) -> RequestEntityTooLarge:
    mb = MAX_FILE_BYTES // 1024 // 1024
    return RequestEntityTooLarge(
        f"{what}过大（单个文件上限 {mb} MB，每次上限 {MAX_REQUEST_BYTES // 1024 // 1024} MB） "
        f"{'file' if what == '文件' else 'request'} too large: at most {mb} MB a file, "
        f"{MAX_REQUEST_BYTES // 1024 // 1024} MB a request")


def read_uploads(request: Any) -> list[dict[str, str]]:
    """The uploaded files as ``[{filename, content_base64}]``; the limits above."""
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        raise _too_large("请求")
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise BadRequest("请以 multipart/form-data 上传文件 upload the files as "
                         "multipart/form-data")
    # a file input left empty is sent with no file name: not an upload
    uploads = [f for _, f in request.files.items(multi=True) if (f.filename or "").strip()]
    if not uploads:
        raise Invalid.fields({"files": ["请至少上传一个文件 upload at least one file"]})
    if len(uploads) > MAX_FILES:
        raise Invalid.fields({"files": [f"每次最多上传 {MAX_FILES} 个文件 at most {MAX_FILES} "
                                        "files a request"]})
    files = []
    for upload in uploads:
        data = upload.stream.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise _too_large("文件")
        files.append({"filename": upload.filename.strip(),
                      "content_base64": base64.b64encode(data).decode("ascii")})
    return files


class KnowledgeOperationRoutes:
    knowledge: Any
    dispatch: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError

    @route("POST", "/api/v1/kb/import",
           summary="批量导入资料 Import .txt/.md/.docx documents split into entries by their "
           "headings (multipart/form-data); each file all-or-nothing, a per-file report",
           action="kb.import", body="KbImport")
    def kb_import(self, request: Any) -> Any:
        who = self._authorize(request, "kb.import")
        files = read_uploads(request)
        options: dict[str, Any] = {k: v for k, v in request.form.items()
                                   if k in _IMPORT_FIELDS and v != ""}
        categories = [c.strip() for value in request.form.getlist("categories")
                      for c in value.split(",") if c.strip()]
        if categories:
            options["categories"] = categories
        return self.knowledge.import_documents(files, options, kb_actor(who))

    @route("GET", "/api/v1/kb/monitor",
           summary="资料库运行监控 Knowledge base use: entries opened, entries that resolved orders "
           "at intake, searches with no result, entries never used, entries past review, per "
           "department (a department: its own entries)",
           action="kb.monitor", query=_MONITOR_QUERY)
    def kb_monitor(self, request: Any) -> Any:
        who = self._authorize(request, "kb.monitor")
        query = {k: v for k, v in request.args.items() if k in _MONITOR_QUERY}
        asked = query.get("department_code")
        if who.role == "department":
            if asked and asked != who.department_code:
                raise Forbidden("部门只能查看本部门资料的运行情况 a department sees only its own "
                                "entries' figures", {"action": "kb.monitor",
                                                     "department_code": asked})
            query["department_code"] = who.department_code
        elif asked:
            known = {d["code"] for d in self.dispatch.departments()}
            if asked not in known:
                raise Invalid.fields({"department_code": [f"部门不存在 unknown department "
                                                          f"{asked}"]})
        return self.knowledge.usage_report(query)
