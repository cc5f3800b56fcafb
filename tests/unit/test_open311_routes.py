"""Unit tests of the Open311 edge (services/gateway/routes/open311.py): every failure answers
in the spec's error format and status, never a 500 or the gateway's JSON error shape; the
routes are recorded in ROUTES and described in the OpenAPI document. Nothing is started."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

import services.gateway.service  # noqa: F401  (registers the routes)
from services.gateway.http import ROUTES, BadRequest, Unauthorized
from services.gateway.open311_format import Open311Error
from services.gateway.openapi import openapi_document
from services.gateway.routes.open311 import error_response
from shared.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable


@pytest.mark.parametrize("exc, status", [
    (Open311Error(400, ("a", "b")), 400),
    (Invalid.fields({"phone": ["电话号码格式不正确"]}), 400),
    (BadRequest("bad"), 400),
    (Conflict("已答复", {"action": "reply", "state": "replied"}), 400),
    (NotFound("工单不存在"), 404),
    (Forbidden("无权"), 403),
    (Unauthorized("API 密钥无效"), 403),  # the spec: 403 for a missing or invalid api_key
    (Unavailable("服务超时"), 503),
    (RuntimeError("a bug"), 400),  # logged; the client is told it failed, never a 500
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_failure_in_the_spec_format(exc: Exception, status: int, fmt: str) -> None:
    r = error_response(exc, fmt, "trace-1")
    assert r.status_code == status
    if fmt == "json":
        errors = json.loads(r.get_data())
        assert isinstance(errors, list) and errors
        assert all(set(e) == {"code", "description"} and e["code"] == status for e in errors)
    else:
        root = ET.fromstring(r.get_data())
        assert root.tag == "errors" and len(root) >= 1
        assert all(e.findtext("code") == str(status) and e.findtext("description")
                   for e in root)


def test_invalid_names_each_field() -> None:
    r = error_response(Invalid.fields({"phone": ["格式不正确"], "email": ["太长"]}), "json")
    assert [e["description"] for e in json.loads(r.get_data())] == ["phone: 格式不正确",
                                                                     "email: 太长"]


def test_routes_are_recorded_and_documented() -> None:
    mine = {(r.method, r.path) for r in ROUTES if r.kind == "open311"}
    for resource in ("discovery", "services", "services/<service_code>", "requests",
                     "requests/<service_request_id>", "tokens/<token>", "servicerequestupdates"):
        assert ("GET", f"/open311/v2/{resource}.<fmt>") in mine
    assert ("POST", "/open311/v2/requests.<fmt>") in mine
    assert ("POST", "/open311/v2/servicerequestupdates.<fmt>") in mine
    assert all(r.action is None for r in ROUTES if r.kind == "open311")  # the key is a parameter
    post = openapi_document()["paths"]["/open311/v2/requests.{fmt}"]["post"]
    assert "application/x-www-form-urlencoded" in post["requestBody"]["content"]
    assert {"400", "403", "404"} <= set(post["responses"])
    assert "text/xml" in post["responses"]["200"]["content"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
