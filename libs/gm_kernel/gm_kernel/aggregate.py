"""Aggregate base: state rebuilt from its own events; commands return new events.

A domain aggregate subclasses `Aggregate`, implements `when_<EventType>(data)` methods that
change state (no I/O, no validation: an event is a fact), and command methods that check
the rules, then call `self._record(type, data)`. The handler layer loads the aggregate from
its stream, calls a command, and appends `aggregate.pending` with
`expected_version=aggregate.version_before`.
"""
from __future__ import annotations

from typing import Any, Iterable, List, Mapping

from .events import NewEvent, RecordedEvent


class DomainError(Exception):
    """A command the aggregate's state does not allow (HTTP 409)."""


class Aggregate:
    stream_prefix = ""

    def __init__(self, id: str):
        self.id = id
        self.version = 0
        self.pending: List[NewEvent] = []

    @property
    def stream_id(self) -> str:
        return f"{self.stream_prefix}{self.id}"

    @property
    def version_before(self) -> int:
        """The stream version the pending events must be appended after."""
        return self.version - len(self.pending)

    @property
    def exists(self) -> bool:
        return self.version > 0

    @classmethod
    def load(cls, id: str, events: Iterable[RecordedEvent]):
        agg = cls(id)
        for e in events:
            agg._apply(e.type, e.data)
            agg.version = e.version
        return agg

    def _apply(self, event_type: str, data: Mapping[str, Any]) -> None:
        handler = getattr(self, f"when_{event_type}", None)
        if handler is None:
            raise TypeError(f"{type(self).__name__} has no when_{event_type}")
        handler(data)

    def _record(self, event_type: str, data: Mapping[str, Any], **meta: Any) -> NewEvent:
        """Apply a new event to this instance and queue it for appending.

        meta: actor, agency, correlation_id, causation_id, occurred_at, schema_version.
        """
        event = NewEvent(type=event_type, data=dict(data), **meta)
        self._apply(event_type, event.data)
        self.version += 1
        self.pending.append(event)
        return event
