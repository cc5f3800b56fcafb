"""Reference data: territories and departments, and the bulk load (admin, demo data) of
territories, departments and routing rules (one catalogue version per load)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.dispatch import domain, reference
from services.dispatch.entrypoints.base import DispatchBase, _rule_snapshot
from services.dispatch.models import Department, RoutingRule, Territory
from services.dispatch.schemas import DepartmentSchema, ReferenceSchema, TerritorySchema
from shared.database import translate_db_errors
from shared.errors import NotFound, load_or_invalid
from shared.rpc import rpc


class ReferenceEntrypoints(DispatchBase):
    @rpc
    @translate_db_errors
    def departments(self) -> list[dict[str, Any]]:
        rows = self.db.session.scalars(select(Department).order_by(Department.code))
        return [DepartmentSchema().dump(d) for d in rows]

    @rpc
    @translate_db_errors
    def territories(self) -> list[dict[str, Any]]:
        rows = self.db.session.scalars(select(Territory).order_by(Territory.code))
        return [TerritorySchema().dump(t) for t in rows]

    @rpc
    @translate_db_errors
    def get_territory(self, code: str) -> dict[str, Any]:
        territory = self.db.session.get(Territory, code)
        if territory is None:
            raise NotFound(f"属地不存在 territory {code} not found", {"territory_code": code})
        return TerritorySchema().dump(territory)

    @rpc
    @translate_db_errors
    def load_reference(self, payload: dict[str, Any], actor: str = "system") -> dict[str, int]:
        """Insert or update territories, departments and routing rules (admin, demo data).

        The rules of one load are one catalogue version, each change a revision."""
        data = load_or_invalid(ReferenceSchema(), payload)
        session = self.db.session
        for t in _parents_first(data["territories"]):
            session.merge(Territory(**t))
            session.flush()
        for dep in _parents_first(data["departments"]):
            session.merge(Department(**dep))
            session.flush()
        changed: list[tuple[RoutingRule, dict[str, Any] | None]] = []
        for r in data["rules"]:
            rule_id = r.pop("id", None)
            self._check_rule(r, field_prefix="rules")
            existing = session.get(RoutingRule, rule_id) if rule_id is not None else None
            if existing is None:
                rule = RoutingRule(id=rule_id, **r)
                session.add(rule)
                changed.append((rule, None))
            else:
                before = _rule_snapshot(existing)
                for k, v in r.items():
                    setattr(existing, k, v)
                if domain.rule_diff(before, _rule_snapshot(existing)):
                    changed.append((existing, before))
        if changed:
            session.flush()
            version = reference.next_catalogue_version(session)
            for rule, before in changed:
                self._record_revision(rule, before, version, actor, "load_reference")
        reference.bump_version(session)
        self.db.commit()
        return {k: len(v) for k, v in data.items()}


def _parents_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order rows so that each parent comes before its children (foreign keys)."""
    by_code = {r["code"]: r for r in rows}
    ordered: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(r: dict[str, Any]) -> None:
        if r["code"] in seen:
            return
        seen.add(r["code"])
        parent = r.get("parent_code")
        if parent in by_code:
            visit(by_code[parent])
        ordered.append(r)

    for r in rows:
        visit(r)
    return ordered
