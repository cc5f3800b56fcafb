"""Marshmallow schemas of reporting's RPC payloads."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validates_schema

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
