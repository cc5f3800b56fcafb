"""The OpenAPI 3.1 document, generated from the route list (:data:`services.gateway.http.ROUTES`)."""

from __future__ import annotations

import re
from typing import Any

from services.gateway.domain import PERMISSIONS, key_scope

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")

SCHEMAS: dict[str, Any] = {
    "Login": {"type": "object", "required": ["username", "password"],
              "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
    "Registration": {
        "type": "object", "required": ["category", "content", "phone"],
        "properties": {
            "channel": {"type": "string", "enum": ["phone", "web", "app", "wechat", "open311",
                                                   "letter", "leader_instruction"]},
            "category": {"type": "string", "enum": ["consultation", "help", "complaint", "report",
                                                    "suggestion", "praise", "other"]},
            "urgency": {"type": "string", "enum": ["normal", "urgent", "critical"]},
            "title": {"type": "string", "maxLength": 200},
            "content": {"type": "string", "maxLength": 4000},
            "caller_name": {"type": "string", "maxLength": 50},
            "phone": {"type": "string", "description": "mainland mobile, or landline with area code; +86 accepted"},
            "address": {"type": "string", "maxLength": 200},
            "territory_code": {"type": "string"},
            "confidential": {"type": "boolean", "description": "涉密"},
            "caller_privacy": {"type": "boolean",
                               "description": "保密: the caller asked to stay unknown to the departments"},
            "related_ticket_nos": {"type": "array", "maxItems": 20, "items": {"type": "string"},
                                   "description": "earlier orders named as related"},
            "call_id": {"type": "string"},
            "recording_ref": {"type": "string"},
            "resolution": {"type": "object", "description": "直接办结: answered on the spot",
                           "required": ["answer"], "properties": {
                               "answer": {"type": "string", "maxLength": 2000},
                               "article_id": {"type": "integer",
                                              "description": "the published knowledge article cited"}}}}},
    "Dispatch": {"type": "object", "description": "预审: accept_suggestion, or lead (+ assists); "
                 "overriding a suggestion needs a reason",
                 "properties": {"accept_suggestion": {"type": "boolean"},
                                "lead": {"type": "string"},
                                "assists": {"type": "array", "items": {"type": "string"}},
                                "reason": {"type": "string", "maxLength": 500}}},
    "Reply": {"type": "object", "required": ["reply"],
              "properties": {"reply": {"type": "string", "maxLength": 4000}}},
    "Callback": {"type": "object", "required": ["reached"],
                 "properties": {"reached": {"type": "boolean"}, "solved": {"type": "boolean"},
                                "satisfaction": {"type": "string", "enum": [
                                    "satisfied", "basically_satisfied", "unsatisfied"]},
                                "note": {"type": "string"},
                                "link_id": {"type": "integer", "description":
                                            "a linked caller's own callback (重复来电)"}}},
    "Urge": {"type": "object", "properties": {
        "assignment_id": {"type": "integer"},
        "channel": {"type": "string", "enum": ["phone", "notice", "onsite"]},
        "note": {"type": "string", "maxLength": 500}}},
    "Extension": {"type": "object", "required": ["days", "reason"], "properties": {
        "days": {"type": "integer", "minimum": 1, "maximum": 10},
        "reason": {"type": "string", "maxLength": 500}}},
    "ExtensionDecision": {"type": "object", "required": ["approve"], "properties": {
        "approve": {"type": "boolean"}, "note": {"type": "string", "maxLength": 500}}},
    "Return": {"type": "object", "required": ["reason_code", "basis"], "properties": {
        "reason_code": {"type": "string", "enum": ["function", "territory", "ownership", "other"],
                        "description": "职能不符 / 属地不符 / 权属不清 / 其他"},
        "basis": {"type": "string", "maxLength": 1000}}},
    "ReturnDecision": {"type": "object", "required": ["approve"], "properties": {
        "approve": {"type": "boolean"}, "note": {"type": "string", "maxLength": 500}}},
    "Close": {"type": "object", "properties": {
        "reason": {"type": "string", "enum": ["manual", "unreachable"]}, "note": {"type": "string"}}},
    "Article": {"type": "object", "required": ["article_type", "title", "body"], "properties": {
        "article_type": {"type": "string", "enum": ["policy", "guide", "responsibility", "faq"]},
        "title": {"type": "string"}, "body": {"type": "string"},
        "department_code": {"type": "string"}, "publish": {"type": "boolean"}}},
    "ApiKeyRequest": {"type": "object", "description": "a department system's key "
                      "(department_code), or without one an Open311 client's (name required)",
                      "properties": {
                          "department_code": {"type": "string"},
                          "name": {"type": "string", "maxLength": 100},
                          "scopes": {"type": "array", "minItems": 1, "uniqueItems": True,
                                     "items": {"type": "string",
                                               "enum": ["assignments", "open311"]},
                                     "description": "default: every scope the kind may hold "
                                     "(an Open311 client: open311 only)"}}},
    "UserActive": {"type": "object", "required": ["active"],
                   "properties": {"active": {"type": "boolean"}}},
    # -- repeat calls, caller history, links, unmasking, confidential clearance --------------------
    "Draft": {"type": "object", "description": "重复来电查重: the call being taken, as far as "
              "typed; a phone or a content is required",
              "properties": {
                  "phone": {"type": "string"},
                  "category": {"type": "string", "enum": ["consultation", "help", "complaint",
                                                          "report", "suggestion", "praise",
                                                          "other"]},
                  "territory_code": {"type": "string"},
                  "title": {"type": "string", "maxLength": 200},
                  "content": {"type": "string", "maxLength": 4000}}},
    "Link": {"type": "object", "required": ["phone", "content"],
             "description": "关联重复来电: the new caller; a repeated call_id returns the first link",
             "properties": {
                 "phone": {"type": "string"}, "caller_name": {"type": "string", "maxLength": 50},
                 "content": {"type": "string", "maxLength": 4000},
                 "channel": {"type": "string", "enum": ["phone", "web", "app", "wechat",
                                                        "open311", "letter",
                                                        "leader_instruction"]},
                 "call_id": {"type": "string", "maxLength": 64},
                 "reason": {"type": "string", "enum": ["same_caller", "similar_matter", "agent"]}}},
    "Unmask": {"type": "object", "required": ["reason"],
               "description": "查看完整号码: written to the audit log with who and when",
               "properties": {"reason": {"type": "string", "minLength": 4, "maxLength": 500},
                              "link_id": {"type": "integer",
                                          "description": "a linked caller's number instead"}}},
    "Clearance": {"type": "object", "required": ["cleared"],
                  "properties": {"cleared": {"type": "boolean"}}},

    # -- routing catalogue versions, 预审, 协办 opinions, 下派, 问题工单 --
    "Opinion": {"type": "object", "required": ["opinion"], "properties": {
        "opinion": {"type": "string", "maxLength": 4000, "description": "协办意见 to the lead"}}},
    "PassDown": {"type": "object", "required": ["department_code"], "properties": {
        "department_code": {"type": "string",
                            "description": "下派: one of the passing department's own units"},
        "note": {"type": "string", "maxLength": 500}}},
    "RoutingRule": {"type": "object", "required": ["lead"], "properties": {
        "category": {"type": ["string", "null"], "enum": [
            "consultation", "help", "complaint", "report", "suggestion", "praise", "other", None]},
        "keywords": {"type": "array", "items": {"type": "string", "maxLength": 50}},
        "territory_code": {"type": ["string", "null"]},
        "lead": {"type": "string", "description": "a department code, or @district / @street / "
                                                  "@community (属地派单)"},
        "assists": {"type": "array", "items": {"type": "string"}},
        "priority": {"type": "integer"},
        "note": {"type": ["string", "null"], "maxLength": 200},
        "comment": {"type": "string", "maxLength": 500,
                    "description": "why: kept in the catalogue's revision"}}},
    "RoutingRuleChange": {"type": "object", "description": "only the fields given change",
                          "properties": {
        "category": {"type": ["string", "null"]},
        "keywords": {"type": "array", "items": {"type": "string", "maxLength": 50}},
        "territory_code": {"type": ["string", "null"]},
        "lead": {"type": "string"}, "assists": {"type": "array", "items": {"type": "string"}},
        "priority": {"type": "integer"}, "active": {"type": "boolean"},
        "note": {"type": ["string", "null"], "maxLength": 200},
        "comment": {"type": "string", "maxLength": 500}}},
    "RoutingRuleDeactivation": {"type": "object", "properties": {
        "comment": {"type": "string", "maxLength": 500}}},

    # -- 督办单, urge answers, monthly urge, 回头看, linked callers, reopen --
    "Supervise": {"type": "object", "description": "督办单 by hand", "properties": {
        "assignment_id": {"type": "integer", "description": "one open assignment (default: all)"},
        "note": {"type": "string", "maxLength": 500}}},
    "Explanation": {"type": "object", "required": ["explanation"], "properties": {
        "explanation": {"type": "string", "minLength": 2, "maxLength": 2000}}},
    "UrgeAnswer": {"type": "object", "required": ["answer"], "properties": {
        "answer": {"type": "string", "minLength": 2, "maxLength": 2000}}},
    "Reopen": {"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "minLength": 2, "maxLength": 500}}},
    "Recheck": {"type": "object", "description": "回头看 of one closed order", "properties": {
        "note": {"type": "string", "maxLength": 500}}},
    "RecheckBatch": {"type": "object", "required": ["ticket_nos"], "properties": {
        "ticket_nos": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                       "maxItems": 200, "description": "closed orders; all or none are picked"},
        "note": {"type": "string", "maxLength": 500}}},
    "RecheckResult": {"type": "object", "required": ["finding"], "properties": {
        "finding": {"type": "string", "enum": ["confirmed", "problem_found"]},
        "note": {"type": "string", "maxLength": 2000}}},

    # -- leader instructions 领导批示件 --
    "InstructionRegistration": {
        "type": "object",
        "required": ["leader_name", "leader_level", "words", "source_title", "received_at", "units"],
        "properties": {
            "leader_name": {"type": "string", "maxLength": 50},
            "leader_level": {"type": "string", "enum": ["provincial", "mayor", "vice_mayor",
                                                        "mayor_assistant", "petition", "other"],
                             "description": "省部级以上 / 市长 / 副市长 / 市长助理 / 信访 / 其他"},
            "words": {"type": "string", "maxLength": 4000, "description": "批示内容"},
            "source_title": {"type": "string", "maxLength": 200},
            "source_doc_no": {"type": "string", "maxLength": 100, "description": "文号"},
            "received_at": {"type": "string", "format": "date-time"},
            "urgent": {"type": "boolean", "description": "紧急 (信访件当日交办)"},
            "confidential": {"type": "boolean", "description": "涉密"},
            "units": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                      "description": "承办单位 department codes"},
            "ticket_nos": {"type": "array", "items": {"type": "string"}},
            "kind": {"type": "string", "enum": ["handle", "read"],
                     "description": "办件/阅件 chosen by the office over the classification"},
            "kind_reason": {"type": "string", "maxLength": 500},
            "feedback_due": {"type": "string", "format": "date-time",
                             "description": "a deadline set by the upper-level unit"}}},
    "InstructionReclassify": {"type": "object", "required": ["kind", "reason"], "properties": {
        "kind": {"type": "string", "enum": ["handle", "read"]},
        "reason": {"type": "string", "maxLength": 500}}},
    "InstructionUrge": {"type": "object", "properties": {
        "department_code": {"type": "string", "description": "one unit; default every unit owing"},
        "channel": {"type": "string", "enum": ["phone", "notice", "onsite"]},
        "note": {"type": "string", "maxLength": 500}}},
    "InstructionFeedback": {"type": "object", "required": ["content"], "properties": {
        "content": {"type": "string", "maxLength": 8000}}},
    "InstructionDecision": {"type": "object", "required": ["approve"], "properties": {
        "approve": {"type": "boolean"},
        "reason": {"type": "string", "maxLength": 500,
                   "description": "required when sent back for revision"}}},

    # -- Step 3 delivery: endpoints, recall, progress (helper delivery) --
    "EndpointRequest": {"type": "object", "required": ["kind"], "properties": {
        "kind": {"type": "string", "enum": ["terminal", "webhook", "pull", "open311"]},
        "url": {"type": "string", "format": "uri", "description": "webhook only: http(s)"},
        "category": {"type": "string", "description": "this endpoint serves only that category"},
        "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 30, "default": 5}}},
    "Recall": {"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "maxLength": 500, "description": "撤回派单的理由"}}},
    "Progress": {"type": "object", "required": ["note"], "properties": {
        "note": {"type": "string", "maxLength": 2000, "description": "办理进展"}}},
    "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "trace_id": {"type": "string"}}}}},
}


# -- Step 3 open311 -------------------------------------------------------------------------
_O311_ERR = {"application/json": {"schema": {"type": "array", "items": {
    "type": "object", "properties": {"code": {"type": "integer"},
                                     "description": {"type": "string"}}}}},
    "text/xml": {"schema": {"type": "string", "description": "<errors><error><code/>"
                            "<description/></error></errors>"}}}


def _open311_operation(op: dict[str, Any], spec: Any, method: str) -> None:
    """Open311 routes: form-encoded bodies, answers in XML or JSON (by the path's ``.<fmt>``),
    errors in the spec's own format with its statuses, ``api_key`` as a parameter."""
    ok = {"description": "OK", "content": {"text/xml": {"schema": {"type": "string"}},
                                           "application/json": {"schema": {}}}}
    op["responses"] = {"200": ok, **{str(code): {"description": text, "content": _O311_ERR}
                                     for code, text in ((400, "参数缺失或有误 missing or bad "
                                                        "parameter"),
                                                        (403, "api_key 缺失、无效或无权限 "
                                                        "missing or invalid api_key"),
                                                        (404, "资源不存在 unknown resource"))}}
    if spec.body:
        op["requestBody"] = {"required": True, "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": f"#/components/schemas/{spec.body}"}}}}
    if method == "POST" and spec.path.endswith("/requests.<fmt>"):
        op.setdefault("parameters", []).append(
            {"name": "Idempotency-Key", "in": "header", "required": False,
             "schema": {"type": "string", "maxLength": 60}})


