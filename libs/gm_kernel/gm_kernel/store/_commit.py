"""What both adapters do the same way before and around a write: check the arguments of
`append`, turn new events into recorded ones once positions are known, build the outbox
messages of a commit. Nothing here does I/O.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Iterable, List, Optional, Sequence

from ..events import (
    DeadLetter, NewEvent, OutboxMessage, Processed, RecordedEvent, Tracking, format_time,
)
from .port import NO_STREAM


@dataclass(frozen=True)
class Commit:
    """The validated arguments of one `append`."""

    stream_id: Optional[str]
    expected_version: Optional[int]
    events: Sequence[NewEvent]
    outbox: Sequence[OutboxMessage]
    processed: Sequence[Processed]
    tracking: Optional[Tracking]
    dead_letter: Optional[DeadLetter] = None  # already storable()

    @property
    def is_empty(self) -> bool:
        """Nothing to write at all (the caller may still want a version check)."""
        return not (self.events or self.outbox or self.processed or self.tracking
                    or self.dead_letter)

    @property
    def only_parks(self) -> bool:
        """The commit parks a message and does nothing else (`park`)."""
        return self.dead_letter is not None and not (
            self.events or self.outbox or self.processed or self.tracking)

    @property
    def only_tracks(self) -> bool:
        """The commit records a feed's position and nothing else: an event that needed
        nothing here. Lost to a power cut, the event is read and passed over again."""
        return self.tracking is not None and not (
            self.events or self.outbox or self.processed or self.dead_letter)

    @property
    def checks_version(self) -> bool:
        return self.stream_id is not None and self.expected_version is not None

    @property
    def processed_keys(self) -> List[str]:
        return [p.key for p in self.processed]

    def record(self, first_position: int) -> List[RecordedEvent]:
        """The commit's events as they will be stored from `first_position` on."""
        base = self.expected_version or 0
        return [
            RecordedEvent(
                id=e.id,
                stream_id=self.stream_id,  # type: ignore[arg-type]  # checked in prepare()
                version=base + i + 1,
                position=first_position + i,
                type=e.type,
                schema_version=e.schema_version,
                # As a read gives them back: UTC, and data the caller cannot change later.
                occurred_at=e.occurred_at.astimezone(timezone.utc),
                data=dict(e.data),
                actor=e.actor,
                agency=e.agency,
                correlation_id=e.correlation_id,
                causation_id=e.causation_id,
            )
            for i, e in enumerate(self.events)
        ]


def prepare(
    stream_id: Optional[str],
    expected_version: Optional[int],
    events: Sequence[NewEvent],
    outbox: Iterable[OutboxMessage],
    processed: Iterable[Processed],
    tracking: Optional[Tracking],
    dead_letter: Optional[DeadLetter] = None,
) -> Commit:
    """Check everything that can be checked without the database (raise ValueError)."""
    events = list(events)
    outbox = list(outbox)
    processed = list(processed)
    if events:
        if not isinstance(stream_id, str) or not stream_id:
            raise ValueError("events need a stream_id")
    if expected_version is not None:
        if isinstance(expected_version, bool) or not isinstance(expected_version, int):
            raise ValueError(f"expected_version must be an int, got {expected_version!r}")
        if expected_version < NO_STREAM:
            raise ValueError(f"expected_version must be >= {NO_STREAM}")
    elif events:
        raise ValueError("events need an expected_version (NO_STREAM for a new stream)")
    for e in events:
        if not isinstance(e, NewEvent):
            raise ValueError(f"not a NewEvent: {e!r}")
        if e.occurred_at.tzinfo is None:  # refused before anything is written
            format_time(e.occurred_at)  # raises format_time's ValueError
    _no_repeats([e.id for e in events], "event id")
    _no_repeats([p.key for p in processed], "processed key")
    if tracking is not None and (not tracking.name or isinstance(tracking.position, bool)
                                 or not isinstance(tracking.position, int)):
        raise ValueError(f"bad tracking record {tracking!r}")
    if dead_letter is not None:
        if not isinstance(dead_letter, DeadLetter):
            raise ValueError(f"not a DeadLetter: {dead_letter!r}")
        dead_letter = dead_letter.storable()
    return Commit(stream_id, expected_version, events, outbox, processed, tracking,
                  dead_letter)


def _no_repeats(values: List[str], what: str) -> None:
    if len(values) < 2:  # most commits: one event, one key
        return
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{what} {v!r} appears twice in one commit")
        seen.add(v)


def event_messages(exchange: str, recorded: Sequence[RecordedEvent]) -> List[OutboxMessage]:
    """One outbox message per event: the event itself, published on the service's exchange."""
    return [
        OutboxMessage(exchange=exchange, routing_key=e.type, body=e.to_dict(), message_id=e.id)
        for e in recorded
    ]


def event_body(e: RecordedEvent, occurred_at: str, data: str) -> str:
    """`dumps(e.to_dict())` — an event's message body as the outbox stores it — built
    around its time and data already formatted and encoded for its row (`data` last in
    to_dict, so the rest is encoded alone and the data spliced in)."""
    head = dumps({"id": e.id, "stream_id": e.stream_id, "version": e.version,
                  "position": e.position, "type": e.type, "schema_version": e.schema_version,
                  "occurred_at": occurred_at, "actor": e.actor, "agency": e.agency,
                  "correlation_id": e.correlation_id, "causation_id": e.causation_id})
    return f'{head[:-1]},"data":{data}}}'


def tracking_key(tracking: Tracking) -> str:
    """The key a DuplicateMessage carries for an already tracked position."""
    return tracking.key


#: One encoder for every write (json.dumps with options builds one a call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    """JSON for the database: compact, non-ASCII kept readable."""
    return _ENCODER.encode(value)


def loads(text: Optional[str]) -> Any:
    return None if text is None else json.loads(text)


