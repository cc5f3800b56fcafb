"""回头看: closed orders picked for a re-check, and its finding; the closure is not
touched. Rules in :mod:`..supervising`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.supervision import supervising
from services.supervision.entrypoints.base import SupervisionBase
from services.supervision.models import Recheck
from services.supervision.schemas import RecheckRecordSchema, RecheckResultSchema, RecheckSchema
from shared.database import translate_db_errors
from shared.errors import Invalid, NotFound, load_or_invalid
from shared.events import utcnow
from shared.logs import bind
from shared.rpc import rpc


class RecheckEntrypoints(SupervisionBase):
    @rpc
    @translate_db_errors
    def pick_recheck(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """Pick a closed order for 回头看; the re-check is its own record."""
        form = load_or_invalid(RecheckSchema(), payload or {})
        bind(ticket_no=ticket_no)
        recheck = self._pick_recheck(ticket_no, form["note"], actor, utcnow())
        self.db.commit()
        return RecheckRecordSchema().dump(recheck)

    @rpc
    @translate_db_errors
    def pick_rechecks(self, ticket_nos: list[str], payload: dict[str, Any],
                      actor: str) -> dict[str, Any]:
        """Pick several closed orders for 回头看 at once: all of them or none."""
        form = load_or_invalid(RecheckSchema(), payload or {})
        if not isinstance(ticket_nos, list) or not ticket_nos or not all(
                isinstance(n, str) for n in ticket_nos) or len(ticket_nos) > 200:
            raise Invalid.fields({"ticket_nos": ["须为1到200个工单号 a list of 1..200 order numbers"]})
        now = utcnow()
        made = [self._pick_recheck(no, form["note"], actor, now) for no in dict.fromkeys(ticket_nos)]
        self.db.commit()
        return {"rechecks": RecheckRecordSchema(many=True).dump(made)}

    @rpc
    @translate_db_errors
    def record_recheck(self, recheck_id: int, payload: dict[str, Any],
                       actor: str) -> dict[str, Any]:
        """The finding of a 回头看 (confirmed | problem_found); the closure is not touched."""
        form = load_or_invalid(RecheckResultSchema(), payload)
        recheck = self.db.session.get(Recheck, recheck_id)
        if recheck is None:
            raise NotFound(f"回头看记录不存在 recheck {recheck_id} not found",
                           {"recheck_id": recheck_id})
        bind(ticket_no=recheck.ticket_no)
        supervising.check_recheck_result(recheck.finding is not None)
        now = utcnow()
        recheck.finding, recheck.result_note = form["finding"], form["note"]
        recheck.recorded_at, recheck.recorded_by = now, actor
        self.db.emit("ticket.rechecked", {
            "ticket_no": recheck.ticket_no, "recheck_id": recheck.id, "finding": recheck.finding,
            "note": recheck.result_note, "at": now, "actor": actor}, ticket_no=recheck.ticket_no)
        self.db.commit()
        return RecheckRecordSchema().dump(recheck)

    def _pick_recheck(self, ticket_no: str, note: str | None, actor: str,
                      now: datetime) -> Recheck:
        session = self.db.session
        state = self._state(ticket_no)
        pending = session.scalar(select(Recheck.id).where(Recheck.ticket_no == ticket_no,
                                                          Recheck.finding.is_(None)))
        supervising.check_recheck(state.status, pending is not None)
        recheck = Recheck(ticket_no=ticket_no, picked_at=now, picked_by=actor, note=note)
        session.add(recheck)
        session.flush()
        return recheck
