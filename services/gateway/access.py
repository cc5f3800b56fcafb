"""Who is calling: login, bearer tokens, department API keys, the audit log.

Each function opens and closes its own short transaction on the gateway's database, so no
database lock is held while the route then calls other services.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from services.gateway.domain import (
    CLIENT_KEY_SCOPES,
    DEPARTMENT_KEY_SCOPES,
    LOCKOUT_MINUTES,
    LOCKOUT_THRESHOLD,
    Principal,
)
from services.gateway.http import Unauthorized
from services.gateway.models import ApiKey, AuditEntry, User
from shared import auth
from shared.errors import Forbidden, NotFound
from shared.events import utcnow


def login(uow: Any, config: dict[str, Any], username: str, password: str) -> dict[str, Any]:
    """Check a password; lock the account for a while after repeated failures.

    The password is verified between two short transactions, never with the database
    session (and SQLite's write lock) held.
    """
    now = utcnow()
    try:
        user = uow.session.get(User, username)
        found = user is not None and user.active
        stored = user.password_hash if found else None
        locked_until = user.locked_until if found else None
    finally:
        uow.rollback()
    if not found:
        auth.verify_password(_dummy_hash(), password)  # same cost either way
        raise Unauthorized("用户名或密码错误 wrong username or password")
    if locked_until and locked_until > now:
        raise Forbidden(f"账号已锁定，请于{LOCKOUT_MINUTES}分钟后重试 account locked after "
                        "repeated failures", {"locked_until": locked_until.isoformat()})
    ok = auth.verify_password(stored, password)
    rehash = auth.hash_password(password) if ok and auth.needs_rehash(stored) else None
    try:
        user = uow.session.get(User, username)
        if not ok:
            user.failed_logins += 1
            if user.failed_logins >= LOCKOUT_THRESHOLD:
                user.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
                user.failed_logins = 0
                _audit(uow, username, "login.locked", username, {})
            uow.commit()
            raise Unauthorized("用户名或密码错误 wrong username or password")
        user.failed_logins, user.locked_until = 0, None
        if rehash:
            user.password_hash = rehash
        claims = {"sub": user.username, "role": user.role, "dept": user.department_code,
                  "name": user.display_name}
        uow.commit()
    finally:
        uow.rollback()
    ttl = int(config.get("TOKEN_TTL_SECONDS", 28800))
    return {"access_token": auth.issue_token(claims, config["SECRET_KEY"], ttl),
            "token_type": "Bearer", "expires_in": ttl, "role": claims["role"],
            "department_code": claims["dept"], "display_name": claims["name"]}


def principal_of(uow: Any, config: dict[str, Any], request: Any) -> Principal:
    """The caller of a request: ``Authorization: Bearer <token>`` or ``X-Api-Key: hk_…``."""
    api_key = request.headers.get("X-Api-Key")
    header = request.headers.get("Authorization", "")
    if api_key:
        return api_key_principal(uow, api_key)
    if header.startswith("Bearer "):
        return token_principal(uow, config, header[7:].strip())
    raise Unauthorized("需要登录 authentication required")


def token_principal(uow: Any, config: dict[str, Any], token: str) -> Principal:
    """The user of a bearer token, as the user account stands now.

    Tokens are stateless (signed, with an expiry), so the account is read on every request
    (one primary-key lookup): a deactivated user's token stops working at once, and so does a
    token whose role or department no longer matches the account (log in again). A forged or
    malformed token is audited; an expired one is routine and is not.
    """
    try:
        claims = auth.read_token(token, config["SECRET_KEY"])
    except auth.TokenError as exc:
        if str(exc) != "token expired":
            audit(uow, "anonymous", "auth.token_rejected", None, {"reason": str(exc)})
        raise Unauthorized(f"令牌无效 invalid token: {exc}") from None
    username = str(claims.get("sub"))
    try:
        user = uow.session.get(User, username)
        reason = None
        if user is None or not user.active:
            reason = "inactive" if user is not None else "unknown user"
        elif user.role != claims.get("role") or user.department_code != claims.get("dept"):
            reason = "account changed"
        if reason:
            _audit(uow, username[:64], "auth.token_rejected", username[:64], {"reason": reason})
            uow.commit()
            raise Unauthorized("令牌已失效，请重新登录 token no longer valid, log in again",
                               {"reason": reason})
        principal = Principal(name=user.username, role=user.role,
                              department_code=user.department_code)
    finally:
        uow.rollback()
    return principal


def api_key_principal(uow: Any, text: str) -> Principal:
    """The principal of an API key (header ``X-Api-Key``, or Open311's ``api_key`` parameter).

    Unknown, malformed or revoked → :class:`Unauthorized` and an audit entry
    (``auth.api_key_rejected``, with the key id when one was readable). The key is read on
    every request, so a revocation takes effect at once."""
    try:
        key_id, secret = auth.parse_api_key(text)
    except ValueError:
        audit(uow, "anonymous", "auth.api_key_rejected", None, {"reason": "malformed"})
        raise Unauthorized("API 密钥无效 invalid API key") from None
    try:
        key = uow.session.get(ApiKey, key_id)
        valid = key is not None and key.revoked_at is None and \
            auth.hmac_equal(key.secret_hash, auth.hash_api_secret(secret))
        if not valid:
            _audit(uow, f"apikey:{key_id}", "auth.api_key_rejected", key_id,
                   {"reason": "revoked" if key is not None and key.revoked_at else "unknown"})
            uow.commit()
            raise Unauthorized("API 密钥无效或已吊销 unknown or revoked API key")
        principal = Principal(
            name=f"apikey:{key.key_id}",
            role="department" if key.department_code else "open311_client",
            department_code=key.department_code, via="api_key",
            scopes=frozenset(key.scopes or ()))
    finally:
        uow.rollback()
    return principal


def create_api_key(uow: Any, department_code: str | None, name: str, actor: str,
                   scopes: tuple[str, ...] | list[str] | None = None) -> dict[str, Any]:
    """Issue a key: a department system's (``department_code``) or an Open311 client's
    (``None``). ``scopes`` defaults to everything that kind may have."""
    default = DEPARTMENT_KEY_SCOPES if department_code else CLIENT_KEY_SCOPES
    granted = sorted(set(scopes if scopes is not None else default))
    new = auth.new_api_key()
    try:
        uow.session.add(ApiKey(key_id=new.key_id, secret_hash=new.secret_hash,
                               department_code=department_code, name=name, created_at=utcnow(),
                               scopes=granted))
        _audit(uow, actor, "api_key.created", new.key_id,
               {"department_code": department_code, "scopes": granted})
        uow.commit()
    finally:
        uow.rollback()
    return {"key_id": new.key_id, "api_key": new.plaintext, "department_code": department_code,
            "name": name, "scopes": granted, "note": "密钥只显示一次 the key is shown only once"}


def revoke_api_key(uow: Any, key_id: str, actor: str) -> bool:
    """Revoke a key (audited); revoking it again changes nothing. False if there is none."""
    try:
        key = uow.session.get(ApiKey, key_id)
        if key is None:
            return False
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            _audit(uow, actor, "api_key.revoked", key_id,
                   {"department_code": key.department_code, "name": key.name})
            uow.commit()
        return True
    finally:
        uow.rollback()


# -- Step 3 keys: listing keys, deactivating users ---------------------------------------------
def list_api_keys(uow: Any, department_code: str | None = None) -> list[dict[str, Any]]:
    """Every key, newest first, without its secret (only a hash of it is kept anyway)."""
    stmt = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.key_id)
    if department_code:
        stmt = stmt.where(ApiKey.department_code == department_code)
    try:
        return [{"key_id": k.key_id, "department_code": k.department_code, "name": k.name,
                 "kind": "department" if k.department_code else "open311_client",
                 "scopes": sorted(k.scopes or ()), "created_at": k.created_at.isoformat(),
                 "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}
                for k in uow.session.scalars(stmt)]
    finally:
        uow.rollback()


def set_user_active(uow: Any, username: str, active: bool, actor: str) -> dict[str, Any]:
    """Deactivate (or reactivate) a user; their bearer tokens stop (or resume) working on
    the next request (:func:`token_principal`)."""
    try:
        user = uow.session.get(User, username)
        if user is None:
            raise NotFound(f"用户不存在 user {username} not found", {"username": username})
        if user.active != active:
            user.active = active
            _audit(uow, actor, "user.activated" if active else "user.deactivated", username,
                   {"role": user.role})
            uow.commit()
        return {"username": username, "active": active}
    finally:
        uow.rollback()


def upsert_users(uow: Any, users: list[dict[str, Any]]) -> int:
    hashes = {u["username"]: auth.hash_password(u["password"]) for u in users if u.get("password")}
    try:
        for u in users:
            existing = uow.session.get(User, u["username"])
            fields = dict(display_name=u.get("display_name") or u["username"], role=u["role"],
                          department_code=u.get("department_code"), active=True)
            if existing is None:
                uow.session.add(User(username=u["username"],
                                     password_hash=hashes[u["username"]],
                                     failed_logins=0, **fields))
            else:
                for k, v in fields.items():
                    setattr(existing, k, v)
                if u["username"] in hashes:
                    existing.password_hash = hashes[u["username"]]
        uow.commit()
    finally:
        uow.rollback()
    return len(users)


def audit(uow: Any, actor: str, action: str, target: str | None, detail: dict[str, Any]) -> None:
    try:
        _audit(uow, actor, action, target, detail)
        uow.commit()
    finally:
        uow.rollback()


def _audit(uow: Any, actor: str, action: str, target: str | None, detail: dict[str, Any]) -> None:
    uow.session.add(AuditEntry(at=utcnow(), actor=actor, action=action, target=target,
                               detail=detail))


def list_users(uow: Any) -> list[dict[str, Any]]:
    try:
        return [{"username": u.username, "display_name": u.display_name, "role": u.role,
                 "department_code": u.department_code, "active": u.active}
                for u in uow.session.scalars(select(User).order_by(User.username))]
    finally:
        uow.rollback()


@functools.cache
def _dummy_hash() -> str:
    return auth.hash_password("not-a-real-password")
