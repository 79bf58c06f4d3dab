"""A queue consumer that loses nothing and lets nothing block: raw bytes in, an outcome for
every message, the acknowledgement only after it.

Why not Nameko's own: `consume` silently drops a message kombu cannot decode (malformed
JSON, another content type) without calling our code, and `event_handler` acks a message
whose handler raised. Here the handler receives the raw `Delivery` and decodes it itself.

What happens to a message:
- handled: acknowledged;
- the handler raised: retried with back-off, then parked in the service's dead-letter
  store (with its reason) and acknowledged. Anything raised while receiving or handling a
  message is that message's fault, never a reason to drop the connection;
- the store is unavailable (the handler or the parking says so): the message goes back to
  the broker and the consumer pauses until the store answers again — a store outage is
  nobody's message's fault, so nothing is parked for it;
- parking itself failed for another reason: the message is rejected to the broker, whose
  delivery limit dead-letters it to the service's parking queue (topology.py), which is
  drained into the dead-letter store.

Only a lost connection leads to a reconnect. A frame py-amqp cannot read at all would
too (the connection cannot read on): amqp_compat makes property decoding tolerant so
that does not happen for bad text, and the broker's delivery limit ends any other such
loop.

Messages of one queue are handled one at a time, in order: agencies and projections rely
on that order, and the store serialises writes anyway.
"""
from __future__ import annotations

import inspect
import logging
import socket
import time
import uuid
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable, Mapping, Optional, Union

import eventlet
from eventlet.event import Event
from kombu import Connection, Consumer, Queue
from kombu.transport.pyamqp import Transport
from nameko.extensions import Entrypoint

from gm_kernel import DeadLetter, StoreUnavailable

from . import amqp_compat, metrics, topology
from .store_provider import find_store

amqp_compat.install()

log = logging.getLogger(__name__)

_CONNECTION_ERRORS = (Transport.connection_errors + Transport.channel_errors
                      + (socket.error, TimeoutError))


#: Seconds between looks for an exchange another service has not declared yet.
NOT_DECLARED_YET_WAIT = 0.3
#: Seconds without a delivery after which handled messages are acknowledged (ack_every).
ACK_QUIET = 0.05


class StorePaused(Exception):
    """The store cannot be reached: messages go back to the broker until it can."""


@dataclass(frozen=True)
class Delivery:
    """One message as the broker delivered it, undecoded.

    `redelivered` is True when this message may have been handled before (the broker
    says so, or an earlier attempt in this process failed after committing): a handler
    that finds it already handled must not send its answer again — the first commit's
    outbox does that.
    """

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

    @classmethod
    def of(cls, message) -> "Delivery":
        """From a kombu message; never raises, whatever the broker handed over."""
        info = getattr(message, "delivery_info", None) or {}
        return cls(
            body=_as_bytes(getattr(message, "body", b"")),
            routing_key=_text(info.get("routing_key")),
            exchange=_text(info.get("exchange")),
            properties=dict(getattr(message, "properties", None) or {}),
            headers=dict(getattr(message, "headers", None) or {}),
            redelivered=bool(info.get("redelivered")),
        )


def _as_bytes(body) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if body is None:
        return b""
    return str(body).encode("utf-8", "surrogateescape")


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return "" if value is None else str(value)


