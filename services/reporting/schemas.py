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
