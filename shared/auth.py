"""Authentication primitives: password hashing, signed bearer tokens, department API keys.

- Passwords: argon2id (``argon2-cffi``); a hash made with older parameters is upgraded at login.
- Bearer tokens: ``base64url(json claims).base64url(HMAC-SHA256)`` with an expiry; stateless,
  signed with ``SECRET_KEY``.
- API keys (department systems): ``hk_<8-char id>_<secret>``; only the id and a SHA-256 of the
  secret are stored (the secret has 192 bits of entropy, so a slow hash adds nothing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane) rather than the
# library default of 64 MiB: a login must not double a gateway's memory or stall it for long.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _offload(_hasher.hash, password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return bool(_offload(_hasher.verify, stored, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


_hashing: Any = None


def _offload(fn: Any, *args: Any) -> Any:
    """Run CPU-heavy hashing on a native thread when eventlet is in charge, so one login
    does not stall every other request of the process; one hash at a time, so a burst of
    logins costs one hash's memory (19 MiB), not one per thread of eventlet's pool."""
    global _hashing
    from eventlet import patcher, tpool
    from eventlet.semaphore import Semaphore

    if not patcher.is_monkey_patched("thread"):
        return fn(*args)
    if _hashing is None:
        _hashing = Semaphore(1)
    with _hashing:
        return tpool.execute(fn, *args)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenError(Exception):
    pass


def issue_token(claims: dict[str, Any], secret: str, ttl_seconds: int,
                now: float | None = None) -> str:
    body = dict(claims, exp=int((now or time.time()) + ttl_seconds))
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(sig)}"


def read_token(token: str, secret: str, now: float | None = None) -> dict[str, Any]:
    try:
        payload, sig = token.split(".", 1)
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig)):
            raise TokenError("bad signature")
        claims = json.loads(_unb64(payload))
    except (ValueError, json.JSONDecodeError) as exc:
        raise TokenError("malformed token") from exc
    if claims.get("exp", 0) < (now or time.time()):
        raise TokenError("token expired")
    return claims


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    secret_hash: str
    plaintext: str  # shown once, never stored


def new_api_key() -> NewApiKey:
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24)
    return NewApiKey(key_id, hash_api_secret(secret), f"hk_{key_id}_{secret}")


def hash_api_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_api_key(text: str) -> tuple[str, str]:
    """``hk_<id>_<secret>`` → (id, secret); ValueError if it has another shape."""
    if not text.startswith("hk_"):
        raise ValueError("not an API key")
    key_id, _, secret = text[3:].partition("_")
    if len(key_id) != 8 or not secret:
        raise ValueError("not an API key")
    return key_id, secret


def hmac_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