class QueueConsumer(Entrypoint):
    """`@consume(queue=...)`: `queue` is a kombu Queue, or a function returning one that
    takes no argument or the service's name (e.g. `topology.parking_queue`)."""

    def __init__(self, queue: Union[Queue, Callable[..., Queue]], retries: int = 3,
                 backoff: float = 0.2, prefetch: int = 20, ack_every: int = 1, **kwargs):
        self.queue_spec = queue
        self.retries = retries
        self.backoff = backoff
        self.prefetch = prefetch
        # Acknowledge handled messages together (`multiple`), every `ack_every` of them or
        # when the queue falls quiet (ACK_QUIET): one frame instead of many for the broker
        # and for us. Only where handling a message again is harmless and says nothing to
        # anyone — a feed, which knows each event by its position: after a lost connection
        # the broker hands back what was handled but not yet acknowledged.
        self.ack_every = max(1, min(ack_every, prefetch // 2 or 1))
        self._unacked = None  # the last handled message not yet acknowledged
        self._unacked_count = 0
        self.connected = False
        self.dead_lettered = False  # whether the broker parks what we reject
        super().__init__(**kwargs)

    def setup(self):
        self.settings = self.container.config["GM_SETTINGS"]
        self.queue = self._resolve_queue()
        self._stopping = False
        self._stopped = Event()

    def _resolve_queue(self) -> Queue:
        spec = self.queue_spec
        if not callable(spec):
            return spec
        if inspect.signature(spec).parameters:
            return spec(self.container.service_name)
        return spec()

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
        backoff, waited = 0.2, False
        try:
            while not self._stopping:
                try:
                    self._consume()
                    backoff = 0.2
                except StorePaused as exc:
                    self.connected = False
                    log.warning("consumer %s paused: %s; waiting for the store",
                                self.queue.name, exc)
                    self._wait_for_store()
                except topology.NotDeclaredYet as exc:
                    # Another service's events exchange, bound passively: that service
                    # declares it when it starts (or the deploy definitions did). Looked
                    # for often, without backing off: it comes within seconds.
                    self.connected = False
                    if not waited:
                        log.info("consumer %s waits for what another service declares (%s)",
                                 self.queue.name, exc)
                    waited = True
                    eventlet.sleep(NOT_DECLARED_YET_WAIT)
                except Exception as exc:
                    self.connected = False
                    if self._is_connection_error(exc):
                        log.warning("consumer %s: %s; reconnecting in %.1fs",
                                    self.queue.name, exc, backoff)
                        eventlet.sleep(backoff)
                        backoff = min(backoff * 2, 5.0)
                    else:
                        # The broker is fine; a frame could not be read. Reconnect at once:
                        # the delivery limit parks the message if this repeats.
                        log.error("consumer %s could not read a message (%s: %s); "
                                  "reconnecting", self.queue.name, type(exc).__name__, exc)
                        eventlet.sleep(0.2)
        finally:
            self.connected = False
            self._stopped.send(None)

    @staticmethod
    def _is_connection_error(exc: BaseException) -> bool:
        return isinstance(exc, _CONNECTION_ERRORS)

    def _wait_for_store(self) -> None:
        wait = 0.5
        while not self._stopping:
            try:
                find_store(self.container).ping()
                return
            except Exception:
                eventlet.sleep(wait)
                wait = min(wait * 2, 5.0)

    def _consume(self):
        with Connection(self.settings.amqp_uri, heartbeat=30, connect_timeout=5) as conn:
            topology.declare_owned(conn.channel(), self.container.service_name)
            channel, self.dead_lettered = topology.declare_consumed(conn, self.queue)
            consumer = Consumer(channel, queues=[self.queue(channel)],
                                on_message=self._on_message, prefetch_count=self.prefetch,
                                no_ack=False, auto_declare=False)  # declared just above
            consumer.consume()
            self.connected = True
            log.info("consuming %s", self.queue.name)
            self._unacked, self._unacked_count = None, 0  # a new channel: nothing of ours
            while not self._stopping:
                try:
                    conn.drain_events(timeout=ACK_QUIET if self._unacked else 0.5)
                except socket.timeout:
                    self._ack_handled()
                    conn.heartbeat_check()
            self._ack_handled()
            # Unacknowledged prefetched messages go back to the queue when we close.
            consumer.cancel()

    def _ack_handled(self) -> None:
        """Acknowledge every handled message not acknowledged yet (one frame)."""
        message, self._unacked, self._unacked_count = self._unacked, None, 0
        if message is not None:
            message.ack(multiple=True)

    def _ack(self, message) -> None:
        if self.ack_every == 1:
            message.ack()
            return
        self._unacked = message
        self._unacked_count += 1
        if self._unacked_count >= self.ack_every:
            self._ack_handled()

    # -- one message -----------------------------------------------------------------------
    def _on_message(self, message):
        delivery = Delivery.of(message)
        try:
            self._handle(message, delivery)
        except StorePaused:
            raise
        except Exception as exc:  # a fault of ours while handling it: still an outcome
            log.error("message from %s could not be handled (%s: %s)", self.queue.name,
                      type(exc).__name__, exc)
            self._park(message, delivery, exc, attempts=1)

    def _handle(self, message, delivery: Delivery) -> None:
        service = self.container.service_name
        started = time.perf_counter()
        error: Optional[BaseException] = None
        for attempt in range(1, self.retries + 1):
            # A retry may follow a failure after the commit: the same as a redelivery.
            error = self._call_worker(delivery if attempt == 1
                                      else replace(delivery, redelivered=True))
            if error is None:
                self._ack(message)
                metrics.MESSAGES_CONSUMED.labels(service, self.queue.name, "handled").inc()
                metrics.HANDLER_SECONDS.labels(service, self.method_name).observe(
                    time.perf_counter() - started)
                return
            if isinstance(error, StoreUnavailable):
                self._ack_handled()
                self._requeue_and_pause(message, error)
            if attempt < self.retries:
                eventlet.sleep(self.backoff * 2 ** (attempt - 1))
        self._park(message, delivery, error, attempts=self.retries)

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

    def _park(self, message, delivery: Delivery, error: BaseException, attempts: int) -> None:
        self._ack_handled()  # those before it are done, whatever becomes of this one
        service = self.container.service_name
        letter = DeadLetter(
            # unique per parking, so replaying a letter never removes its successor
            id=f"{self.queue.name}:{delivery.message_id}:{uuid.uuid4()}",
            source=self.queue.name,
            reason=f"handler failed {attempts} times: {type(error).__name__}: {error}",
            body=delivery.body,
            routing_key=delivery.routing_key,
            properties=delivery.properties,
            attempts=attempts,
        )
        try:
            store = find_store(self.container)
            store.park(letter)  # the store makes any letter storable
        except StoreUnavailable as exc:
            self._requeue_and_pause(message, exc)
        except Exception as exc:
            self._hand_to_broker(message, exc)
            return
        log.error("parked message %s from %s: %s", letter.id, self.queue.name, letter.reason)
        message.ack()
        metrics.MESSAGES_CONSUMED.labels(service, self.queue.name, "parked").inc()
        try:
            metrics.DEAD_LETTERS.labels(service).set(store.count_dead_letters())
        except Exception:  # only a gauge
            pass

    def _requeue_and_pause(self, message, error: BaseException) -> None:
        message.requeue()
        metrics.MESSAGES_CONSUMED.labels(self.container.service_name, self.queue.name,
                                         "requeued").inc()
        raise StorePaused(f"{type(error).__name__}: {error}")

    def _hand_to_broker(self, message, error: BaseException) -> None:
        """Parking failed, not for want of a store: let the broker park it (its delivery
        limit and dead-letter exchange), or, on a queue without them, try again later."""
        log.error("cannot park message from %s (%s: %s); %s", self.queue.name,
                  type(error).__name__, error,
                  "the broker parks it" if self.dead_lettered else "returning it to the broker")
        service = self.container.service_name
        if self.dead_lettered:
            message.reject(requeue=False)
            metrics.MESSAGES_CONSUMED.labels(service, self.queue.name, "dead-lettered").inc()
        else:
            eventlet.sleep(1.0)  # don't spin
            message.requeue()
            metrics.MESSAGES_CONSUMED.labels(service, self.queue.name, "requeued").inc()


consume = QueueConsumer.decorator
