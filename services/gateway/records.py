"""The gateway's reads and writes for repeat calls and confidentiality (clearance flags, the
audit log's query) and for the inbound API's idempotency records. Each function opens and closes its own short transaction, like
:mod:`services.gateway.access`, so no database lock is held across an RPC."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from services.gateway import idempotency
from services.gateway.models import AuditEntry, IdempotencyRecord, User
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


# -- Step 3 keys: idempotency records (services/gateway/idempotency.py has the rules) ----------
def begin_idempotent(uow: Any, principal: str, key: str, fingerprint: str, method: str,
                     path: str, now: datetime, ttl: timedelta, lease: timedelta
                     ) -> tuple[str, idempotency.Stored | None]:
    """Look the key up and, when the request is to run, claim it ("in flight") in one short
    transaction. Returns the verdict of :func:`idempotency.decide` and the stored record."""
    try:
        row = uow.session.get(IdempotencyRecord, (principal, key))
        stored = None if row is None else idempotency.Stored(
            row.fingerprint, row.created_at, row.status, row.response)
        verdict = idempotency.decide(stored, fingerprint, now, ttl, lease)
        if verdict == idempotency.RUN:
            if row is None:
                uow.session.add(IdempotencyRecord(
                    principal=principal, key=key, fingerprint=fingerprint, method=method,
                    path=path[:300], status=None, response=None, created_at=now))
            else:  # expired, or abandoned in flight: start afresh
                row.fingerprint, row.method, row.path = fingerprint, method, path[:300]
                row.status, row.response, row.created_at = None, None, now
            uow.commit()
        return verdict, stored
    except IntegrityError:  # another request claimed the key between our read and write
        return idempotency.IN_FLIGHT, None
    finally:
        uow.rollback()


def finish_idempotent(uow: Any, principal: str, key: str, status: int,
                      response: dict[str, Any]) -> None:
    """Keep the response of a finished request for replay."""
    try:
        row = uow.session.get(IdempotencyRecord, (principal, key))
        if row is not None:
            row.status, row.response = status, response
            uow.commit()
    finally:
        uow.rollback()


def abandon_idempotent(uow: Any, principal: str, key: str) -> None:
    """Forget a claim whose request failed on our side (5xx): a retry runs again."""
    try:
        uow.session.execute(delete(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal, IdempotencyRecord.key == key,
            IdempotencyRecord.status.is_(None)))
        uow.commit()
    finally:
        uow.rollback()


def purge_idempotency(uow: Any, before: datetime) -> int:
    """Delete the records created before ``before`` (one indexed range delete)."""
    try:
        result = uow.session.execute(delete(IdempotencyRecord).where(
            IdempotencyRecord.created_at < before))
        uow.commit()
        return int(result.rowcount or 0)
    finally:
        uow.rollback()
