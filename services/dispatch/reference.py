"""Routing reference data (territories, departments, the routing catalogue), kept in memory.

Routing an order needs every active rule and the whole territory tree; reading them for each
order costs more than routing itself. Each process keeps one copy and reloads it only when
``reference_version`` has moved (one indexed read per order), so an edit made through any
instance reaches every instance at its next order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nameko.extensions import DependencyProvider
from sqlalchemy import select, update

from services.dispatch import domain
from services.dispatch.models import Department, ReferenceVersion, RoutingRule, Territory


@dataclass(frozen=True)
class Reference:
    version: int
    rules: tuple[domain.Rule, ...]
    parents: dict[str, str | None]
    levels: dict[str, str]
    government: dict[str, str]
    departments: frozenset[str]
    catalogue_version: int = 0

    def rule(self, rule_id: int | None) -> domain.Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


REFERENCE, CATALOGUE = 1, 2  # rows of reference_version


def current_version(session: Any) -> int:
    row = session.get(ReferenceVersion, REFERENCE)
    return row.version if row else 0


def catalogue_version(session: Any) -> int:
    """The routing catalogue's version (派单目录版本): moved by every change to a rule."""
    value = session.scalar(select(ReferenceVersion.version).where(
        ReferenceVersion.id == CATALOGUE))
    return int(value or 0)


def next_catalogue_version(session: Any) -> int:
    """Move the catalogue's version and return it. One UPDATE … RETURNING: of two concurrent
    editors on PostgreSQL the second waits for the first's row lock and gets the next number."""
    moved = session.execute(update(ReferenceVersion).where(ReferenceVersion.id == CATALOGUE)
                            .values(version=ReferenceVersion.version + 1)
                            .returning(ReferenceVersion.version)).scalar()
    if moved is None:
        session.add(ReferenceVersion(id=CATALOGUE, version=1))
        session.flush()
        moved = 1
    bump_version(session)
    return int(moved)


def bump_version(session: Any) -> None:
    row = session.get(ReferenceVersion, REFERENCE)
    if row is None:
        session.add(ReferenceVersion(id=REFERENCE, version=1))
    else:
        row.version += 1


def load(session: Any, version: int) -> Reference:
    rules = tuple(domain.Rule(id=r.id, category=r.category, keywords=tuple(r.keywords or ()),
                              territory_code=r.territory_code, lead=r.lead,
                              assists=tuple(r.assists or ()), priority=r.priority)
                  for r in session.scalars(select(RoutingRule).where(RoutingRule.active.is_(True))))
    territories = list(session.scalars(select(Territory)))
    active = list(session.scalars(select(Department).where(Department.active.is_(True))))
    return Reference(
        version=version, rules=rules,
        parents={t.code: t.parent_code for t in territories},
        levels={t.code: t.level for t in territories},
        government={d.territory_code: d.code for d in active if d.territory_code},
        departments=frozenset(d.code for d in active),
        catalogue_version=catalogue_version(session))


class ReferenceCache(DependencyProvider):
    """Injects ``reference(session) -> Reference``, reloaded when the version moved."""

    def setup(self) -> None:
        self._cached: Reference | None = None

    def get_dependency(self, worker_ctx: Any) -> Any:
        def reference(session: Any) -> Reference:
            version = current_version(session)
            if self._cached is None or self._cached.version != version:
                self._cached = load(session, version)
            return self._cached
        return reference
