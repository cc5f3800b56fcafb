"""Marshmallow schemas of reporting's RPC payloads."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from services.reporting.domain import GROUP_BY
from services.reporting.periods import PeriodError, check_range, custom, parse


class KpiQuerySchema(Schema):
    """A KPI query: a ``period`` key (``2026-11``, ``2026Q1``, …) or ``from``/``to`` business
    days (inclusive), and ``group_by``. Loads to ``{"period": Period, "group_by": str}``."""

    class Meta:
        unknown = EXCLUDE

    period = fields.String(load_default=None, allow_none=True)
    from_ = fields.Date(load_default=None, allow_none=True, data_key="from")
    to = fields.Date(load_default=None, allow_none=True)
    group_by = fields.String(load_default="department")

    @validates_schema
    def _check(self, data: dict, **_: object) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("group_by") not in GROUP_BY:
            errors["group_by"] = [f"未知的分组 unknown group_by; valid: {', '.join(GROUP_BY)}"]
        if data.get("period"):
            if data.get("from_") or data.get("to"):
                errors["period"] = ["period 与 from/to 只能二选一 give period or from/to, not both"]
            else:
                try:
                    parse(data["period"])
                except PeriodError as exc:
                    errors[exc.field] = [str(exc)]
        else:
            for name, key in (("from_", "from"), ("to", "to")):
                if data.get(name) is None:
                    errors[key] = ["缺少 period 或 from/to missing: give period or from and to"]
            if data.get("from_") and data.get("to"):
                try:
                    check_range(data["from_"], data["to"])
                except PeriodError as exc:
                    errors[exc.field] = [str(exc)]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _period(self, data: dict, **_: object) -> dict[str, Any]:
        period = parse(data["period"]) if data.get("period") else custom(data["from_"], data["to"])
        return {"period": period, "group_by": data["group_by"]}


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
