"""Unit tests for services.gateway.openapi: the OpenAPI 3.1 document generated from the routes.

Importing services.gateway.service registers every ``@route`` in services.gateway.http.ROUTES;
nothing is started.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import services.gateway.service  # noqa: F401  (registers the routes)
from services.gateway.domain import PERMISSIONS
from services.gateway.http import ROUTES
from services.gateway.openapi import SCHEMAS, openapi_document, openapi_path


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi_document()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items()
            for method, op in item.items()]


class TestOpenapiPath:
    @pytest.mark.parametrize("rule, path", [
        ("/api/v1/tickets/<ticket_no>", "/api/v1/tickets/{ticket_no}"),
        ("/api/v1/assignments/<int:assignment_id>/sign", "/api/v1/assignments/{assignment_id}/sign"),
        ("/a/<x>/b/<int:y>", "/a/{x}/b/{y}"),
        ("/health", "/health"),
    ])
    def test_converts_werkzeug_rules(self, rule: str, path: str) -> None:
        assert openapi_path(rule) == path


class TestDocument:
    def test_routes_were_registered(self) -> None:
        assert len(ROUTES) >= 20

    def test_header(self, doc: dict[str, Any]) -> None:
        assert doc["openapi"] == "3.1.0"
        assert doc["info"]["title"] and doc["info"]["version"]
        assert set(doc["components"]["securitySchemes"]) == {"bearer", "apiKey"}

    def test_every_route_but_the_catch_all_is_described(self, doc: dict[str, Any]) -> None:
        expected = {(openapi_path(r.path), m.lower()) for r in ROUTES if "<path:" not in r.path
                    for m in r.method.split(",")}
        actual = {(path, method) for path, method, _ in operations(doc)}
        assert actual == expected

    def test_catch_all_is_left_out(self, doc: dict[str, Any]) -> None:
        assert not any("path" in p or "<" in p for p in doc["paths"])

    @pytest.mark.parametrize("path, method", [
        ("/health", "get"), ("/api/v1/openapi.json", "get"), ("/api/v1/auth/token", "post"),
        ("/api/v1/tickets", "post"), ("/api/v1/tickets", "get"),
        ("/api/v1/tickets/{ticket_no}", "get"), ("/api/v1/tickets/{ticket_no}/dispatch", "post"),
        ("/api/v1/tickets/{ticket_no}/callback", "post"),
        ("/api/v1/tickets/{ticket_no}/close", "post"),
        ("/api/v1/departments/{code}/inbox", "get"),
        ("/api/v1/assignments/{assignment_id}/sign", "post"),
        ("/api/v1/assignments/{assignment_id}/reply", "post"),
        ("/api/v1/reports/kpis", "get"), ("/api/v1/kb/search", "get"),
    ])
    def test_architecture_contract_routes(self, doc: dict[str, Any], path: str,
                                          method: str) -> None:
        assert method in doc["paths"][path]

    def test_path_parameters_are_declared_and_typed(self, doc: dict[str, Any]) -> None:
        for path, _, op in operations(doc):
            names = re.findall(r"{(\w+)}", path)
            declared = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "path"}
            assert set(declared) == set(names), path
            for p in declared.values():
                assert p["required"] is True
        sign = doc["paths"]["/api/v1/assignments/{assignment_id}/sign"]["post"]
        assert sign["parameters"][0]["schema"] == {"type": "integer"}
        ticket = doc["paths"]["/api/v1/tickets/{ticket_no}"]["get"]
        assert ticket["parameters"][0]["schema"] == {"type": "string"}

    def test_query_parameters(self, doc: dict[str, Any]) -> None:
        kpis = doc["paths"]["/api/v1/reports/kpis"]["get"]
        assert {p["name"] for p in kpis["parameters"] if p["in"] == "query"} == {
            "period", "from", "to", "group_by"}

    def test_idempotency_key_header_on_registration(self, doc: dict[str, Any]) -> None:
        params = doc["paths"]["/api/v1/tickets"]["post"]["parameters"]
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in params)

    def test_operation_ids_are_unique(self, doc: dict[str, Any]) -> None:
        ids = [op["operationId"] for _, _, op in operations(doc)]
        assert len(ids) == len(set(ids))

    def test_request_bodies_reference_existing_schemas(self, doc: dict[str, Any]) -> None:
        for _, _, op in operations(doc):
            if "requestBody" in op:  # JSON, or form-encoded for Open311
                (content,) = op["requestBody"]["content"].values()
                ref = content["schema"]["$ref"]
                assert ref.removeprefix("#/components/schemas/") in SCHEMAS
        assert "requestBody" in doc["paths"]["/api/v1/tickets"]["post"]

    def test_protected_routes_list_their_roles(self, doc: dict[str, Any]) -> None:
        by_name = {r.name: r for r in ROUTES}
        for _, _, op in operations(doc):
            action = by_name[op["operationId"]].action
            if action is None:
                assert "security" not in op
            else:
                assert op["x-roles"] == sorted(PERMISSIONS[action])
                assert op["security"] == [{"bearer": []}, {"apiKey": []}]
        assert doc["paths"]["/api/v1/tickets/{ticket_no}/dispatch"]["post"]["x-roles"] == [
            "admin", "dispatcher"]

    def test_registration_schema_matches_the_vocabulary(self) -> None:
        from services.intake.schemas import MAX_CONTENT
        from shared.vocabulary import CATEGORIES, CHANNELS, URGENCIES

        props = SCHEMAS["Registration"]["properties"]
        assert props["category"]["enum"] == list(CATEGORIES)
        assert props["channel"]["enum"] == list(CHANNELS)
        assert props["urgency"]["enum"] == list(URGENCIES)
        assert props["content"]["maxLength"] == MAX_CONTENT

    def test_is_plain_json(self, doc: dict[str, Any]) -> None:
        assert json.loads(json.dumps(doc, ensure_ascii=False)) == doc

    def test_is_valid_openapi_3_1(self, doc: dict[str, Any]) -> None:
        validator = pytest.importorskip("openapi_spec_validator")
        validator.validate(doc)