SCHEMAS["Open311Request"] = {
    "type": "object", "required": ["api_key", "service_code"],
    "description": "GeoReport v2 POST requests; one location (lat+long, address_string or "
                   "address_id); attribute[code]=value for the service's attributes",
    "properties": {**{name: {"type": "string"} for name in (
        "api_key", "jurisdiction_id", "service_code", "address_string", "address_id", "email",
        "device_id", "account_id", "first_name", "last_name", "phone", "media_url")},
        "lat": {"type": "number"}, "long": {"type": "number"},
        "description": {"type": "string", "maxLength": 4000}}}
SCHEMAS["Open311Update"] = {
    "type": "object", "description": "mySociety servicerequestupdates POST",
    "required": ["api_key", "service_request_id", "update_id", "status", "updated_datetime",
                 "description"],
    "properties": {**{name: {"type": "string"} for name in (
        "api_key", "jurisdiction_id", "service_request_id", "update_id", "updated_datetime",
        "media_url")},
        "status": {"type": "string", "description": "OPEN or CLOSED"},
        "description": {"type": "string", "maxLength": 2000}}}


# -- Step 4 import: the knowledge base's bulk import (multipart) and monitoring --
MEDIA_TYPES: dict[str, str] = {"KbImport": "multipart/form-data"}  # body name → its media type
SCHEMAS["KbImport"] = {
    "type": "object", "required": ["files"],
    "description": "批量导入: .txt/.md/.docx, split into entries by their headings; each file "
                   "whole or not at all. 413: a file over 5 MB or a request over 12 MB; 422: no "
                   "file or more than 20. Answer: {files: [{filename, status ok|error|skipped, "
                   "articles: [{id, title, status}], error}], imported, failed}",
    "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                  "maxItems": 20},
        "publish": {"type": "boolean", "default": False},
        "article_type": {"type": "string", "enum": ["policy", "guide", "responsibility", "faq"],
                         "description": "entries whose title names no policy document"},
        "department_code": {"type": "string", "description": "the entries' owner"},
        "categories": {"type": "string", "description": "comma-separated categories"}}}
