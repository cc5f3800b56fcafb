"""A small HTTP client of the gateway API, used by the walkthrough, tests and benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests


class ApiError(Exception):
    def __init__(self, status: int, body: Any):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class HotlineClient:
    def __init__(self, base_url: str, token: str | None = None, api_key: str | None = None,
                 timeout: float = 10.0, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.api_key = api_key
        self.timeout = timeout
        self.http = session or requests.Session()

    @classmethod
    def login(cls, base_url: str, username: str, password: str, **kw: Any) -> HotlineClient:
        client = cls(base_url, **kw)
        body = client.request("POST", "/api/v1/auth/token",
                              json={"username": username, "password": password})
        client.token = body["access_token"]
        client.me = body
        return client

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if self.api_key:
            h["X-Api-Key"] = self.api_key
        h.update(extra or {})
        return h

    def raw(self, method: str, path: str, headers: dict[str, str] | None = None,
            **kw: Any) -> requests.Response:
        return self.http.request(method, self.base_url + path, headers=self.headers(headers),
                                 timeout=self.timeout, **kw)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                **kw: Any) -> Any:
        r = self.raw(method, path, headers, **kw)
        body = r.json() if r.content and r.headers.get("Content-Type", "").startswith(
            "application/json") else r.text
        if r.status_code >= 400:
            raise ApiError(r.status_code, body)
        return body

    # -- the flow --------------------------------------------------------------------------
    def register(self, payload: dict[str, Any], idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request("POST", "/api/v1/tickets", headers=headers, json=payload)

    def ticket(self, ticket_no: str) -> Any:
        return self.request("GET", f"/api/v1/tickets/{ticket_no}")

    def inbox(self, department: str, **query: Any) -> Any:
        return self.request("GET", f"/api/v1/departments/{department}/inbox", params=query)

    def sign(self, assignment_id: int) -> Any:
        return self.request("POST", f"/api/v1/assignments/{assignment_id}/sign")

    def reply(self, assignment_id: int, text: str) -> Any:
        return self.request("POST", f"/api/v1/assignments/{assignment_id}/reply",
                            json={"reply": text})

    def callback(self, ticket_no: str, **form: Any) -> Any:
        return self.request("POST", f"/api/v1/tickets/{ticket_no}/callback", json=form)

    def kpis(self, start: str, end: str, group_by: str = "department") -> Any:
        return self.request("GET", "/api/v1/reports/kpis",
                            params={"from": start, "to": end, "group_by": group_by})

    def kpis_for(self, period: str, group_by: str = "department") -> Any:
        """A period by its key: ``2026-11``, ``2026-11-H1``, ``2026Q1``, ``2026``."""
        return self.request("GET", "/api/v1/reports/kpis",
                            params={"period": period, "group_by": group_by})

    def board(self) -> Any:
        return self.request("GET", "/api/v1/reports/board")

    # -- repeat calls, caller history, links, unmasking, confidential clearance --------------------
    def tickets(self, **query: Any) -> Any:
        return self.request("GET", "/api/v1/tickets", params=query)

    def registration_form(self, phone: str | None = None, **query: Any) -> Any:
        params = {**query, **({"phone": phone} if phone else {})}
        return self.request("GET", "/api/v1/tickets/form", params=params)

    def related(self, draft: dict[str, Any]) -> Any:
        return self.request("POST", "/api/v1/tickets/related", json=draft)

    def link(self, ticket_no: str, call: dict[str, Any]) -> Any:
        return self.request("POST", f"/api/v1/tickets/{ticket_no}/link", json=call)

    def unmask(self, ticket_no: str, reason: str, link_id: int | None = None) -> Any:
        body: dict[str, Any] = {"reason": reason}
        if link_id is not None:
            body["link_id"] = link_id
        return self.request("POST", f"/api/v1/tickets/{ticket_no}/unmask", json=body)

    def audit_log(self, **query: Any) -> Any:
        return self.request("GET", "/api/v1/admin/audit", params=query)

    def set_clearance(self, username: str, cleared: bool) -> Any:
        return self.request("PUT", f"/api/v1/admin/users/{username}/clearance",
                            json={"cleared": cleared})

    # -- routing catalogue versions, 预审, 协办 opinions, 下派, 问题工单 --
    def dispatch_queue(self, **query: Any) -> Any:
        return self.request("GET", "/api/v1/dispatch/queue", params=query)

    def dispatch(self, ticket_no: str, **body: Any) -> Any:
        """``accept_suggestion=True``, or ``lead=…, assists=[…], reason=…``."""
        return self.request("POST", f"/api/v1/tickets/{ticket_no}/dispatch", json=body)

    def dispatch_history(self, ticket_no: str) -> Any:
        return self.request("GET", f"/api/v1/tickets/{ticket_no}/dispatch-history")

    def assignment(self, assignment_id: int) -> Any:
        return self.request("GET", f"/api/v1/assignments/{assignment_id}")

    def opinion(self, assignment_id: int, text: str) -> Any:
        return self.request("POST", f"/api/v1/assignments/{assignment_id}/opinion",
                            json={"opinion": text})

    def pass_down(self, assignment_id: int, department_code: str, note: str | None = None) -> Any:
        return self.request("POST", f"/api/v1/assignments/{assignment_id}/pass-down",
                            json={"department_code": department_code, "note": note})

    def routing_rules(self, **query: Any) -> Any:
        return self.request("GET", "/api/v1/admin/routing-rules", params=query)

    def create_routing_rule(self, **rule: Any) -> Any:
        return self.request("POST", "/api/v1/admin/routing-rules", json=rule)

    def update_routing_rule(self, rule_id: int, **changes: Any) -> Any:
        return self.request("PATCH", f"/api/v1/admin/routing-rules/{rule_id}", json=changes)

    def deactivate_routing_rule(self, rule_id: int, comment: str | None = None) -> Any:
        return self.request("POST", f"/api/v1/admin/routing-rules/{rule_id}/deactivate",
                            json={"comment": comment} if comment else {})

    def routing_rule_history(self, rule_id: int) -> Any:
        return self.request("GET", f"/api/v1/admin/routing-rules/{rule_id}/history")

    def catalogue_changes(self, **query: Any) -> Any:
        return self.request("GET", "/api/v1/admin/routing-catalogue/changes", params=query)

    # -- 督办单, urge answers, monthly urge, 回头看, linked callers, reopen --
    def supervise(self, ticket_no: str, **form: Any) -> Any:
        return self.request("POST", f"/api/v1/tickets/{ticket_no}/supervise", json=form)

    def explain(self, order_id: int, explanation: str) -> Any:
        return self.request("POST", f"/api/v1/supervision-orders/{order_id}/explanation",
                            json={"explanation": explanation})

    def department_supervision(self, department: str) -> Any:
        return self.request("GET", f"/api/v1/departments/{department}/supervision")

    def answer_urge(self, urge_id: int, answer: str) -> Any:
        return self.request("POST", f"/api/v1/urges/{urge_id}/answer", json={"answer": answer})

    def reopen(self, ticket_no: str, reason: str) -> Any:
        return self.request("POST", f"/api/v1/tickets/{ticket_no}/reopen",
                            json={"reason": reason})

    def recheck(self, ticket_no: str, note: str | None = None) -> Any:
        return self.request("POST", f"/api/v1/tickets/{ticket_no}/recheck",
                            json={"note": note} if note else {})

    def recheck_result(self, recheck_id: int, finding: str, note: str | None = None) -> Any:
        return self.request("POST", f"/api/v1/rechecks/{recheck_id}/result",
                            json={"finding": finding, "note": note})


    # -- leader instructions 领导批示件 --
    def register_instruction(self, payload: dict[str, Any]) -> Any:
        return self.request("POST", "/api/v1/instructions", json=payload)

    def instructions(self, **query: Any) -> Any:
        return self.request("GET", "/api/v1/instructions", params=query)

    def instruction(self, instruction_id: int) -> Any:
        return self.request("GET", f"/api/v1/instructions/{instruction_id}")

    def instruction_feedback(self, instruction_id: int, content: str) -> Any:
        return self.request("POST", f"/api/v1/instructions/{instruction_id}/feedback",
                            json={"content": content})

    def decide_instruction_feedback(self, instruction_id: int, feedback_id: int, approve: bool,
                                    reason: str | None = None) -> Any:
        return self.request(
            "POST", f"/api/v1/instructions/{instruction_id}/feedback/{feedback_id}/decision",
            json={"approve": approve, "reason": reason})

    def acknowledge_instruction(self, instruction_id: int) -> Any:
        return self.request("POST", f"/api/v1/instructions/{instruction_id}/read")

    def reclassify_instruction(self, instruction_id: int, kind: str, reason: str) -> Any:
        return self.request("POST", f"/api/v1/instructions/{instruction_id}/kind",
                            json={"kind": kind, "reason": reason})

    def urge_instruction(self, instruction_id: int, **form: Any) -> Any:
        return self.request("POST", f"/api/v1/instructions/{instruction_id}/urge", json=form)

    def instruction_summary(self, start: str, end: str, group_by: str = "unit") -> Any:
        return self.request("GET", "/api/v1/instructions/summary",
                            params={"from": start, "to": end, "group_by": group_by})

    # -- Step 3 keys: API keys, users' activation, idempotent department actions --------------
    def issue_api_key(self, department_code: str | None = None, name: str | None = None,
                      scopes: list[str] | None = None) -> Any:
        """A department system's key, or (no department) an Open311 client's; the plaintext
        is in ``api_key`` and is shown only this once."""
        body: dict[str, Any] = {k: v for k, v in (("department_code", department_code),
                                                  ("name", name), ("scopes", scopes)) if v}
        return self.request("POST", "/api/v1/admin/api-keys", json=body)

    def api_keys(self, **query: Any) -> Any:
        return self.request("GET", "/api/v1/admin/api-keys", params=query)

    def revoke_api_key(self, key_id: str) -> Any:
        return self.request("DELETE", f"/api/v1/admin/api-keys/{key_id}")

    def set_user_active(self, username: str, active: bool) -> Any:
        return self.request("PUT", f"/api/v1/admin/users/{username}/active",
                            json={"active": active})

    def act(self, path: str, body: dict[str, Any] | None = None,
            idempotency_key: str | None = None) -> Any:
        """POST a department action (``/api/v1/assignments/7/sign`` …), with an
        ``Idempotency-Key`` so that a retry after a timeout has no second effect."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request("POST", path, headers=headers, json=body)


    # -- Step 3 delivery: endpoints, the department feed, deliveries, recall, progress --
    def create_endpoint(self, department_code: str, kind: str, **form: Any) -> Any:
        return self.request("POST", f"/api/v1/admin/departments/{department_code}/endpoints",
                            json={"kind": kind, **form})

    def endpoints(self, department_code: str) -> Any:
        return self.request("GET", f"/api/v1/admin/departments/{department_code}/endpoints")

    def rotate_endpoint_secret(self, endpoint_id: int) -> Any:
        return self.request("POST", f"/api/v1/admin/endpoints/{endpoint_id}/rotate-secret")

    def deactivate_endpoint(self, endpoint_id: int) -> Any:
        return self.request("DELETE", f"/api/v1/admin/endpoints/{endpoint_id}")

    def deliveries(self, **query: Any) -> Any:
        return self.request("GET", "/api/v1/admin/deliveries", params=query)

    def delivery(self, delivery_id: int) -> Any:
        return self.request("GET", f"/api/v1/admin/deliveries/{delivery_id}")

    def replay_delivery(self, delivery_id: int) -> Any:
        return self.request("POST", f"/api/v1/admin/deliveries/{delivery_id}/replay")

    def department_feed(self, department_code: str, cursor: int | None = None,
                        limit: int | None = None) -> Any:
        params = {k: v for k, v in (("cursor", cursor), ("limit", limit)) if v is not None}
        return self.request("GET", f"/api/v1/departments/{department_code}/inbox/events",
                            params=params)

    def recall(self, ticket_no: str, reason: str) -> Any:
        return self.request("POST", f"/api/v1/tickets/{ticket_no}/recall", json={"reason": reason})

    def note_progress(self, assignment_id: int, note: str) -> Any:
        return self.request("POST", f"/api/v1/assignments/{assignment_id}/progress",
                            json={"note": note})

    # -- Step 4 import: the knowledge base's bulk import and its monitoring --
    def kb_import(self, files: list[tuple[str, bytes]], *, publish: bool = False,
                  article_type: str | None = None, department_code: str | None = None,
                  categories: list[str] | None = None) -> Any:
        """``POST /api/v1/kb/import`` (multipart): ``files`` as (file name, content)."""
        form = {k: v for k, v in (("publish", "true" if publish else "false"),
                                  ("article_type", article_type),
                                  ("department_code", department_code),
                                  ("categories", ",".join(categories or []) or None))
                if v is not None}
        return self.request("POST", "/api/v1/kb/import", data=form,
                            files=[("files", (name, data)) for name, data in files])

    def kb_monitor(self, **query: Any) -> Any:
        """``GET /api/v1/kb/monitor``: ``from``/``to`` are Python keywords — pass ``**{"from": …}``."""
        return self.request("GET", "/api/v1/kb/monitor", params=query)

    # -- Step 4 knowledge base: entries, versions, the review workflow, search ----------------
    def kb_search(self, q: str, **query: Any) -> Any:
        return self.request("GET", "/api/v1/kb/search", params={"q": q, **query})

    def kb_articles(self, **query: Any) -> Any:
        return self.request("GET", "/api/v1/kb/articles", params=query)

    def kb_article(self, article_id: int, **query: Any) -> Any:
        return self.request("GET", f"/api/v1/kb/articles/{article_id}", params=query)

    def kb_create(self, **form: Any) -> Any:
        return self.request("POST", "/api/v1/kb/articles", json=form)

    def kb_edit(self, article_id: int, **changes: Any) -> Any:
        return self.request("PATCH", f"/api/v1/kb/articles/{article_id}", json=changes)

    def kb_act(self, article_id: int, action: str, comment: str | None = None) -> Any:
        """submit | reject | publish | archive (``comment``: a rejection's, an archive's reason)."""
        body = {"comment": comment} if comment is not None else {}
        return self.request("POST", f"/api/v1/kb/articles/{article_id}/{action}", json=body)

    def kb_versions(self, article_id: int) -> Any:
        return self.request("GET", f"/api/v1/kb/articles/{article_id}/versions")

    def kb_diff(self, article_id: int, start: int, end: int) -> Any:
        return self.request("GET", f"/api/v1/kb/articles/{article_id}/diff",
                            params={"from": start, "to": end})

    def kb_public_search(self, q: str, **query: Any) -> Any:
        return self.request("GET", "/api/v1/kb/public/search", params={"q": q, **query})

    def kb_public_article(self, article_id: int) -> Any:
        return self.request("GET", f"/api/v1/kb/public/articles/{article_id}")

