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
from sqlalchemy import select

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


def current_version(session: Any) -> int:
    row = session.get(ReferenceVersion, 1)
    return row.version if row else 0


def bump_version(session: Any) -> None:
    row = session.get(ReferenceVersion, 1)
    if row is None:
        session.add(ReferenceVersion(id=1, version=1))
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
        departments=frozenset(d.code for d in active))


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
