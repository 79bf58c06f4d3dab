"""Aggregate base: state rebuilt from its own events; commands return new events.

A domain aggregate subclasses `Aggregate`. Each event type is one symbol: the schema class
gm_contracts registers for it (`AssignmentMade`), which carries its published name
(`event_type`). The aggregate's command methods check the rules, then record an event
with `self._record(AssignmentMade, data)` — the data is checked against that schema — and
a method marked `@applies(AssignmentMade)` changes the state when the event is recorded
or replayed (no I/O, no validation there: an event is a fact). A reader, or a tool, goes
from the event to its schema and to the code that applies it by that one name.

The unit of work (gm_platform.unit_of_work) loads the aggregate from its stream, lets a
handler call a command, and appends `aggregate.pending` with
`expected_version=aggregate.version_before`.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Dict, Iterable, List, Mapping, Optional, Union

from .events import NewEvent, RecordedEvent

#: An event type: a schema class with `event_type` (gm_contracts.register_event), or,
#: for tests and events without a published schema, its name.
EventType = Union[type, str]


def type_name(event_type: EventType) -> str:
    """The published name of an event type."""
    return event_type if isinstance(event_type, str) else event_type.event_type


def applies(event_type: EventType) -> Callable:
    """Mark an aggregate method as the one that applies `event_type` to its state."""
    name = type_name(event_type)

    def mark(method: Callable) -> Callable:
        method.applies_event = name
        return method

    return mark


class DomainError(Exception):
    """A command the aggregate's state does not allow (HTTP 409; an agency's message is
    answered `rejected`)."""


class Refused(DomainError):
    """A command refused with field-level errors (`{"field": ["why"]}`): HTTP 400, or an
    agency's message answered `rejected` with them. `reason` says why in a word or two
    (kept with the dead letter)."""

    reason = "refused"

    def __init__(self, errors: Mapping[str, List[str]], reason: Optional[str] = None):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = {k: list(v) for k, v in errors.items()}
        if reason is not None:
            self.reason = reason


class InvalidValue(Refused, ValueError):
    """A command value that can never be right, whatever the state (HTTP 400)."""

    reason = "invalid value"

    def __init__(self, field: str, message: str):
        super().__init__({field: [message]})
        self.field, self.message = field, message


class NotRecorded(LookupError):
    """Nothing is recorded under this id (HTTP 404)."""

    def __init__(self, message: str, id: str):
        super().__init__(message)
        self.id = id


class Aggregate:
    stream_prefix = ""
    #: event type name → the method applying it (collected from @applies, inherited)
    appliers: ClassVar[Dict[str, Callable[[Any, Mapping[str, Any]], None]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        appliers = dict(cls.appliers)
        for method in vars(cls).values():
            name = getattr(method, "applies_event", None)
            if name is not None:
                appliers[name] = method
        cls.appliers = appliers

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
    def not_recorded(cls, id: str) -> LookupError:
        """The error for an id with no stream (a subclass names it in its own words)."""
        return NotRecorded(f"no {cls.__name__} {id}", id)

    @classmethod
    def load(cls, id: str, events: Iterable[RecordedEvent]):
        agg = cls(id)
        for e in events:
            agg._apply(e.type, e.data)
            agg.version = e.version
        return agg

    def _apply(self, event_type: str, data: Mapping[str, Any]) -> None:
        applier = self.appliers.get(event_type)
        if applier is None:
            raise TypeError(f"{type(self).__name__} does not apply {event_type} events")
        applier(self, data)

    def _record(self, event_type: EventType, data: Mapping[str, Any], **meta: Any) -> NewEvent:
        """Check `data` against the event type's schema, apply it to this instance and
        queue it for appending.

        meta: actor, agency, correlation_id, causation_id, occurred_at, schema_version.
        """
        name = type_name(event_type)
        if not isinstance(event_type, str):
            check_event_data(event_type, data)
            meta.setdefault("schema_version", getattr(event_type, "event_version", 1))
        event = NewEvent(type=name, data=dict(data), **meta)
        self._apply(name, event.data)
        self.version += 1
        self.pending.append(event)
        return event


class InvalidEventData(TypeError):
    """An aggregate recorded data its event's schema refuses: a bug, never the user's."""


_schemas: Dict[type, Any] = {}


def check_event_data(schema_cls: type, data: Mapping[str, Any]) -> None:
    """Raise InvalidEventData unless `data` is what the event's published schema allows."""
    schema = _schemas.get(schema_cls)
    if schema is None:
        schema = _schemas[schema_cls] = schema_cls()
    errors = schema.validate(data)
    if errors:
        raise InvalidEventData(f"{type_name(schema_cls)}: {errors}")
