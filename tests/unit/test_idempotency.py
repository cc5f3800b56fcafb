"""Unit tests for services.gateway.idempotency: the Idempotency-Key rules of the inbound API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.idempotency import (
    IN_FLIGHT,
    MISMATCH,
    REPLAY,
    RUN,
    Stored,
    check_key,
    decide,
    fingerprint,
    live,
    storable,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TTL, LEASE = timedelta(hours=24), timedelta(seconds=120)
FP = fingerprint("POST", "/api/v1/assignments/7/sign", "", b"")


def stored(age: timedelta, status: int | None = 200, fp: str = FP) -> Stored:
    return Stored(fp, NOW - age, status, {"body": {"ok": True}} if status else None)


class TestKey:
    @pytest.mark.parametrize("value", ["a", "x" * 80, "3f2c1e4a-9d7b-4b1e-8f21-1c2d3e4f5a6b"])
    def test_fit(self, value: str) -> None:
        assert check_key(value) is None

    @pytest.mark.parametrize("value", ["", "x" * 81, "bad\nkey", "tab\there"])
    def test_unfit(self, value: str) -> None:
        assert "80" in (check_key(value) or "")

    def test_absent_is_fine(self) -> None:
        assert check_key(None) is None


class TestFingerprint:
    def test_json_compared_by_value(self) -> None:
        a = fingerprint("POST", "/p", "", b'{"reply": "\xe5\xb7\xb2\xe5\xa4\x84\xe7\x90\x86", "n": 1}')
        b = fingerprint("POST", "/p", "", '{ "n":1,\n "reply":"已处理" }'.encode())
        assert a == b

    @pytest.mark.parametrize("other", [
        ("PUT", "/p", "", b'{"a": 1}'), ("POST", "/q", "", b'{"a": 1}'),
        ("POST", "/p", "x=1", b'{"a": 1}'), ("POST", "/p", "", b'{"a": 2}'),
        ("POST", "/p", "", b""), ("POST", "/p", "", b'{"a": 1.0, "b": null}'),
    ])
    def test_any_difference_counts(self, other: tuple[str, str, str, bytes]) -> None:
        assert fingerprint(*other) != fingerprint("POST", "/p", "", b'{"a": 1}')

    def test_method_case_does_not_matter(self) -> None:
        assert fingerprint("post", "/p", "", b"") == fingerprint("POST", "/p", "", b"")

    def test_a_non_json_body_is_compared_byte_for_byte(self) -> None:
        assert fingerprint("POST", "/p", "", b"{not json") == fingerprint("POST", "/p", "", b"{not json")
        assert fingerprint("POST", "/p", "", b"{not json") != fingerprint("POST", "/p", "", b"{not json ")

    def test_parts_cannot_slide_into_each_other(self) -> None:
        assert fingerprint("POST", "/p", "ab", b"") != fingerprint("POST", "/pa", "b", b"")

    @settings(database=None, deadline=None, derandomize=True, max_examples=100)
    @given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=5))
    def test_key_order_never_matters(self, body: dict) -> None:
        import json
        forward = json.dumps(body).encode()
        backward = json.dumps(dict(reversed(list(body.items())))).encode()
        assert fingerprint("POST", "/p", "", forward) == fingerprint("POST", "/p", "", backward)


class TestDecide:
    def test_no_record_runs(self) -> None:
        assert decide(None, FP, NOW, TTL, LEASE) == RUN

    def test_a_finished_record_is_replayed(self) -> None:
        assert decide(stored(timedelta(minutes=5)), FP, NOW, TTL, LEASE) == REPLAY

    def test_a_stored_client_error_is_replayed_too(self) -> None:
        assert decide(stored(timedelta(minutes=5), 422), FP, NOW, TTL, LEASE) == REPLAY

    def test_another_request_under_the_same_key_is_a_mismatch(self) -> None:
        other = fingerprint("POST", "/api/v1/assignments/8/sign", "", b"")
        assert decide(stored(timedelta(minutes=5)), other, NOW, TTL, LEASE) == MISMATCH
        assert decide(stored(timedelta(seconds=1), None), other, NOW, TTL, LEASE) == MISMATCH

    def test_a_running_first_request_makes_the_repeat_wait(self) -> None:
        assert decide(stored(timedelta(seconds=1), None), FP, NOW, TTL, LEASE) == IN_FLIGHT

    def test_a_claim_older_than_the_lease_was_abandoned_and_runs_again(self) -> None:
        old = stored(LEASE + timedelta(seconds=1), None)
        assert not live(old, NOW, TTL, LEASE)
        assert decide(old, FP, NOW, TTL, LEASE) == RUN

    def test_an_expired_record_counts_as_absent(self) -> None:
        assert decide(stored(TTL), FP, NOW, TTL, LEASE) == RUN
        assert decide(stored(TTL - timedelta(seconds=1)), FP, NOW, TTL, LEASE) == REPLAY
        other = fingerprint("POST", "/other", "", b"")
        assert decide(stored(TTL + timedelta(hours=1)), other, NOW, TTL, LEASE) == RUN


class TestStorable:
    @pytest.mark.parametrize("status, kept", [(200, True), (201, True), (204, True),
                                              (400, True), (422, True), (403, False),
                                              (404, False), (409, False), (500, False),
                                              (503, False)])
    def test_successes_and_validation_failures_are_kept(self, status: int, kept: bool) -> None:
        assert storable(status) is kept


class TestRoutes:
    """The route flag: which routes take an ``Idempotency-Key``."""

    @pytest.fixture(scope="class")
    def routes(self) -> list:
        import services.gateway.service  # noqa: F401  (registers the routes)
        from services.gateway.http import ROUTES
        return ROUTES

    def test_every_department_action_takes_a_key(self, routes: list) -> None:
        """A POST only departments may make (sign, reply, progress …) is what a department
        system retries: a new one without ``idempotent=True`` fails here."""
        from services.gateway.domain import PERMISSIONS

        missing = [r.path for r in routes if r.method == "POST" and r.action
                   and PERMISSIONS[r.action] == {"department"} and not r.idempotent]
        assert missing == []

    def test_the_inbound_routes_of_the_brief_are_flagged(self, routes: list) -> None:
        flagged = {r.name for r in routes if r.idempotent}
        assert {"sign", "reply", "request_extension", "request_return", "submit_opinion",
                "pass_down", "answer_urge", "explain_supervision", "instruction_feedback",
                "acknowledge_instruction"} <= flagged

    def test_the_openapi_document_declares_the_header(self, routes: list) -> None:
        from services.gateway.openapi import openapi_document, openapi_path

        doc = openapi_document()
        for r in routes:
            if r.idempotent:
                op = doc["paths"][openapi_path(r.path)][r.method.lower()]
                assert any(p["name"] == "Idempotency-Key" and p["in"] == "header"
                           for p in op["parameters"]), r.path

    def test_a_read_cannot_be_flagged(self) -> None:
        from services.gateway.http import route

        with pytest.raises(ValueError):
            route("GET", "/x", summary="x", action="inbox.read", idempotent=True)
        with pytest.raises(ValueError):
            route("POST", "/x", summary="x", action=None, idempotent=True)
