"""Gateway's tables: users and roles, department API keys, the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, MetaData, String, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import add_messaging_tables
from shared.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


metadata = Base.metadata
add_messaging_tables(metadata)


class User(Base):
    __tablename__ = "user_account"

    username: Mapped[str] = mapped_column(String(50), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    department_code: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # 涉密 clearance of one agent or dispatcher (services/gateway/domain.py may_see_confidential)
    cleared_confidential: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())


class ApiKey(Base):
    """A machine's credential; only a hash of the secret is kept.

    Two kinds: a department system's key (``department_code`` set; principal role
    ``department``, scoped to that department's assignments) and an Open311 client's key (a
    citizen app or a partner's portal: no department; principal role ``open311_client``, which
    may only submit and read service requests). ``scopes`` narrows what a key may do
    (:data:`services.gateway.domain.API_KEY_SCOPES`).
    """

    __tablename__ = "api_key"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuditEntry(Base):
    """Who did what through the gateway that matters for accountability (审计)."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


# -- Step 3 keys: idempotency records ------------------------------------------------------------
class IdempotencyRecord(Base):
    """One ``Idempotency-Key`` of one principal: the request's fingerprint and, once it has
    finished, the response to replay (:mod:`services.gateway.idempotency`). ``status`` is NULL
    while the first request is still running."""

    __tablename__ = "idempotency_record"

    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    status: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
