"""Event histories for reporting's KPI tests: a builder of hand-written sequences with known
answers, and a random generator of whole order lifecycles (late replies, extensions, returns,
recalls, passing down, reopenings, failed callbacks, linked calls).

Events go through ``make_envelope`` / ``load_envelope`` as on the bus, so every one is checked
against the catalogue.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events import Event, load_envelope, make_envelope

CATEGORIES = ("complaint", "help", "consultation", "report")
CHANNELS = ("phone", "web", "app")
TERRITORIES = ("330102", "330106", "330108")
DEPARTMENTS = ("CG", "GA", "JT", "SW")


def utc(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class History:
    """An event history under construction (``events`` in the order they happened)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._ids: dict[str, int] = {}
        self._seq: dict[str, int] = {}

    def next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def ev(self, event_type: str, data: dict[str, Any], at: datetime,
           ticket_no: str | None = None) -> Event:
        no = ticket_no if ticket_no is not None else data.get("ticket_no")
        seq = None
        if no:
            self._seq[no] = self._seq.get(no, 0) + 1
            seq = self._seq[no]
        e = load_envelope(make_envelope(event_type, data, producer="test", ticket_no=no,
                                        sequence=seq, occurred_at=at))
        self.events.append(e)
        return e

    # -- orders
    def register(self, no: str, at: datetime, *, category: str = "complaint",
                 channel: str = "phone", territory: str | None = "330106",
                 resolved: bool = False) -> None:
        self.ev("ticket.registered", {
            "ticket_no": no, "registered_at": at, "channel": channel, "category": category,
            "urgency": "normal", "title": "噪音", "content": "夜间施工", "territory_code": territory,
            "confidential": False, "resolved_at_intake": resolved}, at)
        if resolved:
            self.ev("ticket.resolved_at_intake", {"ticket_no": no, "resolved_at": at,
                                                  "actor": "agent1", "answer": "已解答"}, at)

    def dispatch(self, no: str, at: datetime, lead: str, assists: tuple[str, ...] = (),
                 round: int = 1, *, sign_hours: float = 2, handle_days: float = 10,
                 clocks: bool = True) -> list[int]:
        """Dispatch to a lead (and assistants); returns the assignment ids, lead first. With
        ``clocks`` the supervision clocks start at ``at``."""
        ids = [self.next_id("assignment") for _ in range(1 + len(assists))]
        roles = [(ids[0], lead, "lead")] + [(i, d, "assist") for i, d in zip(ids[1:], assists, strict=False)]
        self.ev("ticket.dispatched", {
            "ticket_no": no, "dispatched_at": at, "actor": "dispatcher1", "round": round,
            "category": "complaint", "urgency": "normal", "rule_id": None,
            "assignments": [{"assignment_id": i, "department_code": d, "role": r}
                            for i, d, r in roles]}, at)
        if clocks:
            for i, d, r in roles:
                self.clocks(no, i, d, r, at, at + timedelta(hours=sign_hours),
                            at + timedelta(days=handle_days))
        return ids

    def clocks(self, no: str, aid: int, dept: str, role: str, start: datetime,
               sign_due: datetime, handle_due: datetime) -> None:
        self.ev("assignment.clocks_started", {
            "assignment_id": aid, "ticket_no": no, "department_code": dept, "role": role,
            "started_at": start, "sign_due": sign_due, "handle_due": handle_due,
            "policy": "test"}, start)

    def sign(self, no: str, aid: int, dept: str, at: datetime, role: str = "lead") -> None:
        self.ev("assignment.signed", {"assignment_id": aid, "ticket_no": no,
                                      "department_code": dept, "role": role, "signed_at": at,
                                      "actor": f"{dept}-user"}, at)

    def reply(self, no: str, aid: int, dept: str, at: datetime) -> None:
        self.ev("assignment.replied", {"assignment_id": aid, "ticket_no": no,
                                       "department_code": dept, "replied_at": at,
                                       "actor": f"{dept}-user", "reply": "已处理"}, at)

    def overdue(self, no: str, aid: int, dept: str, clock: str, due: datetime,
                at: datetime | None = None) -> None:
        at = at or due
        self.ev("ticket.overdue", {"ticket_no": no, "assignment_id": aid, "department_code": dept,
                                   "clock": clock, "due": due, "at": at}, at)

    def extend(self, no: str, aid: int, dept: str, old_due: datetime, new_due: datetime,
               at: datetime, approved: bool = True) -> None:
        self.ev("assignment.extension_decided", {
            "extension_id": self.next_id("extension"), "assignment_id": aid, "ticket_no": no,
            "department_code": dept, "approved": approved, "old_due": old_due,
            "new_due": new_due if approved else None, "at": at, "actor": "sup1"}, at)

    def request_return(self, no: str, aid: int, dept: str, at: datetime) -> int:
        rid = self.next_id("return")
        self.ev("assignment.return_requested", {
            "return_id": rid, "assignment_id": aid, "ticket_no": no, "department_code": dept,
            "reason_code": "职能不符", "basis": "不属本部门职责", "at": at,
            "actor": f"{dept}-user"}, at)
        return rid

    def decide_return(self, no: str, rid: int, aid: int, dept: str, at: datetime,
                      approved: bool) -> None:
        self.ev("assignment.return_decided", {
            "return_id": rid, "assignment_id": aid, "ticket_no": no, "department_code": dept,
            "approved": approved, "at": at, "actor": "sup1"}, at)

    def callback(self, no: str, at: datetime, *, reached: bool = True, solved: bool | None = True,
                 satisfaction: str | None = "satisfied") -> None:
        self.ev("ticket.callback_recorded", {
            "ticket_no": no, "at": at, "actor": "sup1", "reached": reached,
            "solved": solved if reached else None,
            "satisfaction": satisfaction if reached else None}, at)

    def reopen(self, no: str, at: datetime) -> None:
        self.ev("ticket.reopened", {"ticket_no": no, "at": at, "actor": "sup1",
                                    "reason": "不满意"}, at)

    def link(self, no: str, at: datetime, channel: str = "phone") -> None:
        self.ev("ticket.linked", {"ticket_no": no, "link_id": self.next_id("link"),
                                  "linked_at": at, "content": "又来电", "channel": channel,
                                  "agent": "agent2", "reason": "same_caller"}, at)

    def close(self, no: str, at: datetime, reason: str = "callback_satisfied") -> None:
        self.ev("ticket.closed", {"ticket_no": no, "closed_at": at, "actor": "sup1",
                                  "reason": reason}, at)

    def recall(self, no: str, round: int, at: datetime, aids: list[int],
               departments: list[str]) -> None:
        self.ev("ticket.recalled", {"ticket_no": no, "round": round, "at": at, "actor": "sup1",
                                    "reason": "派错", "assignment_ids": aids,
                                    "departments": departments}, at)

    def pass_down(self, no: str, aid: int, from_dept: str, to_dept: str, at: datetime,
                  role: str = "lead") -> int:
        new = self.next_id("assignment")
        self.ev("assignment.passed_down", {
            "ticket_no": no, "assignment_id": aid, "new_assignment_id": new,
            "from_department": from_dept, "to_department": to_dept, "role": role, "at": at,
            "actor": f"{from_dept}-user"}, at)
        return new

    def instruction(self, at: datetime) -> None:
        iid = self.next_id("instruction")
        self.ev("instruction.registered", {
            "instruction_id": iid, "number": f"批-{iid}", "leader_level": "mayor",
            "kind": "handle", "urgent": False, "confidential": False, "received_at": at,
            "registered_at": at, "actor": "office1", "ticket_nos": [],
            "units": [{"department_code": "CG", "feedback_due": at + timedelta(days=14)}]}, at)


