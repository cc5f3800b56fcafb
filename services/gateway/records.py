"""The gateway's reads and writes for repeat calls and confidentiality: clearance flags and
the audit log's query. Each function opens and closes its own short transaction, like
:mod:`services.gateway.access`, so no database lock is held across an RPC."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.gateway.models import AuditEntry, User
from shared.errors import Invalid, NotFound
from shared.events import utcnow


def is_cleared(uow: Any, username: str) -> bool:
    try:
        user = uow.session.get(User, username)
        return bool(user is not None and user.active and user.cleared_confidential)
    finally:
        uow.rollback()


def set_clearance(uow: Any, username: str, cleared: bool, actor: str,
                  clearable: frozenset[str]) -> dict[str, Any]:
    try:
        user = uow.session.get(User, username)
        if user is None:
            raise NotFound(f"用户不存在 user {username} not found", {"username": username})
        if user.role not in clearable:
            raise Invalid.fields({"username": [
                f"角色 {user.role} 无需单独授权 only {', '.join(sorted(clearable))} users are "
                "cleared one by one"]})
        user.cleared_confidential = cleared
        uow.session.add(AuditEntry(at=utcnow(), actor=actor, action="user.clearance",
                                   target=username, detail={"cleared_confidential": cleared}))
        uow.commit()
    finally:
        uow.rollback()
    return {"username": username, "cleared_confidential": cleared}


def list_audit(uow: Any, args: dict[str, str]) -> dict[str, Any]:
    """Newest first, cursor-paged by entry id; filters ``action``, ``target``, ``actor``."""
    errors: dict[str, list[str]] = {}
    limit = _int(args.get("limit", "50"), "limit", 1, 500, errors)
    cursor = _int(args["cursor"], "cursor", 1, None, errors) if args.get("cursor") else None
    if errors:
        raise Invalid.fields(errors)
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    for name in ("action", "target", "actor"):
        if args.get(name):
            stmt = stmt.where(getattr(AuditEntry, name) == args[name])
    if cursor:
        stmt = stmt.where(AuditEntry.id < cursor)
    try:
        rows = list(uow.session.scalars(stmt))
        more = len(rows) > limit
        rows = rows[:limit]
        items = [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                  "target": e.target, "detail": e.detail or {}} for e in rows]
    finally:
        uow.rollback()  # (expires the rows: only ``items`` is read below)
    return {"items": items, "next_cursor": str(items[-1]["id"]) if more else None}


def _int(text: str, name: str, low: int, high: int | None, errors: dict[str, list[str]]) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        errors[name] = ["须为整数 must be an integer"]
        return 0
    if value < low or (high is not None and value > high):
        errors[name] = [f"超出范围 out of range {low}..{high or ''}"]
    return value
