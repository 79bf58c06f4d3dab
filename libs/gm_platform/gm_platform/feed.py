"""Consuming another service's domain events: each exactly once, in that service's log order.

An `EventFeed` applies one source service's events to this service. Its progress is the
source log position of the last event applied, kept as a `Tracking("feed:<source>",
position)` record written in the same commit as the effects, so an event's effects and
the fact that it was applied are durable together or not at all.

Events reach a feed two ways, and both end in the same `_apply_in_order`:
- the broker (queue `<consumer>.from.<source>`): the usual, fast path;
- the source's own log, read over RPC (`read_log`, one connection reused): at start-up,
  periodically, and whenever a delivered event is ahead of the next expected position (a
  gap: a message the broker lost, or a relay publishing out of order). The log is the
  truth; the broker only says "something new". A gap is filled in the background, page
  by page, yielding between events: never inside the consumer's delivery callback, whose
  connection must keep answering heartbeats however long the catch-up takes. The
  delivered event is acknowledged at once — the catch-up reads it from the log.

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
import time
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence

from gm_kernel import DuplicateMessage, EventStore, RecordedEvent, Tracking

from . import metrics

log = logging.getLogger(__name__)

Apply = Callable[[RecordedEvent, Tracking], bool]


def decode_events(body: bytes) -> List[RecordedEvent]:
    """A message on a `<service>.events` exchange: one event (a JSON object) or the
    relay's batch of them (a JSON array, in log order; gm_platform.relay.EVENT_BATCH)."""
    decoded = json.loads(body)
    if isinstance(decoded, list):
        return [RecordedEvent.from_dict(e) for e in decoded]
    return [RecordedEvent.from_dict(decoded)]


def summary(outcomes: Sequence[str]) -> str:
    """One outcome as itself; a batch's as counts ("applied 3, duplicate 1")."""
    if len(outcomes) == 1:
        return outcomes[0]
    counts: Dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return ", ".join(f"{k} {n}" for k, n in counts.items())


class SourceLog(Protocol):
    def read(self, after_position: int, limit: int) -> Sequence[RecordedEvent]: ...


