"""Marshmallow schemas of knowledge's RPC payloads (in) and answers (out)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, validate
from marshmallow import fields as ma

from services.knowledge.domain import ARTICLE_TYPES, STATUSES
from shared.vocabulary import CATEGORIES

_code = ma.String(validate=validate.Length(min=1, max=32))


class ArticleInSchema(Schema):
    """A new entry (录入). ``department_code``: the owner (a department's own when omitted);
    ``categories`` / ``territories`` it applies to ([] = all); ``fields``: a guide's fields
    (see domain.GUIDE_FIELDS; labelled parts of the body fill those not given); ``publish``:
    the center publishes at once (demo data, its own entries)."""

    article_type = ma.String(required=True, validate=validate.OneOf(list(ARTICLE_TYPES)))
    title = ma.String(required=True, validate=validate.Length(min=1, max=200))
    body = ma.String(required=True, validate=validate.Length(min=1, max=100_000))
    department_code = ma.String(load_default=None, allow_none=True,
                                    validate=validate.Length(min=1, max=32))
    guide_fields = ma.Dict(data_key="fields", keys=ma.String(), values=ma.Raw(), load_default=dict)
    categories = ma.List(ma.String(validate=validate.OneOf(list(CATEGORIES))),
                             load_default=list, validate=validate.Length(max=len(CATEGORIES)))
    territories = ma.List(_code, load_default=list, validate=validate.Length(max=100))
    valid_from = ma.Date(load_default=None, allow_none=True)
    valid_until = ma.Date(load_default=None, allow_none=True)
    review_due = ma.Date(load_default=None, allow_none=True)
    note = ma.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    publish = ma.Boolean(load_default=False)


class ArticleEditSchema(Schema):
    """An edit (a new version): only the fields given change; ``base_version`` (optional) is
    the version the editor started from — a newer one means someone else edited (409). The
    type of an entry is fixed (its versions' fields depend on it)."""

    title = ma.String(validate=validate.Length(min=1, max=200))
    body = ma.String(validate=validate.Length(min=1, max=100_000))
    department_code = ma.String(allow_none=True, validate=validate.Length(min=1, max=32))
    guide_fields = ma.Dict(data_key="fields", keys=ma.String(), values=ma.Raw())
    categories = ma.List(ma.String(validate=validate.OneOf(list(CATEGORIES))),
                             validate=validate.Length(max=len(CATEGORIES)))
    territories = ma.List(_code, validate=validate.Length(max=100))
    valid_from = ma.Date(allow_none=True)
    valid_until = ma.Date(allow_none=True)
    review_due = ma.Date(allow_none=True)
    note = ma.String(allow_none=True, validate=validate.Length(max=500))
    base_version = ma.Integer(validate=validate.Range(min=1))


class ActionSchema(Schema):
    """submit / publish / archive: an optional comment (archive: the reason)."""

    comment = ma.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=500))


class RejectionSchema(Schema):
    comment = ma.String(required=True, validate=validate.Length(min=2, max=500))


class ReadSchema(Schema):
    """Options of reading one entry: a given ``version`` (editors), and what the read was for
    (``via`` search | direct | routing; ``ticket_no`` of the call it was opened on)."""

    class Meta:
        unknown = EXCLUDE

    version = ma.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    via = ma.String(load_default="direct", validate=validate.OneOf(
        ["search", "direct", "routing"]))
    ticket_no = ma.String(load_default=None, allow_none=True,
                              validate=validate.Length(min=1, max=20))


class ListSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = ma.String(load_default=None, validate=validate.OneOf(list(STATUSES)))
    article_type = ma.String(load_default=None, validate=validate.OneOf(list(ARTICLE_TYPES)))
    department_code = ma.String(load_default=None, validate=validate.Length(max=32))
    review_due_before = ma.Date(load_default=None)
    limit = ma.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = ma.Integer(load_default=0, validate=validate.Range(min=0))


class DiffQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    from_ = ma.Integer(data_key="from", required=True, validate=validate.Range(min=1))
    to = ma.Integer(required=True, validate=validate.Range(min=1))


class SearchSchema(Schema):
    """A search: ``q`` (required; over 200 characters truncated), filters, paging."""

    class Meta:
        unknown = EXCLUDE

    q = ma.String(load_default="")
    article_type = ma.String(load_default=None, validate=validate.OneOf(list(ARTICLE_TYPES)))
    department_code = ma.String(load_default=None, validate=validate.Length(max=32))
    category = ma.String(load_default=None, validate=validate.OneOf(list(CATEGORIES)))
    territory_code = ma.String(load_default=None, validate=validate.Length(max=32))
    limit = ma.Integer(load_default=10, validate=validate.Range(min=1, max=50))
    offset = ma.Integer(load_default=0, validate=validate.Range(min=0, max=1000))


class VersionSchema(Schema):
    version = ma.Integer()
    title = ma.String()
    body = ma.String()
    guide_fields = ma.Dict(data_key="fields", attribute="fields")
    categories = ma.List(ma.String())
    territories = ma.List(ma.String())
    valid_from = ma.Date(allow_none=True)
    valid_until = ma.Date(allow_none=True)
    review_due = ma.Date(allow_none=True)
    edited_at = ma.AwareDateTime()
    edited_by = ma.String(allow_none=True)
    note = ma.String(allow_none=True)


class VersionSummarySchema(Schema):
    version = ma.Integer()
    title = ma.String()
    edited_at = ma.AwareDateTime()
    edited_by = ma.String(allow_none=True)
    note = ma.String(allow_none=True)


class ArticleEventSchema(Schema):
    version = ma.Integer()
    action = ma.String()
    from_status = ma.String(allow_none=True)
    to_status = ma.String()
    actor = ma.String()
    at = ma.AwareDateTime()
    comment = ma.String(allow_none=True)


class ArticleSchema(Schema):
    """An entry as editors and staff read it: the entry's state, then the content of the
    version shown (``version``; ``view`` says whether it is the working or the live one)."""

    id = ma.Integer()
    article_type = ma.String()
    department_code = ma.String(allow_none=True)
    status = ma.String()
    current_version = ma.Integer()
    published_version = ma.Integer(allow_none=True)
    source = ma.String(allow_none=True)
    created_at = ma.AwareDateTime()
    created_by = ma.String(allow_none=True)
    updated_at = ma.AwareDateTime(allow_none=True)
    updated_by = ma.String(allow_none=True)
    published_at = ma.AwareDateTime(allow_none=True)
    archived_at = ma.AwareDateTime(allow_none=True)
    archive_reason = ma.String(allow_none=True)


class PublicArticleSchema(Schema):
    """What the public reads of a live entry: its content, no workflow or internal ma."""

    id = ma.Integer()
    article_type = ma.String()
    article_type_name = ma.String()
    department_code = ma.String(allow_none=True)
    version = ma.Integer()
    title = ma.String()
    body = ma.String()
    guide_fields = ma.Dict(data_key="fields", attribute="fields")
    categories = ma.List(ma.String())
    territories = ma.List(ma.String())
    valid_from = ma.Date(allow_none=True)
    valid_until = ma.Date(allow_none=True)
    published_at = ma.AwareDateTime(allow_none=True)
