"""Event records: what a command decides (NewEvent) and what the store keeps (RecordedEvent).

Every event carries its audit trail: who did it (actor, agency), the case it belongs to
(correlation_id) and the message that caused it (causation_id). The event log is the
audit log, so these fields are not optional extras but part of every record.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Mapping, Optional


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. 2026-11-30T03:48:17.123456Z."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every time in the log is timezone-aware")
    value = value.astimezone(timezone.utc)
    if value.year < 1000:  # isoformat pads the year to four digits, strftime does not
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as that strftime, in half the time (every write formats a few).
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass(frozen=True)
class NewEvent:
    """An event a command decided on, not yet stored."""

    type: str
    data: Mapping[str, Any]
    schema_version: int = 1
    id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utcnow)
    actor: Optional[str] = None
    agency: Optional[str] = None
    correlation_id: Optional[str] = None
    causation_id: Optional[str] = None


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the store keeps it: in its stream at `version`, in the log at `position`."""

    id: str
    stream_id: str
    version: int
    position: int
    type: str
    schema_version: int
    occurred_at: datetime
    data: Mapping[str, Any]
    actor: Optional[str] = None
    agency: Optional[str] = None
    correlation_id: Optional[str] = None
    causation_id: Optional[str] = None

    def to_dict(self) -> dict:
        """The wire form (internal domain events, the log API)."""
        return {
            "id": self.id,
            "stream_id": self.stream_id,
            "version": self.version,
            "position": self.position,
            "type": self.type,
            "schema_version": self.schema_version,
            "occurred_at": format_time(self.occurred_at),
            "actor": self.actor,
            "agency": self.agency,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RecordedEvent":
        return cls(
            id=d["id"],
            stream_id=d["stream_id"],
            version=int(d["version"]),
            position=int(d["position"]),
            type=d["type"],
            schema_version=int(d["schema_version"]),
            occurred_at=parse_time(d["occurred_at"]),
            data=dict(d["data"]),
            actor=d.get("actor"),
            agency=d.get("agency"),
            correlation_id=d.get("correlation_id"),
            causation_id=d.get("causation_id"),
        )

    def with_data(self, schema_version: int, data: Mapping[str, Any]) -> "RecordedEvent":
        return replace(self, schema_version=schema_version, data=data)


@dataclass(frozen=True)
class OutboxMessage:
    """A message to publish once the commit holding it is durable.

    Domain events get one automatically (exchange `<service>.events`, routing key the event
    type); commands add others, e.g. the answer to an agency on `gm.outbound`.
    """

    exchange: str
    routing_key: str
    body: Mapping[str, Any]
    message_id: str = field(default_factory=new_id)
    headers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingMessage:
    """An outbox message waiting for the relay; `outbox_id` is opaque to callers."""

    outbox_id: str
    exchange: str
    routing_key: str
    body: Mapping[str, Any]
    message_id: str
    headers: Mapping[str, Any]


@dataclass(frozen=True)
class Processed:
    """An idempotency key recorded with the effects of handling a message.

    `result` is what the handler answered the first time (e.g. the case number), so a
    redelivery can be answered identically without doing anything again.
    """

    key: str
    result: Optional[Mapping[str, Any]] = None


@dataclass(frozen=True)
class Tracking:
    """How far a consumer has applied another service's log (`name` = consumer:source).

    Recorded with the effects; the store refuses a second record of the same position.
    """

    name: str
    position: int

    @property
    def key(self) -> str:
        """The key a DuplicateMessage carries when this position is tracked already."""
        return f"tracking:{self.name}@{self.position}"


#: Bodies longer than this are kept truncated in the dead-letter store, with their size
#: and digest (CONTRACT.md §7: no valid inbound message is larger, so none is cut short).
MAX_LETTER_BODY = 256 * 1024
MAX_LETTER_TEXT = 4000  # reason and other texts of a letter


def storable_text(value: Any, limit: Optional[int] = None) -> str:
    """`value` as text any database stores: characters UTF-8 cannot encode (lone
    surrogates, or bytes a tolerant decoder escaped) become visible escapes like `\\udcff`."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8", "backslashreplace")
    elif not isinstance(value, str):
        value = str(value)
    text = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if limit is None else text[:limit]


def storable_value(value: Any) -> Any:
    """A JSON-native copy of `value` whose texts are all storable (keys included)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {storable_text(k): storable_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_value(v) for v in value]
    return storable_text(value)


@dataclass(frozen=True)
class DeadLetter:
    """A message that could not be handled or answered, kept for an operator.

    `body_size` and `body_sha256` describe the message as it arrived, so a letter whose
    body had to be truncated (`truncated`) still says what it was.
    """

    id: str
    source: str  # where it came from: exchange/queue or consumer name
    reason: str
    body: bytes
    routing_key: Optional[str] = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    parked_at: datetime = field(default_factory=utcnow)
    attempts: int = 1
    body_size: Optional[int] = None
    body_sha256: Optional[str] = None

    def __post_init__(self):
        body = self.body
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
        elif not isinstance(body, bytes):
            body = bytes(body)
        object.__setattr__(self, "body", body)
        if self.body_size is None:
            object.__setattr__(self, "body_size", len(body))
        if self.body_sha256 is None:
            object.__setattr__(self, "body_sha256", hashlib.sha256(body).hexdigest())

    @property
    def truncated(self) -> bool:
        return len(self.body) < (self.body_size or 0)

    def storable(self) -> "DeadLetter":
        """This letter as every store can keep it whatever arrived: texts escaped where
        UTF-8 cannot encode them, properties JSON-native, the body cut at MAX_LETTER_BODY
        (its original size and digest kept). Parking is the last resort: it must not
        fail on the very input that made it necessary."""
        return replace(
            self,
            id=storable_text(self.id, 1000),
            source=storable_text(self.source, 1000),
            reason=storable_text(self.reason, MAX_LETTER_TEXT),
            routing_key=None if self.routing_key is None else storable_text(self.routing_key, 1000),
            properties=storable_value(dict(self.properties or {})),
            body=self.body[:MAX_LETTER_BODY],
        )
