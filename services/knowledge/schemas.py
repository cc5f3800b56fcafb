"""Marshmallow schemas of knowledge's RPC payloads."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from services.knowledge.domain import ARTICLE_TYPES
from shared.vocabulary import CATEGORIES


class ArticleInSchema(Schema):
    article_type = fields.String(required=True, validate=validate.OneOf(list(ARTICLE_TYPES)))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    department_code = fields.String(load_default=None, allow_none=True)
    publish = fields.Boolean(load_default=False)


class ArticleSchema(Schema):
    id = fields.Integer()
    article_type = fields.String()
    title = fields.String()
    body = fields.String()
    department_code = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.AwareDateTime()
    published_at = fields.AwareDateTime(allow_none=True)


class SearchSchema(Schema):
    q = fields.String(required=True)
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class RouteSuggestionQuerySchema(Schema):
    """派单辅助 on demand (the dispatcher's console): an order's text and, where known, its
    category and territory."""

    text = fields.String(required=True, validate=validate.Length(max=4000))
    category = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(list(CATEGORIES),
                                                     error="未知类别 unknown category"))
    territory_code = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(min=1, max=32))
    limit = fields.Integer(load_default=None, allow_none=True,
                           validate=validate.Range(min=1, max=20))

    @validates("text")
    def _not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("工单内容不能为空 text must not be empty")
