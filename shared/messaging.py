"""Event consumption with idempotency hooks, retry-then-dead-letter, and queue topology.

Why not nameko's ``@event_handler``: with ``requeue_on_error=False`` (its default) a handler
that raises acks and drops the message; with ``True`` it hot-loops. Here a failing handler's
message is re-published to a per-queue retry queue whose TTL dead-letters it back to the work
queue after an exponential backoff, and after ``EVENT_MAX_RETRIES`` attempts it goes to the
dead-letter queue ``hotline.dead_letter`` with the reason, where an operator lists and replays
it (``hotline dlq``). A message that is not a valid envelope goes to the dead-letter queue at
once: retrying cannot fix it. The original is acked only after its retry or dead-letter copy
was confirmed by the broker, so nothing is lost in between.

Topology (declared by ``hotline migrate`` before anything is published, and again by each
consumer on start):

- ``hotline.events`` (topic): every event, routing key = event type;
- ``<service>.<handler>`` (durable): bound to the event types the handler takes;
- ``<service>.<handler>.retry``: per-message TTL, dead-letters to ``<service>.<handler>``;
- ``hotline.dead_letter``: messages that exhausted their retries or were malformed.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from kombu import Connection, Exchange, Queue
from nameko.amqp.publish import Publisher
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.messaging import Consumer, QueueConsumer

from shared.events import MalformedEvent, load_envelope
from shared.outbox import EVENTS_EXCHANGE

log = logging.getLogger(__name__)

DEAD_LETTER_QUEUE = "hotline.dead_letter"
DEFAULT_EXCHANGE = Exchange("", type="direct")
ATTEMPT_HEADER = "x-hotline-attempt"


def work_queue(name: str, event_types: Iterable[str], queue_type: str = "classic") -> Queue:
    args = {"x-queue-type": "quorum"} if queue_type == "quorum" else {}
    bindings = [dict(exchange=EVENTS_EXCHANGE, routing_key=t) for t in event_types]
    from kombu import binding
    return Queue(name, bindings=[binding(**b) for b in bindings], durable=True,
                 queue_arguments=args or None)


def retry_queue(name: str) -> Queue:
    return Queue(f"{name}.retry", exchange=DEFAULT_EXCHANGE, routing_key=f"{name}.retry",
                 durable=True, queue_arguments={"x-dead-letter-exchange": "",
                                                "x-dead-letter-routing-key": name})


def dead_letter_queue() -> Queue:
    return Queue(DEAD_LETTER_QUEUE, exchange=DEFAULT_EXCHANGE, routing_key=DEAD_LETTER_QUEUE,
                 durable=True)


class EventQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a body that cannot even be decoded is
    dead-lettered (kombu's default logs it and acks it: a silent drop)."""

    def get_consumers(self, consumer_cls: Any, channel: Any) -> Any:
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(provider.handle_undecodable)
        return consumers


class EventConsumer(Consumer):
    """Entrypoint: ``@event_handler("ticket.registered", ...)`` on a service method.

    The method receives a validated :class:`shared.events.Event`. It must be idempotent:
    the convention is ``if not self.db.claim(event): return`` first, then the effect, then
    ``self.db.commit()`` (the inbox row commits with the effect).
    """

    queue_consumer = EventQueueConsumer()

    def __init__(self, *event_types: str, **kwargs: Any):
        if not event_types:
            raise ValueError("event_handler needs at least one event type")
        self.event_types = tuple(event_types)
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    @property
    def queue_name(self) -> str:
        return f"{self.container.service_name}.{self.method_name}"

    def setup(self) -> None:
        config = self.container.config
        self.max_retries = int(config.get("EVENT_MAX_RETRIES", 5))
        self.retry_base_ms = int(config.get("EVENT_RETRY_BASE_MS", 500))
        self.queue = work_queue(self.queue_name, self.event_types,
                                config.get("QUEUE_TYPE", "classic"))
        self.publisher = Publisher(config["AMQP_URI"], use_confirms=True, serializer="json",
                                   declare=[retry_queue(self.queue_name), dead_letter_queue()])
        super().setup()

    def handle_message(self, body: Any, message: Any) -> None:
        try:
            event = load_envelope(body)
        except MalformedEvent as exc:
            self._dead_letter(body, message, f"malformed: {exc}")
            return
        context_data = self.unpack_message_headers(message)
        if event.trace_id:
            context_data["trace_id"] = event.trace_id
        if event.ticket_no:
            context_data["ticket_no"] = event.ticket_no
        handle_result = partial(self.handle_result, message)
        from nameko.exceptions import ContainerBeingKilled
        try:
            self.container.spawn_worker(self, (event,), {}, context_data=context_data,
                                        handle_result=handle_result)
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def handle_result(self, message: Any, worker_ctx: Any, result: Any = None,
                      exc_info: Any = None) -> tuple[Any, Any]:
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return result, exc_info
        exc = exc_info[1]
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0)) + 1
        try:
            if attempt > self.max_retries:
                self._dead_letter(message.payload, message,
                                  f"failed {attempt} times: {type(exc).__name__}: {exc}",
                                  ack=False)
            else:
                delay_ms = self.retry_base_ms * (2 ** (attempt - 1))
                headers = dict(message.headers or {})
                headers[ATTEMPT_HEADER] = attempt
                headers["x-hotline-last-error"] = f"{type(exc).__name__}: {exc}"[:500]
                self.publisher.publish(message.payload, exchange=DEFAULT_EXCHANGE,
                                       routing_key=f"{self.queue_name}.retry",
                                       expiration=delay_ms / 1000.0, headers=headers)
                log.warning("event handler failed; retrying",
                            extra={"queue": self.queue_name, "attempt": attempt,
                                   "delay_ms": delay_ms, "error": str(exc)[:200]})
        except Exception:
            log.exception("could not schedule retry; requeueing", extra={"queue": self.queue_name})
            self.queue_consumer.requeue_message(message)
            return result, exc_info
        self.queue_consumer.ack_message(message)
        return result, exc_info

    def handle_undecodable(self, message: Any, exc: Exception) -> None:
        """Called by kombu for a body it cannot decode: dead-letter the raw bytes."""
        self._dead_letter(None, message, f"malformed: undecodable body: {exc}", raw=True)

    def _dead_letter(self, body: Any, message: Any, reason: str, ack: bool = True,
                     raw: bool = False) -> None:
        headers = dict(message.headers or {})
        headers.update({"x-hotline-reason": reason[:1000], "x-hotline-queue": self.queue_name})
        encoding = ({"body": message.body, "content_type": message.content_type or "text/plain",
                     "content_encoding": message.content_encoding or "binary"} if raw
                    else {"body": body})
        try:
            self.publisher.publish(encoding.pop("body"), exchange=DEFAULT_EXCHANGE,
                                   routing_key=DEAD_LETTER_QUEUE, headers=headers, **encoding)
        except Exception:
            log.exception("could not dead-letter; requeueing", extra={"queue": self.queue_name})
            self.queue_consumer.requeue_message(message)
            return
        log.error("message dead-lettered", extra={"queue": self.queue_name, "reason": reason[:300]})
        if raw:
            message.ack()  # kombu's decode-error path: we are on the consumer's own thread
        elif ack:
            self.queue_consumer.ack_message(message)