def random_history(rng: random.Random, orders: int, start: datetime,
                   span_days: float = 60, history: History | None = None) -> History:
    """Whole random lifecycles of ``orders`` orders registered within ``span_days`` from
    ``start``; the events of different orders interleave in time order."""
    h = History() if history is None else history
    per_order: list[History] = []
    for i in range(orders):
        o = History()
        o._ids = h._ids  # ids unique across orders
        _lifecycle(o, rng, f"T{i:07d}", start + timedelta(hours=rng.uniform(0, span_days * 24)))
        per_order.append(o)
    merged = sorted((e for o in per_order for e in o.events),
                    key=lambda e: (e.occurred_at, e.ticket_no or "", e.sequence or 0))
    h.events.extend(merged)
    return h


def _lifecycle(h: History, rng: random.Random, no: str, t: datetime) -> None:
    r = rng.random
    h.register(no, t, category=rng.choice(CATEGORIES), channel=rng.choice(CHANNELS),
               territory=rng.choice(TERRITORIES + (None,)), resolved=r() < 0.1)
    if h.events[-1].type == "ticket.resolved_at_intake":
        if r() < 0.9:
            h.close(no, t + timedelta(minutes=5), "resolved_at_intake")
        return
    for _ in range(rng.choice((0, 0, 1, 2))):
        h.link(no, t + timedelta(hours=rng.uniform(1, 200)), rng.choice(CHANNELS))
    if r() < 0.05:
        return  # never dispatched (yet)
    t += timedelta(minutes=rng.uniform(5, 600))
    round_ = 1
    depts = list(DEPARTMENTS)
    while True:
        lead = rng.choice(depts)
        assists = tuple(d for d in depts if d != lead and r() < 0.2)[:1]
        sign_hours, handle_days = rng.choice((0.5, 2, 4)), rng.choice((2, 10, 15))
        ids = h.dispatch(no, t, lead, assists, round_, sign_hours=sign_hours,
                         handle_days=handle_days)
        sign_due, handle_due = t + timedelta(hours=sign_hours), t + timedelta(days=handle_days)
        lead_id = ids[0]
        for aid, dept in zip(ids[1:], assists, strict=False):
            if r() < 0.8:
                h.sign(no, aid, dept, t + timedelta(hours=rng.uniform(0.1, 6)), "assist")
            else:
                h.overdue(no, aid, dept, "sign", sign_due)
        # the lead signs (on time or late), or never does
        x = r()
        if x < 0.75:
            h.sign(no, lead_id, lead, t + timedelta(hours=rng.uniform(0.05, sign_hours * 1.5)))
        elif x < 0.9:
            h.overdue(no, lead_id, lead, "sign", sign_due)
            h.sign(no, lead_id, lead, sign_due + timedelta(hours=rng.uniform(0.1, 30)))
        else:
            h.overdue(no, lead_id, lead, "sign", sign_due)
        if r() < 0.05:
            new_lead = lead + "-1"
            lead_id = h.pass_down(no, lead_id, lead, new_lead, t + timedelta(hours=3))
            lead = new_lead
        # a return request
        x = r()
        if x < 0.12:
            rid = h.request_return(no, lead_id, lead, t + timedelta(hours=5))
            approved = r() < 0.5
            h.decide_return(no, rid, lead_id, lead, t + timedelta(hours=rng.uniform(6, 60)),
                            approved)
            if approved and round_ < 3:
                t += timedelta(hours=rng.uniform(61, 90))
                round_ += 1
                continue
        elif x < 0.16 and round_ < 3:
            h.recall(no, round_, t + timedelta(hours=4), ids, [lead, *assists])
            t += timedelta(hours=rng.uniform(5, 30))
            round_ += 1
            continue
        # an approved (or rejected) extension
        if r() < 0.15:
            new_due = handle_due + timedelta(days=rng.choice((3, 5, 10)))
            approved = r() < 0.7
            h.extend(no, lead_id, lead, handle_due, new_due,
                     handle_due - timedelta(days=1), approved)
            if approved:
                handle_due = new_due
        # reply on time, late, or not at all
        x = r()
        if x < 0.7:
            reply_at = t + (handle_due - t) * rng.uniform(0.1, 0.99)
        elif x < 0.9:
            h.overdue(no, lead_id, lead, "handle", handle_due)
            reply_at = handle_due + timedelta(hours=rng.uniform(1, 400))
        else:
            if r() < 0.7:
                h.overdue(no, lead_id, lead, "handle", handle_due)
            return
        h.reply(no, lead_id, lead, reply_at)
        t = reply_at
        # callbacks: reached, or unreached up to 3 times (无法回访)
        fails = 0
        while r() < 0.15 and fails < 3:
            fails += 1
            h.callback(no, t + timedelta(hours=fails * 5), reached=False)
        if fails == 3:
            h.close(no, t + timedelta(hours=20), "callback_unreachable")
            return
        if r() < 0.1:
            return  # callback pending
        t += timedelta(hours=rng.uniform(20, 48))
        satisfaction = rng.choice(("satisfied", "basically_satisfied", "unsatisfied", None))
        h.callback(no, t, solved=rng.choice((True, False, None)), satisfaction=satisfaction)
        if satisfaction == "unsatisfied" and round_ < 3 and r() < 0.7:
            h.reopen(no, t + timedelta(minutes=5))
            t += timedelta(hours=1)
            round_ += 1
            continue
        h.close(no, t + timedelta(minutes=10))
        return
