"""RPC with a deadline (reliability rule 5).

``RpcClient("intake")`` injects a client whose calls fail with :class:`Unavailable` after
``RPC_TIMEOUT_SECONDS`` instead of hanging, and fail at once when the broker is unreachable
(publishing does not retry a refused connection), so the gateway can answer 503 promptly.
Errors raised on purpose by the remote service (``shared.errors``) come back as themselves.
"""

from __future__ import annotations

from typing import Any

import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError
from nameko.exceptions import RemoteError, UnknownService
from nameko.extensions import DependencyProvider
from nameko.rpc import ReplyListener, ServiceProxy

from shared.errors import Unavailable


class _Client:
    def __init__(self, proxy: ServiceProxy, service: str, timeout: float):
        self._proxy = proxy
        self._service = service
        self._timeout = timeout

    def call(self, method: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        limit = timeout or self._timeout
        try:
            with eventlet.Timeout(limit):
                return getattr(self._proxy, method).call_async(*args, **kwargs).result()
        except eventlet.Timeout:
            raise Unavailable(f"服务超时 {self._service}.{method} did not answer in {limit}s",
                              {"service": self._service}) from None
        except UnknownService:
            raise Unavailable(f"服务未运行 service {self._service} is not running",
                              {"service": self._service}) from None
        except (OSError, AMQPError, KombuError) as exc:
            raise Unavailable(f"消息总线不可用 broker unavailable: {exc}",
                              {"service": self._service}) from None
        except RemoteError as exc:
            if exc.exc_type in ("OperationalError", "InterfaceError", "DBAPIError"):
                raise Unavailable(f"{self._service} 数据库不可用 database unavailable",
                                  {"service": self._service}) from None
            raise

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *a, **kw: self.call(method, *a, **kw)


class RpcClient(DependencyProvider):
    rpc_reply_listener = ReplyListener()

    def __init__(self, target_service: str, timeout: float | None = None):
        self.target_service = target_service
        self.timeout = timeout

    def setup(self) -> None:
        self._timeout = self.timeout or float(
            self.container.config.get("RPC_TIMEOUT_SECONDS", 10))

    def get_dependency(self, worker_ctx: Any) -> _Client:
        # retry=False: a refused broker connection fails now, not after kombu's backoff.
        proxy = ServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                             retry=False)
        return _Client(proxy, self.target_service, self._timeout)


def rpc(fn: Any = None, **kwargs: Any) -> Any:
    """nameko's ``@rpc`` with this project's errors declared as expected.

    A :class:`shared.errors.HotlineError` is the caller's problem (bad input, wrong state), not
    the service's: nameko then logs it as an expected error instead of a crash.
    """
    from nameko.rpc import rpc as nameko_rpc

    from shared.errors import HotlineError

    kwargs.setdefault("expected_exceptions", (HotlineError,))
    decorator = nameko_rpc(**kwargs)
    return decorator if fn is None else decorator(fn)
