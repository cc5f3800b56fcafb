"""The webhook wire format's signature (shared.webhooks): a round trip and every refusal."""

from __future__ import annotations

import pytest

from shared import webhooks

SECRET = "whsec_test_secret"
BODY = webhooks.encode_body({"seq": 1, "type": "assignment.urged", "data": {"note": "请尽快办理"}})
NOW = 1_790_000_000


def headers(**overrides: str) -> dict[str, str]:
    h = webhooks.signed_headers(SECRET, BODY, event_type="assignment.urged", delivery_id=9,
                                now=NOW)
    h.update(overrides)
    return h


def test_round_trip_within_the_window() -> None:
    webhooks.verify(SECRET, BODY, headers(), now=NOW + webhooks.REPLAY_WINDOW_SECONDS)


def test_body_is_compact_utf8() -> None:
    assert "请尽快办理".encode() in BODY and b" " not in BODY


@pytest.mark.parametrize(("case", "reason"), [
    ("tampered_body", "mismatch"), ("wrong_secret", "mismatch"), ("stale", "stale"),
    ("future", "stale"), ("missing", "missing"), ("malformed", "malformed"),
])
def test_refusals(case: str, reason: str) -> None:
    body, secret, now, h = BODY, SECRET, NOW, headers()
    if case == "tampered_body":
        body = BODY.replace("尽快".encode(), "马上".encode())
    elif case == "wrong_secret":
        secret = "another"
    elif case == "stale":
        now = NOW + webhooks.REPLAY_WINDOW_SECONDS + 1
    elif case == "future":
        now = NOW - webhooks.REPLAY_WINDOW_SECONDS - 1
    elif case == "missing":
        del h[webhooks.SIGNATURE_HEADER]
    elif case == "malformed":
        h[webhooks.TIMESTAMP_HEADER] = "yesterday"
    with pytest.raises(webhooks.SignatureError) as err:
        webhooks.verify(secret, body, h, now=now)
    assert err.value.reason == reason


def test_signature_binds_the_timestamp() -> None:
    """A captured signature cannot be replayed with a fresh timestamp."""
    h = headers(**{webhooks.TIMESTAMP_HEADER: str(NOW + 1000)})
    with pytest.raises(webhooks.SignatureError) as err:
        webhooks.verify(SECRET, BODY, h, now=NOW + 1000)
    assert err.value.reason == "mismatch"
