"""Consuming another service's domain events: each exactly once, in that service's log order.

An `EventFeed` applies one source service's events to this service. Its progress is the
source log position of the last event applied, kept as a `Tracking("feed:<source>",
position)` record written in the same commit as the effects, so an event's effects and
the fact that it was applied are durable together or not at all.

Events reach a feed two ways, and both end in the same `_apply_in_order`:
- the broker (queue `<consumer>.from.<source>`): the usual, fast path;
- the source's own log, read over RPC (`read_log`): at start-up, periodically, and
  whenever a delivered event is ahead of the next expected position (a gap: a message
  the broker lost, or a relay publishing out of order). The log is the truth; the broker
  only says "something new".

So an event delivered twice, or again after a catch-up applied it, is recognised by its
position and ignored. Several replicas may apply the same position at once: the unique
tracking record lets exactly one commit land; the other gets DuplicateMessage (done).

An `apply` function decides what an event means here. It must either commit its effects
with the given tracking record and return True, or return False when the event needs
nothing (the feed then records the tracking alone). It must not raise for domain reasons
(record a refusal as an event instead): an event that raises stops the feed at that
position until it succeeds — retried by the consumer, parked, and retried by every
catch-up — so nothing after it is applied out of order and nothing is skipped.
"""
from __future__ import annotations

import json
import logging
import threading
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence

from gm_kernel import DuplicateMessage, EventStore, RecordedEvent, Tracking

from . import metrics

log = logging.getLogger(__name__)

Apply = Callable[[RecordedEvent, Tracking], bool]


class SourceLog(Protocol):
    def read(self, after_position: int, limit: int) -> Sequence[RecordedEvent]: ...


class FeedGap(Exception):
    """A delivered event is ahead of the feed and the source log could not fill the gap."""


class RpcSourceLog:
    """A source service's log, read through its `read_log` RPC with a bounded wait."""

    def __init__(self, amqp_uri: str, source: str, timeout: float = 10.0):
        self.amqp_uri, self.source, self.timeout = amqp_uri, source, timeout

    def read(self, after_position: int, limit: int) -> List[RecordedEvent]:
        # Imported here: the standalone proxy pulls in Nameko's eventlet machinery.
        from nameko.standalone.rpc import ClusterRpcProxy

        with ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, timeout=self.timeout) as rpc:
            rows = getattr(rpc, self.source).read_log(after_position, limit)
        return [RecordedEvent.from_dict(row) for row in rows]


class LocalSourceLog:
    """This service's own log as a source: a process manager reacting to its own events
    (e.g. a hand-off settled → close the case) exactly once, even across a crash between
    the two commits."""

    def __init__(self, store: EventStore):
        self.store = store

    def read(self, after_position: int, limit: int) -> List[RecordedEvent]:
        return self.store.read_log(after_position, limit)


class Feeds:
    """Every feed of one service, by source: where its feed consumers (one per
    `<service>.from.<source>` queue, gm_platform.base) and its catch-up timer go."""

    def __init__(self, feeds: Mapping[str, "EventFeed"]):
        self.by_source: Dict[str, EventFeed] = dict(feeds)

    @classmethod
    def of_bus(cls, bus, service: str, sources: Iterable[str], amqp_uri: str,
               rpc_timeout: float = 10.0) -> "Feeds":
        """A feed per source applying its events through the service's message bus
        (gm_platform.messagebus); the service's own log is read locally, the others' over
        RPC. Appends go through the bus's store, so the relay publishes them at once."""
        return cls({source: EventFeed(
            bus.store, source, bus.handle_event,
            LocalSourceLog(bus.store) if source == service
            else RpcSourceLog(amqp_uri, source, rpc_timeout)) for source in sources})

    def __getitem__(self, source: str) -> "EventFeed":
        return self.by_source[source]

    def deliver(self, source: str, body: bytes) -> str:
        """A domain event of `source`, as the broker delivered it."""
        return self.by_source[source].deliver(body)

    def catch_up(self) -> Dict[str, object]:
        """Whatever the broker did not bring, read from the sources' logs."""
        return catch_up_all(self.by_source)

    def positions(self) -> Dict[str, int]:
        return {source: feed.position() for source, feed in self.by_source.items()}


