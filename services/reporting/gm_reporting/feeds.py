"""Feeding the projections from the other services' logs, exactly once, in log order.

Each projection keeps its own position per source (in its active generation), so each
(projection, source) pair is one `gm_platform.feed.EventFeed`: a broker delivery from
`reporting.from.<source>` goes to every projection fed by that source, and a gap, a
restart or the periodic catch-up reads the source's log (RPC `read_log`) from where that
projection stands. The EventFeed's tracking commits are the projection store's: applying
an event writes the documents and the position together (see store/port.py).

`Feeds` is the platform's (gm_platform.feed.Feeds): the feed consumers and the catch-up
timer every service has (gm_platform.base) call its `deliver` and `catch_up`.
"""
from __future__ import annotations

import logging
from typing import Dict, Iterable, Mapping, Sequence

from gm_kernel import DuplicateMessage, RecordedEvent, Tracking
from gm_platform import feed, metrics
from gm_platform.feed import EventFeed, SourceLog

from .store.port import ProjectionSpec, ProjectionStore

log = logging.getLogger(__name__)


class PositionsOf:
    """What an EventFeed needs of a store, over one projection's positions for one source."""

    def __init__(self, store: ProjectionStore, spec: ProjectionSpec, source: str):
        self.store, self.spec, self.source = store, spec, source
        self.service = f"reporting/{spec.name}"  # the metrics' service label

    def tracked_position(self, name: str) -> int:
        return self.store.position(self.spec.name, self.source)

    def append(self, stream_id, expected_version, events=(), *, tracking: Tracking = None,
               **_):
        if events or tracking is None:
            raise ValueError("a projection feed only records positions")
        self.store.advance(self.spec.name, self.source, tracking.position)
        return []


class ProjectionFeed(EventFeed):
    """An EventFeed that applies a page of the source log in one store call (one
    transaction on SQLite) when catching up, instead of one event at a time."""

    def __init__(self, store: ProjectionStore, spec: ProjectionSpec, source: str,
                 source_log: SourceLog, page_size: int = 500):
        self.projection_store, self.spec = store, spec
        super().__init__(PositionsOf(store, spec, source), source, self._apply_one, source_log,
                         page_size=page_size)

    def _apply_one(self, event: RecordedEvent, tracking: Tracking) -> bool:
        self.projection_store.apply(self.spec, self.source, [event])
        return True

    def _apply_page(self, page: Sequence[RecordedEvent]) -> int:
        after = self.position()
        fresh = [e for e in page if e.position > after]
        if not fresh:
            return 0
        try:
            result = self.projection_store.apply(self.spec, self.source, fresh)
        except DuplicateMessage:  # another replica applied the page first
            return 0
        metrics.FEED_EVENTS.labels(self.store.service, self.source, "applied").inc(
            result.applied)
        metrics.FEED_POSITION.labels(self.store.service, self.source).set(result.position)
        return result.applied


class Feeds(feed.Feeds):
    """Every (projection, source) feed of the service, by `<projection>:<source>`
    (`catch_up` and `positions` as the platform's, per projection and source)."""

    def __init__(self, store: ProjectionStore, specs: Iterable[ProjectionSpec],
                 logs: Mapping[str, SourceLog], page_size: int = 500,
                 others: Mapping[str, EventFeed] = {}):
        """`others`: more feeds by `<name>:<source>` (the early-warning watch)."""
        super().__init__({**{f"{spec.name}:{source}": ProjectionFeed(store, spec, source,
                                                                     logs[source], page_size)
                             for spec in specs for source in spec.sources}, **others})

    def of_source(self, source: str) -> Dict[str, EventFeed]:
        return {name.split(":")[0]: f for name, f in self.by_source.items()
                if f.source == source}

    def deliver(self, source: str, body: bytes) -> Dict[str, str]:
        """Domain events of `source` from the broker (one, or the relay's batch), to every
        projection they feed. Raises (after trying them all) if one failed: the message
        is redelivered, and the projections that applied it then see a duplicate."""
        try:
            events = feed.decode_events(body)
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            raise ValueError(f"not a domain event of {source}: undecodable body") from None
        outcomes, failure = {}, None
        for name, source_feed in self.of_source(source).items():
            done = []
            for event in events:
                try:
                    done.append(source_feed.deliver_event(event))
                except Exception as exc:  # the others still get the events
                    done.append(f"{type(exc).__name__}: {exc}")
                    failure = failure or exc
                    break  # in order: what follows waits for this one
            outcomes[name] = feed.summary(done)
        if failure is not None:
            raise failure
        return outcomes
