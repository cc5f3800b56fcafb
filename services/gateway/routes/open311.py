"""Open311 GeoReport v2 (docs/OPEN311.md) and mySociety's servicerequestupdates extension.

Its own entrypoint (:class:`Open311Route`): answers in the resource's format (``.xml``, the
required one, or ``.json``), errors in the spec's format (``[{"code", "description"}]`` /
``<errors><error>…``) with its statuses — 400 missing or bad parameter, 403 missing, unknown,
revoked or unscoped ``api_key``, 404 unknown resource — never the gateway's JSON error shape
and never a 500. The wire rules are in ``services/gateway/open311_format.py``.

Who may read what: ``discovery``, ``services``, ``requests`` and ``servicerequestupdates``
(``GET``) are public, as the spec has them (no key). They show only the citizen progress read
model of intake (流程查询), which holds no personal field and never a confidential (涉密)
order; whose free text is shown is intake's ``text`` policy (configuration ``OPEN311.text``,
default: only orders submitted through Open311). ``POST requests`` needs an API key with scope
``open311``; ``POST servicerequestupdates`` a department system's key with that scope.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Any

from eventlet.event import Event as GreenEvent
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from services.gateway import access
from services.gateway import open311_format as o311
from services.gateway.domain import Principal
from services.gateway.http import ROUTES, BadRequest, JsonRoute, RouteSpec, Unauthorized
from shared.errors import Conflict, Forbidden, HotlineError, Invalid, NotFound, Unavailable
from shared.events import utcnow

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
OPEN_ASSIGNMENT_STATES = ("dispatched", "signed")


def error_response(exc: Exception, fmt: str, trace_id: str | None = None) -> Response:
    """Any failure as the spec's error answer."""
    if isinstance(exc, o311.Open311Error):
        err = exc
    elif isinstance(exc, Invalid):
        fields = exc.details.get("fields") or {}
        err = o311.Open311Error(400, tuple(_flatten(fields)) or (exc.message,))
    elif isinstance(exc, NotFound):
        err = o311.Open311Error.one(404, exc.message)
    elif isinstance(exc, Forbidden | Unauthorized):
        err = o311.Open311Error.one(403, exc.message)
    elif isinstance(exc, BadRequest | Conflict):
        err = o311.Open311Error.one(400, exc.message)
    elif isinstance(exc, Unavailable):
        err = o311.Open311Error.one(503, exc.message)
    elif isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        err = o311.Open311Error.one(exc.code, str(exc.description))
    else:  # the spec's "400 … failure": a client is told it failed, the log says why
        log.error("open311 request failed", exc_info=exc, extra={"trace_id": trace_id})
        err = o311.Open311Error.one(400, "请求处理失败 the request failed"
                                    + (f" (trace {trace_id})" if trace_id else ""))
    body, mimetype = o311.render(fmt, "errors", err.payload())
    return Response(body, status=err.status, headers={"Content-Type": mimetype})


