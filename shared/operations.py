"""Operational entrypoints every service with a database has: health and outbox status.

Mixed into each service class so ``/health`` and ``hotline reconcile`` ask every service the
same questions the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from shared.database import translate_db_errors
from shared.events import utcnow
from shared.rpc import rpc


class Operations:
    db: Any

    @rpc
    @translate_db_errors
    def health(self) -> dict[str, Any]:
        self.db.session.execute(select(1))
        return {"status": "ok"}

    @rpc
    @translate_db_errors
    def outbox_status(self, older_than_seconds: int = 60) -> dict[str, Any]:
        """Pending outbox rows, and how many have waited longer than ``older_than_seconds``."""
        table = self.db.tables["outbox"]
        pending = table.c.published_at.is_(None)
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        session = self.db.session
        total = session.scalar(select(func.count()).select_from(table).where(pending)) or 0
        stale = session.scalar(select(func.count()).select_from(table)
                               .where(pending, table.c.created_at < cutoff)) or 0
        errors = [r for r, in session.execute(
            select(table.c.last_error).where(pending, table.c.last_error.is_not(None)).limit(3))]
        return {"pending": int(total), "stale": int(stale), "errors": errors}
