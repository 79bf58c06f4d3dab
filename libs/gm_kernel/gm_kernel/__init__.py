"""Grand Mediation Linkage event-sourcing kernel: store port and adapters, outbox, upcasting."""
from .aggregate import (
    Aggregate, DomainError, InvalidEventData, InvalidValue, NotRecorded, Refused, applies,
    type_name,
)
from .events import (
    DeadLetter,
    NewEvent,
    OutboxMessage,
    PendingMessage,
    Processed,
    RecordedEvent,
    Tracking,
    format_time,
    new_id,
    parse_time,
    utcnow,
)
from .store.port import (
    NO_STREAM,
    ConcurrencyError,
    DuplicateMessage,
    EventStore,
    StoreError,
    StoreUnavailable,
)
from .upcasting import Upcasters

__all__ = [
    "Aggregate", "DomainError", "InvalidEventData", "InvalidValue", "NotRecorded", "Refused",
    "applies", "type_name", "DeadLetter", "NewEvent", "OutboxMessage", "PendingMessage",
    "Processed", "RecordedEvent", "Tracking", "format_time", "new_id", "parse_time", "utcnow",
    "NO_STREAM", "ConcurrencyError", "DuplicateMessage", "EventStore", "StoreError",
    "StoreUnavailable", "Upcasters",
]
