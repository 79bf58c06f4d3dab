"""Nameko dependency giving workers the service's event store, with its outbox relay running."""
from __future__ import annotations

import logging
from typing import List, Optional, Sequence

from eventlet.event import Event as GreenEvent
from nameko.extensions import DependencyProvider

from gm_kernel import EventStore, NewEvent, RecordedEvent, Upcasters
from gm_kernel.privacy import open_private_store

from . import metrics
from .relay import OutboxRelay

log = logging.getLogger(__name__)


class StoreHandle:
    """What a worker sees: the store, with every append waking the relay at once."""

    def __init__(self, store: EventStore, relay: OutboxRelay):
        self._store, self._relay = store, relay

    def append(self, stream_id, expected_version, events: Sequence[NewEvent] = (), **kw
               ) -> List[RecordedEvent]:
        recorded = self._store.append(stream_id, expected_version, events, **kw)
        metrics.EVENTS_APPENDED.labels(self._store.service).inc(len(recorded))
        self._relay.wake()
        return recorded

    def __getattr__(self, name):
        return getattr(self._store, name)


class EventStoreProvider(DependencyProvider):
    def __init__(self, upcasters: Optional[Upcasters] = None):
        self.upcasters = upcasters
        self.store: Optional[EventStore] = None
        self.relay: Optional[OutboxRelay] = None

    def setup(self):
        settings = self.container.config["GM_SETTINGS"]
        self.settings = settings
        # Personal data sealed at rest under the service's key store (gm_kernel.privacy);
        # a master key that does not open it stops start-up (checked first in serve.py).
        self.store = open_private_store(settings.store_uri, settings.service,
                                        data_dir=settings.data_dir, upcasters=self.upcasters,
                                        master_key=settings.master_key)
        self.relay = OutboxRelay(self.store, settings.amqp_uri, idle_wait=settings.relay_interval,
                                 lease_ttl=settings.relay_lease)
        self._relay_done = GreenEvent()

    def start(self):
        self.container.spawn_managed_thread(self._run_relay, identifier="outbox-relay")

    def _run_relay(self):
        try:
            self.relay.run()
        finally:
            self._relay_done.send(None)

    def stop(self):
        # Entrypoints and workers have stopped by now: publish what they committed.
        grace = self.settings.shutdown_grace
        self.relay.stop()
        self._relay_done.wait(timeout=grace / 2)
        left = self.relay.flush(timeout=grace / 2)
        backlog = self.store.outbox_backlog()
        if backlog:
            log.warning("stopping with %d outbox messages unpublished; sent on next start", backlog)
        else:
            log.info("outbox flushed (%d published at shutdown)", left)
        self.relay.close()
        self.store.close()

    def kill(self):
        if self.relay is not None:
            self.relay.stop()
            self.relay.close()

    def get_dependency(self, worker_ctx):
        return StoreHandle(self.store, self.relay)


def find_store(container) -> EventStore:
    for dep in container.dependencies:
        if isinstance(dep, EventStoreProvider):
            return dep.store
    raise LookupError(f"{container.service_name} has no EventStoreProvider")


def find_relay(container) -> OutboxRelay:
    for dep in container.dependencies:
        if isinstance(dep, EventStoreProvider):
            return dep.relay
    raise LookupError(f"{container.service_name} has no EventStoreProvider")
