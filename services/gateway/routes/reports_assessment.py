"""Department assessment 部门考核: quarterly results with every point explained, manual
bonus/deduction items, publication, history of revisions, objections. Owned by reporting: these
routes only authenticate, authorize and call it, passing the caller; reporting decides what a
department sees (its own published results, items and objections only).

Refusals: bad input 422 naming the field; a change to a published quarter's items, a second
publication, a late objection 409; an objection to another department's result 403."""

from __future__ import annotations

from typing import Any

from services.gateway.domain import Principal
from services.gateway.http import read_json, route
from services.gateway.openapi import SCHEMAS
from shared.errors import Invalid

RESULT_QUERY = ("quarter", "department_code", "status")
ITEM_QUERY = ("quarter", "department_code", "include_revoked")
OBJECTION_QUERY = ("quarter", "status", "department_code")

_QUARTER = {"type": "string", "pattern": r"^\d{4}Q[1-4]$",
            "description": "考核季度 assessment quarter, e.g. 2026Q1 (December–February)"}
_ITEM = {"rule": {"type": "string", "description": "a manual rule's code (GET …/rules)"},
         "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
         "count": {"type": "integer", "minimum": 1, "maximum": 100},
         "ticket_no": {"type": "string", "maxLength": 20,
                       "description": "the order concerned (required for valid_complaints)"},
         "occurred_on": {"type": "string", "format": "date"},
         "points": {"type": "number", "description": "only for a variable rule (比照类似情形)"}}
SCHEMAS["AssessmentRun"] = {
    "type": "object", "required": ["quarter"],
    "description": "计算/发布: one department (department_code) or every department of the quarter",
    "properties": {"quarter": _QUARTER, "department_code": {"type": "string", "maxLength": 32},
                   "departments": {"type": "array", "items": {"type": "string"},
                                   "description": "departments to include even without work"}}}
SCHEMAS["AssessmentItem"] = {
    "type": "object", "required": ["quarter", "department_code", "rule", "reason"],
    "description": "加减分项: a supervisor's manual item, with a reason",
    "properties": {"quarter": _QUARTER, "department_code": {"type": "string", "maxLength": 32},
                   **_ITEM}}
SCHEMAS["AssessmentRevoke"] = {
    "type": "object", "required": ["reason"],
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 2000}}}
SCHEMAS["AssessmentObjection"] = {
    "type": "object", "required": ["reason", "evidence"],
    "description": "异议: within 5 working days of publication, with evidence",
    "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": 4000},
        "evidence": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
            "type": "object", "required": ["description"], "properties": {
                "description": {"type": "string", "maxLength": 1000},
                "ticket_no": {"type": "string", "maxLength": 20},
                "url": {"type": "string", "format": "uri"}}}}}}
SCHEMAS["AssessmentObjectionAnswer"] = {
    "type": "object", "required": ["upheld", "answer"],
    "description": "答复异议: upheld → a corrected result (new revision) is published, with the "
                   "item changes in adjustments; rejected → the answer is recorded",
    "properties": {
        "upheld": {"type": "boolean"},
        "answer": {"type": "string", "minLength": 1, "maxLength": 4000},
        "adjustments": {"type": "object", "properties": {
            "add": {"type": "array", "items": {"type": "object", "required": ["rule", "reason"],
                                               "properties": _ITEM}},
            "revoke": {"type": "array", "items": {
                "type": "object", "required": ["item_id", "reason"],
                "properties": {"item_id": {"type": "integer"},
                               "reason": {"type": "string", "minLength": 1}}}}}}}}


def assessment_viewer(who: Principal) -> dict[str, Any]:
    """The caller as reporting decides visibility and records who acted."""
    return {"name": who.as_actor(), "role": who.role, "department_code": who.department_code,
            "via": who.via}


def _args(request: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k in names}