def _flatten(fields: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, msgs in fields.items():
        if isinstance(msgs, dict):
            out += _flatten(msgs, f"{prefix}{name}.")
        else:
            out += [f"{prefix}{name}: {m}" for m in (msgs if isinstance(msgs, list) else [msgs])]
    return out


class Open311Route(JsonRoute):
    """``@open311_route`` entrypoint: a trace id per request, answers and errors as Open311's."""

    def handle_request(self, request: Any) -> Response:
        request.shallow = False
        trace_id = request.headers.get("X-Trace-Id") or str(uuid.uuid4())
        fmt = o311.fmt_of(request.path)
        try:
            context_data = self.server.context_data_from_headers(request)
            context_data["trace_id"] = trace_id
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            done = GreenEvent()
            self.container.spawn_worker(self, args, kwargs, context_data=context_data,
                                        handle_result=partial(self.handle_result, done))
            response = self.response_from_result(done.wait())
        except Exception as exc:  # noqa: BLE001 - every failure answers in Open311's format
            response = error_response(exc, fmt, trace_id)
        response.headers["X-Trace-Id"] = trace_id
        return response

    def handle_result(self, event: Any, worker_ctx: Any, result: Any, exc_info: Any) -> Any:
        if exc_info is not None:
            request = worker_ctx.args[0]
            result = error_response(exc_info[1], o311.fmt_of(request.path),
                                    worker_ctx.data.get("trace_id"))
            exc_info = None
        return HttpRequestHandler.handle_result(self, event, worker_ctx, result, exc_info)


def open311_route(method: str, path: str, *, summary: str, query: tuple[str, ...] = (),
                  body: str | None = None) -> Any:
    """Like ``http.route`` (recorded in ``ROUTES`` as kind ``open311``), with Open311's
    answers. Paths are under ``/open311/v2``; ``<fmt>`` is the resource's format."""
    def decorate(fn: Any) -> Any:
        ROUTES.append(RouteSpec(method, PREFIX + path, fn.__name__, summary, None, body, query,
                                kind="open311"))
        return Open311Route.decorator(method, PREFIX + path,
                                      expected_exceptions=(HotlineError, o311.Open311Error))(fn)
    return decorate


_GET_REQUESTS = ("jurisdiction_id", "service_request_id", "service_code", "start_date",
                 "end_date", "status", "page", "page_size")


class Open311Routes:
    # -- public reads ------------------------------------------------------------------------
    @open311_route("GET", "/discovery.<fmt>", summary="Open311 服务发现 Service discovery")
    def open311_discovery(self, request: Any, fmt: str) -> Any:
        self._format(fmt)
        settings = self._open311_settings()
        return self._answer(fmt, "discovery", o311.discovery(
            request.host_url.rstrip("/") + PREFIX, settings["contact"]))

    @open311_route("GET", "/services.<fmt>", summary="Open311 服务列表（诉求类别） Services: "
                   "our categories", query=("jurisdiction_id",))
    def open311_services(self, request: Any, fmt: str) -> Any:
        self._format(fmt)
        self._jurisdiction(request.args)
        return self._answer(fmt, "services", o311.services())

    @open311_route("GET", "/services/<service_code>.<fmt>",
                   summary="Open311 服务定义 A service's definition (attributes)",
                   query=("jurisdiction_id",))
    def open311_service_definition(self, request: Any, service_code: str, fmt: str) -> Any:
        self._format(fmt)
        self._jurisdiction(request.args)
        return self._answer(fmt, "service_definition",
                            o311.service_definition(service_code, self._territories()))

    @open311_route("GET", "/requests.<fmt>", summary="Open311 查询诉求 Service requests "
                   "(public: no personal field, never a confidential order)", query=_GET_REQUESTS)
    def open311_requests(self, request: Any, fmt: str) -> Any:
        self._format(fmt)
        self._jurisdiction(request.args)
        query = o311.parse_requests_query(request.args, utcnow())
        result = self.intake.citizen_progress({**query, **self._policy()})
        answer = self._answer(fmt, "requests", self._requests(result["items"]))
        answer.headers["X-Total-Count"] = str(result["total"])  # for page / page_size
        return answer

    @open311_route("GET", "/requests/<service_request_id>.<fmt>",
                   summary="Open311 单个诉求 One service request", query=("jurisdiction_id",))
    def open311_request(self, request: Any, service_request_id: str, fmt: str) -> Any:
        self._format(fmt)
        self._jurisdiction(request.args)
        policy = self._policy()
        view = self.intake.citizen_progress_of(service_request_id, policy["text"],
                                               policy["listing"])
        return self._answer(fmt, "requests", self._requests([view]))

    @open311_route("GET", "/tokens/<token>.<fmt>", summary="Open311 令牌查询 The request a "
                   "token stands for", query=("jurisdiction_id",))
    def open311_token(self, request: Any, token: str, fmt: str) -> Any:
        self._format(fmt)
        self._jurisdiction(request.args)
        found = self.intake.open311_token(token)
        return self._answer(fmt, "requests", [{"service_request_id": found["ticket_no"],
                                               "token": found["token"]}])

    @open311_route("GET", "/servicerequestupdates.<fmt>",
                   summary="Open311 办理进展 (mySociety servicerequestupdates): public "
                   "progress steps between start_date and end_date",
                   query=("jurisdiction_id", "start_date", "end_date", "page", "page_size"))
    def open311_updates(self, request: Any, fmt: str) -> Any:
        self._format(fmt)
        self._jurisdiction(request.args)
        query = o311.parse_updates_query(request.args, utcnow())
        result = self.intake.progress_updates({**query, **self._policy()})
        return self._answer(fmt, "updates", [o311.request_update(i) for i in result["items"]])

    # -- writes (api_key) --------------------------------------------------------------------
    @open311_route("POST", "/requests.<fmt>", summary="Open311 提交诉求 Submit a service "
                   "request (form-encoded, api_key with scope open311; header Idempotency-Key "
                   "makes a retry return the first order)", body="Open311Request")
    def open311_submit(self, request: Any, fmt: str) -> Any:
        self._format(fmt)
        form = _form(request)
        self._jurisdiction(form)
        who = self._open311_key(form, request)
        submission = o311.parse_submission(form, self._territories())
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 1 <= len(key) <= 60:
            raise o311.bad("Idempotency-Key 长度须为1到60 length must be 1..60")
        ticket = self.intake.register_open311(submission, who.as_actor(),
                                              f"open311:{who.name}:{key}" if key else None)
        return self._answer(fmt, "requests", o311.submitted(ticket))

    @open311_route("POST", "/servicerequestupdates.<fmt>",
                   summary="Open311 部门系统回传进展 (mySociety servicerequestupdates): a "
                   "department system's update — a progress note on its open assignment, or "
                   "with status CLOSED its reply (lead) or opinion (assistant)",
                   body="Open311Update")
    def open311_post_update(self, request: Any, fmt: str) -> Any:
        self._format(fmt)
        form = _form(request)
        self._jurisdiction(form)
        who = self._open311_key(form, request)
        if who.role != "department" or not who.department_code:
            raise o311.Open311Error.one(403, "仅承办单位系统的密钥可回传进展 only a department "
                                        "system's key may post updates")
        update = o311.parse_update_post(form)
        return self._answer(fmt, "updates", [{"update_id": self._apply_update(who, update)}])

    @open311_route("GET,POST,PUT,PATCH,DELETE", "/<path:rest>",
                   summary="Open311 未知资源 Unknown resource (404)")
    def open311_not_found(self, request: Any, rest: str) -> Any:
        raise o311.Open311Error.one(404, f"资源不存在 no such resource {PREFIX}/{rest}")

    # -- helpers -----------------------------------------------------------------------------
    def _apply_update(self, who: Principal, update: dict[str, Any]) -> str:
        """The department's own assignment on the order (its latest open one) gets the update;
        an order it has none on — or a confidential one, never shown to department systems —
        is not found."""
        dept, actor, no = who.department_code, who.as_actor(), update["service_request_id"]
        not_found = o311.Open311Error.one(404, f"工单不存在 order {no} not found")
        try:
            ticket = self.intake.get_ticket(no)
        except NotFound:
            raise not_found from None
        mine = [a for a in self.dispatch.assignments_of(no) if a["department_code"] == dept]
        if ticket.get("confidential") or not mine:
            raise not_found
        active = [a for a in mine if a["state"] in OPEN_ASSIGNMENT_STATES]
        if not active:
            last = mine[-1]
            if update["closed"] and last["state"] == "replied" \
                    and last.get("reply") == update["description"]:
                return f"reply-{last['id']}"  # a retry of the reply that closed it
            if update["closed"] and last["state"] == "opinion_submitted" \
                    and last.get("opinion") == update["description"]:
                return f"opinion-{last['id']}"  # a retry of the opinion
            raise o311.bad("本单位在该工单上已无在办任务 your department has no open "
                           "assignment on this order")
        a = active[-1]
        if update["closed"]:
            if a["state"] == "dispatched":  # a system answering at once signed for it too
                self.dispatch.sign(a["id"], dept, actor)
            if a["role"] == "lead":
                self.dispatch.reply(a["id"], dept, {"reply": update["description"]}, actor)
                return f"reply-{a['id']}"
            self.dispatch.submit_opinion(a["id"], dept, {"opinion": update["description"]},
                                         actor)
            return f"opinion-{a['id']}"
        note = self.dispatch.note_progress(a["id"], dept, {"note": update["description"]}, actor)
        return f"note-{note['id']}"

    def _territories(self) -> list[dict[str, str]]:
        return o311.territory_values(self.dispatch.territories())

    def _requests(self, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names: dict[str, str] = {}
        if any(v.get("lead_department") for v in views):
            names = {d["code"]: d["name"] for d in self.dispatch.departments()}
        return [o311.service_request(v, names) for v in views]

    def _open311_key(self, params: Any, request: Any) -> Principal:
        """The ``api_key`` parameter (or, for department systems used to the REST API, the
        ``X-Api-Key`` header): missing, unknown, revoked or without scope ``open311`` → 403."""
        text = o311.present(params, "api_key") or request.headers.get("X-Api-Key") or None
        if text is None:
            raise o311.Open311Error.one(403, "缺少 api_key api_key is required")
        try:
            who = access.api_key_principal(self.db, text)  # audits unknown and revoked keys
        except Unauthorized as exc:
            raise o311.Open311Error.one(403, exc.message) from None
        if not who.has_scope("open311"):
            access.audit(self.db, who.name, "auth.scope_refused", who.name.removeprefix("apikey:"),
                         {"scope": "open311", "route": "open311"})
            raise o311.Open311Error.one(403, "该密钥无 open311 权限 this key lacks scope open311")
        return who

    def _open311_settings(self) -> dict[str, str]:
        settings, problems = o311.settings(self.config.get("OPEN311") or {})
        for problem in problems:
            log.warning("OPEN311 configuration: %s", problem)
        return settings

    def _policy(self) -> dict[str, str]:
        settings = self._open311_settings()
        return {"listing": settings["listing"], "text": settings["text"]}

    def _jurisdiction(self, params: Any) -> None:
        o311.check_jurisdiction(params, self._open311_settings()["jurisdiction_id"])

    @staticmethod
    def _format(fmt: str) -> None:
        if fmt not in o311.FORMATS:
            raise o311.Open311Error.one(404, f"不支持的格式 unsupported format .{fmt} "
                                        "(xml or json)")

    @staticmethod
    def _answer(fmt: str, kind: str, payload: Any, status: int = 200) -> Response:
        body, mimetype = o311.render(fmt, kind, payload)
        return Response(body, status=status, headers={"Content-Type": mimetype})


def _form(request: Any) -> dict[str, str]:
    """POST parameters: the form-encoded body; query-string parameters too (some clients send
    ``api_key`` there), the body winning."""
    return {**request.args.to_dict(), **request.form.to_dict()}
