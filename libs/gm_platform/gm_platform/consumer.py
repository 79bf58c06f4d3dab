"""A queue consumer that loses nothing: raw bytes in, acknowledgement only after an outcome.

Why not Nameko's own: `consume` silently drops a message kombu cannot decode (malformed
JSON, another content type) without calling our code, and `event_handler` acks a message
whose handler raised. Here the handler receives the raw `Delivery` and decodes it itself;
a handler that raises is retried with back-off, then the message is parked in the
service's dead-letter store and acknowledged. If even parking fails (store down) the
message is returned to the broker, never acknowledged.

Messages of one queue are handled one at a time, in order: agencies and projections rely
on that order, and the store serialises writes anyway.
"""
from __future__ import annotations

import logging
import socket
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Mapping, Optional, Union

import eventlet
from eventlet.event import Event
from kombu import Connection, Consumer, Queue
from nameko.extensions import Entrypoint

from gm_kernel import DeadLetter

from . import metrics, topology
from .store_provider import find_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One message as the broker delivered it, undecoded."""

    body: bytes
    routing_key: str
    exchange: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    redelivered: bool = False

    @property
    def message_id(self) -> Optional[str]:
        value = self.properties.get("message_id")
        return str(value) if value is not None else None


def _as_bytes(body) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, memoryview):
        return body.tobytes()
    return str(body).encode("utf-8", "surrogateescape")


class QueueConsumer(Entrypoint):
    def __init__(self, queue: Union[Queue, Callable[[], Queue]], retries: int = 3,
                 backoff: float = 0.2, prefetch: int = 20, **kwargs):
        self.queue_spec = queue
        self.retries = retries
        self.backoff = backoff
        self.prefetch = prefetch
        self.connected = False
        super().__init__(**kwargs)

    def setup(self):
        self.settings = self.container.config["GM_SETTINGS"]
        self.queue = self.queue_spec() if callable(self.queue_spec) else self.queue_spec
        self._stopping = False
        self._stopped = Event()

    def start(self):
        self.container.spawn_managed_thread(self._run, identifier=f"consumer:{self.queue.name}")

    def stop(self):
        self._stopping = True
        self._stopped.wait(timeout=self.settings.shutdown_grace)
        super().stop()

    def kill(self):
        self._stopping = True

    # -- the loop ------------------------------------------------------------------------
    def _run(self):
        backoff = 0.2
        try:
            while not self._stopping:
                try:
                    self._consume()
                    backoff = 0.2
                except Exception as exc:  # connection lost or broker down: reconnect
                    self.connected = False
                    log.warning("consumer %s: %s; reconnecting in %.1fs",
                                self.queue.name, exc, backoff)
                    eventlet.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            self.connected = False
            self._stopped.send(None)

    def _consume(self):
        with Connection(self.settings.amqp_uri, heartbeat=30, connect_timeout=5) as conn:
            channel = conn.channel()
            topology.declare_public(channel)
            queue = self.queue(channel)
            queue.declare()
            consumer = Consumer(channel, queues=[queue], on_message=self._on_message,
                                prefetch_count=self.prefetch, no_ack=False)
            consumer.consume()
            self.connected = True
            log.info("consuming %s", self.queue.name)
            while not self._stopping:
                try:
                    conn.drain_events(timeout=0.5)
                except socket.timeout:
                    conn.heartbeat_check()
            # Unacknowledged prefetched messages go back to the queue when we close.
            consumer.cancel()

    def _on_message(self, message):
        info = message.delivery_info or {}
        delivery = Delivery(
            body=_as_bytes(message.body),
            routing_key=info.get("routing_key", ""),
            exchange=info.get("exchange", ""),
            properties=dict(message.properties or {}),
            headers=dict(message.headers or {}),
            redelivered=bool(info.get("redelivered")),
        )
        service = self.container.service_name
        started = time.perf_counter()
        error = None
        for attempt in range(1, self.retries + 1):
            error = self._call_worker(delivery)
            if error is None:
                message.ack()
                metrics.MESSAGES_CONSUMED.labels(service, self.queue.name, "handled").inc()
                metrics.HANDLER_SECONDS.labels(service, self.method_name).observe(
                    time.perf_counter() - started)
                return
            if attempt < self.retries:
                eventlet.sleep(self.backoff * 2 ** (attempt - 1))
        self._park_or_requeue(message, delivery, error)

    def _call_worker(self, delivery: Delivery) -> Optional[BaseException]:
        done = Event()
        self.container.spawn_worker(
            self, (delivery,), {},
            # The case (or conversation) a message belongs to travels as the AMQP
            # correlation_id; the message itself is the cause of what the worker does.
            context_data={"correlation_id": delivery.properties.get("correlation_id")
                          or delivery.message_id, "causation_id": delivery.message_id},
            handle_result=partial(self._handle_result, done))
        return done.wait()

    @staticmethod
    def _handle_result(done, worker_ctx, result, exc_info):
        done.send(exc_info[1] if exc_info else None)
        return result, exc_info

    def _park_or_requeue(self, message, delivery: Delivery, error: BaseException) -> None:
        service = self.container.service_name
        letter = DeadLetter(
            # unique per parking, so replaying a letter never removes its successor
            id=f"{self.queue.name}:{delivery.message_id}:{uuid.uuid4()}",
            source=self.queue.name,
            reason=f"handler failed {self.retries} times: {type(error).__name__}: {error}",
            body=delivery.body,
            routing_key=delivery.routing_key,
            properties=_jsonable(delivery.properties),
            attempts=self.retries,
        )
        try:
            store = find_store(self.container)
            store.park(letter)
            metrics.DEAD_LETTERS.labels(service).set(store.count_dead_letters())
        except Exception as exc:
            log.error("cannot park message from %s (%s); returning it to the broker",
                      self.queue.name, type(exc).__name__)
            eventlet.sleep(1.0)  # don't spin on a store that is down
            message.requeue()
            metrics.MESSAGES_CONSUMED.labels(service, self.queue.name, "requeued").inc()
            return
        log.error("parked message %s from %s: %s", letter.id, self.queue.name, letter.reason)
        message.ack()
        metrics.MESSAGES_CONSUMED.labels(service, self.queue.name, "parked").inc()


def _jsonable(props: Mapping[str, Any]) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v))
            for k, v in props.items()}


consume = QueueConsumer.decorator
