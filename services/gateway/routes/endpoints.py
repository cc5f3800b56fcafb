"""Departments as endpoints (DOMAIN.md §6): endpoint configuration, webhook deliveries and
their dead letters, and the department event feed for systems that pull."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from services.gateway.domain import Principal, require_department
from services.gateway.http import read_json, route
from shared.errors import Forbidden


class EndpointRoutes:
    """Routes of dispatch's endpoints, feed and deliveries (owned by dispatch: these only
    authenticate, authorize and call it)."""

    dispatch: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError

    # -- configuration (admin) --
    @route("POST", "/api/v1/admin/departments/<code>/endpoints",
           summary="配置部门对接方式 Configure a department's endpoint (terminal / webhook / pull "
           "/ open311, optionally for one category); a webhook's secret is answered once",
           action="endpoint.admin", body="EndpointRequest")
    def create_endpoint(self, request: Any, code: str) -> Any:
        who = self._authorize(request, "endpoint.admin")
        return 201, self.dispatch.create_endpoint(code, read_json(request), who.as_actor())

    @route("GET", "/api/v1/admin/departments/<code>/endpoints",
           summary="部门对接方式 A department's endpoints (no secrets)", action="endpoint.admin")
    def list_endpoints(self, request: Any, code: str) -> Any:
        self._authorize(request, "endpoint.admin")
        return self.dispatch.list_endpoints(code)

    @route("POST", "/api/v1/admin/endpoints/<int:endpoint_id>/rotate-secret",
           summary="更换 webhook 密钥 Rotate a webhook's signing secret (answered once)",
           action="endpoint.admin")
    def rotate_endpoint_secret(self, request: Any, endpoint_id: int) -> Any:
        who = self._authorize(request, "endpoint.admin")
        return self.dispatch.rotate_endpoint_secret(endpoint_id, who.as_actor())

    @route("DELETE", "/api/v1/admin/endpoints/<int:endpoint_id>",
           summary="停用端点 Deactivate an endpoint (the department falls back to its general "
           "endpoint, else the terminal)", action="endpoint.admin")
    def deactivate_endpoint(self, request: Any, endpoint_id: int) -> Any:
        who = self._authorize(request, "endpoint.admin")
        self.dispatch.deactivate_endpoint(endpoint_id, who.as_actor())
        return Response(status=204)

    # -- deliveries (operators) --
    @route("GET", "/api/v1/admin/deliveries",
           summary="推送记录 Webhook deliveries (pending / delivered / dead)",
           action="delivery.read",
           query=("department_code", "state", "ticket_no", "cursor", "limit"))
    def deliveries(self, request: Any) -> Any:
        self._authorize(request, "delivery.read")
        return self.dispatch.list_deliveries(
            {k: v for k, v in request.args.items()
             if k in ("department_code", "state", "ticket_no", "cursor", "limit")})

    @route("GET", "/api/v1/admin/deliveries/<int:delivery_id>",
           summary="推送详情 One delivery with every attempt (status, latency, response)",
           action="delivery.read")
    def delivery(self, request: Any, delivery_id: int) -> Any:
        self._authorize(request, "delivery.read")
        return self.dispatch.get_delivery(delivery_id)

    @route("POST", "/api/v1/admin/deliveries/<int:delivery_id>/replay",
           summary="重放死信 Put a dead-lettered delivery back in line", action="delivery.replay")
    def replay_delivery(self, request: Any, delivery_id: int) -> Any:
        who = self._authorize(request, "delivery.replay")
        return self.dispatch.replay_delivery(delivery_id, who.as_actor())

    # -- the department feed, pulled --
    @route("GET", "/api/v1/departments/<code>/inbox/events",
           summary="部门消息流 A department's feed entries after the cursor, oldest first (for "
           "systems behind a firewall; 涉密 orders never appear)", action="feed.read",
           query=("cursor", "limit"), department_scoped=True)
    def department_feed(self, request: Any, code: str) -> Any:
        who = self._authorize(request, "feed.read")
        if not who.has_scope("assignments"):
            raise Forbidden("密钥无此权限范围 the API key lacks the assignments scope",
                            {"action": "feed.read", "scope": "assignments"})
        require_department(who, code)
        return self.dispatch.feed(code, {k: v for k, v in request.args.items()
                                         if k in ("cursor", "limit")})
