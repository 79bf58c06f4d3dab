"""The event store port: what every service's store does, whatever database is behind it.

One commit = zero or more events of ONE stream, plus outbox messages, idempotency keys,
at most one tracking record and at most one dead letter, written atomically: all of it
is durable or none is (so an agency's `rejected` answer and the letter that keeps the
rejected message land together).

Guarantees every adapter must give (proved by gm_kernel.testing.StoreContract):
- optimistic concurrency on (stream_id, version): `expected_version` must equal the
  stream's current version (0 = the stream must not exist yet), else ConcurrencyError;
- positions are service-wide, start at 1, gap-free, and become visible in order: a reader
  of `read_log` never sees position n+1 before n;
- each event is also queued in the outbox (exchange `<service>.events`, routing key the
  event type, body `RecordedEvent.to_dict()`), so nothing committed stays unpublished;
- a `Processed.key` or a `Tracking` (name, position) already recorded makes the whole
  commit fail with DuplicateMessage, carrying the first result; nothing is written;
- a dead letter is stored as `DeadLetter.storable()` gives it, so no input can make
  parking fail; parking an id again (alone) updates that letter and keeps its place;
- every commit with events is a link of the service's hash chain (chain.py): its hash
  covers its events as stored and the previous link's hash, and is written in the same
  atomic step as the positions, so replicas appending to one database make one chain.
  Outbox messages, idempotency keys, tracking records and dead letters are pruned or
  removed, so no hash covers them; events are never pruned.
"""
from __future__ import annotations

import abc
from datetime import datetime
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..events import (
    DeadLetter,
    NewEvent,
    OutboxMessage,
    PendingMessage,
    Processed,
    RecordedEvent,
    Tracking,
)
from ..upcasting import Upcasters
from . import chain
from .chain import ChainReport, CommitAudit, Link, StreamAudit

NO_STREAM = 0  # expected_version for a stream that must not exist yet


class StoreError(Exception):
    """Base for errors raised by an event store."""


class ConcurrencyError(StoreError):
    """The stream moved on since the caller read it (expected version is stale)."""

    def __init__(self, stream_id: str, expected: int, actual: int):
        super().__init__(f"stream {stream_id!r}: expected version {expected}, found {actual}")
        self.stream_id, self.expected, self.actual = stream_id, expected, actual


class DuplicateMessage(StoreError):
    """The message was handled before; `result` is what was recorded then."""

    def __init__(self, key: str, result: Optional[Mapping] = None):
        super().__init__(f"already processed: {key}")
        self.key, self.result = key, result


class StoreUnavailable(StoreError):
    """The database cannot be reached."""