def catch_up_all(feeds: "dict[str, EventFeed]") -> "dict[str, object]":
    """Catch every feed up; one unreachable source does not hold back the others."""
    done: dict = {}
    for source, feed in feeds.items():
        try:
            done[source] = feed.catch_up()
        except Exception as exc:  # the source is down or an event fails: retried next run
            log.warning("catch-up from %s stopped at position %d: %s: %s", source,
                        feed.position(), type(exc).__name__, exc)
            done[source] = f"{type(exc).__name__}: {exc}"
    return done


class EventFeed:
    def __init__(self, store: EventStore, source: str, apply: Apply, source_log: SourceLog,
                 *, page_size: int = 500):
        self.store = store
        self.source = source
        self.apply = apply
        self.source_log = source_log
        self.page_size = page_size
        self.tracking_name = f"feed:{source}"
        self._lock = threading.Lock()  # green under eventlet: one applier per process

    def position(self) -> int:
        """Source log position of the last event applied here."""
        return self.store.tracked_position(self.tracking_name)

    # -- the two ways in -------------------------------------------------------------------
    def deliver(self, body: bytes) -> str:
        """An event from the broker: apply it, or fill the gap before it. Returns what
        happened: "applied", "duplicate" or "caught-up"."""
        return self.deliver_event(RecordedEvent.from_dict(json.loads(body)))

    def deliver_event(self, event: RecordedEvent) -> str:
        """`deliver` for an event already decoded (one body fanned out to several feeds)."""
        with self._lock:
            last = self.position()
            if event.position <= last:
                self._count("duplicate")
                return "duplicate"
            if event.position == last + 1:
                self._apply_in_order(event)
                return "applied"
            try:
                self._catch_up_locked(until=event.position)
            except Exception as exc:
                raise FeedGap(f"{self.source} log positions {last + 1}..{event.position - 1} "
                              f"missing and unreadable: {type(exc).__name__}: {exc}") from exc
            if self.position() < event.position:  # the log must hold what was published
                raise FeedGap(f"{self.source} log ends before position {event.position}")
            return "caught-up"

    def catch_up(self) -> int:
        """Apply everything the source log holds beyond our position; return how many."""
        with self._lock:
            return self._catch_up_locked()

    # -- internals -------------------------------------------------------------------------
    def _catch_up_locked(self, until: Optional[int] = None) -> int:
        applied = 0
        while True:
            after = self.position()
            if until is not None and after >= until:
                return applied
            page = self.source_log.read(after, self.page_size)
            applied += self._apply_page(page)
            if len(page) < self.page_size:
                return applied

    def _apply_page(self, page: Sequence[RecordedEvent]) -> int:
        """Apply a page of the source log read after our position; return how many.
        (A feed whose store can apply a whole page in one write overrides this.)"""
        applied = 0
        for event in page:
            if event.position > self.position():
                self._apply_in_order(event)
                applied += 1
        return applied

    def _apply_in_order(self, event: RecordedEvent) -> None:
        tracking = Tracking(self.tracking_name, event.position)
        try:
            # A conflict with a command on the same stream is retried by the message bus
            # (gm_platform.messagebus), which decides the event again on the fresh state.
            if not self.apply(event, tracking):
                self.store.append(None, None, tracking=tracking)
        except DuplicateMessage:
            if self.position() < event.position:
                # The effects were recorded before under another key (a Processed
                # record of the same message): record the position alone.
                self._record_position(tracking)
            self._count("duplicate")  # else: another replica applied it first
            return
        self._count("applied")
        metrics.FEED_POSITION.labels(self.store.service, self.source).set(event.position)

    def _record_position(self, tracking: Tracking) -> None:
        try:
            self.store.append(None, None, tracking=tracking)
        except DuplicateMessage:
            pass

    def _count(self, outcome: str) -> None:
        metrics.FEED_EVENTS.labels(self.store.service, self.source, outcome).inc()