class RpcSourceLog:
    """A source service's log, read through its `read_log` RPC with a bounded wait, on one
    connection kept open between reads (reopened, and the call tried once more, if it
    broke meanwhile); and whether the source's streams of a case verify (`verify_case`)."""

    #: The longest a read waits for the source: a page takes milliseconds, and a source
    #: that does not answer (stopping, or gone) must not hold this service's catch-up —
    #: and with it its graceful stop (GM_SHUTDOWN_GRACE, 8 s) — for long; the next
    #: catch-up tries again.
    MAX_WAIT = 4.0

    def __init__(self, amqp_uri: str, source: str, timeout: float = 10.0):
        self.amqp_uri, self.source = amqp_uri, source
        self.timeout = min(timeout, self.MAX_WAIT)
        self._cluster = None
        self._proxy = None
        self._lock = threading.Lock()

    def read(self, after_position: int, limit: int) -> List[RecordedEvent]:
        return [RecordedEvent.from_dict(row)
                for row in self._call("read_log", after_position, limit)]

    def verify_case(self, case_id: str, handoff_ids: Sequence[str] = ()) -> dict:
        """The source's answer to whether its streams of the case verify."""
        return self._call("verify_case", case_id, list(handoff_ids))

    def _call(self, method: str, *args):
        with self._lock:
            try:
                return getattr(self._service(), method)(*args)
            except Exception as exc:
                if not self._broken(exc):
                    raise
                self._close()  # e.g. the broker restarted since the last call
                return getattr(self._service(), method)(*args)

    def _service(self):
        if self._proxy is None:
            # Imported here: the standalone proxy pulls in Nameko's eventlet machinery.
            from nameko.standalone.rpc import ClusterRpcProxy

            self._cluster = ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, timeout=self.timeout)
            self._proxy = self._cluster.start()
        return getattr(self._proxy, self.source)

    @staticmethod
    def _broken(exc: Exception) -> bool:
        """A dead connection, as opposed to the source answering with an error or not at
        all in time (asking again would only wait as long again)."""
        from nameko.exceptions import RemoteError, RpcTimeout, UnknownService

        return not isinstance(exc, (RemoteError, UnknownService, RpcTimeout))

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        cluster, self._cluster, self._proxy = self._cluster, None, None
        if cluster is not None:
            try:
                cluster.stop()
            except Exception:  # already broken
                pass


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

    def close(self) -> None:
        for feed in self.by_source.values():
            feed.close()


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
        self._soon_lock = threading.Lock()
        self._soon: Optional[threading.Thread] = None  # the background catch-up
        self._again = False

    def position(self) -> int:
        """Source log position of the last event applied here."""
        return self.store.tracked_position(self.tracking_name)

    # -- the two ways in -------------------------------------------------------------------
    def deliver(self, body: bytes) -> str:
        """Events from the broker (one, or the relay's batch): apply each, or have the gap
        before it filled. Returns what happened: "applied", "duplicate" or "deferred" (to
        the background catch-up, which reads it from the source's log), or for a batch
        how many of each (`summary`)."""
        return summary([self.deliver_event(e) for e in decode_events(body)])

    def deliver_event(self, event: RecordedEvent) -> str:
        """`deliver` for an event already decoded (one body fanned out to several feeds)."""
        if not self._lock.acquire(blocking=False):
            # A catch-up is applying the log right now; it applies this event too, or
            # the pass it is asked for next does.
            self.catch_up_soon()
            return "deferred"
        try:
            last = self.position()
            if event.position <= last:
                self._count("duplicate")
                return "duplicate"
            if event.position == last + 1:
                self._apply_in_order(event)
                return "applied"
        finally:
            self._lock.release()
        self.catch_up_soon()
        return "deferred"

    def catch_up(self) -> int:
        """Apply everything the source log holds beyond our position; return how many."""
        with self._lock:
            return self._catch_up_locked()

    def catch_up_soon(self) -> None:
        """Catch up in a thread of its own (green under eventlet), one at a time; a pass
        asked for while one runs follows it. A failure (the source unreachable, an event
        that fails) is logged and left to the periodic catch-up."""
        with self._soon_lock:
            self._again = True
            if self._soon is None:
                self._soon = threading.Thread(target=self._catch_up_in_background,
                                              name=f"catch-up:{self.source}", daemon=True)
                self._soon.start()

    def _catch_up_in_background(self) -> None:
        while True:
            with self._soon_lock:
                if not self._again:
                    self._soon = None
                    return
                self._again = False
            try:
                self.catch_up()
            except Exception as exc:  # the source or the store: the periodic pass retries
                log.warning("catch-up from %s stopped: %s: %s", self.source,
                            type(exc).__name__, exc)
                with self._soon_lock:
                    self._soon = None
                return

    def wait_caught_up(self, timeout: float = 30.0) -> bool:
        """Wait for the background catch-up to finish (tests, shutdown); True if it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._soon_lock:
                if self._soon is None:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        close = getattr(self.source_log, "close", None)
        if close is not None:
            close()

    # -- internals -------------------------------------------------------------------------
    def _catch_up_locked(self, until: Optional[int] = None) -> int:
        applied = 0
        while True:
            after = self.position()
            if until is not None and after >= until:
                return applied
            page = self.source_log.read(after, self.page_size)
            if not page:  # a page may be short before the end (read_log's byte budget)
                return applied
            applied += self._apply_page(page)

    def _apply_page(self, page: Sequence[RecordedEvent]) -> int:
        """Apply a page of the source log read after our position; return how many.
        (A feed whose store can apply a whole page in one write overrides this.)"""
        applied = 0
        unrecorded: Optional[Tracking] = None
        last = self.position()  # read once: the page is in log order (a replica that
        # applied some of it meanwhile makes those a DuplicateMessage, counted as such)
        try:
            for event in page:
                if event.position > last:
                    # A run of events that need nothing here is recorded once, by its last
                    # position (the position is the highest recorded): a queue bound to a
                    # few types (topology.BROKER_INTERESTS) reads the rest in pages.
                    passed = self._apply_in_order(event, record_passed=False)
                    unrecorded = passed or (unrecorded if passed is None else None)
                    last = event.position
                    applied += 1
                time.sleep(0)  # a green yield: HTTP, heartbeats and consumers run meanwhile
        finally:
            if unrecorded is not None and unrecorded.position > self.position():
                self._record_position(unrecorded)
        return applied

    def _apply_in_order(self, event: RecordedEvent, record_passed: bool = True):
        """Apply one event. With `record_passed` False, an event that needed nothing is
        not recorded: its tracking is returned for the caller to record (else None, or
        False when the event had effects, which recorded its position)."""
        tracking = Tracking(self.tracking_name, event.position)
        try:
            # A conflict with a command on the same stream is retried by the message bus
            # (gm_platform.messagebus), which decides the event again on the fresh state.
            if self.apply(event, tracking):
                passed = False
            elif record_passed:
                self.store.append(None, None, tracking=tracking)
                passed = None
            else:
                passed = tracking
        except DuplicateMessage:
            if self.position() < event.position:
                # The effects were recorded before under another key (a Processed
                # record of the same message): record the position alone.
                self._record_position(tracking)
            self._count("duplicate")  # else: another replica applied it first
            return None
        self._count("applied")
        metrics.FEED_POSITION.labels(self.store.service, self.source).set(event.position)
        return passed

    def _record_position(self, tracking: Tracking) -> None:
        try:
            self.store.append(None, None, tracking=tracking)
        except DuplicateMessage:
            pass

    def _count(self, outcome: str) -> None:
        metrics.FEED_EVENTS.labels(self.store.service, self.source, outcome).inc()