def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05,
             what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy, or raise after ``timeout``.

    HTTP errors and ``NotFound`` from an RPC count as "not yet": the fact being waited for
    travels by events and may not have arrived.
    """
    from shared.errors import NotFound

    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (ApiError, requests.RequestException, NotFound) as exc:
            last_exc = exc
        time.sleep(interval)  # polling interval of a wait with a deadline, not a fixed delay
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                       + (f" (last error: {last_exc})" if last_exc else ""))


# -- Step 3 open311 ----------------------------------------------------------------------------
class Open311Client:
    """A GeoReport v2 client of ``/open311/v2`` (docs/OPEN311.md): form-encoded POSTs with
    ``api_key``, answers in JSON (parsed) or XML (``raw`` for the response itself)."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/") + "/open311/v2"
        self.api_key = api_key
        self.timeout = timeout
        self.http = requests.Session()

    def raw(self, method: str, resource: str, fmt: str = "json",
            headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        return self.http.request(method, f"{self.base_url}/{resource}.{fmt}", headers=headers,
                                 timeout=self.timeout, **kw)

    def get(self, resource: str, **params: Any) -> Any:
        r = self.raw("GET", resource, params=params)
        if r.status_code >= 400:
            raise ApiError(r.status_code, r.json())
        return r.json()

    def submit(self, idempotency_key: str | None = None, **form: Any) -> dict[str, Any]:
        """``POST requests``: the first (only) item of the answer."""
        form.setdefault("api_key", self.api_key)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        r = self.raw("POST", "requests", data=form, headers=headers)
        if r.status_code >= 400:
            raise ApiError(r.status_code, r.json())
        return r.json()[0]

    def post_update(self, **form: Any) -> dict[str, Any]:
        """servicerequestupdates ``POST`` (a department system's key)."""
        form.setdefault("api_key", self.api_key)
        r = self.raw("POST", "servicerequestupdates", data=form)
        if r.status_code >= 400:
            raise ApiError(r.status_code, r.json())
        return r.json()[0]
