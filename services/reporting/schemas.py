"""Marshmallow schemas of reporting's RPC payloads."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.reporting.domain import GROUP_BY, MAX_RANGE_DAYS


class KpiQuerySchema(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    group_by = fields.String(load_default="department")

    @validates_schema
    def _check(self, data: dict, **_: object) -> None:
        if data.get("group_by") not in GROUP_BY:
            raise ValidationError(f"未知的分组 unknown group_by; valid: {', '.join(GROUP_BY)}",
                                  "group_by")
        if "from_" in data and "to" in data:
            if data["to"] < data["from_"]:
                raise ValidationError("结束日期早于开始日期 to is before from", "to")
            if (data["to"] - data["from_"]).days > MAX_RANGE_DAYS:
                raise ValidationError("时间范围不能超过3年 range longer than 3 years", "to")


# -- department assessment 部门考核 ----------------------------------------------------------------

class QuarterField(fields.String):
    """An assessment quarter by its key ``2026Q1`` (the assessment year ends in November) →
    (year, quarter)."""

    def _deserialize(self, value: object, attr: str | None, data: object,
                     **kwargs: object) -> tuple[int, int]:
        from services.reporting.periods import PeriodError, parse, quarter_of

        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            period = parse(text)
        except PeriodError as exc:
            raise ValidationError(str(exc)) from exc
        if period.kind != "quarter":
            raise ValidationError("应为考核季度，如 2026Q1 must be an assessment quarter such as "
                                  "2026Q1")
        return quarter_of(period.start)


_REASON = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AssessmentQuerySchema(Schema):
    quarter = QuarterField(required=True)
    department_code = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    status = fields.String(load_default=None,
                           validate=validate.OneOf(("draft", "published", "superseded")))


class AssessmentRunSchema(Schema):
    """Compute (draft) or publish: one department or every department of the quarter."""

    quarter = QuarterField(required=True)
    department_code = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    departments = fields.List(fields.String(validate=validate.Length(min=1, max=32)),
                              load_default=list, validate=validate.Length(max=500))


class AssessmentItemSchema(Schema):
    """A manual item: the rule (a manual rule of the quarter's rule set), why, how many times."""

    rule = fields.String(required=True, validate=validate.Length(min=1, max=40))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    count = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))
    ticket_no = fields.String(load_default=None, validate=validate.Length(min=1, max=20))
    occurred_on = fields.Date(load_default=None)
    points = fields.Float(load_default=None)  # only for a variable rule (比照类似情形)

    @validates_schema
    def _reason_not_blank(self, data: dict, **_: object) -> None:
        if "reason" in data and not data["reason"].strip():
            raise ValidationError("理由不能为空 a reason is required", "reason")


class AssessmentItemInSchema(AssessmentItemSchema):
    quarter = QuarterField(required=True)
    department_code = fields.String(required=True, validate=validate.Length(min=1, max=32))


class ItemQuerySchema(Schema):
    quarter = QuarterField(required=True)
    department_code = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    include_revoked = fields.Boolean(load_default=False)


class RevokeSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))

    @validates_schema
    def _reason_not_blank(self, data: dict, **_: object) -> None:
        if "reason" in data and not data["reason"].strip():
            raise ValidationError("理由不能为空 a reason is required", "reason")


class RevokeRefSchema(RevokeSchema):
    item_id = fields.Integer(required=True)


class EvidenceSchema(Schema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    ticket_no = fields.String(load_default=None, validate=validate.Length(min=1, max=20))
    url = fields.Url(load_default=None, schemes={"http", "https"})


class ObjectionInSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    evidence = fields.List(fields.Nested(EvidenceSchema), required=True,
                           validate=validate.Length(min=1, max=20))

    @validates_schema
    def _reason_not_blank(self, data: dict, **_: object) -> None:
        if "reason" in data and not data["reason"].strip():
            raise ValidationError("理由不能为空 a reason is required", "reason")


class AdjustmentsSchema(Schema):
    add = fields.List(fields.Nested(AssessmentItemSchema), load_default=list,
                      validate=validate.Length(max=50))
    revoke = fields.List(fields.Nested(RevokeRefSchema), load_default=list,
                         validate=validate.Length(max=50))


class ObjectionAnswerSchema(Schema):
    upheld = fields.Boolean(required=True)
    answer = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    adjustments = fields.Nested(AdjustmentsSchema, load_default=None)

    @validates_schema
    def _check(self, data: dict, **_: object) -> None:
        if "answer" in data and not data["answer"].strip():
            raise ValidationError("答复不能为空 an answer is required", "answer")
        if data.get("adjustments") and data.get("upheld") is False:
            raise ValidationError("驳回异议时不能调整考核项 adjustments only with an upheld "
                                  "objection", "adjustments")


class ObjectionQuerySchema(Schema):
    quarter = QuarterField(load_default=None)
    status = fields.String(load_default=None,
                           validate=validate.OneOf(("pending", "upheld", "rejected")))
    department_code = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
