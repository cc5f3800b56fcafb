"""Unit tests for shared.events (the envelope) and shared.catalogue (one schema per event)."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from marshmallow import Schema

from shared import catalogue, events
from shared.events import (
    Event,
    EventSchema,
    MalformedEvent,
    UnknownEvent,
    event_types,
    load_envelope,
    make_envelope,
    register,
    schema_for,
)

AT = datetime(2026, 11, 23, 8, 15, 2, 123000, tzinfo=UTC)
TICKET = "20261123000042"

# One valid ``data`` per registered event type, as a producer would pass it (Python types).
SAMPLES: dict[str, dict[str, Any]] = {
    "ticket.registered": {
        "ticket_no": TICKET, "registered_at": AT, "channel": "phone", "category": "complaint",
        "urgency": "normal", "title": "噪音扰民", "content": "楼下夜间施工", "caller_name": "张三",
        "phone": "13812345678", "address": "西湖区北山街道", "territory_code": "330106",
        "confidential": True, "agent": "agent1", "call_id": "c-1", "recording_ref": None,
        "resolved_at_intake": False, "caller_privacy": False,
        "related_ticket_nos": ["20261122000007"]},
    "ticket.resolved_at_intake": {
        "ticket_no": TICKET, "resolved_at": AT, "actor": "agent1", "answer": "按办事指南办理",
        "article_id": 12},
    "ticket.dispatched": {
        "ticket_no": TICKET, "dispatched_at": AT, "actor": "dispatcher1", "round": 1,
        "category": "complaint", "urgency": "normal", "rule_id": None,
        "assignments": [{"assignment_id": 1, "department_code": "CG", "role": "lead"},
                        {"assignment_id": 2, "department_code": "GA", "role": "assist"}]},
    "ticket.pending_dispatch": {"ticket_no": TICKET, "at": AT, "reason": "无匹配规则"},
    "assignment.signed": {
        "assignment_id": 1, "ticket_no": TICKET, "department_code": "CG", "role": "lead",
        "signed_at": AT, "actor": "cg1"},
    "assignment.replied": {
        "assignment_id": 1, "ticket_no": TICKET, "department_code": "CG", "replied_at": AT,
        "actor": "cg1", "reply": "已处理"},
    "assignment.clocks_started": {
        "assignment_id": 1, "ticket_no": TICKET, "department_code": "CG", "role": "lead",
        "started_at": AT, "sign_due": AT + timedelta(hours=2),
        "handle_due": AT + timedelta(days=21), "policy": "sign:normal=2wh;handle:complaint=15wd"},
    "ticket.status_changed": {
        "ticket_no": TICKET, "from_status": None, "to_status": "registered", "at": AT,
        "actor": "system", "reason": "登记"},
    "ticket.callback_recorded": {
        "ticket_no": TICKET, "at": AT, "actor": "sup1", "reached": True, "solved": False,
        "satisfaction": "unsatisfied", "note": "仍有噪音"},
    "ticket.closed": {"ticket_no": TICKET, "closed_at": AT, "actor": "sup1",
                      "reason": "callback_satisfied"},
    "kb.article_published": {
        "article_id": 12, "title": "居住证办理", "article_type": "guide",
        "department_code": "GA", "published_at": AT},
    "kb.article_archived": {
        "article_id": 12, "title": "居住证办理", "department_code": "GA", "archived_at": AT,
        "actor": "system", "reason": "有效期届满 validity ended"},
    "kb.departments_suggested": {
        "ticket_no": TICKET, "at": AT, "suggestions": [
            {"department_code": "chengguan", "score": 0.82,
             "reasons": ["部门职能「市综合行政执法局主要职责」命中: 占道经营"]}]},
    "ticket.urged": {
        "ticket_no": TICKET, "urge_id": 3, "assignment_id": 5, "department_code": "chengguan",
        "clock": "handle", "kind": "warning", "channel": "system", "issued_at": AT,
        "issuer": "system", "note": None},
    "assignment.extension_requested": {
        "extension_id": 1, "assignment_id": 5, "ticket_no": TICKET, "department_code": "cg",
        "days": 3, "reason": "需现场勘查", "at": AT, "actor": "u1"},
    "assignment.extension_decided": {
        "extension_id": 1, "assignment_id": 5, "ticket_no": TICKET, "department_code": "cg",
        "approved": True, "old_due": AT, "new_due": AT, "at": AT, "actor": "s1", "note": None},
    "assignment.return_requested": {
        "return_id": 2, "assignment_id": 5, "ticket_no": TICKET, "department_code": "cg",
        "reason_code": "function", "basis": "不属本单位职能", "at": AT, "actor": "u1"},
    "assignment.return_decided": {
        "return_id": 2, "assignment_id": 5, "ticket_no": TICKET, "department_code": "cg",
        "approved": False, "at": AT, "actor": "d1", "note": "属本单位职责"},
    "ticket.reopened": {"ticket_no": TICKET, "at": AT, "actor": "sup1", "reason": "回访不满意"},
    "ticket.overdue": {
        "ticket_no": TICKET, "assignment_id": 5, "department_code": "chengguan",
        "clock": "sign", "due": AT, "at": AT},
    "ticket.linked": {
        "ticket_no": TICKET, "link_id": 1, "linked_at": AT, "caller_name": "王先生",
        "phone": "13912345678", "content": "同一处噪音又来电", "channel": "phone",
        "agent": "agent2", "call_id": None, "reason": "similar_matter"},
    "ticket.hotspot_raised": {
        "ticket_no": TICKET, "callers": 3, "at": AT, "category": "complaint",
        "territory_code": "330106", "title": "噪音扰民"},
    "assignment.passed_down": {
        "ticket_no": TICKET, "assignment_id": 1, "new_assignment_id": 7,
        "from_department": "district_a", "to_department": "street_b", "role": "lead", "at": AT,
        "actor": "da1", "note": "属地街道办理"},
    "assignment.opinion_submitted": {
        "assignment_id": 2, "ticket_no": TICKET, "department_code": "GA", "submitted_at": AT,
        "actor": "ga1", "opinion": "已配合现场核查"},
    "ticket.problem_flagged": {
        "ticket_no": TICKET, "at": AT, "transfers": 2, "reopens": 1,
        "reason": "转办/重办达3次 问题工单"},
    "ticket.supervised": {
        "ticket_no": TICKET, "supervision_order_id": 4, "assignment_id": 5,
        "department_code": "chengguan", "source": "breach", "opened_at": AT, "opened_by": "system",
        "explanation_due": AT + timedelta(days=2), "escalate_at": AT + timedelta(days=7),
        "note": None},
    "supervision.explanation_given": {
        "ticket_no": TICKET, "supervision_order_id": 4, "assignment_id": 5,
        "department_code": "chengguan", "explanation": "现场勘查耽误", "at": AT, "actor": "cg1",
        "late": False},
    "ticket.escalated": {
        "ticket_no": TICKET, "supervision_order_id": 4, "assignment_id": 5,
        "department_code": "chengguan", "opened_at": AT, "at": AT + timedelta(days=7),
        "reason": "督办后5个工作日仍未答复"},
    "ticket.urge_answered": {
        "ticket_no": TICKET, "urge_id": 3, "assignment_id": 5, "department_code": "chengguan",
        "answer": "已安排人员处理", "at": AT, "actor": "cg1"},
    "ticket.rechecked": {
        "ticket_no": TICKET, "recheck_id": 1, "finding": "confirmed", "note": "整改到位",
        "at": AT, "actor": "sup1"},
    "ticket.linked_callback_recorded": {
        "ticket_no": TICKET, "link_id": 1, "at": AT, "actor": "sup1", "reached": True,
        "solved": True, "satisfaction": "satisfied", "note": None},
    "instruction.registered": {
        "instruction_id": 12, "number": "批〔2026〕12号", "leader_level": "mayor",
        "kind": "handle", "urgent": False, "confidential": True, "received_at": AT,
        "registered_at": AT, "dispatch_due": None, "actor": "supervisor1",
        "units": [{"department_code": "chengguan", "feedback_due": AT}], "ticket_nos": [TICKET]},
    "instruction.reclassified": {
        "instruction_id": 12, "number": "批〔2026〕12号", "kind": "read", "at": AT,
        "actor": "supervisor1", "reason": "领导圈阅，仅供参考"},
    "instruction.feedback_submitted": {
        "instruction_id": 12, "number": "批〔2026〕12号", "feedback_id": 3,
        "department_code": "chengguan", "submitted_at": AT, "feedback_due": AT,
        "actor": "dept_chengguan", "submission": 1},
    "instruction.feedback_decided": {
        "instruction_id": 12, "number": "批〔2026〕12号", "feedback_id": 3,
        "department_code": "chengguan", "approved": False, "at": AT, "actor": "supervisor1",
        "reason": "未写明整改时限"},
    "instruction.read": {
        "instruction_id": 12, "number": "批〔2026〕12号", "department_code": "chengguan",
        "at": AT, "actor": "dept_chengguan"},
    "instruction.completed": {
        "instruction_id": 12, "number": "批〔2026〕12号", "kind": "handle", "completed_at": AT,
        "actor": "supervisor1"},
    "instruction.overdue": {
        "instruction_id": 12, "number": "批〔2026〕12号", "department_code": "chengguan",
        "urge_id": 5, "due": AT, "at": AT},
    "instruction.urged": {
        "instruction_id": 12, "number": "批〔2026〕12号", "urge_id": 6,
        "department_code": "chengguan", "channel": "notice", "issued_at": AT,
        "issuer": "supervisor1", "note": "下达催办单"},
    "assignment.return_withdrawn": {
        "return_id": 3, "assignment_id": 1, "ticket_no": TICKET, "department_code": "CG",
        "at": AT, "reason": "承办单位已答复，退单申请自动撤回", "superseded": "approved"},
    "ticket.recalled": {
        "ticket_no": TICKET, "round": 1, "at": AT, "actor": "dispatcher1",
        "reason": "派错单位，撤回改派", "assignment_ids": [1, 2], "departments": ["CG", "HB"]},
    "assignment.progress_noted": {
        "note_id": 4, "assignment_id": 1, "ticket_no": TICKET, "department_code": "CG",
        "note": "已安排现场核查", "at": AT, "actor": "apikey:ab12cd34"},
    "delivery.delivered": {
        "delivery_id": 9, "department_code": "CG", "endpoint_id": 2, "feed_seq": 17,
        "feed_type": "assignment.dispatched", "ticket_no": TICKET, "attempts": 1,
        "status_code": 200, "latency_ms": 12, "created_at": AT, "at": AT},
    "delivery.dead_lettered": {
        "delivery_id": 9, "department_code": "CG", "endpoint_id": 2, "feed_seq": 17,
        "feed_type": "assignment.urged", "ticket_no": None, "attempts": 40, "created_at": AT,
        "at": AT, "last_error": "HTTP 503"},
    "delivery.replayed": {
        "delivery_id": 9, "department_code": "CG", "at": AT, "actor": "admin"},
    # -- Step 5: reporting's assessment, reports and hotspot alerts --
    "report.published": {
        "report_id": 4, "kind": "month", "period_start": date(2026, 11, 1),
        "period_end": date(2026, 11, 30), "title": "2026年11月工单办理情况通报",
        "published_at": AT, "actor": "sup"},
    "assessment.published": {
        "assessment_id": 7, "department_code": "CG", "year": 2027, "quarter": 1,
        "revision": 1, "score": 96.5, "rules_version": "004-2011.1", "published_at": AT,
        "actor": "sup", "correction_of": None},
    "assessment.objection_submitted": {
        "objection_id": 3, "assessment_id": 7, "department_code": "CG", "at": AT, "due": AT,
        "actor": "cg-user"},
    "assessment.objection_decided": {
        "objection_id": 3, "assessment_id": 7, "department_code": "CG", "upheld": True,
        "at": AT, "actor": "sup", "late": False, "correction_id": 8},
    "assessment.objection_overdue": {
        "objection_id": 3, "assessment_id": 7, "department_code": "CG", "due": AT, "at": AT},
    "hotspot.spike_detected": {
        "alert_id": 2, "category": "complaint", "territory_code": "310101",
        "terms": ["停水"], "calls": 12, "ticket_nos": ["20261123000001"],
        "window_start": AT, "window_end": AT, "at": AT},
}

# A required datetime field of each type that carries one (for the naive-datetime check).
DATETIME_FIELD = {
    "ticket.registered": "registered_at", "ticket.resolved_at_intake": "resolved_at",
    "ticket.dispatched": "dispatched_at", "ticket.pending_dispatch": "at",
    "assignment.signed": "signed_at", "assignment.replied": "replied_at",
    "assignment.clocks_started": "handle_due", "ticket.status_changed": "at",
    "ticket.callback_recorded": "at", "ticket.closed": "closed_at",
    "kb.article_published": "published_at", "ticket.urged": "issued_at",
    "kb.article_archived": "archived_at", "kb.departments_suggested": "at",
    "ticket.overdue": "due", "ticket.reopened": "at",
    "assignment.extension_requested": "at", "assignment.extension_decided": "old_due",
    "assignment.return_requested": "at", "assignment.return_decided": "at",
    "ticket.linked": "linked_at", "ticket.hotspot_raised": "at", "assignment.passed_down": "at",
    "assignment.opinion_submitted": "submitted_at", "ticket.problem_flagged": "at",
    "ticket.supervised": "opened_at", "supervision.explanation_given": "at",
    "ticket.escalated": "at", "ticket.urge_answered": "at", "ticket.rechecked": "at",
    "ticket.linked_callback_recorded": "at",
    "instruction.registered": "received_at", "instruction.reclassified": "at",
    "instruction.feedback_submitted": "submitted_at", "instruction.feedback_decided": "at",
    "instruction.read": "at", "instruction.completed": "completed_at", "instruction.overdue": "due",
    "instruction.urged": "issued_at",
    "assignment.return_withdrawn": "at",
    "ticket.recalled": "at", "assignment.progress_noted": "at", "delivery.delivered": "at",
    "delivery.dead_lettered": "created_at", "delivery.replayed": "at",
    "report.published": "published_at", "assessment.published": "published_at",
    "assessment.objection_submitted": "due", "assessment.objection_decided": "at",
    "assessment.objection_overdue": "due", "hotspot.spike_detected": "window_start",
}


def envelope(event_type: str = "ticket.closed", **overrides: Any) -> dict[str, Any]:
    env = make_envelope(event_type, SAMPLES[event_type], producer="test", ticket_no=TICKET,
                        sequence=3, trace_id="trace-1", occurred_at=AT)
    env.update(overrides)
    return env


class TestCatalogue:
    def test_every_sample_type_is_registered(self) -> None:
        assert {t for t, _ in event_types()} == set(SAMPLES)

    def test_each_type_and_version_once(self) -> None:
        keys = event_types()
        assert len(keys) == len(set(keys))
        assert keys == sorted(keys)
        assert all(version == 1 for _, version in keys)

    def test_every_catalogue_schema_is_registered_exactly_once(self) -> None:
        registered = list(events._CATALOGUE.values())
        defined = [cls for _, cls in inspect.getmembers(catalogue, inspect.isclass)
                   if issubclass(cls, EventSchema) and cls is not EventSchema
                   and cls.__module__ == catalogue.__name__]
        nested_only = {catalogue.AssignmentRef, catalogue.DepartmentSuggestion}
        assert sorted(c.__name__ for c in registered) == sorted(
            c.__name__ for c in defined if c not in nested_only)

    def test_registering_a_type_twice_is_refused(self) -> None:
        with pytest.raises(ValueError, match="registered twice"):
            register("ticket.closed", 1)(catalogue.TicketClosed)
        assert schema_for("ticket.closed", 1).__class__ is catalogue.TicketClosed

    def test_new_version_can_be_registered(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(events, "_CATALOGUE", dict(events._CATALOGUE))

        class ClosedV2(EventSchema):
            pass

        register("ticket.closed", 2)(ClosedV2)
        assert ("ticket.closed", 2) in event_types()
        assert isinstance(schema_for("ticket.closed", 2), ClosedV2)

    def test_unknown_type_or_version(self) -> None:
        with pytest.raises(UnknownEvent, match="ticket.teleported"):
            schema_for("ticket.teleported", 1)
        with pytest.raises(UnknownEvent):
            schema_for("ticket.closed", 99)

    def test_schemas_ignore_unknown_keys(self) -> None:
        for event_type, _ in event_types():
            assert isinstance(schema_for(event_type, 1), Schema)
            assert schema_for(event_type, 1).Meta.unknown == "exclude"


class TestRoundTrip:
    @pytest.mark.parametrize("event_type", sorted(SAMPLES))
    def test_make_then_load_gives_the_data_back(self, event_type: str) -> None:
        env = make_envelope(event_type, SAMPLES[event_type], producer="test",
                            ticket_no=TICKET, sequence=7, trace_id="t-1", occurred_at=AT)
        wire = json.loads(json.dumps(env))  # only plain JSON types on the bus
        e = load_envelope(wire)
        assert isinstance(e, Event)
        assert (e.type, e.version, e.producer, e.ticket_no, e.sequence, e.trace_id) == (
            event_type, 1, "test", TICKET, 7, "t-1")
        assert e.occurred_at == AT
        assert e.event_id == env["event_id"]
        assert e.data == SAMPLES[event_type]
        assert e.raw == wire

    def test_envelope_shape(self) -> None:
        env = envelope()
        assert env["occurred_at"] == "2026-11-23T08:15:02.123000Z"
        assert set(env) == {"event_id", "type", "version", "occurred_at", "producer",
                            "ticket_no", "sequence", "trace_id", "data"}
        assert env["data"]["closed_at"].startswith("2026-11-23T08:15:02")

    def test_occurred_at_is_converted_to_utc(self) -> None:
        beijing = timezone(timedelta(hours=8))
        env = make_envelope("ticket.closed", SAMPLES["ticket.closed"], producer="test",
                            occurred_at=datetime(2026, 11, 23, 16, 15, tzinfo=beijing))
        assert env["occurred_at"] == "2026-11-23T08:15:00Z"

    def test_default_occurred_at_is_now(self) -> None:
        before = datetime.now(UTC)
        e = load_envelope(make_envelope("ticket.closed", SAMPLES["ticket.closed"],
                                        producer="test"))
        assert before - timedelta(seconds=1) <= e.occurred_at <= datetime.now(UTC)

    def test_each_envelope_gets_its_own_id(self) -> None:
        assert envelope()["event_id"] != envelope()["event_id"]

    def test_unknown_data_keys_are_dropped_forward_compatibly(self) -> None:
        env = envelope()
        env["data"]["added_in_a_later_release"] = 1
        assert "added_in_a_later_release" not in load_envelope(env).data

    def test_optional_envelope_fields_may_be_absent(self) -> None:
        env = envelope()
        for key in ("ticket_no", "sequence", "trace_id"):
            del env[key]
        e = load_envelope(env)
        assert (e.ticket_no, e.sequence, e.trace_id) == (None, None, None)


class TestMalformedOnLoad:
    @pytest.mark.parametrize("body", [None, "text", ["list"], 42, b"{}"])
    def test_body_not_an_object(self, body: Any) -> None:
        with pytest.raises(MalformedEvent, match="JSON object"):
            load_envelope(body)

    @pytest.mark.parametrize("missing", ["event_id", "type", "version", "occurred_at",
                                         "producer", "data"])
    def test_missing_envelope_field_is_named(self, missing: str) -> None:
        env = envelope()
        del env[missing]
        with pytest.raises(MalformedEvent, match=missing):
            load_envelope(env)

    def test_unknown_type(self) -> None:
        with pytest.raises(MalformedEvent, match="ticket.teleported"):
            load_envelope(envelope(type="ticket.teleported"))

    def test_unknown_version(self) -> None:
        with pytest.raises(MalformedEvent, match="version 2"):
            load_envelope(envelope(version=2))

    @pytest.mark.parametrize("field, value", [
        ("version", 0), ("event_id", "short"), ("occurred_at", "yesterday"), ("data", [1, 2]),
    ])
    def test_invalid_envelope_field_is_named(self, field: str, value: Any) -> None:
        with pytest.raises(MalformedEvent, match=field):
            load_envelope(envelope(**{field: value}))

    def test_data_missing_a_required_field_is_named(self) -> None:
        env = envelope()
        del env["data"]["reason"]
        with pytest.raises(MalformedEvent, match="reason") as info:
            load_envelope(env)
        assert "ticket.closed v1" in str(info.value)

    def test_data_with_a_wrong_type_is_named(self) -> None:
        env = envelope("ticket.dispatched")
        env["data"]["round"] = "first"
        with pytest.raises(MalformedEvent, match="round"):
            load_envelope(env)

    def test_nested_assignment_role_is_checked(self) -> None:
        env = envelope("ticket.dispatched")
        env["data"]["assignments"][0]["role"] = "boss"
        with pytest.raises(MalformedEvent, match="role"):
            load_envelope(env)

    def test_dispatch_needs_at_least_one_assignment(self) -> None:
        env = envelope("ticket.dispatched")
        env["data"]["assignments"] = []
        with pytest.raises(MalformedEvent, match="assignments"):
            load_envelope(env)

    @pytest.mark.parametrize("event_type", sorted(DATETIME_FIELD))
    def test_naive_datetime_in_data_is_rejected(self, event_type: str) -> None:
        env = envelope(event_type)
        env["data"][DATETIME_FIELD[event_type]] = "2026-11-23T08:15:02"
        with pytest.raises(MalformedEvent, match=DATETIME_FIELD[event_type]):
            load_envelope(env)

    def test_naive_occurred_at_is_read_as_utc(self) -> None:
        # the envelope schema sets default_timezone=UTC: a producer that drops the Z is lenient
        e = load_envelope(envelope(occurred_at="2026-11-23T08:15:02"))
        assert e.occurred_at == datetime(2026, 11, 23, 8, 15, 2, tzinfo=UTC)


class TestMalformedOnMake:
    @pytest.mark.parametrize("event_type", sorted(DATETIME_FIELD))
    def test_naive_datetime_is_refused(self, event_type: str) -> None:
        field = DATETIME_FIELD[event_type]
        data = {**SAMPLES[event_type], field: datetime(2026, 11, 23, 8, 15)}
        with pytest.raises(MalformedEvent, match=field):
            make_envelope(event_type, data, producer="test")

    def test_naive_occurred_at_is_refused(self) -> None:
        with pytest.raises(ValueError):
            make_envelope("ticket.closed", SAMPLES["ticket.closed"], producer="test",
                          occurred_at=datetime(2026, 11, 23, 8, 15))

    def test_missing_required_field_is_named(self) -> None:
        data = {k: v for k, v in SAMPLES["assignment.signed"].items() if k != "actor"}
        with pytest.raises(MalformedEvent, match="actor"):
            make_envelope("assignment.signed", data, producer="dispatch")

    def test_unknown_type(self) -> None:
        with pytest.raises(UnknownEvent):
            make_envelope("ticket.teleported", {}, producer="test")
