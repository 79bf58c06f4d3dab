"""A view kept in memory from a service's own log, brought up to date on demand.

Replicas sharing one store each keep their own copy; `refresh` reads whatever any of
them appended since the last look, so the view lags only by commits not yet made.
"""
from __future__ import annotations

import threading
import time

from .events import RecordedEvent
from .store.port import EventStore


class LogFollower:
    page_size = 1000

    def __init__(self, store: EventStore):
        self.store = store
        self.position = 0
        self._lock = threading.Lock()  # green under eventlet

    def refresh(self) -> None:
        with self._lock:
            while True:
                page = self.store.read_log(self.position, self.page_size)
                for event in page:
                    self.apply(event)
                    self.position = event.position
                if len(page) < self.page_size:
                    return
                # A long log (the first look after a restart) is read page by page, and
                # other (green) threads run between pages.
                time.sleep(0)

    def apply(self, event: RecordedEvent) -> None:
        """Fold one event into the view (subclasses)."""
        raise NotImplementedError
