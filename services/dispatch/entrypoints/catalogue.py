"""The routing catalogue (派单目录), admin: its rules, each change a revision with the
catalogue version it made, a rule's history and the catalogue's change log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from services.dispatch import domain, reference
from services.dispatch.entrypoints.base import DispatchBase, _rule_snapshot
from services.dispatch.models import CatalogueRevision, RoutingRule
from services.dispatch.schemas import (
    ChangeLogQuerySchema,
    DeactivateSchema,
    RevisionSchema,
    RuleCreateSchema,
    RuleListQuerySchema,
    RuleRecordSchema,
    RuleUpdateSchema,
)
from shared.database import translate_db_errors
from shared.errors import Conflict, NotFound, load_or_invalid
from shared.rpc import rpc

_rule_record = RuleRecordSchema()
_revision = RevisionSchema()


class CatalogueEntrypoints(DispatchBase):
    @rpc
    @translate_db_errors
    def list_rules(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        q = load_or_invalid(RuleListQuerySchema(), query or {})
        session = self.db.session
        stmt = select(RoutingRule).order_by(RoutingRule.id)
        if q["active"] is not None:
            stmt = stmt.where(RoutingRule.active.is_(q["active"]))
        return {"catalogue_version": reference.catalogue_version(session),
                "items": [_rule_record.dump(r) for r in session.scalars(stmt)]}

    @rpc
    @translate_db_errors
    def create_rule(self, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        form = load_or_invalid(RuleCreateSchema(), payload)
        comment = form.pop("comment")
        session = self.db.session
        self._check_rule(form)
        rule = RoutingRule(**form, active=True)
        session.add(rule)
        session.flush()
        version = reference.next_catalogue_version(session)
        self._record_revision(rule, None, version, actor, comment)
        self.db.commit()
        return {**_rule_record.dump(rule), "catalogue_version": version}

    @rpc
    @translate_db_errors
    def update_rule(self, rule_id: int, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """Change the fields given; an unchanged rule makes no revision and keeps the version."""
        form = load_or_invalid(RuleUpdateSchema(), payload)
        comment = form.pop("comment", None)
        return self._change_rule(rule_id, form, actor, comment, deactivate=False)

    @rpc
    @translate_db_errors
    def deactivate_rule(self, rule_id: int, payload: dict[str, Any] | None,
                        actor: str) -> dict[str, Any]:
        form = load_or_invalid(DeactivateSchema(), payload or {})
        return self._change_rule(rule_id, {"active": False}, actor, form["comment"],
                                 deactivate=True)

    @rpc
    @translate_db_errors
    def rule_history(self, rule_id: int) -> dict[str, Any]:
        session = self.db.session
        rule = session.get(RoutingRule, rule_id)
        if rule is None:
            raise NotFound(f"派单规则不存在 rule {rule_id} not found", {"rule_id": rule_id})
        rows = session.scalars(select(CatalogueRevision).where(
            CatalogueRevision.rule_id == rule_id).order_by(CatalogueRevision.id))
        return {"rule": _rule_record.dump(rule), "items": [_revision.dump(r) for r in rows]}

    @rpc
    @translate_db_errors
    def catalogue_changes(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """The catalogue's change log, oldest first, cursor-paged by revision id."""
        q = load_or_invalid(ChangeLogQuerySchema(), query or {})
        session = self.db.session
        stmt = select(CatalogueRevision).order_by(CatalogueRevision.id).limit(q["limit"] + 1)
        if q["cursor"]:
            stmt = stmt.where(CatalogueRevision.id > q["cursor"])
        rows = list(session.scalars(stmt))
        more = len(rows) > q["limit"]
        rows = rows[: q["limit"]]
        return {"catalogue_version": reference.catalogue_version(session),
                "items": [_revision.dump(r) for r in rows],
                "next_cursor": rows[-1].id if more else None}

    @rpc
    @translate_db_errors
    def rule_count(self) -> int:
        return int(self.db.session.scalar(select(func.count()).select_from(RoutingRule)) or 0)

    def _change_rule(self, rule_id: int, changes: dict[str, Any], actor: str,
                     comment: str | None, *, deactivate: bool) -> dict[str, Any]:
        session = self.db.session
        rule = session.get(RoutingRule, rule_id)
        if rule is None:
            raise NotFound(f"派单规则不存在 rule {rule_id} not found", {"rule_id": rule_id})
        if deactivate and not rule.active:
            raise Conflict("该规则已停用 the rule is already inactive",
                           {"action": "deactivate", "state": "inactive"})
        before = _rule_snapshot(rule)
        after = {**before, **changes}
        if not deactivate:
            self._check_rule(after)
        if not domain.rule_diff(before, after):
            return {**_rule_record.dump(rule),
                    "catalogue_version": reference.catalogue_version(session)}
        for k, v in changes.items():
            setattr(rule, k, v)
        session.flush()
        version = reference.next_catalogue_version(session)
        self._record_revision(rule, before, version, actor, comment)
        self.db.commit()
        return {**_rule_record.dump(rule), "catalogue_version": version}
