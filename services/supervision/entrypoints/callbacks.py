"""回访: callbacks of the citizen on a replied order (close, 重办 or try again), and of
the linked callers (重复来电) who became callback targets of their own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from services.supervision import domain, supervising
from services.supervision.entrypoints.base import SupervisionBase
from services.supervision.models import Callback, CallerLink
from services.supervision.schemas import (
    CallbackSchema,
    CallerLinkRecordSchema,
    LinkedCallbackSchema,
    StateSchema,
)
from shared.database import translate_db_errors
from shared.errors import NotFound, load_or_invalid
from shared.events import Event, utcnow
from shared.logs import bind
from shared.rpc import rpc


class CallbackEntrypoints(SupervisionBase):
    @rpc
    @translate_db_errors
    def record_callback(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """回访: record one callback, then close, reopen (重办) or wait for the next attempt."""
        if isinstance(payload, dict) and payload.get("link_id") is not None:
            return self._record_linked_callback(ticket_no, payload, actor)  # a linked caller
        form = load_or_invalid(CallbackSchema(), payload)
        attributable = form.pop("attributable")
        bind(ticket_no=ticket_no)
        session = self.db.session
        state = self._state(ticket_no)
        domain.check_callback(state.status, form["reached"], form["solved"], form["satisfaction"])
        unreached = session.scalar(select(func.count()).select_from(Callback).where(
            Callback.ticket_no == ticket_no, Callback.reached.is_(False),
            Callback.at >= state.replied_at)) or 0
        now = utcnow()
        session.add(Callback(ticket_no=ticket_no, at=now, actor=actor, **form))
        self.db.emit("ticket.callback_recorded", {"ticket_no": ticket_no, "at": now,
                                                  "actor": actor, **form}, ticket_no=ticket_no)
        outcome = domain.callback_outcome(form["reached"], form["satisfaction"], attributable,
                                          int(unreached))
        if outcome == "close":
            self._close(state, actor, "callback", "回访满意 satisfied at callback")
        elif outcome == "close_unsatisfied":
            self._close(state, actor, "callback_unsatisfied", "回访不满意（非承办单位原因）")
        elif outcome == "unreachable":
            self._close(state, actor, "unreachable",
                        f"{domain.MAX_CALLBACK_ATTEMPTS}次回访未接通 无法回访")
        elif outcome == "reopen":
            self._move(state, "reopen", actor, "回访不满意 重办 unsatisfied at callback")
            self.db.emit("ticket.reopened", {"ticket_no": ticket_no, "at": now, "actor": actor,
                                             "reason": form["note"] or "回访不满意"},
                         ticket_no=ticket_no)
        self.db.commit()
        return {**StateSchema().dump(state), "outcome": outcome}

    def _record_linked_callback(self, ticket_no: str, payload: dict[str, Any],
                                actor: str) -> dict[str, Any]:
        """回访 of one linked caller: recorded and announced; the order's status is untouched."""
        form = load_or_invalid(LinkedCallbackSchema(), payload)
        form.pop("attributable")
        bind(ticket_no=ticket_no)
        link = self.db.session.get(CallerLink, form.pop("link_id"))
        if link is None or link.ticket_no != ticket_no:
            raise NotFound(f"关联来电不存在 linked caller {payload.get('link_id')} not found",
                           {"link_id": payload.get("link_id")})
        state = self._state(ticket_no)
        supervising.check_linked_callback(state.status, link.callback_status)
        domain.check_callback("replied", form["reached"], form["solved"], form["satisfaction"])
        now = utcnow()
        link.attempts += 1
        link.reached, link.solved, link.satisfaction, link.note = (
            form["reached"], form["solved"], form["satisfaction"], form["note"])
        link.called_back_at, link.called_back_by = now, actor
        link.callback_status = supervising.linked_callback_status(form["reached"], link.attempts)
        self.db.emit("ticket.linked_callback_recorded", {
            "ticket_no": ticket_no, "link_id": link.link_id, "at": now, "actor": actor, **form},
            ticket_no=ticket_no)
        self.db.commit()
        return {**StateSchema().dump(state), "outcome": "linked_" + link.callback_status,
                "caller": CallerLinkRecordSchema().dump(link)}

    def _apply_ticket_linked(self, d: dict[str, Any], event: Event) -> None:
        """重复来电: the linked caller becomes a callback target of their own."""
        self._state_or_retry(d["ticket_no"])
        if self.db.session.get(CallerLink, d["link_id"]) is None:
            self.db.session.add(CallerLink(
                link_id=d["link_id"], ticket_no=d["ticket_no"], linked_at=d["linked_at"],
                caller_name=d["caller_name"], channel=d["channel"], reason=d["reason"],
                callback_status="pending", attempts=0))