event_handler = EventConsumer.decorator


# -- topology ------------------------------------------------------------------------------

def consumers_of(service_cls: type) -> list[tuple[str, tuple[str, ...]]]:
    """(queue name, event types) of every ``@event_handler`` on a service class."""
    found = []
    for name, method in inspect.getmembers(service_cls, inspect.isfunction):
        for ext in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(ext, EventConsumer):
                service_name = service_cls.name  # type: ignore[attr-defined]
                found.append((f"{service_name}.{name}", ext.event_types))
    return found


def declare_topology(amqp_uri: str, service_classes: Iterable[type],
                     queue_type: str = "classic") -> list[str]:
    """Declare the exchange, every consumer's work and retry queues, and the DLQ (idempotent)."""
    declared = []
    with Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        EVENTS_EXCHANGE(channel).declare()
        dead_letter_queue()(channel).declare()
        for cls in service_classes:
            for name, types in consumers_of(cls):
                work_queue(name, types, queue_type)(channel).declare()
                retry_queue(name)(channel).declare()
                declared.append(name)
        channel.close()
    return declared


# -- dead-letter queue operations (operator) ---------------------------------------------

def list_dead_letters(amqp_uri: str, limit: int = 100) -> list[dict[str, Any]]:
    """Peek at dead-lettered messages (they are requeued, not removed)."""
    out = []
    with Connection(amqp_uri, connect_timeout=5) as conn:
        queue = dead_letter_queue()(conn.default_channel)
        queue.declare()
        held = []
        for _ in range(limit):
            msg = queue.get(no_ack=False, accept=["json", "text/plain", "application/data"])
            if msg is None:
                break
            held.append(msg)
            headers = msg.headers or {}
            body = _decode(msg)
            out.append({"queue": headers.get("x-hotline-queue"),
                        "reason": headers.get("x-hotline-reason"),
                        "event_id": body.get("event_id") if isinstance(body, dict) else None,
                        "type": body.get("type") if isinstance(body, dict) else None,
                        "body": body})
        for msg in held:
            msg.requeue()
    return out


def replay_dead_letters(amqp_uri: str, limit: int = 1000) -> int:
    """Move dead-lettered messages back to the queue they failed in, with a fresh attempt count."""
    moved = 0
    with Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.default_channel
        queue = dead_letter_queue()(channel)
        queue.declare()
        producer = conn.Producer(channel)
        for _ in range(limit):
            msg = queue.get(no_ack=False, accept=["json", "text/plain", "application/data"])
            if msg is None:
                break
            headers = dict(msg.headers or {})
            target = headers.get("x-hotline-queue")
            if not target:
                msg.requeue()
                break
            for key in (ATTEMPT_HEADER, "x-hotline-reason", "x-hotline-last-error"):
                headers.pop(key, None)
            producer.publish(msg.body, exchange="", routing_key=target, headers=headers,
                             content_type=msg.content_type,
                             content_encoding=msg.content_encoding, delivery_mode=2)
            msg.ack()
            moved += 1
    return moved


def _decode(msg: Any) -> Any:
    try:
        return json.loads(msg.body)
    except Exception:
        return msg.body if isinstance(msg.body, str) else repr(msg.body)[:500]
