"""Where services get the time: injected, so tests can move it (GM_CLOCK in the config)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

from gm_kernel import utcnow


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


class FakeClock:
    """A clock tests set and move; shareable between several service containers."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def advance(self, **delta) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


def container_clock(container):
    """A service container's clock: config["GM_CLOCK"] if given (tests), else the system's."""
    return container.config.get("GM_CLOCK") or SystemClock()