class ReportAssessmentRoutes:
    reporting: Any
    dispatch: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError

    def _known_department(self, body: dict[str, Any], field: str = "department_code") -> None:
        code = body.get(field)
        if isinstance(code, str) and code and code not in {
                d["code"] for d in self.dispatch.departments()}:
            raise Invalid.fields({field: [f"未知部门 unknown department {code}"]})

    # -- results ---------------------------------------------------------------------------------
    @route("GET", "/api/v1/reports/assessments", summary="考核结果 Quarterly results ranked by "
           "score (the center: all; a department: its own published one)",
           action="assessment.read", query=RESULT_QUERY)
    def assessment_list(self, request: Any) -> Any:
        who = self._authorize(request, "assessment.read")
        return self.reporting.list_assessments(_args(request, RESULT_QUERY),
                                               assessment_viewer(who))

    @route("GET", "/api/v1/reports/assessments/rules", summary="考核规则 The rule sets, every "
           "rule with its points", action="assessment.read")
    def assessment_rules(self, request: Any) -> Any:
        self._authorize(request, "assessment.read")
        return self.reporting.assessment_rules()

    @route("GET", "/api/v1/reports/assessments/<int:assessment_id>", summary="考核结果详情 One "
           "result with every point explained (orders and manual entries)",
           action="assessment.read", department_scoped=True)
    def assessment_detail(self, request: Any, assessment_id: int) -> Any:
        who = self._authorize(request, "assessment.read")
        return self.reporting.get_assessment(assessment_id, assessment_viewer(who))

    @route("GET", "/api/v1/reports/assessments/history", summary="考核结果历史 Every revision "
           "of a department's quarter (corrections keep the original) and its objections",
           action="assessment.read", query=("quarter", "department_code"))
    def assessment_history(self, request: Any) -> Any:
        who = self._authorize(request, "assessment.read")
        return self.reporting.assessment_history(
            _args(request, ("quarter", "department_code")), assessment_viewer(who))

    @route("GET", "/api/v1/reports/assessments/preview", summary="考核试算 One department's "
           "result computed now, not stored", action="assessment.manage",
           query=("quarter", "department_code"))
    def assessment_preview(self, request: Any) -> Any:
        self._authorize(request, "assessment.manage")
        return self.reporting.preview_assessment(_args(request, ("quarter", "department_code")))

    @route("POST", "/api/v1/reports/assessments/compute", summary="重新计算 Recompute the "
           "drafts of a quarter (published results are left alone)",
           action="assessment.manage", body="AssessmentRun")
    def assessment_compute(self, request: Any) -> Any:
        who = self._authorize(request, "assessment.manage")
        body = read_json(request)
        self._known_department(body)
        return self.reporting.compute_assessments(body, assessment_viewer(who))

    @route("POST", "/api/v1/reports/assessments/publish", summary="发布考核结果 Publish and "
           "freeze a quarter's results (all departments, or one)", action="assessment.manage",
           body="AssessmentRun")
    def assessment_publish(self, request: Any) -> Any:
        who = self._authorize(request, "assessment.manage")
        body = read_json(request)
        self._known_department(body)
        return self.reporting.publish_assessments(body, assessment_viewer(who))

    # -- manual items ----------------------------------------------------------------------------
    @route("GET", "/api/v1/reports/assessments/items", summary="加减分项 A quarter's manual "
           "items", action="assessment.read", query=ITEM_QUERY)
    def assessment_items(self, request: Any) -> Any:
        who = self._authorize(request, "assessment.read")
        return self.reporting.list_assessment_items(_args(request, ITEM_QUERY),
                                                    assessment_viewer(who))

    @route("POST", "/api/v1/reports/assessments/items", summary="录入加减分项 Enter a manual "
           "bonus or deduction (or a valid complaint) with a reason", action="assessment.manage",
           body="AssessmentItem")
    def assessment_item_add(self, request: Any) -> Any:
        who = self._authorize(request, "assessment.manage")
        body = read_json(request)
        self._known_department(body)
        item = self.reporting.add_assessment_item(body, assessment_viewer(who))
        return 201, item

    @route("POST", "/api/v1/reports/assessments/items/<int:item_id>/revoke", summary="撤销加减分项 "
           "Revoke a manual item, with a reason", action="assessment.manage",
           body="AssessmentRevoke")
    def assessment_item_revoke(self, request: Any, item_id: int) -> Any:
        who = self._authorize(request, "assessment.manage")
        return self.reporting.revoke_assessment_item(item_id, read_json(request),
                                                     assessment_viewer(who))

    # -- objections ------------------------------------------------------------------------------
    @route("POST", "/api/v1/reports/assessments/<int:assessment_id>/objections",
           summary="提出异议 Object to the department's own published result, with evidence "
           "(within 5 working days)", action="assessment.object", body="AssessmentObjection",
           department_scoped=True, idempotent=True)
    def assessment_object(self, request: Any, assessment_id: int) -> Any:
        who = self._authorize(request, "assessment.object")
        objection = self.reporting.submit_assessment_objection(
            assessment_id, read_json(request), assessment_viewer(who))
        return 201, objection

    @route("GET", "/api/v1/reports/assessments/objections", summary="考核异议 Objections (the "
           "center: all; a department: its own)", action="assessment.read",
           query=OBJECTION_QUERY)
    def assessment_objections(self, request: Any) -> Any:
        who = self._authorize(request, "assessment.read")
        return self.reporting.list_assessment_objections(_args(request, OBJECTION_QUERY),
                                                         assessment_viewer(who))

    @route("POST", "/api/v1/reports/assessments/objections/<int:objection_id>/answer",
           summary="答复异议 Answer an objection: upheld publishes a correction",
           action="assessment.manage", body="AssessmentObjectionAnswer")
    def assessment_objection_answer(self, request: Any, objection_id: int) -> Any:
        who = self._authorize(request, "assessment.manage")
        return self.reporting.answer_assessment_objection(objection_id, read_json(request),
                                                          assessment_viewer(who))
