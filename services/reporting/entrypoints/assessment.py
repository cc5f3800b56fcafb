"""Department assessment 部门考核: computed per department per quarter, manual items,
publication, objections and corrections (DOMAIN.md §5, seed 004 第四篇). The rules and the
computation are in :mod:`services.reporting.assessment`; the rule set in
``services/reporting/assessment_rules/``.

Lifecycle of one department's quarter (``assessment`` rows, one per revision):
- ``draft``: recomputed on request (:meth:`compute_assessments`) from the facts and the manual
  items; a department does not see it;
- ``published`` (:meth:`publish_assessments`): the snapshot is frozen — later events and items
  never change it — and ``assessment.published`` is emitted. From then on the quarter's items
  for that department are closed (409): the only way to change the result is an upheld
  objection, whose answer may carry the item changes (``adjustments``) that form the correction;
- ``superseded``: a revision replaced by a correction (revision + 1, ``correction_of``), kept and
  shown in the history.

Objections 异议 (``assessment.object``, a department about its own current published result):
within ``OBJECTION_WINDOW_DAYS`` (5) working days after publication (later → 409; another
department's → 403; one pending objection at a time → 409). The center answers within
``ANSWER_DAYS`` (5) working days (DOMAIN.md §4); the sweep raises
``assessment.objection_overdue`` once per unanswered objection past its due; the answer records
whether it was late. Working days: :mod:`services.reporting.dependencies` (the calendar).

Every change of reporting's own records (items, publication, objections) is written to
``reporting_audit``. ``who`` arguments: ``{"name", "role", "department_code", "via"}`` as the
gateway authenticated the caller.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from services.reporting import assessment as rules_mod
from services.reporting.assessment import ManualEntry, RuleError, RuleSet
from services.reporting.dependencies import sweep_timer
from services.reporting.entrypoints.base import ReportingBase
from services.reporting.models import (
    Assessment,
    AssessmentItem,
    AssessmentObjection,
    ReportingAudit,
)
from services.reporting.periods import Period, quarter
from services.reporting.schemas import (
    AssessmentItemInSchema,
    AssessmentQuerySchema,
    AssessmentRunSchema,
    ItemQuerySchema,
    ObjectionAnswerSchema,
    ObjectionInSchema,
    ObjectionQuerySchema,
    RevokeSchema,
)
from shared.business_time import business_day
from shared.database import translate_db_errors
from shared.errors import Conflict, Forbidden, Invalid, NotFound, load_or_invalid
from shared.events import utcnow
from shared.rpc import rpc

OBJECTION_WINDOW_DAYS = 5  # working days after publication to object
ANSWER_DAYS = 5  # working days for the center to answer (DOMAIN.md §4, seed 000 第二十七条)
STATUS_LABELS = {"draft": "草稿", "published": "已发布", "superseded": "已更正（历史）",
                 "pending": "待答复", "upheld": "异议成立", "rejected": "异议不成立"}


def _key(year: int, q: int) -> str:
    return f"{year}Q{q}"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


class AssessmentEntrypoints(ReportingBase):
    calendar: Any
    settings: Any

    # -- rules -----------------------------------------------------------------------------------
    def _rule_sets(self) -> tuple[RuleSet, ...]:
        directory = None
        if isinstance(self.settings, dict):
            directory = self.settings.get("ASSESSMENT_RULES_DIR")
        return rules_mod.load_rule_sets(Path(directory) if directory else rules_mod.RULES_DIR)

    def _rules_for(self, period: Period) -> RuleSet:
        try:
            return rules_mod.rules_for(self._rule_sets(), period.start)
        except RuleError as exc:
            raise Invalid.fields({exc.field: [exc.message]}) from exc

    @rpc
    @translate_db_errors
    def assessment_rules(self) -> dict[str, Any]:
        """考核规则: every rule set, oldest first, with its rules and points."""
        return {"rule_sets": [s.as_dict() for s in self._rule_sets()]}

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _who(who: dict[str, Any] | None) -> dict[str, Any]:
        who = dict(who or {})
        who.setdefault("role", "supervisor")
        who.setdefault("name", who.get("role"))
        return who

    def _audit(self, who: dict[str, Any], action: str, subject: str,
               detail: dict[str, Any]) -> None:
        self.db.session.add(ReportingAudit(at=utcnow(), actor=str(who["name"]), action=action,
                                           subject=subject, detail=detail))

    def _rows(self, department: str, year: int, q: int, *, lock: bool = False
              ) -> list[Assessment]:
        """The department's revisions of the quarter (``lock``: locked to the end of the
        transaction and re-read, so two publications of one quarter take turns and the second
        sees the first's)."""
        stmt = select(Assessment).where(
            Assessment.department_code == department, Assessment.year == year,
            Assessment.quarter == q).order_by(Assessment.revision)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return list(self.db.session.scalars(stmt))

    def _is_published(self, department: str, year: int, q: int, *, lock: bool = False) -> bool:
        return any(r.status in ("published", "superseded")
                   for r in self._rows(department, year, q, lock=lock))

    def _entries(self, department: str, year: int, q: int) -> list[ManualEntry]:
        items = self.db.session.scalars(select(AssessmentItem).where(
            AssessmentItem.department_code == department, AssessmentItem.year == year,
            AssessmentItem.quarter == q, AssessmentItem.revoked_at.is_(None))
            .order_by(AssessmentItem.id))
        return [ManualEntry(id=i.id, rule=i.rule, points=Decimal(str(i.points)), count=i.count,
                            reason=i.reason, ticket_no=i.ticket_no, occurred_on=i.occurred_on,
                            entered_by=i.entered_by, entered_at=i.entered_at) for i in items]

    def _compute(self, department: str, year: int, q: int, now: datetime,
                 rules: RuleSet | None = None) -> dict[str, Any]:
        period = quarter(year, q)
        rules = rules or self._rules_for(period)
        facts = rules_mod.gather(self.db.session, department, year, q, period, now,
                                 self._entries(department, year, q))
        return rules_mod.compute(rules, facts, now)

    @staticmethod
    def _assessment_summary(row: Assessment, rank: int | None = None) -> dict[str, Any]:
        return {"id": row.id, "department_code": row.department_code, "year": row.year,
                "quarter": row.quarter, "quarter_key": _key(row.year, row.quarter),
                "revision": row.revision, "status": row.status,
                "status_label": STATUS_LABELS[row.status], "score": row.score,
                "rules_version": row.rules_version, "computed_at": _iso(row.computed_at),
                "published_at": _iso(row.published_at), "published_by": row.published_by,
                "correction_of": row.correction_of, "rank": rank}

    def _visible_row(self, assessment_id: int, who: dict[str, Any]) -> Assessment:
        row = self.db.session.get(Assessment, assessment_id)
        own = self._own_department(who)
        if row is None or (own is not None and (row.department_code != own
                                                or row.status == "draft")):
            raise NotFound(f"考核结果不存在 assessment {assessment_id} not found",
                           {"assessment_id": assessment_id})
        return row

    def _current_rows(self, year: int, q: int) -> list[Assessment]:
        """The latest revision of each department's quarter."""
        latest = (select(Assessment.department_code, func.max(Assessment.revision).label("rev"))
                  .where(Assessment.year == year, Assessment.quarter == q)
                  .group_by(Assessment.department_code).subquery())
        return list(self.db.session.scalars(select(Assessment).join(
            latest, (latest.c.department_code == Assessment.department_code)
            & (latest.c.rev == Assessment.revision))
            .where(Assessment.year == year, Assessment.quarter == q)))

    # -- results ---------------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def list_assessments(self, query: dict[str, Any], viewer: dict[str, Any] | None = None
                         ) -> dict[str, Any]:
        """考核结果: each department's current result for the quarter, ranked by score (the
        center: every department, drafts included; a department: its own published one, with
        its rank among the published results)."""
        q = load_or_invalid(AssessmentQuerySchema(), query)
        year, n = q["quarter"]
        own = self._own_department(viewer)
        rows = self._current_rows(year, n)
        if own is not None:
            rows = [r for r in rows if r.status != "draft"]
        ranked = rules_mod.ranks({r.department_code: r.score for r in rows})
        if own is not None:
            rows = [r for r in rows if r.department_code == own]
        if q["department_code"]:
            rows = [r for r in rows if r.department_code == q["department_code"]]
        if q["status"]:
            rows = [r for r in rows if r.status == q["status"]]
        results = sorted((self._assessment_summary(r, ranked[r.department_code]) for r in rows),
                         key=lambda s: (s["rank"], s["department_code"]))
        return {"quarter": _key(year, n), "period": quarter(year, n).as_dict(),
                "ranked_of": len(ranked), "results": results}

    @rpc
    @translate_db_errors
    def get_assessment(self, assessment_id: int, viewer: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
        """One result with its explanation (``snapshot``: every item, the orders and the manual
        entries behind its points)."""
        row = self._visible_row(assessment_id, self._who(viewer))
        objections = self.db.session.scalars(select(AssessmentObjection).where(
            AssessmentObjection.assessment_id == row.id).order_by(AssessmentObjection.id))
        return {**self._assessment_summary(row), "snapshot": row.snapshot,
                "objections": [self._objection(o) for o in objections]}

    @rpc
    @translate_db_errors
    def assessment_history(self, query: dict[str, Any], viewer: dict[str, Any] | None = None
                           ) -> dict[str, Any]:
        """A department's quarter: every revision (superseded ones kept) and every objection."""
        q = load_or_invalid(AssessmentQuerySchema(), query)
        year, n = q["quarter"]
        own = self._own_department(viewer)
        department = own or q["department_code"]
        if not department:
            raise Invalid.fields({"department_code": ["必填 required"]})
        if own is not None and q["department_code"] not in (None, own):
            raise NotFound(f"部门不存在 department {q['department_code']} not found",
                           {"department_code": q["department_code"]})
        rows = [r for r in self._rows(department, year, n)
                if own is None or r.status != "draft"]
        ids = [r.id for r in rows]
        objections = list(self.db.session.scalars(select(AssessmentObjection).where(
            AssessmentObjection.assessment_id.in_(ids)).order_by(AssessmentObjection.id))
            ) if ids else []
        return {"department_code": department, "quarter": _key(year, n),
                "revisions": [{**self._assessment_summary(r), "snapshot": r.snapshot} for r in rows],
                "objections": [self._objection(o) for o in objections]}

    @rpc
    @translate_db_errors
    def preview_assessment(self, query: dict[str, Any]) -> dict[str, Any]:
        """试算: one department's result computed now, not stored."""
        q = load_or_invalid(AssessmentQuerySchema(), query)
        if not q["department_code"]:
            raise Invalid.fields({"department_code": ["必填 required"]})
        year, n = q["quarter"]
        return self._compute(q["department_code"], year, n, utcnow())

    def _departments(self, form: dict[str, Any]) -> list[str]:
        year, n = form["quarter"]
        if form["department_code"]:
            return [form["department_code"]]
        found = rules_mod.departments_with_facts(self.db.session, quarter(year, n))
        found |= set(form["departments"])
        found |= set(self.db.session.scalars(select(AssessmentItem.department_code).where(
            AssessmentItem.year == year, AssessmentItem.quarter == n)))
        found |= set(self.db.session.scalars(select(Assessment.department_code).where(
            Assessment.year == year, Assessment.quarter == n)))
        return sorted(found)

    def _store_draft(self, department: str, year: int, n: int, now: datetime) -> Assessment:
        snapshot = self._compute(department, year, n, now)
        rows = self._rows(department, year, n)
        row = rows[-1] if rows and rows[-1].status == "draft" else None
        if row is None:
            row = Assessment(department_code=department, year=year, quarter=n,
                             revision=(rows[-1].revision + 1) if rows else 1, status="draft")
            self.db.session.add(row)
        row.rules_version, row.score, row.snapshot = (snapshot["rules_version"],
                                                      snapshot["score"], snapshot)
        row.computed_at = now
        self.db.session.flush()
        return row

    @rpc
    @translate_db_errors
    def compute_assessments(self, payload: dict[str, Any], actor: dict[str, Any] | None = None
                            ) -> dict[str, Any]:
        """重新计算: the draft of one department (``department_code``) or of every department of
        the quarter (those with work in it, with items, or named in ``departments``).
        A published department is left alone (409 when it is the one named)."""
        who = self._who(actor)
        form = load_or_invalid(AssessmentRunSchema(), payload)
        year, n = form["quarter"]
        now = utcnow()
        computed, skipped = [], []
        for department in self._departments(form):
            if self._is_published(department, year, n, lock=True):
                if form["department_code"]:
                    raise Conflict(f"{department} {_key(year, n)} 考核结果已发布，不能重新计算 "
                                   "already published", {"action": "compute",
                                                         "state": "published"})
                skipped.append(department)
                continue
            computed.append(self._assessment_summary(self._store_draft(department, year, n, now)))
        self._audit(who, "assessment.compute", _key(year, n),
                    {"departments": [c["department_code"] for c in computed],
                     "skipped_published": skipped})
        self.db.commit()
        return {"quarter": _key(year, n), "computed": computed, "skipped_published": skipped}

    @rpc
    @translate_db_errors
    def publish_assessments(self, payload: dict[str, Any], actor: dict[str, Any] | None = None
                            ) -> dict[str, Any]:
        """发布: recompute and freeze the result of one department or of every department of
        the quarter (after the quarter ended); ``assessment.published`` for each. Published
        ones are skipped (409 when it is the one named)."""
        who = self._who(actor)
        form = load_or_invalid(AssessmentRunSchema(), payload)
        year, n = form["quarter"]
        now = utcnow()
        period = quarter(year, n)
        if business_day(now) <= period.end:
            raise Conflict(f"{period.label}尚未结束，不能发布 the quarter has not ended",
                           {"action": "publish", "state": "open", "ends": period.end.isoformat()})
        published, skipped = [], []
        for department in self._departments(form):
            if self._is_published(department, year, n, lock=True):
                if form["department_code"]:
                    raise Conflict(f"{department} {_key(year, n)} 考核结果已发布 already "
                                   "published", {"action": "publish", "state": "published"})
                skipped.append(department)
                continue
            row = self._store_draft(department, year, n, now)
            self._freeze(row, who, now, None)
            published.append(self._assessment_summary(row))
        self.db.commit()
        return {"quarter": _key(year, n), "published": published, "skipped_published": skipped}

    def _freeze(self, row: Assessment, who: dict[str, Any], now: datetime,
                correction_of: int | None) -> None:
        row.status, row.published_at, row.published_by = "published", now, str(who["name"])
        row.correction_of = correction_of
        self.db.session.flush()
        self.db.emit("assessment.published", {
            "assessment_id": row.id, "department_code": row.department_code, "year": row.year,
            "quarter": row.quarter, "revision": row.revision, "score": row.score,
            "rules_version": row.rules_version, "published_at": now, "actor": str(who["name"]),
            "correction_of": correction_of})
        self._audit(who, "assessment.publish", f"assessment:{row.id}", {
            "department_code": row.department_code, "quarter": _key(row.year, row.quarter),
            "revision": row.revision, "score": row.score, "correction_of": correction_of})

    # -- manual items ----------------------------------------------------------------------------
    @staticmethod
    def _item(i: AssessmentItem) -> dict[str, Any]:
        return {"id": i.id, "department_code": i.department_code,
                "quarter": _key(i.year, i.quarter), "rule": i.rule, "points": i.points,
                "count": i.count, "reason": i.reason, "ticket_no": i.ticket_no,
                "occurred_on": i.occurred_on.isoformat() if i.occurred_on else None,
                "entered_by": i.entered_by, "entered_at": _iso(i.entered_at),
                "revoked_at": _iso(i.revoked_at), "revoked_by": i.revoked_by,
                "revoke_reason": i.revoke_reason}

    def _check_item(self, form: dict[str, Any], rules: RuleSet, period: Period,
                    prefix: str = "") -> float:
        """The item's points for one occurrence, or 422 naming the field."""
        rule = rules.rules.get(form["rule"])
        if rule is None or rule.source != "manual":
            valid = ", ".join(r.code for r in rules.manual())
            raise Invalid.fields({f"{prefix}rule": [f"未知的手工考核项 unknown manual rule "
                                                    f"{form['rule']}; valid: {valid}"]})
        if form["occurred_on"] and not period.start <= form["occurred_on"] <= period.end:
            raise Invalid.fields({f"{prefix}occurred_on": [
                f"不在{period.label}内 not within the quarter"]})
        if rule.code == "valid_complaints" and not form["ticket_no"]:
            raise Invalid.fields({f"{prefix}ticket_no": ["有效投诉须注明所涉工单 a valid "
                                                         "complaint names its order"]})
        points = form["points"]
        if not rule.variable:
            if points is not None and Decimal(str(points)) != rule.points:
                raise Invalid.fields({f"{prefix}points": [
                    f"此项分值固定为 {rule.points} the points of this rule are fixed"]})
            return float(-1 if rule.code == "valid_complaints" else rule.points)
        if points is None:
            raise Invalid.fields({f"{prefix}points": ["比照类似情形须给出分值 required for this "
                                                      "rule"]})
        value = Decimal(str(points))
        assert rule.max_points is not None
        if (rule.kind == "bonus" and not 0 < value <= rule.max_points) or (
                rule.kind == "deduction" and not -rule.max_points <= value < 0):
            raise Invalid.fields({f"{prefix}points": [
                f"应在 {'0' if rule.kind == 'bonus' else -rule.max_points} 与 "
                f"{rule.max_points if rule.kind == 'bonus' else '0'} 之间 out of range"]})
        return float(value)

    def _add_item(self, form: dict[str, Any], department: str, year: int, n: int,
                  who: dict[str, Any], prefix: str = "", objection_id: int | None = None
                  ) -> AssessmentItem:
        period = quarter(year, n)
        points = self._check_item(form, self._rules_for(period), period, prefix)
        item = AssessmentItem(department_code=department, year=year, quarter=n,
                              rule=form["rule"], points=points, count=form["count"],
                              reason=form["reason"].strip(), ticket_no=form["ticket_no"],
                              occurred_on=form["occurred_on"], entered_by=str(who["name"]),
                              entered_at=utcnow())
        self.db.session.add(item)
        self.db.session.flush()
        detail = self._item(item)
        if objection_id is not None:
            detail["objection_id"] = objection_id
        self._audit(who, "assessment.item_added", f"assessment_item:{item.id}", detail)
        return item

    def _refuse_if_published(self, department: str, year: int, n: int, action: str) -> None:
        if self._is_published(department, year, n, lock=True):
            raise Conflict(f"{department} {_key(year, n)} 考核结果已发布，考核项不能再修改；"
                           "如有错误请通过异议更正 the result is published: items change only "
                           "through an upheld objection",
                           {"action": action, "state": "published"})

    @rpc
    @translate_db_errors
    def add_assessment_item(self, payload: dict[str, Any], actor: dict[str, Any] | None = None
                            ) -> dict[str, Any]:
        """录入加减分项: a manual item (a rule of the quarter's rule set, a reason, optionally the
        order and the date, a count); 409 once the department's quarter is published."""
        who = self._who(actor)
        form = load_or_invalid(AssessmentItemInSchema(), payload)
        year, n = form["quarter"]
        self._refuse_if_published(form["department_code"], year, n, "add_item")
        item = self._add_item(form, form["department_code"], year, n, who)
        answer = self._item(item)
        self.db.commit()
        return answer

    @rpc
    @translate_db_errors
    def revoke_assessment_item(self, item_id: int, payload: dict[str, Any],
                               actor: dict[str, Any] | None = None) -> dict[str, Any]:
        """撤销考核项 with a reason (the item is kept, marked revoked); 409 once published."""
        who = self._who(actor)
        form = load_or_invalid(RevokeSchema(), payload)
        item = self.db.session.get(AssessmentItem, item_id, with_for_update=True)
        if item is None:
            raise NotFound(f"考核项不存在 item {item_id} not found", {"item_id": item_id})
        self._refuse_if_published(item.department_code, item.year, item.quarter, "revoke_item")
        self._revoke(item, form["reason"], who)
        answer = self._item(item)
        self.db.commit()
        return answer

    def _revoke(self, item: AssessmentItem, reason: str, who: dict[str, Any],
                objection_id: int | None = None) -> None:
        if item.revoked_at is not None:
            raise Conflict(f"考核项 {item.id} 已撤销 already revoked",
                           {"action": "revoke_item", "state": "revoked"})
        item.revoked_at, item.revoked_by, item.revoke_reason = (utcnow(), str(who["name"]),
                                                                reason.strip())
        detail: dict[str, Any] = {"reason": item.revoke_reason, "rule": item.rule,
                                  "department_code": item.department_code,
                                  "quarter": _key(item.year, item.quarter)}
        if objection_id is not None:
            detail["objection_id"] = objection_id
        self._audit(who, "assessment.item_revoked", f"assessment_item:{item.id}", detail)

    @rpc
    @translate_db_errors
    def list_assessment_items(self, query: dict[str, Any], viewer: dict[str, Any] | None = None
                              ) -> dict[str, Any]:
        """考核项: the quarter's manual items (a department: its own, once published)."""
        q = load_or_invalid(ItemQuerySchema(), query)
        year, n = q["quarter"]
        own = self._own_department(viewer)
        stmt = select(AssessmentItem).where(AssessmentItem.year == year,
                                            AssessmentItem.quarter == n)
        department = own or q["department_code"]
        if own is not None and q["department_code"] not in (None, own):
            return {"quarter": _key(year, n), "items": []}
        if department:
            stmt = stmt.where(AssessmentItem.department_code == department)
        if not q["include_revoked"]:
            stmt = stmt.where(AssessmentItem.revoked_at.is_(None))
        items = list(self.db.session.scalars(stmt.order_by(AssessmentItem.id)))
        if own is not None and not self._is_published(own, year, n):
            items = []
        return {"quarter": _key(year, n), "items": [self._item(i) for i in items]}

    # -- objections 异议 ---------------------------------------------------------------------------
    @staticmethod
    def _objection(o: AssessmentObjection) -> dict[str, Any]:
        return {"id": o.id, "assessment_id": o.assessment_id,
                "department_code": o.department_code, "reason": o.reason,
                "evidence": o.evidence, "submitted_by": o.submitted_by,
                "submitted_at": _iso(o.submitted_at), "due_at": _iso(o.due_at),
                "status": o.status, "status_label": STATUS_LABELS[o.status],
                "answered_at": _iso(o.answered_at), "answered_by": o.answered_by,
                "answer": o.answer, "late": (o.answered_at >= o.due_at)
                if o.answered_at is not None else None,
                "urged_at": _iso(o.urged_at), "correction_id": o.correction_id}

    def objection_window_closes(self, published_at: datetime) -> datetime:
        return self.calendar.add_working_days(published_at, OBJECTION_WINDOW_DAYS)

    @rpc
    @translate_db_errors
    def submit_assessment_objection(self, assessment_id: int, payload: dict[str, Any],
                                    actor: dict[str, Any]) -> dict[str, Any]:
        """提出异议: a department about its own current published result, with a reason and
        evidence, within 5 working days of publication. Another department's → 403; late, not
        the current revision, or one already pending → 409."""
        who = self._who(actor)
        if who.get("role") != "department" or not who.get("department_code"):
            raise Forbidden("只有被考核部门可以提出异议 only the assessed department may object",
                            {"action": "object"})
        row = self.db.session.get(Assessment, assessment_id, with_for_update=True)
        if row is None or row.status == "draft":
            raise NotFound(f"考核结果不存在 assessment {assessment_id} not found",
                           {"assessment_id": assessment_id})
        if row.department_code != who["department_code"]:
            raise Forbidden("不能对其他部门的考核结果提出异议 a department objects only to its "
                            "own result", {"action": "object", "field": "assessment_id"})
        form = load_or_invalid(ObjectionInSchema(), payload)
        if row.status != "published":
            raise Conflict("该结果已被更正，请对现行结果提出异议 this revision was superseded; "
                           "object to the current one", {"action": "object",
                                                        "state": row.status})
        now = utcnow()
        assert row.published_at is not None
        closes = self.objection_window_closes(row.published_at)
        if now >= closes:
            raise Conflict(f"异议期已过（发布后{OBJECTION_WINDOW_DAYS}个工作日，至 "
                           f"{closes.isoformat()}） the objection window has closed",
                           {"action": "object", "state": "window_closed",
                            "window_closed_at": closes.isoformat()})
        pending = self.db.session.scalar(select(AssessmentObjection.id).where(
            AssessmentObjection.assessment_id == row.id,
            AssessmentObjection.status == "pending"))
        if pending is not None:
            raise Conflict(f"已有待答复的异议 {pending} an objection is already pending",
                           {"action": "object", "state": "pending", "objection_id": pending})
        evidence = [{k: v for k, v in e.items() if v is not None} for e in form["evidence"]]
        due = self.calendar.add_working_days(now, ANSWER_DAYS)
        objection = AssessmentObjection(
            assessment_id=row.id, department_code=row.department_code,
            reason=form["reason"].strip(), evidence=evidence, submitted_by=str(who["name"]),
            submitted_at=now, due_at=due, status="pending")
        self.db.session.add(objection)
        self.db.session.flush()
        self.db.emit("assessment.objection_submitted", {
            "objection_id": objection.id, "assessment_id": row.id,
            "department_code": row.department_code, "at": now, "due": due,
            "actor": str(who["name"])})
        self._audit(who, "assessment.objection_submitted", f"objection:{objection.id}",
                    {"assessment_id": row.id, "reason": objection.reason, "evidence": evidence,
                     "due_at": due.isoformat()})
        answer = self._objection(objection)
        self.db.commit()
        return answer

    @rpc
    @translate_db_errors
    def list_assessment_objections(self, query: dict[str, Any],
                                   viewer: dict[str, Any] | None = None) -> dict[str, Any]:
        """异议: the center's work list (a department: its own objections)."""
        q = load_or_invalid(ObjectionQuerySchema(), query)
        own = self._own_department(viewer)
        o = AssessmentObjection
        stmt = select(o)
        if q["quarter"]:
            year, n = q["quarter"]
            stmt = stmt.join(Assessment, Assessment.id == o.assessment_id).where(
                Assessment.year == year, Assessment.quarter == n)
        department = own or q["department_code"]
        if own is not None and q["department_code"] not in (None, own):
            return {"objections": []}
        if department:
            stmt = stmt.where(o.department_code == department)
        if q["status"]:
            stmt = stmt.where(o.status == q["status"])
        return {"objections": [self._objection(x)
                               for x in self.db.session.scalars(stmt.order_by(o.due_at, o.id))]}

    @rpc
    @translate_db_errors
    def answer_assessment_objection(self, objection_id: int, payload: dict[str, Any],
                                    actor: dict[str, Any] | None = None) -> dict[str, Any]:
        """答复异议: rejected → the answer is recorded; upheld → the ``adjustments`` (items to
        add or revoke) are applied and a corrected result is published as a new revision (the
        old one kept, ``superseded``). ``late`` when answered after the due time. 409 when
        already answered."""
        who = self._who(actor)
        form = load_or_invalid(ObjectionAnswerSchema(), payload)
        objection = self.db.session.get(AssessmentObjection, objection_id, with_for_update=True)
        if objection is None:
            raise NotFound(f"异议不存在 objection {objection_id} not found",
                           {"objection_id": objection_id})
        if objection.status != "pending":
            raise Conflict(f"异议已答复 objection already answered ({objection.status})",
                           {"action": "answer", "state": objection.status})
        row = self.db.session.get(Assessment, objection.assessment_id, with_for_update=True)
        assert row is not None
        now = utcnow()
        late = now >= objection.due_at
        correction: Assessment | None = None
        if form["upheld"]:
            correction = self._correct(row, objection, form.get("adjustments") or {}, who, now,
                                       form["answer"].strip())
        objection.status = "upheld" if form["upheld"] else "rejected"
        objection.answered_at, objection.answered_by = now, str(who["name"])
        objection.answer = form["answer"].strip()
        objection.correction_id = correction.id if correction else None
        self.db.emit("assessment.objection_decided", {
            "objection_id": objection.id, "assessment_id": row.id,
            "department_code": objection.department_code, "upheld": form["upheld"], "at": now,
            "actor": str(who["name"]), "late": late,
            "correction_id": correction.id if correction else None})
        self._audit(who, "assessment.objection_decided", f"objection:{objection.id}",
                    {"upheld": form["upheld"], "answer": objection.answer, "late": late,
                     "correction_id": objection.correction_id})
        answer = self._objection(objection)
        if correction is not None:
            answer["correction"] = self._assessment_summary(correction)
        self.db.commit()
        return answer

    def _correct(self, row: Assessment, objection: AssessmentObjection,
                 adjustments: dict[str, Any], who: dict[str, Any], now: datetime,
                 answer: str) -> Assessment:
        if row.status != "published":
            raise Conflict("该结果已被更正 this revision was superseded",
                           {"action": "answer", "state": row.status})
        department, year, n = row.department_code, row.year, row.quarter
        added, revoked = [], []
        for i, form in enumerate(adjustments.get("add") or []):
            added.append(self._add_item(form, department, year, n, who,
                                        f"adjustments.add.{i}.", objection.id).id)
        for i, ref in enumerate(adjustments.get("revoke") or []):
            item = self.db.session.get(AssessmentItem, ref["item_id"], with_for_update=True)
            if item is None or (item.department_code, item.year, item.quarter) != (
                    department, year, n):
                raise Invalid.fields({f"adjustments.revoke.{i}.item_id": [
                    "不是该部门该季度的考核项 not an item of this result"]})
            self._revoke(item, ref["reason"], who, objection.id)
            revoked.append(item.id)
        # the correction: recomputed now, with the quarter's rule set the original used
        rules = rules_mod.rules_by_version(self._rule_sets(), row.rules_version)
        snapshot = self._compute(department, year, n, now, rules)
        snapshot["correction"] = {"objection_id": objection.id, "of_revision": row.revision,
                                  "of_score": row.score, "answer": answer,
                                  "items_added": added, "items_revoked": revoked}
        row.status = "superseded"
        new = Assessment(department_code=department, year=year, quarter=n,
                         revision=row.revision + 1, status="draft",
                         rules_version=rules.version, score=snapshot["score"],
                         snapshot=snapshot, computed_at=now)
        self.db.session.add(new)
        self.db.session.flush()
        self._freeze(new, who, now, row.revision)
        return new

    # -- the overdue sweep -----------------------------------------------------------------------
    @sweep_timer
    @translate_db_errors
    def sweep_assessment_objections(self) -> int:
        """异议答复超期: ``assessment.objection_overdue`` once per pending objection past its
        due (claimed by a conditional update, so once across instances). How many."""
        session = self.db.session
        now = utcnow()
        o = AssessmentObjection
        raised = 0
        for objection in list(session.scalars(select(o).where(
                o.status == "pending", o.due_at <= now, o.urged_at.is_(None))
                .order_by(o.id).limit(200))):
            claimed = session.execute(
                update(o).where(o.id == objection.id, o.urged_at.is_(None),
                                o.status == "pending")
                .values(urged_at=now).execution_options(synchronize_session=False))
            if claimed.rowcount != 1:
                continue
            self.db.emit("assessment.objection_overdue", {
                "objection_id": objection.id, "assessment_id": objection.assessment_id,
                "department_code": objection.department_code, "due": objection.due_at,
                "at": now})
            raised += 1
        self.db.commit()
        return raised
