"""Wiring a service once per process: its bootstrap builds the application (the message
bus with its handlers and dependencies, the feeds, whatever the service keeps warm) from
what the platform gives it, and `Bootstrapped` hands that one application to every worker.

    def bootstrap(platform: Platform) -> Application: ...

    class AssignmentService(PlatformService):
        name = "assignment"
        app = Bootstrapped(bootstrap)

A test builds the same application on a store of its own, without Nameko or a broker:
`bootstrap(Platform("assignment", settings, store, clock))`.
"""
from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, Optional

from nameko.extensions import DependencyProvider

from gm_contracts.inbound import InboundMessage
from gm_kernel import EventStore

from .clock import container_clock
from .feed import Feeds
from .messagebus import MessageBus
from .store_provider import StoreHandle, find_relay, find_store


@dataclass
class Platform:
    """What a bootstrap gets: the service's name and settings, its event store (appends
    wake the outbox relay; personal data sealed at rest, gm_kernel.privacy) and its clock."""

    service: str
    settings: Any
    store: EventStore
    clock: Callable[[], datetime]

    def pseudonym(self, id_number: str) -> str:
        """A person's keyed hash (HMAC of the resident id number under the master key),
        from the store's vault. A bare store (a unit test building the application
        without privacy) has no vault: the hash is then keyed with a fixed, public key —
        still no id number in memory, but guessable; no service runs that way."""
        keyed = getattr(self.store, "pseudonym", None)
        if keyed is not None:
            return keyed(id_number)
        return hmac.new(b"gm-unkeyed-test-pseudonym", id_number.strip().upper().encode(),
                        hashlib.sha256).hexdigest()


@dataclass
class Application:
    """A service's use cases as built by its bootstrap.

    `inbound`: for a service that takes agencies' messages, the command each inbound
    type becomes (gm_platform.answers.handle_inbound). `feeds`: the other services'
    events it follows (and its own, for a process manager)."""

    bus: MessageBus
    feeds: Optional[Feeds] = None
    inbound: Mapping[str, Callable[[InboundMessage], Any]] = field(default_factory=dict)

    def close(self) -> None:
        """Release what the application holds (the platform closes the event store)."""
        if self.feeds is not None:
            self.feeds.close()


class Bootstrapped(DependencyProvider):
    """The service's application, built once per process on first use (the store
    provider is set up by then) and shared by its workers: indexes and feeds stay warm.

    Workers get a handle that builds it when they first touch it, so an entrypoint that
    does not use it (/live, /metrics) answers even while it cannot be built (e.g. the
    projection store is unreachable); a build that failed is tried again by the next
    worker that needs it."""

    def __init__(self, bootstrap: Callable[[Platform], Application]):
        self.bootstrap = bootstrap
        self.app: Optional[Application] = None
        self._lock = threading.Lock()  # green under eventlet: one build at a time

    def setup(self):
        self.settings = self.container.config["GM_SETTINGS"]
        self.clock = container_clock(self.container)

    def built(self) -> Application:
        with self._lock:
            if self.app is None:
                store = StoreHandle(find_store(self.container), find_relay(self.container))
                self.app = self.bootstrap(Platform(self.container.service_name,
                                                   self.settings, store, self.clock.now))
            return self.app

    def get_dependency(self, worker_ctx):
        return _AppHandle(self)

    def stop(self):
        if self.app is not None:
            self.app.close()

    def kill(self):
        self.stop()


class _AppHandle:
    """What a worker holds: the application, built when first touched."""

    __slots__ = ("_provider",)

    def __init__(self, provider: Bootstrapped):
        self._provider = provider

    def __getattr__(self, name: str):
        return getattr(self._provider.built(), name)