class EventStore(abc.ABC):
    """A service's event store: streams, the service log, outbox, idempotency, dead letters."""

    def __init__(self, service: str, upcasters: Optional[Upcasters] = None):
        self.service = service
        self.upcasters = upcasters or Upcasters()

    @property
    def events_exchange(self) -> str:
        return f"{self.service}.events"

    # -- writing -------------------------------------------------------------------------
    @abc.abstractmethod
    def append(
        self,
        stream_id: Optional[str],
        expected_version: Optional[int],
        events: Sequence[NewEvent] = (),
        *,
        outbox: Iterable[OutboxMessage] = (),
        processed: Iterable[Processed] = (),
        tracking: Optional[Tracking] = None,
        dead_letter: Optional[DeadLetter] = None,
    ) -> List[RecordedEvent]:
        """Write one commit atomically; return the recorded events (with positions).

        `stream_id`/`expected_version` may be None only when `events` is empty (a commit
        that only answers a message, records progress or parks a message).
        """

    # -- reading -------------------------------------------------------------------------
    @abc.abstractmethod
    def _read_stream(self, stream_id: str, after_version: int) -> List[RecordedEvent]: ...

    @abc.abstractmethod
    def _read_log(self, after_position: int, limit: int) -> List[RecordedEvent]: ...

    def read_stream(self, stream_id: str, after_version: int = 0) -> List[RecordedEvent]:
        """The stream's events in version order, upcast to their current schema."""
        return [self.upcasters.upcast(e) for e in self._read_stream(stream_id, after_version)]

    def read_log(self, after_position: int = 0, limit: int = 500) -> List[RecordedEvent]:
        """At most `limit` events of the service log with position > after_position, in order."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        return [self.upcasters.upcast(e) for e in self._read_log(after_position, limit)]

    @abc.abstractmethod
    def stream_version(self, stream_id: str) -> int:
        """Current version of the stream; 0 when it does not exist."""

    @abc.abstractmethod
    def last_position(self) -> int:
        """Highest position in the log; 0 when empty."""

    # -- idempotency and tracking ----------------------------------------------------------
    @abc.abstractmethod
    def processed_result(self, key: str) -> Optional[Processed]:
        """The Processed record for `key`, or None if it was never recorded."""

    @abc.abstractmethod
    def tracked_position(self, name: str) -> int:
        """Highest tracked position recorded under `name`; 0 when none."""

    # -- outbox --------------------------------------------------------------------------
    @abc.abstractmethod
    def pending_outbox(self, limit: int = 100) -> List[PendingMessage]:
        """Unsent outbox messages, oldest commit first."""

    @abc.abstractmethod
    def mark_sent(self, outbox_ids: Iterable[str]) -> None:
        """Mark these outbox messages published (idempotent)."""

    @abc.abstractmethod
    def outbox_backlog(self) -> int:
        """How many outbox messages are waiting to be published."""

    # -- replicas and retention -----------------------------------------------------------
    @abc.abstractmethod
    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Hold the lease `name` for `ttl` seconds from now, if it is free, has expired or
        is `holder`'s already (a renewal); True if `holder` holds it now. Replicas sharing
        a store use it so that one of them does a job (e.g. publishing the outbox)."""

    @abc.abstractmethod
    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up, if `holder` holds it (another may take it at once)."""

    @abc.abstractmethod
    def prune(self, before: datetime) -> Dict[str, int]:
        """Forget what only delivery and idempotency needed and was recorded before
        `before`: sent outbox messages, processed keys, and tracking records below each
        name's highest (which `tracked_position` keeps answering). Events, dead letters
        and unsent messages stay. Inside the retention window nothing changes: a message
        re-sent then is still recognised. Returns what was removed, by kind."""

    # -- the tamper-evident record (chain.py) -----------------------------------------------
    def verify_chain(self) -> ChainReport:
        """Walk the whole chain from the first link to the head: OK with the counts and
        the head's position and hash, or the first broken link (where, what, expected vs
        found). Reads in pages; appends go on meanwhile (the walk ends at a head it saw)."""
        return chain.walk(self._chain_links(), self._chain_migrated_through())

    def verify_stream(self, stream_id: str) -> StreamAudit:
        """The commits holding `stream_id`'s events (or recorded as its commits), each
        checked against its hash and its neighbours' links."""
        return StreamAudit(stream_id, [
            CommitAudit(link.first_position, link.last_position,
                        chain.check_link(link, previous_hash, next_prev_hash))
            for link, previous_hash, next_prev_hash in self._stream_links(stream_id)])

    @abc.abstractmethod
    def _chain_links(self) -> Iterator[Link]:
        """Every link in position order, events as stored; events no link covers as
        Links without a hash."""

    @abc.abstractmethod
    def _chain_migrated_through(self) -> int:
        """The last position whose link was made by the migration to the chain (0: none)."""

    @abc.abstractmethod
    def _stream_links(self, stream_id: str
                      ) -> List[Tuple[Link, Optional[str], Optional[str]]]:
        """The stream's links in position order, each with the hash of the link ending
        just before it (GENESIS for position 1, None when there is none) and the prev_hash
        of the link just after it (None at the head)."""

    # -- dead letters --------------------------------------------------------------------
    def park(self, letter: DeadLetter) -> None:
        """Keep a message that could not be handled (idempotent on letter.id)."""
        self.append(None, None, dead_letter=letter)

    @abc.abstractmethod
    def dead_letters(self, limit: int = 100, offset: int = 0) -> List[DeadLetter]:
        """Parked messages, oldest first."""

    @abc.abstractmethod
    def dead_letter(self, letter_id: str) -> Optional[DeadLetter]: ...

    @abc.abstractmethod
    def remove_dead_letter(self, letter_id: str) -> bool:
        """Forget a parked message (after replay); True if it existed."""

    @abc.abstractmethod
    def count_dead_letters(self) -> int: ...

    # -- lifecycle -----------------------------------------------------------------------
    @abc.abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""

    @abc.abstractmethod
    def close(self) -> None: ...
