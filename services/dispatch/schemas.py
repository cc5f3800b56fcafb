"""Marshmallow schemas of dispatch's RPC payloads."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate


class TerritorySchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    level = fields.String(required=True,
                          validate=validate.OneOf(["city", "district", "street", "community"]))
    parent_code = fields.String(load_default=None, allow_none=True)


class DepartmentSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(required=True, validate=validate.OneOf(
        ["center", "bureau", "district", "street", "community"]))
    parent_code = fields.String(load_default=None, allow_none=True)
    territory_code = fields.String(load_default=None, allow_none=True)
    active = fields.Boolean(load_default=True)


class RuleSchema(Schema):
    id = fields.Integer(load_default=None, allow_none=True)
    category = fields.String(load_default=None, allow_none=True)
    keywords = fields.List(fields.String(validate=validate.Length(min=1, max=50)), load_default=list)
    territory_code = fields.String(load_default=None, allow_none=True)
    lead = fields.String(required=True)
    assists = fields.List(fields.String(), load_default=list)
    priority = fields.Integer(load_default=0)
    active = fields.Boolean(load_default=True)
    note = fields.String(load_default=None, allow_none=True)


class ReferenceSchema(Schema):
    territories = fields.List(fields.Nested(TerritorySchema), load_default=list)
    departments = fields.List(fields.Nested(DepartmentSchema), load_default=list)
    rules = fields.List(fields.Nested(RuleSchema), load_default=list)


class ManualDispatchSchema(Schema):
    lead = fields.String(required=True, validate=validate.Length(min=1, max=32))
    assists = fields.List(fields.String(validate=validate.Length(min=1, max=32)),
                          load_default=list)


class ReplySchema(Schema):
    reply = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class InboxQuerySchema(Schema):
    cursor = fields.Integer(load_default=None, allow_none=True)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    state = fields.String(load_default=None, allow_none=True,
                          validate=validate.OneOf(["dispatched", "signed", "replied",
                                                   "return_requested", "returned"]))


class AssignmentSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.Integer()
    ticket_no = fields.String()
    department_code = fields.String()
    role = fields.String()
    round = fields.Integer()
    state = fields.String()
    dispatched_at = fields.AwareDateTime()
    dispatched_by = fields.String()
    rule_id = fields.Integer(allow_none=True)
    signed_at = fields.AwareDateTime(allow_none=True)
    signed_by = fields.String(allow_none=True)
    replied_at = fields.AwareDateTime(allow_none=True)
    replied_by = fields.String(allow_none=True)
    reply = fields.String(allow_none=True)


class InboxItemSchema(AssignmentSchema):
    category = fields.String()
    urgency = fields.String()
    title = fields.String()
    content = fields.String()
    caller_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    territory_code = fields.String(allow_none=True)
    confidential = fields.Boolean()
