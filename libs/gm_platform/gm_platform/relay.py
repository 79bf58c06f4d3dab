"""Outbox relay: publishes committed outbox messages, then marks them sent.

The broker is a notification path, not the store. A message is marked sent only after
the broker confirmed it (publisher confirms), so a crash between publish and mark-sent
re-sends it after restart: at most a duplicate, which consumers ignore by message id.

Replicas of a service share one store, so one relay publishes: the one holding the
store's `outbox-relay` lease, renewed at half its life (GM_RELAY_LEASE seconds). The
others stand by; when the holder dies its lease expires and another takes over. A holder
so stalled that its lease expires mid-batch may publish a message the next one publishes
too — a duplicate with the same message id, as after a crash.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Callable, Optional

from kombu import Connection, Exchange, Producer

from gm_kernel import EventStore, RecordedEvent

from . import metrics, topology

log = logging.getLogger(__name__)

RELAY_LEASE = "outbox-relay"


class OutboxRelay:
    def __init__(
        self,
        store: EventStore,
        amqp_uri: str,
        *,
        batch_size: int = 200,
        idle_wait: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        lease_ttl: float = 10.0,
        holder: Optional[str] = None,
    ):
        self.store = store
        self.lease_ttl = lease_ttl
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False
        self._lease_until = 0.0  # monotonic
        self.amqp_uri = amqp_uri
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self._sleep = sleep
        self._conn: Optional[Connection] = None
        self._producer: Optional[Producer] = None
        self._declared: set = set()
        self._wake = threading.Event()
        self._stopping = False
        self.connected = False

    # -- driving -------------------------------------------------------------------------
    def wake(self) -> None:
        """Tell the relay a commit just landed (saves waiting for the next poll)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def run(self) -> None:
        """Publish until stop(); survive broker outages with back-off."""
        backoff = 0.2
        while not self._stopping:
            try:
                sent = self.publish_pending()
                backoff = 0.2
            except Exception as exc:  # broker or store trouble: keep everything, retry
                self._disconnect()
                log.warning("outbox relay: %s; retrying in %.1fs", exc, backoff)
                self._wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent == 0:
                self._wait(self.idle_wait)

    def flush(self, timeout: float) -> int:
        """Publish what is pending now, for at most `timeout` seconds (graceful stop)."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            try:
                sent = self.publish_pending()
            except Exception as exc:
                log.warning("outbox relay flush: %s", exc)
                self._disconnect()
                self._sleep(0.2)
                continue
            total += sent
            if sent == 0:
                break
        return total

    def close(self) -> None:
        self._disconnect()
        if self.leading:  # another replica may take over at once
            self.leading = False
            try:
                self.store.release_lease(RELAY_LEASE, self.holder)
            except Exception as exc:  # it expires anyway
                log.warning("outbox relay: could not give up its lease: %s", exc)

    def _lead(self) -> bool:
        """Whether this relay holds the lease (renewed at half its life)."""
        now = time.monotonic()
        if self.leading and now < self._lease_until - self.lease_ttl / 2:
            return True
        was = self.leading
        self.leading = self.store.acquire_lease(RELAY_LEASE, self.holder, self.lease_ttl)
        if self.leading:
            self._lease_until = now + self.lease_ttl
        if self.leading != was:
            log.info("outbox relay %s: %s", self.holder,
                     "publishing" if self.leading else "standing by (another replica publishes)")
        metrics.RELAY_LEADING.labels(self.store.service).set(int(self.leading))
        return self.leading

    # -- one pass ------------------------------------------------------------------------
    def publish_pending(self) -> int:
        if not self._lead():
            return 0
        pending = self.store.pending_outbox(self.batch_size)
        metrics.OUTBOX_BACKLOG.labels(self.store.service).set(self.store.outbox_backlog())
        if not pending:
            return 0
        producer = self._ensure_producer()
        sent_ids = []
        try:
            for msg in pending:
                exchange = self._exchange(msg.exchange)
                producer.publish(
                    json.dumps(self._current(msg), ensure_ascii=False,
                               separators=(",", ":")).encode(),
                    exchange=exchange,
                    routing_key=msg.routing_key,
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=msg.message_id,
                    # domain events: the case they belong to, for consumers' logs
                    correlation_id=msg.body.get("correlation_id")
                    if msg.exchange == self.store.events_exchange else None,
                    headers=dict(msg.headers),
                    retry=False,
                )
                sent_ids.append(msg.outbox_id)
        finally:
            # Whatever the broker confirmed is marked, even if a later publish failed.
            if sent_ids:
                self.store.mark_sent(sent_ids)
                metrics.OUTBOX_PUBLISHED.labels(self.store.service).inc(len(sent_ids))
        return len(sent_ids)

    def _current(self, msg) -> dict:
        """A domain event goes out in its current schema, as `read_log` would give it:
        an event committed before an upgrade and published after it must not reach
        consumers in a shape their catch-up path never shows them."""
        body = msg.body
        if (msg.exchange != self.store.events_exchange
                or not self.store.upcasters.applies_to(body["type"], body["schema_version"])):
            return body  # the usual case: published as committed, no decoding
        return self.store.upcasters.upcast(RecordedEvent.from_dict(body)).to_dict()

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            conn = Connection(
                self.amqp_uri,
                # Timeouts so a silently stalled connection fails instead of blocking
                # the relay for ever; run() then reconnects with back-off.
                transport_options={"confirm_publish": True, "read_timeout": 10,
                                   "write_timeout": 10},
                connect_timeout=5,
                heartbeat=0,
            )
            conn.connect()
            channel = conn.channel()
            topology.declare_public(channel)
            self._declared = set()
            self._conn, self._producer = conn, Producer(channel)
            self.connected = True
        return self._producer

    def _exchange(self, name: str) -> Exchange:
        # Every exchange the suite publishes to is a durable topic exchange (gm.outbound,
        # `<service>.events` as Nameko declares it); declare each once per connection.
        exchange = Exchange(name, type="topic", durable=True)
        if name not in self._declared:
            exchange(self._producer.channel).declare()
            self._declared.add(name)
        return exchange

    def _disconnect(self) -> None:
        self.connected = False
        conn, self._conn, self._producer = self._conn, None, None
        if conn is not None:
            try:
                conn.release()
            except Exception:  # already broken; nothing to save
                pass

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()
