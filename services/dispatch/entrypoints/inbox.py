"""Reading assignments: a department's inbox, an order's assignments, one assignment with
its round's assistants (for a lead) and its progress notes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.dispatch.entrypoints.base import DispatchBase, _assignment, _progress
from services.dispatch.models import (
    Assignment,
    AssignmentDeadline,
    Department,
    ProgressNote,
    TicketCopy,
)
from services.dispatch.schemas import (
    AssignmentSchema,
    AssistViewSchema,
    InboxItemSchema,
    InboxQuerySchema,
)
from shared.database import translate_db_errors
from shared.errors import NotFound, load_or_invalid
from shared.rpc import rpc

_inbox_item = InboxItemSchema()
_assist_view = AssistViewSchema()


class InboxEntrypoints(DispatchBase):
    @rpc
    @translate_db_errors
    def inbox(self, department_code: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """A department's assignments, oldest first, cursor-paged by assignment id."""
        q = load_or_invalid(InboxQuerySchema(), query or {})
        session = self.db.session
        if session.get(Department, department_code) is None:
            raise NotFound(f"部门不存在 department {department_code} not found",
                           {"department_code": department_code})
        stmt = (select(Assignment, TicketCopy).join(TicketCopy)
                .where(Assignment.department_code == department_code)
                .order_by(Assignment.id).limit(q["limit"] + 1))
        if q["cursor"]:
            stmt = stmt.where(Assignment.id > q["cursor"])
        if q["state"]:
            stmt = stmt.where(Assignment.state == q["state"])
        rows = list(session.execute(stmt))
        more = len(rows) > q["limit"]
        rows = rows[: q["limit"]]
        views = self._assist_views({(a.ticket_no, a.round) for a, _ in rows if a.role == "lead"})
        items = [_inbox_item.dump({**_merge(a, t), "assists": views.get((a.ticket_no, a.round), [])
                                   if a.role == "lead" else []}) for a, t in rows]
        return {"items": items, "next_cursor": rows[-1][0].id if more else None}

    @rpc
    @translate_db_errors
    def assignments_of(self, ticket_no: str) -> list[dict[str, Any]]:
        rows = self.db.session.scalars(
            select(Assignment).where(Assignment.ticket_no == ticket_no).order_by(Assignment.id))
        return [_assignment.dump(a) for a in rows]

    @rpc
    @translate_db_errors
    def get_assignment(self, assignment_id: int,
                       department_code: str | None = None) -> dict[str, Any]:
        """One assignment; for a lead, its round's assistants with their opinions. With
        ``department_code``, only that department's own assignment is found."""
        a = self.db.session.get(Assignment, assignment_id)
        if a is None or (department_code is not None and a.department_code != department_code):
            raise NotFound(f"任务不存在 assignment {assignment_id} not found",
                           {"assignment_id": assignment_id})
        assists = self._assist_views({(a.ticket_no, a.round)}).get((a.ticket_no, a.round), []) \
            if a.role == "lead" else []
        notes = self.db.session.scalars(select(ProgressNote).where(
            ProgressNote.assignment_id == a.id).order_by(ProgressNote.id))
        return {**_assignment.dump(a), "assists": [_assist_view.dump(v) for v in assists],
                "progress": [_progress.dump(n) for n in notes]}

    def _assist_views(self, rounds: set[tuple[str, int]]) -> dict[tuple[str, int], list[Any]]:
        """The assistants of each (order, round), as their lead sees them (not yet dumped):
        one query."""
        if not rounds:
            return {}
        rows = self.db.session.execute(
            select(Assignment, AssignmentDeadline.handle_due)
            .outerjoin(AssignmentDeadline, AssignmentDeadline.assignment_id == Assignment.id)
            .where(Assignment.ticket_no.in_({no for no, _ in rounds}),
                   Assignment.role == "assist").order_by(Assignment.id))
        views: dict[tuple[str, int], list[Any]] = {}
        for a, due in rows:
            if (a.ticket_no, a.round) in rounds:
                views.setdefault((a.ticket_no, a.round), []).append({
                    "assignment_id": a.id, "department_code": a.department_code,
                    "state": a.state, "opinion": a.opinion, "opinion_at": a.opinion_at,
                    "opinion_by": a.opinion_by, "handle_due": due})
        return views


def _merge(a: Assignment, t: TicketCopy) -> dict[str, Any]:
    item = {c: getattr(a, c) for c in AssignmentSchema().fields}
    for c in ("category", "urgency", "title", "content", "caller_name", "phone", "address",
              "territory_code", "confidential"):
        item[c] = getattr(t, c)
    return item
