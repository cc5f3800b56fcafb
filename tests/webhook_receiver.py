"""A real local HTTP receiver standing in for department systems in tests (werkzeug in a
thread — a green thread under the test run's monkey patching): it verifies each webhook's
signature with :func:`shared.webhooks.verify` using the secret of the department named by the
URL path (``/<department_code>``), records what it accepted, and answers as told
(``status[code]``: 200, 503, …, or ``"hang"`` to outlast the sender's timeout)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from shared.webhooks import SignatureError, verify


class _KeepAlive(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a department system's server would


class Receiver:
    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.status: dict[str, Any] = {}  # department → status code or "hang"
        self.hang_seconds = 2.0
        self.accepted: list[dict[str, Any]] = []  # entries answered 2xx, in arrival order
        self.refused: list[tuple[str, str]] = []  # (department, signature error reason)
        self.requests = 0
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True,
                                   request_handler=_KeepAlive)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url_for(self, department: str) -> str:
        return f"{self.url}/{department}"

    def _app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        department = request.path.strip("/")
        body = request.get_data()
        with self._lock:
            self.requests += 1
        mode = self.status.get(department, 200)
        if mode == "hang":
            time.sleep(self.hang_seconds)
            return Response("too late", status=200)(environ, start_response)
        try:
            verify(self.secrets.get(department, ""), body, request.headers)
        except SignatureError as exc:
            with self._lock:
                self.refused.append((department, exc.reason))
            return Response(exc.reason, status=401)(environ, start_response)
        if not 200 <= int(mode) < 300:
            return Response("系统维护中 down for maintenance", status=int(mode))(
                environ, start_response)
        entry = json.loads(body)
        entry["_headers"] = dict(request.headers)
        with self._lock:
            self.accepted.append(entry)
        return Response(json.dumps({"ok": True}), status=int(mode),
                        content_type="application/json")(environ, start_response)

    def of(self, department: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.accepted if e["department_code"] == department]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
