"""Marshmallow schemas of knowledge's RPC payloads."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.knowledge.domain import ARTICLE_TYPES


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
