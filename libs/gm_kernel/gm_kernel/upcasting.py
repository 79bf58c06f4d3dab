"""Upcasting: old events are read in their current shape, never rewritten in the store.

A function registered for (type, n) turns data of schema_version n into n + 1; reading
applies the chain until no function is registered for the event's version.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Tuple

from .events import RecordedEvent

UpcastFn = Callable[[Mapping[str, Any]], Mapping[str, Any]]


class Upcasters:
    def __init__(self) -> None:
        self._fns: Dict[Tuple[str, int], UpcastFn] = {}

    def register(self, event_type: str, from_version: int) -> Callable[[UpcastFn], UpcastFn]:
        """Decorator: `@upcasters.register("CaseRegistered", 1)` maps v1 data to v2."""

        def decorate(fn: UpcastFn) -> UpcastFn:
            key = (event_type, from_version)
            if key in self._fns:
                raise ValueError(f"upcaster for {event_type} v{from_version} registered twice")
            self._fns[key] = fn
            return fn

        return decorate

    def applies_to(self, event_type: str, schema_version: int) -> bool:
        """Whether an event of this type and version would be changed by `upcast`."""
        return (event_type, schema_version) in self._fns

    def upcast(self, event: RecordedEvent) -> RecordedEvent:
        version, data = event.schema_version, event.data
        while (event.type, version) in self._fns:
            data = self._fns[(event.type, version)](dict(data))
            version += 1
        if version == event.schema_version:
            return event
        return event.with_data(version, data)
