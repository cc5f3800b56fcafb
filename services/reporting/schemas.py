"""Marshmallow schemas of reporting's RPC payloads."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validates_schema

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
