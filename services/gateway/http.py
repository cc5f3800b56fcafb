"""The gateway's HTTP entrypoint: JSON in and out, one table from error types to status codes.

Routes are declared with :func:`route`, which also records them in :data:`ROUTES` so the
OpenAPI document and the access-matrix tests are generated from the same list.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from eventlet.event import Event as GreenEvent
from nameko.exceptions import RemoteError
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from shared.errors import Conflict, Forbidden, HotlineError, Invalid, NotFound, Unavailable

log = logging.getLogger(__name__)


class Unauthorized(HotlineError):
    code = "unauthorized"


class BadRequest(HotlineError):
    code = "bad_request"


STATUS: list[tuple[type[Exception], int]] = [
    (Invalid, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Forbidden, 403),
    (Unauthorized, 401),
    (BadRequest, 400),
    (Unavailable, 503),
]


def status_of(exc: Exception) -> int | None:
    """The HTTP status of one of our errors (:data:`STATUS`); ``None`` for anything else."""
    return next((code for exc_type, code in STATUS if isinstance(exc, exc_type)), None)


def error_response(exc: Exception, trace_id: str | None = None) -> Response:
    mapped = status_of(exc)
    if mapped is not None:
        status = mapped
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}  # type: ignore[attr-defined]
        body.update(exc.details)  # type: ignore[attr-defined]
    elif isinstance(exc, HTTPException):
        status = exc.code or 500
        body = {"code": "http_error", "message": exc.description}
    else:
        status = 500
        body = {"code": "internal_error", "message": "内部错误 internal error"}
        if isinstance(exc, RemoteError):
            log.error("remote error", extra={"exc_type": exc.exc_type, "value": exc.value})
        else:
            log.error("unhandled error", exc_info=exc)
    if trace_id:
        body["trace_id"] = trace_id
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return json_response({"error": body}, status, headers)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False, default=str), status=status,
                    headers=headers, mimetype="application/json")


class JsonRoute(HttpRequestHandler):
    """``@route`` entrypoint: a trace id per request, JSON results, mapped errors."""

    def handle_request(self, request: Any) -> Response:
        request.shallow = False
        trace_id = request.headers.get("X-Trace-Id") or str(uuid.uuid4())
        try:
            context_data = self.server.context_data_from_headers(request)
            context_data["trace_id"] = trace_id
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            done = GreenEvent()
            self.container.spawn_worker(self, args, kwargs, context_data=context_data,
                                        handle_result=partial(self.handle_result, done))
            response = self.response_from_result(done.wait())
        except Exception as exc:
            response = error_response(exc, trace_id)
        response.headers["X-Trace-Id"] = trace_id
        return response

    def get_entrypoint_parameters(self, request: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (request,), dict(request.path_values)

    def response_from_result(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            status, payload = result[0], result[1]
            headers = result[2] if len(result) > 2 else None
        else:
            status, payload, headers = 200, result, None
        return json_response(payload, status, headers)

    def response_from_exception(self, exc: Exception) -> Response:
        return error_response(exc)

    def handle_result(self, event: Any, worker_ctx: Any, result: Any, exc_info: Any) -> Any:
        if exc_info is not None:  # map here so the response carries the trace id
            result, exc_info = error_response(exc_info[1], worker_ctx.data.get("trace_id")), None
        return super().handle_result(event, worker_ctx, result, exc_info)


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str  # werkzeug rule, e.g. /api/v1/tickets/<ticket_no>
    name: str
    summary: str
    action: str | None  # permission name; None = public
    body: str | None = None  # name of the request schema in the OpenAPI document
    query: tuple[str, ...] = ()
    # takes an ``Idempotency-Key`` header (services/gateway/idempotency.py)
    idempotent: bool = False
    responses: dict[int, str] = field(default_factory=dict)
    department_scoped: bool = False
    # -- Step 3 open311: ``json`` (this module's entrypoint) or ``open311`` (GeoReport v2:
    # form-encoded bodies, XML/JSON answers, its own error format and api_key parameter;
    # routes/open311.py). Public to the access rules (``action`` None): a key is checked there.
    kind: str = "json"


ROUTES: list[RouteSpec] = []


def route(method: str, path: str, *, summary: str, action: str | None,
          body: str | None = None, query: tuple[str, ...] = (),
          department_scoped: bool = False, idempotent: bool = False) -> Any:
    """Declare a route. Its call goes through the service's ``run_route(spec, call, request)``
    when the service has one (the gateway's: idempotency keys, auditing refusals)."""
    if idempotent and (action is None or method == "GET"):
        raise ValueError(f"{path}: only protected actions take an Idempotency-Key")

    def decorate(fn: Any) -> Any:
        spec = RouteSpec(method, path, fn.__name__, summary, action, body, query,
                         department_scoped=department_scoped, idempotent=idempotent)
        ROUTES.append(spec)

        @functools.wraps(fn)
        def entrypoint(self: Any, request: Any, **values: Any) -> Any:
            run = getattr(self, "run_route", None)
            if run is None:
                return fn(self, request, **values)
            return run(spec, partial(fn, self, request, **values), request)

        return JsonRoute.decorator(method, path, expected_exceptions=(HotlineError,))(entrypoint)
    return decorate


def read_json(request: Any) -> dict[str, Any]:
    if not request.get_data():
        return {}
    try:
        payload = json.loads(request.get_data(as_text=True))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("请求体不是合法的 JSON body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise Invalid.fields({"_body": ["请求体必须是 JSON 对象 body must be a JSON object"]})
    return payload
