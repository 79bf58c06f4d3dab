"""Outbox relay: publishes committed outbox messages, then marks them sent.

The broker is a notification path, not the store. A message is marked sent only after
the broker confirmed it (publisher confirms), so a crash between publish and mark-sent
re-sends it after restart: at most a duplicate, which consumers ignore by message id.
A batch is published back to back and its confirms awaited once (one round trip per
batch, not per message), the domain events in it as few messages as will carry them
(EVENT_BATCH); what the broker nacked or never confirmed stays pending and
goes out again on the next pass. Marking sent does not wait for the disk (see the store's
`mark_sent`): losing a mark to a power cut means a duplicate, never a loss.

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
from functools import partial
from typing import Callable, Iterator, Optional

from kombu import Connection, Exchange, Producer

from gm_kernel import EventStore, RecordedEvent

from . import metrics, topology

log = logging.getLogger(__name__)

RELAY_LEASE = "outbox-relay"

#: A run of pending domain events goes out as one message (a JSON array, in log order,
#: routing key topology.EVENT_BATCH; never the types a queue is bound to by name): under
#: load each consumer receives and acknowledges, and the broker stores, one message per
#: batch instead of one per event (the broker's cost is per message, not per byte). Feeds
#: decode both forms (gm_platform.feed.decode_events); a lone event goes as itself.
EVENT_BATCH = topology.EVENT_BATCH
EVENT_BATCH_MAX = 100
#: Well under the broker's max_message_size (deploy/rabbitmq): a batch is cut before it.
EVENT_BATCH_BYTES = 256 * 1024


def _encode(body) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class ConfirmTimeout(Exception):
    """The broker did not confirm a batch in time: the connection is made again."""


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
        confirm_timeout: float = 10.0,
        holder: Optional[str] = None,
    ):
        self.store = store
        self.lease_ttl = lease_ttl
        self.confirm_timeout = confirm_timeout
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False
        self._lease_until = 0.0  # monotonic
        self.amqp_uri = amqp_uri
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self._sleep = sleep
        self._conn: Optional[Connection] = None
        self._producer: Optional[Producer] = None
        self._published = 0  # delivery tags used on the current channel
        self._acked: set = set()  # delivery tags the broker confirmed, not yet collected
        self._nacked: set = set()
        self._outstanding: set = set()
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
        tags = {}  # delivery tag -> the outbox ids its message carries
        try:
            for group in self._messages(pending):
                head = group[0][0]
                self._published += 1
                self._outstanding.add(self._published)
                tags[self._published] = [m.outbox_id for m, _ in group]
                if len(group) == 1:
                    body, routing_key, message_id = group[0][1], head.routing_key, head.message_id
                    # domain events: the case they belong to, for consumers' logs
                    correlation_id = (head.body.get("correlation_id")
                                      if head.exchange == self.store.events_exchange else None)
                    headers = dict(head.headers)
                else:
                    body = b"[" + b",".join(encoded for _, encoded in group) + b"]"
                    routing_key, message_id = EVENT_BATCH, f"{head.message_id}+{len(group) - 1}"
                    correlation_id, headers = None, {}
                producer.publish(
                    body,
                    exchange=self._exchange(head.exchange),
                    routing_key=routing_key,
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=message_id,
                    correlation_id=correlation_id,
                    headers=headers,
                    retry=False,
                )
            self._await_confirms(set(tags))
        finally:
            # Whatever the broker confirmed is marked, even if a later publish failed.
            sent_ids = [i for t in sorted(self._acked & set(tags)) for i in tags[t]]
            self._acked -= set(tags)
            if sent_ids:
                self.store.mark_sent(sent_ids)
                metrics.OUTBOX_PUBLISHED.labels(self.store.service).inc(len(sent_ids))
        refused = self._nacked & set(tags)
        if refused:
            self._nacked -= refused
            log.warning("outbox relay: the broker refused %d messages; they stay pending",
                        len(refused))
        return len(sent_ids)

    def _messages(self, pending) -> Iterator[list]:
        """The pending outbox messages, each with its encoded body, grouped as the AMQP
        messages that carry them: a run of domain events (in log order) as one message,
        up to EVENT_BATCH_MAX events and EVENT_BATCH_BYTES; anything else alone, as are
        the event types some queue is bound to by name (topology.batched)."""
        run: list = []
        size = 0
        for msg in pending:
            encoded = _encode(self._current(msg))
            if (msg.exchange != self.store.events_exchange
                    or not topology.batched(self.store.service, msg.routing_key)):
                if run:
                    yield run
                    run, size = [], 0
                yield [(msg, encoded)]
                continue
            if run and (len(run) >= EVENT_BATCH_MAX
                        or size + len(encoded) + 1 > EVENT_BATCH_BYTES):
                yield run
                run, size = [], 0
            run.append((msg, encoded))
            size += len(encoded) + 1
        if run:
            yield run

    def _await_confirms(self, tags: set) -> None:
        """Read from the broker until it has confirmed or refused every tag (ConfirmTimeout
        after `confirm_timeout` seconds: the connection is then dropped and, in run(),
        made again)."""
        deadline = time.monotonic() + self.confirm_timeout
        while tags & self._outstanding:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConfirmTimeout(f"{len(tags & self._outstanding)} publishes unconfirmed "
                                     f"after {self.confirm_timeout:.0f}s")
            try:
                self._conn.drain_events(timeout=min(left, 1.0))
            except socket.timeout:
                pass

    def _on_confirm(self, into: set, delivery_tag: int, multiple: bool) -> None:
        done = ({t for t in self._outstanding if t <= delivery_tag} if multiple
                else {delivery_tag} & self._outstanding)
        self._outstanding -= done
        into |= done

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
                # the relay for ever; run() then reconnects with back-off. Confirms are
                # selected on the channel and collected per batch (_await_confirms).
                transport_options={"read_timeout": 10, "write_timeout": 10},
                connect_timeout=5,
                heartbeat=0,
            )
            conn.connect()
            channel = conn.channel()
            channel.events["basic_ack"].add(partial(self._on_confirm, self._acked))
            channel.events["basic_nack"].add(partial(self._on_confirm, self._nacked))
            channel.confirm_select()
            self._published = 0
            self._outstanding.clear()
            self._declared = set()
            self._conn, self._producer = conn, Producer(channel)
            self.connected = True
        return self._producer

    def _exchange(self, name: str) -> Exchange:
        # Every exchange the suite publishes to is a durable topic exchange (gm.outbound,
        # `<service>.events` as Nameko declares it); declare each once per connection, and
        # with gm.outbound the agencies' inboxes, so an answer waits there for its agency.
        exchange = Exchange(name, type="topic", durable=True)
        if name not in self._declared:
            if name == topology.OUTBOUND.name:
                topology.declare_public(self._producer.channel)
            else:
                exchange(self._producer.channel).declare()
            self._declared.add(name)
        return exchange

    def _disconnect(self) -> None:
        self.connected = False
        # Tags belong to the channel: whatever it did not confirm goes out again.
        self._outstanding.clear()
        self._acked.clear()
        self._nacked.clear()
        conn, self._conn, self._producer = self._conn, None, None
        if conn is not None:
            try:
                conn.release()
            except Exception:  # already broken; nothing to save
                pass

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()
