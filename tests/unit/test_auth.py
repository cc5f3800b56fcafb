"""Unit tests for shared.auth: argon2 passwords, signed bearer tokens, department API keys."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.auth import (
    TokenError,
    hash_api_secret,
    hash_password,
    hmac_equal,
    issue_token,
    new_api_key,
    parse_api_key,
    read_token,
    verify_password,
)

FAST = settings(database=None, deadline=None, derandomize=True, max_examples=100)
SECRET = "unit-test-secret"
NOW = 1_800_000_000.0  # a fixed instant in 2027


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password("正确的密码 correct horse")


class TestPasswords:
    def test_verify_the_right_password(self, stored: str) -> None:
        assert verify_password(stored, "正确的密码 correct horse") is True

    @pytest.mark.parametrize("attempt", ["", "正确的密码 correct hors", "正确的密码 Correct horse"])
    def test_wrong_password(self, stored: str, attempt: str) -> None:
        assert verify_password(stored, attempt) is False

    def test_hash_is_argon2id_and_salted(self, stored: str) -> None:
        assert stored.startswith("$argon2id$")
        assert "correct horse" not in stored
        assert hash_password("正确的密码 correct horse") != stored

    @pytest.mark.parametrize("garbage", ["", "plaintext", "$argon2id$v=19$broken"])
    def test_garbage_stored_hash_is_false_not_an_error(self, garbage: str) -> None:
        assert verify_password(garbage, "anything") is False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestTokens:
    def test_round_trip(self) -> None:
        token = issue_token({"sub": "agent1", "role": "agent"}, SECRET, 3600, now=NOW)
        claims = read_token(token, SECRET, now=NOW + 10)
        assert claims == {"sub": "agent1", "role": "agent", "exp": int(NOW + 3600)}

    def test_shape_is_payload_dot_signature(self) -> None:
        payload, sig = issue_token({"sub": "a"}, SECRET, 60, now=NOW).split(".")
        assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {
            "exp": int(NOW + 60), "sub": "a"}
        assert len(base64.urlsafe_b64decode(sig + "=")) == 32  # HMAC-SHA256

    def test_unicode_claims(self) -> None:
        token = issue_token({"name": "张三"}, SECRET, 60, now=NOW)
        assert read_token(token, SECRET, now=NOW)["name"] == "张三"

    def test_valid_until_the_expiry_second(self) -> None:
        token = issue_token({"sub": "a"}, SECRET, 60, now=NOW)
        assert read_token(token, SECRET, now=NOW + 60)["sub"] == "a"
        with pytest.raises(TokenError, match="expired"):
            read_token(token, SECRET, now=NOW + 61)

    def test_expired_long_ago(self) -> None:
        token = issue_token({"sub": "a"}, SECRET, 60, now=NOW - 86_400)
        with pytest.raises(TokenError, match="expired"):
            read_token(token, SECRET, now=NOW)

    def test_other_secret(self) -> None:
        token = issue_token({"sub": "a"}, SECRET, 60, now=NOW)
        with pytest.raises(TokenError, match="bad signature"):
            read_token(token, "another-secret", now=NOW)

    def test_tampered_claims(self) -> None:
        token = issue_token({"sub": "agent1", "role": "agent"}, SECRET, 60, now=NOW)
        _, sig = token.split(".")
        forged = _b64(json.dumps({"exp": int(NOW + 60), "role": "admin", "sub": "agent1"},
                                 separators=(",", ":"), sort_keys=True).encode())
        with pytest.raises(TokenError, match="bad signature"):
            read_token(f"{forged}.{sig}", SECRET, now=NOW)

    def test_tampered_signature(self) -> None:
        token = issue_token({"sub": "a"}, SECRET, 60, now=NOW)
        payload, sig = token.split(".")
        flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
        with pytest.raises(TokenError, match="bad signature"):
            read_token(f"{payload}.{flipped}", SECRET, now=NOW)

    def test_unsigned_token(self) -> None:
        payload = issue_token({"sub": "a"}, SECRET, 60, now=NOW).split(".")[0]
        with pytest.raises(TokenError):
            read_token(f"{payload}.", SECRET, now=NOW)

    @pytest.mark.parametrize("token", ["", "abc", "a.b", "..", "not base64!.x", "é.é",
                                       "eyJ9.eyJ9"])
    def test_malformed(self, token: str) -> None:
        with pytest.raises(TokenError):
            read_token(token, SECRET, now=NOW)

    def test_signed_garbage_payload_is_malformed(self) -> None:
        import hashlib
        import hmac

        payload = _b64(b"not json")
        sig = _b64(hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest())
        with pytest.raises(TokenError, match="malformed"):
            read_token(f"{payload}.{sig}", SECRET, now=NOW)

    @FAST
    @given(st.text(max_size=80))
    def test_arbitrary_text_never_authenticates(self, text: str) -> None:
        with pytest.raises(TokenError):
            read_token(text, SECRET, now=NOW)

    @FAST
    @given(claims=st.dictionaries(st.text(min_size=1, max_size=10).filter(lambda k: k != "exp"),
                                  st.one_of(st.text(max_size=20), st.integers(-2**53, 2**53),
                                            st.booleans(), st.none()), max_size=5),
           ttl=st.integers(1, 10**6))
    def test_any_claims_round_trip(self, claims: dict, ttl: int) -> None:
        token = issue_token(claims, SECRET, ttl, now=NOW)
        assert read_token(token, SECRET, now=NOW) == {**claims, "exp": int(NOW + ttl)}


class TestApiKeys:
    def test_new_key_parses_back_to_its_id_and_hash(self) -> None:
        key = new_api_key()
        assert key.plaintext.startswith(f"hk_{key.key_id}_")
        key_id, secret = parse_api_key(key.plaintext)
        assert key_id == key.key_id and len(key_id) == 8
        assert hash_api_secret(secret) == key.secret_hash
        assert secret not in key.secret_hash

    def test_keys_are_unique(self) -> None:
        keys = [new_api_key() for _ in range(20)]
        assert len({k.key_id for k in keys}) == 20
        assert len({k.plaintext for k in keys}) == 20

    def test_secret_may_contain_underscores(self) -> None:
        assert parse_api_key("hk_0123abcd_se_cr_et") == ("0123abcd", "se_cr_et")

    def test_hash_is_sha256_hex(self) -> None:
        assert hash_api_secret("abc") == (
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")

    @pytest.mark.parametrize("text", [
        "", "hk_", "hk_0123abcd", "hk_0123abcd_", "hk_short_secret", "hk_0123abcde_secret",
        "HK_0123abcd_secret", "xx_0123abcd_secret", "Bearer hk_0123abcd_secret",
        "0123abcd_secret",
    ])
    def test_wrong_shapes(self, text: str) -> None:
        with pytest.raises(ValueError, match="not an API key"):
            parse_api_key(text)

    def test_hmac_equal(self) -> None:
        assert hmac_equal("abc", "abc")
        assert not hmac_equal("abc", "abd")
        assert not hmac_equal("abc", "abcd")
