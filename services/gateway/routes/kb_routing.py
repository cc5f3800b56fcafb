"""Routing help (派单辅助): departments ranked for an order's text, with reasons.
Owned by knowledge: these routes only authenticate, authorize and call it."""

from __future__ import annotations

from typing import Any

from services.gateway.domain import Principal
from services.gateway.http import read_json, route
from services.gateway.openapi import SCHEMAS

SCHEMAS["RouteSuggestionQuery"] = {
    "type": "object", "required": ["text"],
    "description": "派单辅助: an order's text (and, where known, its category and territory)",
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 4000},
        "category": {"type": "string", "enum": ["consultation", "help", "complaint", "report",
                                                "suggestion", "praise", "other"]},
        "territory_code": {"type": "string", "maxLength": 32},
        "limit": {"type": "integer", "minimum": 1, "maximum": 20}}}


class KnowledgeRoutingRoutes:
    knowledge: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError

    @route("POST", "/api/v1/kb/route-suggestions",
           summary="派单辅助 Departments ranked for an order's text, with reasons",
           action="kb.route", body="RouteSuggestionQuery")
    def kb_route_suggestions(self, request: Any) -> Any:
        """``{confidence, terms, suggestions: [{department_code, department_name, score,
        reasons}]}``; an empty text or an unknown category is 422 naming the field."""
        self._authorize(request, "kb.route")
        return self.knowledge.suggest_departments(read_json(request))
