"""Registry of the internal domain events each service publishes, by (service, type, version).

A service declares the marshmallow schema of each event it publishes:

    @register_event("intake", "case_registered")
    class CaseRegistered(Schema):
        ...

and adds the module holding those declarations to `EVENT_MODULES`, so the AsyncAPI
document lists them under the `<service>.events` channel.
"""
from __future__ import annotations

import re
from typing import Callable, TypeVar

from marshmallow import Schema, fields

#: Modules that register domain events. Edit this list (no environment lookups: the
#: generated document must be the same on every machine).
EVENT_MODULES: list[str] = [
    "gm_contracts.intake_events",
    "gm_contracts.assignment_events",
    "gm_contracts.mediation_events",
    "gm_contracts.reporting_events",
]

_NAME = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
# Event types are published as they are named in the domain (routing key `CaseClosed`).
_EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*", re.ASCII)
_EVENTS: dict[tuple[str, str, int], type[Schema]] = {}

S = TypeVar("S", bound=type[Schema])


def register_event(service: str, event_type: str, version: int = 1) -> Callable[[S], S]:
    """Class decorator: register a Schema as `service`'s `event_type` at `version`."""
    if not isinstance(service, str) or not _NAME.fullmatch(service):
        raise ValueError(f"service must be a snake_case name, got {service!r}")
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise ValueError(f"event_type must be an identifier like CaseClosed, got {event_type!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive int, got {version!r}")

    def decorate(schema_cls: S) -> S:
        if not (isinstance(schema_cls, type) and issubclass(schema_cls, Schema)):
            raise TypeError(f"{schema_cls!r} is not a marshmallow Schema class")
        key = (service, event_type, version)
        existing = _EVENTS.get(key)
        # The same class again is a module re-import; a different one is a real clash.
        if existing is not None and _qualname(existing) != _qualname(schema_cls):
            raise ValueError(f"{key} is already registered to {_qualname(existing)}")
        _EVENTS[key] = schema_cls
        # The class is the event type's one symbol: its name, owner and version travel
        # with it (gm_kernel.Aggregate._record, the services' handler tables).
        schema_cls.event_type, schema_cls.event_service = event_type, service
        schema_cls.event_version = version
        return schema_cls

    return decorate


def event_schema(service: str, event_type: str, version: int = 1) -> type[Schema]:
    """The registered schema class; KeyError when there is none."""
    try:
        return _EVENTS[(service, event_type, version)]
    except KeyError:
        raise KeyError(f"no event schema registered for {(service, event_type, version)}") from None


def all_events() -> dict[tuple[str, str, int], type[Schema]]:
    """Every registered event, sorted by (service, type, version)."""
    return dict(sorted(_EVENTS.items()))


def unregister_event(service: str, event_type: str, version: int = 1) -> None:
    """Remove a registration (for tests)."""
    _EVENTS.pop((service, event_type, version), None)


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class DomainEventRecord(Schema):
    """A domain event as published on `<service>.events` and returned by `read_log`: the
    record of one event in its stream (`version`) and its service's log (`position`),
    with its audit trail; `data` follows the schema registered for (`type`,
    `schema_version`)."""

    id = fields.String(required=True, metadata={"description": "unique; also the AMQP message_id"})
    stream_id = fields.String(required=True)
    version = fields.Integer(required=True, metadata={"description": "position in the stream, from 1"})
    position = fields.Integer(required=True, metadata={
        "description": "position in the service's log, from 1, gap-free"})
    type = fields.String(required=True, metadata={"description": "also the routing key"})
    schema_version = fields.Integer(required=True)
    occurred_at = fields.String(required=True, metadata={"description": "RFC 3339, UTC"})
    actor = fields.String(required=True, allow_none=True)
    agency = fields.String(required=True, allow_none=True)
    correlation_id = fields.String(required=True, allow_none=True, metadata={
        "description": "the case id"})
    causation_id = fields.String(required=True, allow_none=True, metadata={
        "description": "the command, message or event that caused it"})
    data = fields.Dict(required=True)
