"""Marshmallow schemas of reporting's RPC payloads."""

from __future__ import annotations

from datetime import datetime, timedelta
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

from services.reporting import periods
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


# -- hotspots 热点 ---------------------------------------------------------------------------------

class HotspotQuerySchema(Schema):
    """A window for the top lists: ``period`` (a key periods.parse knows), or ``from``/``to``
    (business days, inclusive), or the last ``hours``; the last 24 hours when none is given.
    Loads to ``{"start", "end", "window", "limit"}`` (``start``/``end``: UTC instants [a, b))."""

    period = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    hours = fields.Integer(validate=validate.Range(min=1))
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))

    def __init__(self, now: datetime, max_days: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.now, self.max_days = now, max_days

    @post_load
    def _window(self, data: dict[str, Any], **_: object) -> dict[str, Any]:
        given = [k for k in ("period", "from_", "hours") if k in data]
        if "to" in data and "from_" not in data:
            raise ValidationError("缺少开始日期 from is required with to", "from")
        if "from_" in data and "to" not in data:
            raise ValidationError("缺少结束日期 to is required with from", "to")
        if len(given) > 1:
            raise ValidationError("period、from/to、hours 只能选一种 give one of period, "
                                  "from/to or hours", given[-1].rstrip("_"))
        too_long = f"时间窗口不能超过{self.max_days}天 window longer than {self.max_days} days"
        if "hours" in data:
            if data["hours"] > self.max_days * 24:
                raise ValidationError(too_long, "hours")
            end = self.now
            start = end - timedelta(hours=data["hours"])
            window = {"kind": "hours", "hours": data["hours"], "label": f"最近{data['hours']}小时"}
        else:
            try:
                if "period" in data:
                    period = periods.parse(data["period"])
                    field = "period"
                else:
                    period = periods.custom(data["from_"], data["to"])
                    field = "to"
                start, end = period.bounds()
            except periods.PeriodError as exc:
                raise ValidationError(str(exc), exc.field) from None
            if (period.end - period.start).days + 1 > self.max_days:
                raise ValidationError(too_long, field)
            window = period.as_dict()
        if not given:
            end = self.now
            start = end - timedelta(hours=24)
            window = {"kind": "hours", "hours": 24, "label": "最近24小时"}
        return {"start": start, "end": end, "window": window, "limit": data["limit"]}


class HotspotAlertQuerySchema(Schema):
    status = fields.String(load_default="open",
                           validate=validate.OneOf(("open", "acknowledged", "all")))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class HotspotAcknowledgeSchema(Schema):
    note = fields.String(validate=validate.Length(max=500), allow_none=True)
