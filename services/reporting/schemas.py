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


# -- periodic reports 通报 (entrypoints/reports.py) -----------------------------------------------

_MIN_SAMPLE = validate.Range(1, 100000, error="最小样本应为 1–100000 min_sample: 1-100000")
_TITLE = validate.Length(1, 200, error="标题 1–200 字 title: 1-200 characters")

class ReportCreateSchema(Schema):
    """A new draft: its kind, its period's key (``2026-11-H1``, ``2026-11``, ``2026Q1``,
    ``2026``), optionally the 三率 weights, the ranking's minimum sample and a title."""

    kind = fields.String(required=True)
    period = fields.String(required=True, validate=validate.Length(1, 40))
    weights = fields.Dict(keys=fields.String(), load_default=None)
    min_sample = fields.Integer(load_default=None, validate=_MIN_SAMPLE)
    title = fields.String(load_default=None, validate=_TITLE)


class ReportEditSchema(Schema):
    """A draft's settings; the snapshot is rebuilt with them."""

    weights = fields.Dict(keys=fields.String())
    min_sample = fields.Integer(validate=_MIN_SAMPLE)
    title = fields.String(validate=_TITLE)


class ReportListSchema(Schema):
    kind = fields.String()
    status = fields.String(validate=validate.OneOf(
        ("draft", "published"), error="状态应为 draft 或 published status: draft or published"))
    limit = fields.Integer(load_default=50, validate=validate.Range(
        1, 200, error="每页 1–200 条 limit 1-200"))
    offset = fields.Integer(load_default=0, validate=validate.Range(
        0, error="不能为负 offset must be ≥ 0"))


class ReportExportSchema(Schema):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(
        ("csv", "xlsx"), error="导出格式应为 csv 或 xlsx format: csv or xlsx"))
    sheet = fields.String(load_default=None)
