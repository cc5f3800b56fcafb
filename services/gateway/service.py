"""Gateway service: the HTTP edge (REST API, OpenAPI, console) and the users, roles, keys.

Every route: authenticate, authorize the action, load/validate, call the owning service by RPC,
shape the answer. No business rule of another service lives here.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import select
from werkzeug.wrappers import Response

from services.gateway import access, idempotency, records
from services.gateway.domain import (
    CLEARABLE_ROLES,
    Principal,
    authorize,
    check_api_key_request,
    check_unmask_reason,
    mask_name,
    mask_phone,
    may_see_confidential,
    needs_clearance_lookup,
    require_department,
    sees_every_confidential,
    visible_to,
)
from services.gateway.http import RouteSpec, error_response, read_json, route, status_of
from services.gateway.models import metadata
from services.gateway.openapi import openapi_document
from services.gateway.pages import index_page
from services.gateway.routes.endpoints import EndpointRoutes
from services.gateway.routes.kb_articles import KnowledgeArticleRoutes
from services.gateway.routes.kb_operations import KnowledgeOperationRoutes
from services.gateway.routes.kb_routing import KnowledgeRoutingRoutes
from services.gateway.routes.open311 import Open311Routes
from services.gateway.routes.reports_kpis import ReportKpiRoutes
from shared.database import Database
from shared.errors import Conflict, Forbidden, HotlineError, Invalid, NotFound, Unavailable
from shared.events import utcnow
from shared.logs import LogContext
from shared.rpc import RpcClient, rpc

log = logging.getLogger(__name__)

SERVICES = ("intake", "dispatch", "supervision", "knowledge", "reporting")


class GatewayService(EndpointRoutes, Open311Routes, KnowledgeArticleRoutes,
                     KnowledgeOperationRoutes, KnowledgeRoutingRoutes, ReportKpiRoutes):
    name = "gateway"

    db = Database(metadata, relay=False)
    config = Config()
    log_context = LogContext()
    intake = RpcClient("intake")
    dispatch = RpcClient("dispatch")
    supervision = RpcClient("supervision")
    knowledge = RpcClient("knowledge")
    reporting = RpcClient("reporting")

    # -- public ------------------------------------------------------------------------------
    @route("GET", "/health", summary="各服务与消息总线状态 Health of every service and the broker",
           action=None)
    def health(self, request: Any) -> Any:
        status: dict[str, Any] = {}
        for name in SERVICES:
            try:
                getattr(self, name).call("health", timeout=1.0)
                status[name] = "ok"
            except Unavailable as exc:
                status[name] = f"unavailable: {exc.message}"
        try:
            self.db.session.execute(select(1))
            status["gateway"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            status["gateway"] = f"unavailable: {type(exc).__name__}"
        finally:
            self.db.rollback()
        status["broker"] = "ok" if _broker_ok(self.config) else "unavailable"
        healthy = all(v == "ok" for v in status.values())
        return (200 if healthy else 503), {"status": "ok" if healthy else "degraded",
                                           "components": status}

    @route("GET", "/api/v1/openapi.json", summary="OpenAPI 文档 This document", action=None)
    def openapi(self, request: Any) -> Any:
        return openapi_document()

    @route("GET", "/", summary="控制台首页 Console home page", action=None)
    def index(self, request: Any) -> Any:
        return index_page()

    @route("POST", "/api/v1/auth/token", summary="登录取得令牌 Log in: bearer token",
           action=None, body="Login")
    def token(self, request: Any) -> Any:
        body = read_json(request)
        missing = {f: ["必填 required"] for f in ("username", "password")
                   if not isinstance(body.get(f), str) or not body.get(f)}
        if missing:
            raise Invalid.fields(missing)
        return access.login(self.db, self.config, body["username"], body["password"])

    # -- tickets -----------------------------------------------------------------------------
    @route("POST", "/api/v1/tickets", summary="登记工单 Register an order", action="ticket.register",
           body="Registration")
    def create_ticket(self, request: Any) -> Any:
        who = self._authorize(request, "ticket.register")
        body = read_json(request)
        territory = body.get("territory_code")
        if territory:
            try:
                self.dispatch.get_territory(territory)
            except NotFound:
                raise Invalid.fields({"territory_code": [f"未知属地 unknown territory {territory}"]}) from None
        article_id = (body.get("resolution") or {}).get("article_id") \
            if isinstance(body.get("resolution"), dict) else None
        if isinstance(article_id, int):
            try:  # published, not archived, valid today (knowledge.live_article)
                article = self.knowledge.live_article(article_id)
            except NotFound:
                article = None
            if article is None:
                raise Invalid.fields({"resolution": {"article_id": [
                    f"引用的资料不存在或未发布 article {article_id} is not published"]}})
        # intake keeps this key itself (one order per key, replayed with 200): the same header
        # rule as the department routes' (services/gateway/idempotency.py), not the same store
        key = request.headers.get(idempotency.HEADER)
        problem = idempotency.check_key(key)
        if problem:
            raise Invalid.fields({idempotency.HEADER: [problem]})
        ticket = self.intake.register_ticket(body, who.as_actor(),
                                             f"{who.name}:{key}" if key else None)
        replayed = ticket.pop("replayed", False)
        ticket["related"] = self._visible_related(who, ticket.get("related") or [])
        return (200 if replayed else 201), ticket, {"Location": f"/api/v1/tickets/{ticket['ticket_no']}"}

    @route("GET", "/api/v1/tickets", summary="查询工单 Search orders", action="ticket.list",
           query=("category", "phone", "registered_from", "registered_to", "cursor", "limit"))
    def list_tickets(self, request: Any) -> Any:
        who = self._authorize(request, "ticket.list")
        filters: dict[str, Any] = {k: v for k, v in request.args.items() if k in
                                   ("category", "phone", "registered_from", "registered_to",
                                    "cursor", "limit")}
        if not sees_every_confidential(who, self._cleared(who)):  # 涉密 orders left out
            filters.update(hide_confidential=True,
                           own_agent=who.name if who.role == "agent" else None)
        result = self.intake.list_tickets(filters)
        states = self.supervision.states_of([t["ticket_no"] for t in result["items"]])
        for t in result["items"]:
            t["status"] = states.get(t["ticket_no"], "registered")
        return result

    @route("GET", "/api/v1/tickets/<ticket_no>", summary="工单详情 One order with its history",
           action="ticket.read", department_scoped=True)
    def get_ticket(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.read")
        assignments = self.dispatch.assignments_of(ticket_no)
        if not visible_to(who, assignments):
            raise NotFound(f"工单不存在 order {ticket_no} not found", {"ticket_no": ticket_no})
        ticket = self.intake.get_ticket(ticket_no)
        self._require_confidential_clearance(who, ticket, assignments)
        try:
            state = self.supervision.get_state(ticket_no)
        except NotFound:
            state = {"status": "registered", "clocks": [], "history": [], "callbacks": []}
        if who.role == "department":
            ticket["phone"] = mask_phone(ticket.get("phone"))
            if ticket.get("caller_privacy"):
                ticket["caller_name"] = mask_name(ticket.get("caller_name"))
            for link in ticket.get("links", []):
                link["phone"] = mask_phone(link.get("phone"))
            assignments = [a for a in assignments if a["department_code"] == who.department_code]
            for key in ("urges", "extensions", "returns", "supervision_orders"):
                state[key] = [u for u in state.get(key, [])
                              if u["department_code"] == who.department_code]
            # the center's own work on the order (回头看, callbacks of linked callers) is not
            # the department's to read
            state.pop("rechecks", None)
            state.pop("callers", None)
        clocks = {c["assignment_id"]: c for c in state.pop("clocks")}
        for a in assignments:
            a["clock"] = clocks.get(a["id"])
        return {**ticket, "status": state.pop("status"), "lifecycle": state,
                "assignments": assignments}

    @route("POST", "/api/v1/tickets/<ticket_no>/dispatch", summary="人工派单 Dispatch by hand",
           action="ticket.dispatch", body="Dispatch")
    def dispatch_ticket(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.dispatch")
        return 201, {"assignments": self.dispatch.dispatch(ticket_no, read_json(request),
                                                           who.as_actor())}

    @route("POST", "/api/v1/tickets/<ticket_no>/callback", summary="回访 Record a callback",
           action="ticket.callback", body="Callback")
    def callback(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.callback")
        return self.supervision.record_callback(ticket_no, read_json(request), who.as_actor())

    @route("POST", "/api/v1/tickets/<ticket_no>/close", summary="办结 Close an order",
           action="ticket.close", body="Close")
    def close(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.close")
        return self.supervision.close(ticket_no, read_json(request), who.as_actor())

    @route("POST", "/api/v1/tickets/<ticket_no>/urge", summary="催办 Urge an order's departments",
           action="ticket.urge", body="Urge")
    def urge(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.urge")
        return 201, self.supervision.urge(ticket_no, read_json(request), who.as_actor())

    # -- repeat calls, caller history, links, unmasking, confidential clearance --------------------
    @route("GET", "/api/v1/tickets/form", summary="登记表单：词表、来电人历史与在办工单 "
           "Registration form data: vocabulary, the caller's earlier orders (newest first, "
           "with status) and the open orders this caller already has",
           action="ticket.form", query=("phone", "limit"))
    def registration_form(self, request: Any) -> Any:
        who = self._authorize(request, "ticket.form")
        vocabulary = self.intake.vocabulary()
        phone = request.args.get("phone")
        if not phone:
            return {"vocabulary": vocabulary, "phone": None, "history": [], "total": 0,
                    "open_orders": []}
        query: dict[str, Any] = {"phone": phone}
        if request.args.get("limit"):
            query["limit"] = request.args["limit"]
        history = self.intake.caller_history(query)
        items = [t for t in history["items"] if self._may_see(who, t)]
        states = self.supervision.states_of([t["ticket_no"] for t in items]) if items else {}
        for t in items:
            t["status"] = states.get(t["ticket_no"]) or (
                "resolved_at_intake" if t.get("resolved_at") else "registered")
        return {"vocabulary": vocabulary, "phone": history["phone"], "history": items,
                "total": history["total"], "open_orders": [t for t in items if t["open"]]}

    @route("POST", "/api/v1/tickets/related", summary="重复来电查重 Open orders a call being "
           "taken may be about (same caller, or same territory + category + similar text), "
           "ranked, each with score and reason", action="ticket.related", body="Draft")
    def related_tickets(self, request: Any) -> Any:
        who = self._authorize(request, "ticket.related")
        result = self.intake.find_related(read_json(request))
        result["items"] = self._visible_related(who, result["items"])
        return result

    @route("POST", "/api/v1/tickets/<ticket_no>/link", summary="关联重复来电 Link a new caller "
           "to an open order (each caller keeps their own callback; the 3rd distinct caller "
           "raises a hotspot)", action="ticket.link", body="Link")
    def link_call(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.link")
        body = read_json(request)
        ticket = self.intake.get_ticket(ticket_no)
        self._require_confidential_clearance(who, ticket, None)
        result = self.intake.link_call(ticket_no, body, who.as_actor())
        return (200 if result["replayed"] else 201), result

    @route("POST", "/api/v1/tickets/<ticket_no>/unmask", summary="查看完整号码（留痕） Reveal "
           "the caller's full phone number, with a reason written to the audit log",
           action="ticket.unmask", body="Unmask", department_scoped=True)
    def unmask_phone(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.unmask")
        body = read_json(request)
        problem = check_unmask_reason(body.get("reason"))
        link_id = body.get("link_id")
        errors: dict[str, list[str]] = {"reason": [problem]} if problem else {}
        if link_id is not None and (not isinstance(link_id, int) or isinstance(link_id, bool)):
            errors["link_id"] = ["须为整数 must be an integer"]
        if errors:
            raise Invalid.fields(errors)
        assignments = self.dispatch.assignments_of(ticket_no)
        if not visible_to(who, assignments):
            raise NotFound(f"工单不存在 order {ticket_no} not found", {"ticket_no": ticket_no})
        ticket = self.intake.get_ticket(ticket_no)
        self._require_confidential_clearance(who, ticket, assignments)
        if who.role == "department" and ticket.get("caller_privacy") and link_id is None:
            raise Forbidden("来电人要求保密，承办单位不能查看号码 the caller asked for privacy; "
                            "the center calls back", {"action": "ticket.unmask",
                                                      "state": "caller_privacy"})
        phone = ticket.get("phone")
        if link_id is not None:
            link = next((x for x in ticket.get("links", []) if x["id"] == link_id), None)
            if link is None:
                raise Invalid.fields({"link_id": [f"该工单无此关联来电 no linked call {link_id} "
                                                  "on this order"]})
            phone = link.get("phone")
        access.audit(self.db, who.as_actor(), "phone.unmask", ticket_no, {
            "reason": body["reason"].strip(), "role": who.role,
            "department_code": who.department_code, "via": who.via, "link_id": link_id})
        return {"ticket_no": ticket_no, "link_id": link_id, "phone": phone}

    @route("GET", "/api/v1/admin/audit", summary="审计日志 The audit log, newest first "
           "(filter by action, target, actor; cursor-paged)", action="audit.read",
           query=("action", "target", "actor", "cursor", "limit"))
    def audit_log(self, request: Any) -> Any:
        self._authorize(request, "audit.read")
        return records.list_audit(self.db, {k: v for k, v in request.args.items()
                                            if k in ("action", "target", "actor", "cursor",
                                                     "limit")})

    @route("PUT", "/api/v1/admin/users/<username>/clearance", summary="涉密授权 Clear (or "
           "unclear) one agent or dispatcher for confidential orders", action="user.clearance",
           body="Clearance")
    def set_clearance(self, request: Any, username: str) -> Any:
        who = self._authorize(request, "user.clearance")
        body = read_json(request)
        if not isinstance(body.get("cleared"), bool):
            raise Invalid.fields({"cleared": ["必填，true 或 false required boolean"]})
        return records.set_clearance(self.db, username, body["cleared"], who.as_actor(),
                                     CLEARABLE_ROLES)

    def _cleared(self, who: Principal) -> bool:
        """The per-user clearance flag, read only for the roles that have one, once per request
        (nameko makes a service instance per worker)."""
        if not needs_clearance_lookup(who):
            return False
        cached = self.__dict__.get("_clearance")
        if cached is None or cached[0] != who.name:
            cached = self.__dict__["_clearance"] = (who.name, records.is_cleared(self.db, who.name))
        return cached[1]

    def _may_see(self, who: Principal, ticket: dict[str, Any],
                 departments: set[str] | None = None) -> bool:
        if not ticket.get("confidential"):
            return True
        return may_see_confidential(who, registered_by=ticket.get("agent"),
                                    departments=departments or set(),
                                    cleared=self._cleared(who))

    def _require_confidential_clearance(self, who: Principal, ticket: dict[str, Any],
                                        assignments: list[dict[str, Any]] | None) -> None:
        """A confidential order is 404 to whoever is not cleared for it (not told it exists)."""
        if not ticket.get("confidential"):
            return
        if assignments is None:
            assignments = self.dispatch.assignments_of(ticket["ticket_no"])
        if not self._may_see(who, ticket, {a["department_code"] for a in assignments}):
            raise NotFound(f"工单不存在 order {ticket['ticket_no']} not found",
                           {"ticket_no": ticket["ticket_no"]})

    def _visible_related(self, who: Principal, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if self._may_see(who, i)]

    # -- routing catalogue versions, 预审, 协办 opinions, 下派, 问题工单 --
    @route("GET", "/api/v1/dispatch/queue", summary="待派单队列（预审） Orders waiting for a "
           "dispatcher, with the catalogue's suggestion", action="dispatch.queue",
           query=("cursor", "limit"))
    def dispatch_queue(self, request: Any) -> Any:
        self._authorize(request, "dispatch.queue")
        return self.dispatch.queue({k: v for k, v in request.args.items()
                                    if k in ("cursor", "limit")})

    @route("GET", "/api/v1/tickets/<ticket_no>/dispatch-history",
           summary="派单记录 Each dispatch round: suggestion, decision (auto / accepted / "
           "overridden / manual / reopened), who and why", action="dispatch.history")
    def dispatch_history(self, request: Any, ticket_no: str) -> Any:
        self._authorize(request, "dispatch.history")
        return {"items": self.dispatch.dispatch_history(ticket_no)}

    @route("GET", "/api/v1/assignments/<int:assignment_id>",
           summary="承办任务详情（含协办意见） One assignment, with its assistants' opinions",
           action="assignment.read", department_scoped=True)
    def get_assignment(self, request: Any, assignment_id: int) -> Any:
        who = self._authorize(request, "assignment.read")
        scope = who.department_code if who.role == "department" else None
        if who.role == "department" and not scope:
            raise NotFound(f"任务不存在 assignment {assignment_id} not found",
                           {"assignment_id": assignment_id})
        return self.dispatch.get_assignment(assignment_id, scope)

    @route("POST", "/api/v1/assignments/<int:assignment_id>/opinion",
           summary="提交协办意见 Submit an assisting department's opinion",
           action="assignment.act", body="Opinion", department_scoped=True,
           idempotent=True)
    def submit_opinion(self, request: Any, assignment_id: int) -> Any:
        who = self._authorize(request, "assignment.act")
        return self.dispatch.submit_opinion(assignment_id, who.department_code,
                                            read_json(request), who.as_actor())

    @route("POST", "/api/v1/assignments/<int:assignment_id>/pass-down",
           summary="下派 Pass an assignment down to one of the department's own units",
           action="assignment.act", body="PassDown", department_scoped=True,
           idempotent=True)
    def pass_down(self, request: Any, assignment_id: int) -> Any:
        who = self._authorize(request, "assignment.act")
        return 201, self.dispatch.pass_down(assignment_id, who.department_code,
                                            read_json(request), who.as_actor())

    # -- Step 3 delivery: recall (撤回派单) and progress (办理进展) --
    @route("POST", "/api/v1/tickets/<ticket_no>/recall",
           summary="撤回派单 Recall the current dispatch round (before the lead replies); the "
           "order waits for a dispatcher again", action="ticket.recall", body="Recall")
    def recall(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.recall")
        return self.dispatch.recall(ticket_no, read_json(request), who.as_actor())

    @route("POST", "/api/v1/assignments/<int:assignment_id>/progress",
           summary="办理进展 Record progress on an open assignment", action="assignment.act",
           body="Progress", department_scoped=True, idempotent=True)
    def note_progress(self, request: Any, assignment_id: int) -> Any:
        who = self._authorize(request, "assignment.act")
        return 201, self.dispatch.note_progress(assignment_id, who.department_code,
                                                read_json(request), who.as_actor())

    @route("GET", "/api/v1/admin/routing-rules", summary="派单目录 The routing catalogue",
           action="catalogue.read", query=("active",))
    def routing_rules(self, request: Any) -> Any:
        self._authorize(request, "catalogue.read")
        query = {k: v for k, v in request.args.items() if k == "active"}
        return self.dispatch.list_rules(query)

    @route("POST", "/api/v1/admin/routing-rules", summary="新增派单规则 Add a routing rule",
           action="catalogue.write", body="RoutingRule")
    def create_routing_rule(self, request: Any) -> Any:
        who = self._authorize(request, "catalogue.write")
        rule = self.dispatch.create_rule(read_json(request), who.as_actor())
        return 201, rule, {"Location": f"/api/v1/admin/routing-rules/{rule['id']}"}

    @route("PATCH", "/api/v1/admin/routing-rules/<int:rule_id>",
           summary="修改派单规则 Change a routing rule", action="catalogue.write",
           body="RoutingRuleChange")
    def update_routing_rule(self, request: Any, rule_id: int) -> Any:
        who = self._authorize(request, "catalogue.write")
        return self.dispatch.update_rule(rule_id, read_json(request), who.as_actor())

    @route("POST", "/api/v1/admin/routing-rules/<int:rule_id>/deactivate",
           summary="停用派单规则 Deactivate a routing rule", action="catalogue.write",
           body="RoutingRuleDeactivation")
    def deactivate_routing_rule(self, request: Any, rule_id: int) -> Any:
        who = self._authorize(request, "catalogue.write")
        return self.dispatch.deactivate_rule(rule_id, read_json(request), who.as_actor())

    @route("GET", "/api/v1/admin/routing-rules/<int:rule_id>/history",
           summary="派单规则修订记录 A rule's revisions", action="catalogue.read")
    def routing_rule_history(self, request: Any, rule_id: int) -> Any:
        self._authorize(request, "catalogue.read")
        return self.dispatch.rule_history(rule_id)

    @route("GET", "/api/v1/admin/routing-catalogue/changes",
           summary="派单目录变更日志 The catalogue's change log", action="catalogue.read",
           query=("cursor", "limit"))
    def routing_catalogue_changes(self, request: Any) -> Any:
        self._authorize(request, "catalogue.read")
        return self.dispatch.catalogue_changes({k: v for k, v in request.args.items()
                                                if k in ("cursor", "limit")})

    # -- 督办单, urge answers, monthly urge, 回头看, linked callers, reopen --
    @route("POST", "/api/v1/tickets/<ticket_no>/supervise",
           summary="督办 Open a supervision order (督办单)", action="ticket.supervise",
           body="Supervise")
    def supervise(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.supervise")
        return 201, self.supervision.supervise(ticket_no, read_json(request), who.as_actor())

    @route("POST", "/api/v1/supervision-orders/<int:order_id>/explanation",
           summary="督办说明 The supervised department explains", action="supervision.explain",
           body="Explanation", department_scoped=True,
           idempotent=True)
    def explain_supervision(self, request: Any, order_id: int) -> Any:
        who = self._authorize(request, "supervision.explain")
        return self.supervision.explain_supervision(order_id, who.department_code,
                                                    read_json(request), who.as_actor())

    @route("GET", "/api/v1/departments/<code>/supervision",
           summary="部门督办待办 A department's open 督办单 and unanswered urges",
           action="inbox.read", department_scoped=True)
    def department_supervision(self, request: Any, code: str) -> Any:
        who = self._authorize(request, "inbox.read")
        require_department(who, code)
        return self.supervision.department_supervision(code)

    @route("POST", "/api/v1/urges/<int:urge_id>/answer",
           summary="催办答复 The urged department answers", action="urge.answer",
           body="UrgeAnswer", department_scoped=True,
           idempotent=True)
    def answer_urge(self, request: Any, urge_id: int) -> Any:
        who = self._authorize(request, "urge.answer")
        return self.supervision.answer_urge(urge_id, who.department_code, read_json(request),
                                            who.as_actor())

    @route("POST", "/api/v1/tickets/<ticket_no>/reopen", summary="重办 Reopen a replied order",
           action="ticket.reopen", body="Reopen")
    def reopen(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.reopen")
        return self.supervision.reopen(ticket_no, read_json(request), who.as_actor())

    @route("POST", "/api/v1/tickets/<ticket_no>/recheck",
           summary="回头看 Pick a closed order for re-check", action="ticket.recheck",
           body="Recheck")
    def recheck(self, request: Any, ticket_no: str) -> Any:
        who = self._authorize(request, "ticket.recheck")
        return 201, self.supervision.pick_recheck(ticket_no, read_json(request), who.as_actor())

    @route("POST", "/api/v1/rechecks", summary="回头看 Pick closed orders for re-check (batch)",
           action="ticket.recheck", body="RecheckBatch")
    def recheck_batch(self, request: Any) -> Any:
        who = self._authorize(request, "ticket.recheck")
        body = read_json(request)
        return 201, self.supervision.pick_rechecks(body.get("ticket_nos"),
                                                   {"note": body.get("note")}, who.as_actor())

    @route("POST", "/api/v1/rechecks/<int:recheck_id>/result",
           summary="回头看结果 Record a re-check's finding", action="ticket.recheck",
           body="RecheckResult")
    def recheck_result(self, request: Any, recheck_id: int) -> Any:
        who = self._authorize(request, "ticket.recheck")
        return self.supervision.record_recheck(recheck_id, read_json(request), who.as_actor())


    # -- leader instructions 领导批示件 --
    @staticmethod
    def _viewer(who: Principal) -> dict[str, Any]:
        """The caller as supervision decides visibility: role, department, token or API key."""
        return {"role": who.role, "department_code": who.department_code, "via": who.via}

    @route("POST", "/api/v1/instructions", summary="登记批示件 Register a leader instruction",
           action="instruction.register", body="InstructionRegistration")
    def register_instruction(self, request: Any) -> Any:
        who = self._authorize(request, "instruction.register")
        body = read_json(request)
        units = body.get("units")
        if isinstance(units, list) and all(isinstance(u, str) for u in units):
            known = {d["code"] for d in self.dispatch.departments()}
            unknown = [u for u in units if u not in known]
            if unknown:
                raise Invalid.fields({"units": [f"未知部门 unknown department {', '.join(unknown)}"]})
        tickets = body.get("ticket_nos")
        if isinstance(tickets, list) and all(isinstance(t, str) for t in tickets):
            for no in tickets:
                try:
                    self.intake.get_ticket(no)
                except NotFound:
                    raise Invalid.fields({"ticket_nos": [f"工单不存在 order {no} not found"]}) from None
        got = self.supervision.register_instruction(body, who.as_actor())
        return 201, got, {"Location": f"/api/v1/instructions/{got['id']}"}

    @route("GET", "/api/v1/instructions", summary="批示件列表 Leader instructions",
           action="instruction.read",
           query=("status", "kind", "unit", "overdue", "cursor", "limit"), department_scoped=True)
    def list_instructions(self, request: Any) -> Any:
        who = self._authorize(request, "instruction.read")
        filters = {k: v for k, v in request.args.items()
                   if k in ("status", "kind", "unit", "overdue", "cursor", "limit")}
        return self.supervision.list_instructions(filters, self._viewer(who))

    @route("GET", "/api/v1/instructions/summary",
           summary="批示件办理情况汇总 Per-unit summary of leader instructions",
           action="instruction.summary", query=("from", "to", "group_by"))
    def instruction_summary(self, request: Any) -> Any:
        self._authorize(request, "instruction.summary")
        return self.supervision.instruction_summary(
            {k: v for k, v in request.args.items() if k in ("from", "to", "group_by")})

    @route("GET", "/api/v1/instructions/<int:instruction_id>",
           summary="批示件详情 One instruction with units, feedback and history",
           action="instruction.read", department_scoped=True)
    def get_instruction(self, request: Any, instruction_id: int) -> Any:
        who = self._authorize(request, "instruction.read")
        return self.supervision.get_instruction(instruction_id, self._viewer(who))

    @route("POST", "/api/v1/instructions/<int:instruction_id>/kind",
           summary="更改办件/阅件 Reclassify an instruction", action="instruction.manage",
           body="InstructionReclassify")
    def reclassify_instruction(self, request: Any, instruction_id: int) -> Any:
        who = self._authorize(request, "instruction.manage")
        return self.supervision.reclassify_instruction(instruction_id, read_json(request),
                                                       who.as_actor())

    @route("POST", "/api/v1/instructions/<int:instruction_id>/feedback",
           summary="承办单位反馈 A unit's feedback", action="instruction.respond",
           body="InstructionFeedback", department_scoped=True,
           idempotent=True)
    def instruction_feedback(self, request: Any, instruction_id: int) -> Any:
        who = self._authorize(request, "instruction.respond")
        return 201, self.supervision.submit_instruction_feedback(
            instruction_id, self._viewer(who), read_json(request), who.as_actor())

    @route("POST", "/api/v1/instructions/<int:instruction_id>/feedback/<int:feedback_id>/decision",
           summary="反馈审定 Approve feedback or send it back", action="instruction.manage",
           body="InstructionDecision")
    def decide_instruction_feedback(self, request: Any, instruction_id: int,
                                    feedback_id: int) -> Any:
        who = self._authorize(request, "instruction.manage")
        return self.supervision.decide_instruction_feedback(instruction_id, feedback_id,
                                                            read_json(request), who.as_actor())

    @route("POST", "/api/v1/instructions/<int:instruction_id>/urge",
           summary="批示件催办 Urge the units owing feedback", action="instruction.manage",
           body="InstructionUrge")
    def urge_instruction(self, request: Any, instruction_id: int) -> Any:
        who = self._authorize(request, "instruction.manage")
        return 201, self.supervision.urge_instruction(instruction_id, read_json(request),
                                                      who.as_actor())

    @route("POST", "/api/v1/instructions/<int:instruction_id>/read",
           summary="阅件阅知 Acknowledge reading", action="instruction.respond",
           department_scoped=True,
           idempotent=True)
    def acknowledge_instruction(self, request: Any, instruction_id: int) -> Any:
        who = self._authorize(request, "instruction.respond")
        return self.supervision.acknowledge_instruction(instruction_id, self._viewer(who),
                                                        who.as_actor())

    # -- departments and assignments ---------------------------------------------------------
    @route("GET", "/api/v1/departments", summary="部门列表 Departments", action="reference.read")
    def departments(self, request: Any) -> Any:
        self._authorize(request, "reference.read")
        return {"items": self.dispatch.departments()}

    @route("GET", "/api/v1/departments/<code>/inbox", summary="部门待办 A department's assignments",
           action="inbox.read", query=("cursor", "limit", "state"), department_scoped=True)
    def inbox(self, request: Any, code: str) -> Any:
        who = self._authorize(request, "inbox.read")
        require_department(who, code)
        query = {k: v for k, v in request.args.items() if k in ("cursor", "limit", "state")}
        result = self.dispatch.inbox(code, query)
        # 涉密: a department's own users handle its confidential orders; its system (API key)
        # and uncleared dispatchers never see them (pages may then be shorter than ``limit``)
        if who.via == "api_key" or (who.role != "department"
                                    and not sees_every_confidential(who, self._cleared(who))):
            result["items"] = [i for i in result["items"] if not i.get("confidential")]
        if who.role == "department":
            for item in result["items"]:
                item["phone"] = mask_phone(item.get("phone"))
        return result

    @route("POST", "/api/v1/assignments/<int:assignment_id>/sign", summary="签收 Sign for an assignment",
           action="assignment.act", department_scoped=True,
           idempotent=True)
    def sign(self, request: Any, assignment_id: int) -> Any:
        who = self._authorize(request, "assignment.act")
        return self.dispatch.sign(assignment_id, who.department_code, who.as_actor())

    @route("POST", "/api/v1/assignments/<int:assignment_id>/reply", summary="答复 Reply (lead department)",
           action="assignment.act", body="Reply", department_scoped=True,
           idempotent=True)
    def reply(self, request: Any, assignment_id: int) -> Any:
        who = self._authorize(request, "assignment.act")
        return self.dispatch.reply(assignment_id, who.department_code, read_json(request),
                                   who.as_actor())

    @route("POST", "/api/v1/assignments/<int:assignment_id>/extension",
           summary="申请延期 Request an extension", action="assignment.act", body="Extension",
           department_scoped=True,
           idempotent=True)
    def request_extension(self, request: Any, assignment_id: int) -> Any:
        who = self._authorize(request, "assignment.act")
        return 201, self.supervision.request_extension(assignment_id, who.department_code,
                                                       read_json(request), who.as_actor())

    @route("POST", "/api/v1/extensions/<int:extension_id>/decision",
           summary="延期审批 Decide an extension", action="extension.decide",
           body="ExtensionDecision")
    def decide_extension(self, request: Any, extension_id: int) -> Any:
        who = self._authorize(request, "extension.decide")
        return self.supervision.decide_extension(extension_id, read_json(request), who.as_actor())

    @route("POST", "/api/v1/assignments/<int:assignment_id>/return",
           summary="申请退单 Request a return (lead department)", action="assignment.act",
           body="Return", department_scoped=True,
           idempotent=True)
    def request_return(self, request: Any, assignment_id: int) -> Any:
        who = self._authorize(request, "assignment.act")
        return 201, self.supervision.request_return(assignment_id, who.department_code,
                                                    read_json(request), who.as_actor())

    @route("POST", "/api/v1/returns/<int:return_id>/decision",
           summary="退单审定 Decide a return", action="return.decide", body="ReturnDecision")
    def decide_return(self, request: Any, return_id: int) -> Any:
        who = self._authorize(request, "return.decide")
        return self.supervision.decide_return(return_id, read_json(request), who.as_actor())

    # -- administration ----------------------------------------------------------------------
    # -- Step 3 keys: API keys, users' activation --------------------------------------------
    @route("POST", "/api/v1/admin/api-keys", summary="签发 API 密钥 Issue an API key: a "
           "department system's (department_code) or, without one, an Open311 client's",
           action="admin", body="ApiKeyRequest")
    def create_api_key(self, request: Any) -> Any:
        who = self._authorize(request, "admin")
        body = read_json(request)
        known = {d["code"] for d in self.dispatch.departments()} \
            if body.get("department_code") is not None else set()
        code, name, scopes = check_api_key_request(body, known)
        return 201, access.create_api_key(self.db, code, name, who.as_actor(), scopes)

    @route("GET", "/api/v1/admin/api-keys", summary="API 密钥列表（不含密钥） API keys, "
           "without their secrets", action="admin", query=("department_code",))
    def list_api_keys(self, request: Any) -> Any:
        self._authorize(request, "admin")
        return {"items": access.list_api_keys(self.db, request.args.get("department_code"))}

    @route("PUT", "/api/v1/admin/users/<username>/active", summary="停用/启用用户 Deactivate "
           "(or reactivate) a user: their tokens stop working at once", action="admin",
           body="UserActive")
    def set_user_active(self, request: Any, username: str) -> Any:
        who = self._authorize(request, "admin")
        body = read_json(request)
        if not isinstance(body.get("active"), bool):
            raise Invalid.fields({"active": ["必填，true 或 false required boolean"]})
        if username == who.name and not body["active"]:
            raise Invalid.fields({"active": ["不能停用自己 you cannot deactivate yourself"]})
        return access.set_user_active(self.db, username, body["active"], who.as_actor())

    @timer(interval=3600)
    def purge_idempotency_records(self) -> None:
        """Idempotency records older than their TTL are dead weight (they no longer count)."""
        records.purge_idempotency(self.db, idempotency.expired_before(
            utcnow(), self._idempotency_ttl()))

    @route("DELETE", "/api/v1/admin/api-keys/<key_id>", summary="吊销 API 密钥 Revoke an API key",
           action="admin")
    def revoke_api_key(self, request: Any, key_id: str) -> Any:
        who = self._authorize(request, "admin")
        if not access.revoke_api_key(self.db, key_id, who.as_actor()):
            raise NotFound(f"密钥不存在 key {key_id} not found", {"key_id": key_id})
        return Response(status=204)

    @route("GET", "/api/v1/admin/users", summary="用户列表 Users", action="admin")
    def users(self, request: Any) -> Any:
        self._authorize(request, "admin")
        return {"items": access.list_users(self.db)}

    @rpc
    def load_users(self, users: list[dict[str, Any]]) -> int:
        """Create or update users (demo data, provisioning scripts)."""
        return access.upsert_users(self.db, users)

    # -- fallbacks ---------------------------------------------------------------------------
    @route("GET,POST,PUT,PATCH,DELETE", "/<path:path>", summary="未知路径 Unknown path (404)",
           action=None)
    def not_found(self, request: Any, path: str) -> Any:
        raise NotFound(f"路径不存在 no such path /{path}", {"path": "/" + path})

    # -- helpers -----------------------------------------------------------------------------
    def _authorize(self, request: Any, action: str) -> Principal:
        who = self._principal(request)
        authorize(who, action)
        return who

    def _principal(self, request: Any) -> Principal:
        """The caller, read once per request (nameko makes a service instance per worker)."""
        cached = self.__dict__.get("_caller")
        if cached is None or cached[0] is not request:
            cached = self.__dict__["_caller"] = (request, access.principal_of(
                self.db, self.config, request))
        return cached[1]

    # -- Step 3 keys: every route's call: refusals audited, idempotency keys ---------------------
    def run_route(self, spec: RouteSpec, call: Any, request: Any) -> Any:
        """How :func:`services.gateway.http.route` calls each route of this service."""
        try:
            if spec.idempotent and request.headers.get(idempotency.HEADER) is not None:
                return self._run_idempotent(spec, call, request)
            return call()
        except (Forbidden, NotFound) as exc:
            self._audit_refusal(spec, request, exc)
            raise

    def _audit_refusal(self, spec: RouteSpec, request: Any, exc: Exception) -> None:
        """``access.denied``: every 403 of a protected route, and every 404 a department
        (user or system) gets on a department-scoped route — another department's order or
        assignment is "not found" to it, and the attempt is on record."""
        cached = self.__dict__.get("_caller")
        who = cached[1] if cached is not None and cached[0] is request else None
        status = 403 if isinstance(exc, Forbidden) else 404
        if spec.action is None or who is None or (
                status == 404 and not (spec.department_scoped and who.role == "department")):
            return
        values = getattr(request, "path_values", None) or {}
        target = ",".join(f"{k}={v}" for k, v in values.items())[:64] or None
        detail = {"route": f"{request.method} {spec.path}", "path": request.path,
                  "status": status, "action": spec.action, "role": who.role,
                  "department_code": who.department_code, "via": who.via,
                  "reason": getattr(exc, "message", str(exc))[:200]}
        detail.update({k: v for k, v in getattr(exc, "details", {}).items()
                       if k in ("scope", "action") and v is not None})
        try:
            access.audit(self.db, who.as_actor(), "access.denied", target, detail)
        except Exception:  # noqa: BLE001 - the refusal stands even if the log is unavailable
            log.exception("audit entry not written", extra={"route": spec.name})

    def _run_idempotent(self, spec: RouteSpec, call: Any, request: Any) -> Any:
        who = self._authorize(request, str(spec.action))  # 401/403 before any record
        key = request.headers[idempotency.HEADER]
        problem = idempotency.check_key(key)
        if problem:
            raise Invalid.fields({idempotency.HEADER: [problem]})
        fingerprint = idempotency.fingerprint(request.method, request.path,
                                              request.query_string.decode("latin-1"),
                                              request.get_data())
        verdict, stored = records.begin_idempotent(
            self.db, who.name, key, fingerprint, request.method, request.path, utcnow(),
            self._idempotency_ttl(), timedelta(seconds=float(self.config.get(
                "IDEMPOTENCY_LEASE_SECONDS", idempotency.DEFAULT_LEASE_SECONDS))))
        if verdict == idempotency.MISMATCH:
            raise Invalid.fields({idempotency.HEADER: [
                "幂等键已用于另一请求 Idempotency-Key reused for a different request"]})
        if verdict == idempotency.IN_FLIGHT:
            raise Conflict("同一幂等键的请求仍在处理中 a request with this Idempotency-Key is "
                           "still in flight", {"action": spec.name, "state": "in_flight"})
        if verdict == idempotency.REPLAY and stored is not None:
            kept = stored.response or {}
            return (stored.status, kept.get("body"),
                    {**kept.get("headers", {}), idempotency.REPLAYED_HEADER: "true"})
        try:
            result = call()
        except HotlineError as exc:
            status = status_of(exc) or 500
            if idempotency.storable(status):
                body = json.loads(error_response(exc).get_data(as_text=True))
                records.finish_idempotent(self.db, who.name, key, status, {"body": body})
            else:
                records.abandon_idempotent(self.db, who.name, key)
            raise
        except BaseException:
            records.abandon_idempotent(self.db, who.name, key)
            raise
        status, payload, headers = _result_parts(result)
        if idempotency.storable(status):
            records.finish_idempotent(self.db, who.name, key, status, {
                "body": json.loads(json.dumps(payload, ensure_ascii=False, default=str)),
                "headers": dict(headers or {})})
        else:
            records.abandon_idempotent(self.db, who.name, key)
        return result

    def _idempotency_ttl(self) -> timedelta:
        return timedelta(seconds=float(self.config.get("IDEMPOTENCY_TTL_SECONDS",
                                                       idempotency.DEFAULT_TTL_SECONDS)))


def _result_parts(result: Any) -> tuple[int, Any, dict[str, str] | None]:
    """A route's result as (status, JSON payload, headers), as :class:`JsonRoute` sends it."""
    if isinstance(result, Response):
        return result.status_code, None, None
    if isinstance(result, tuple):
        return result[0], result[1], (result[2] if len(result) > 2 else None)
    return 200, result, None


def _broker_ok(config: dict[str, Any]) -> bool:
    from kombu import Connection
    try:
        with Connection(config["AMQP_URI"], connect_timeout=1) as conn:
            conn.ensure_connection(max_retries=0)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False