SCHEMAS["KbMonitor"] = {
    "type": "object", "description": "资料库运行监控 (GET /api/v1/kb/monitor?from=&to=&"
    "department_code=&limit=; business dates, default the last 30 days)",
    "properties": {name: {"type": "array", "items": {"type": "object"}} for name in (
        "opened", "resolved", "searches_without_result", "never_used", "review_overdue",
        "departments")} | {"period": {"type": "object"}, "totals": {"type": "object"},
                           "department_code": {"type": ["string", "null"]}}}

# -- Step 4 knowledge base: entries, versions, the review workflow (services/knowledge) --------
_GUIDE_FIELDS = {name: {"type": "string", "maxLength": 4000, "description": label}
                 for name, label in (("project_name", "项目名称"), ("basis", "设立依据"),
                                     ("materials", "申报材料"), ("procedure", "办事程序"),
                                     ("time_limit", "承诺期限"), ("fee_basis", "收费依据"),
                                     ("fee_standard", "收费标准"), ("window_authority", "窗口权限"))}
_ARTICLE_CONTENT = {
    "title": {"type": "string", "minLength": 1, "maxLength": 200},
    "body": {"type": "string", "minLength": 1, "maxLength": 100000},
    "fields": {"type": "object", "properties": _GUIDE_FIELDS, "additionalProperties": False,
               "description": "办事指南 only; labelled parts of the body (申报材料：…) fill those "
               "not given. To publish: project_name, materials, procedure, time_limit, "
               "fee_standard"},
    "categories": {"type": "array", "items": {"type": "string", "enum": [
        "consultation", "help", "complaint", "report", "suggestion", "praise", "other"]},
        "description": "the categories it applies to; [] = all"},
    "territories": {"type": "array", "items": {"type": "string"},
                    "description": "territory codes it applies to; [] = the whole city"},
    "valid_from": {"type": ["string", "null"], "format": "date"},
    "valid_until": {"type": ["string", "null"], "format": "date",
                    "description": "last valid day; archived automatically after it"},
    "review_due": {"type": ["string", "null"], "format": "date"},
    "note": {"type": ["string", "null"], "maxLength": 500, "description": "the change note"},
}
SCHEMAS.update({
    "Article": {"type": "object", "required": ["article_type", "title", "body"], "properties": {
        "article_type": {"type": "string", "enum": ["policy", "guide", "responsibility", "faq"],
                         "description": "政策法规 / 办事指南 / 部门职能 / 常见问答"},
        "department_code": {"type": ["string", "null"],
                            "description": "the owner; a department's own when omitted"},
        **_ARTICLE_CONTENT,
        "publish": {"type": "boolean", "description": "the center only: publish at once"}}},
    "ArticleEdit": {"type": "object", "description": "a new version: only the fields given "
                    "change", "properties": {
                        **_ARTICLE_CONTENT,
                        "department_code": {"type": ["string", "null"],
                                            "description": "the center only: a new owner"},
                        "base_version": {"type": "integer", "minimum": 1, "description":
                                         "the version edited; 409 if there is a newer one"}}},
    "ArticleAction": {"type": "object", "description": "送审 / 发布 / 归档 (the comment of an "
                      "archive is its reason); the body may be empty", "properties": {
                          "comment": {"type": ["string", "null"], "maxLength": 500}}},
    "ArticleRejection": {"type": "object", "required": ["comment"], "properties": {
        "comment": {"type": "string", "minLength": 2, "maxLength": 500,
                    "description": "what to change (退回意见)"}}},
})


