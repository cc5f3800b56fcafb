"""Endpoints (部门对接方式), admin: how a department receives its feed (per category or
for all), a webhook's URL and secret, rotation and deactivation. Rules in :mod:`..endpoints`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.dispatch import endpoints as endpoint_rules
from services.dispatch.entrypoints.base import DispatchBase
from services.dispatch.models import Department, Endpoint
from services.dispatch.schemas import EndpointCreateSchema, EndpointRecordSchema
from shared.database import translate_db_errors
from shared.errors import Conflict, Invalid, NotFound, load_or_invalid
from shared.events import utcnow
from shared.rpc import rpc
from shared.vocabulary import CATEGORIES

_endpoint_record = EndpointRecordSchema()


class EndpointEntrypoints(DispatchBase):
    @rpc
    @translate_db_errors
    def create_endpoint(self, department_code: str, payload: dict[str, Any],
                        actor: str) -> dict[str, Any]:
        """A department's endpoint; it supersedes the active one of the same (department,
        category), in this transaction (no moment without one). A webhook's secret is in this
        answer only (and in a rotation's)."""
        form = load_or_invalid(EndpointCreateSchema(), payload or {})
        session = self.db.session
        if session.get(Department, department_code) is None:
            raise NotFound(f"部门不存在 department {department_code} not found",
                           {"department_code": department_code})
        if form["category"] is not None and form["category"] not in CATEGORIES:
            raise Invalid.fields({"category": [f"未知类别 unknown category {form['category']}"]})
        url = secret = None
        if form["kind"] == "webhook":
            url = endpoint_rules.check_webhook_url(form["url"])
            secret = endpoint_rules.new_secret()
        elif form["url"] is not None:
            raise Invalid.fields({"url": ["只有 webhook 端点有 URL only a webhook endpoint has "
                                          "a url"]})
        now = utcnow()
        slot = endpoint_rules.slot(form["category"])
        old = session.scalar(select(Endpoint).where(Endpoint.department_code == department_code,
                                                    Endpoint.active_slot == slot))
        if old is not None:
            self._deactivate(old, actor, now)
            session.flush()
        ep = Endpoint(department_code=department_code, category=form["category"],
                      kind=form["kind"], url=url, secret=secret,
                      timeout_seconds=form["timeout_seconds"], active=True, active_slot=slot,
                      created_at=now, created_by=actor)
        session.add(ep)
        session.flush()
        self.db.commit()
        result = {**_endpoint_record.dump(ep), "replaced_endpoint_id": old.id if old else None}
        if secret is not None:
            result["secret"] = secret
        return result

    @rpc
    @translate_db_errors
    def list_endpoints(self, department_code: str) -> dict[str, Any]:
        session = self.db.session
        if session.get(Department, department_code) is None:
            raise NotFound(f"部门不存在 department {department_code} not found",
                           {"department_code": department_code})
        rows = session.scalars(select(Endpoint).where(
            Endpoint.department_code == department_code).order_by(Endpoint.id))
        return {"items": [_endpoint_record.dump(e) for e in rows]}

    @rpc
    @translate_db_errors
    def rotate_endpoint_secret(self, endpoint_id: int, actor: str) -> dict[str, Any]:
        """A new secret for an active webhook, effective at once (every attempt is signed
        anew); the old one stops working."""
        ep = self._endpoint(endpoint_id)
        if not ep.active or ep.kind != "webhook":
            raise Conflict("只有启用中的 webhook 端点有密钥 only an active webhook has a secret",
                           {"action": "rotate_secret",
                            "state": ep.kind if ep.active else "inactive"})
        ep.secret = endpoint_rules.new_secret()
        ep.secret_rotated_at = utcnow()
        self.db.commit()
        return {"id": ep.id, "secret": ep.secret, "secret_rotated_at": ep.secret_rotated_at}

    @rpc
    @translate_db_errors
    def deactivate_endpoint(self, endpoint_id: int, actor: str) -> dict[str, Any]:
        ep = self._endpoint(endpoint_id)
        if not ep.active:
            raise Conflict("该端点已停用 the endpoint is already inactive",
                           {"action": "deactivate", "state": "inactive"})
        self._deactivate(ep, actor, utcnow())
        self.db.commit()
        return _endpoint_record.dump(ep)

    def _endpoint(self, endpoint_id: int) -> Endpoint:
        ep = self.db.session.get(Endpoint, endpoint_id)
        if ep is None:
            raise NotFound(f"端点不存在 endpoint {endpoint_id} not found",
                           {"endpoint_id": endpoint_id})
        return ep

    def _deactivate(self, ep: Endpoint, actor: str, now: datetime) -> None:
        ep.active, ep.active_slot = False, None
        ep.deactivated_at, ep.deactivated_by = now, actor