def openapi_path(rule: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule)


def openapi_document() -> dict[str, Any]:
    from services.gateway.http import ROUTES

    paths: dict[str, Any] = {}
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for spec in ROUTES:
        if "<path:" in spec.path:
            continue
        path = openapi_path(spec.path)
        for method in spec.method.split(","):
            op: dict[str, Any] = {"operationId": spec.name, "summary": spec.summary,
                                  "responses": {"200": {"description": "OK"},
                                                "4XX": {"description": "错误 error", **err},
                                                "503": {"description": "服务不可用 unavailable", **err}}}
            params = [{"name": m.group(2), "in": "path", "required": True,
                       "schema": {"type": "integer" if m.group(1) == "int" else "string"}}
                      for m in _PARAM.finditer(spec.path)]
            params += [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
                       for q in spec.query]
            if spec.idempotent or (spec.path == "/api/v1/tickets" and method == "POST"):
                params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                               "schema": {"type": "string", "maxLength": 80}})
            if params:
                op["parameters"] = params
            if spec.body:
                op["requestBody"] = {"required": True, "content": {
                    MEDIA_TYPES.get(spec.body, "application/json"): {
                        "schema": {"$ref": f"#/components/schemas/{spec.body}"}}}}
            if spec.kind == "open311":  # -- Step 3 open311: GeoReport v2's wire format
                _open311_operation(op, spec, method)
            if spec.action:
                op["security"] = [{"bearer": []}, {"apiKey": []}]
                op["x-roles"] = sorted(PERMISSIONS[spec.action])
                op["x-api-key-scope"] = key_scope(spec.action)
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "hotline12345 API (12345政务服务便民热线)", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}},
    }
