"""Wiring the reporting service: the directory, the projection store (opened, and each
projection given a first generation if it has none), the feeds of intake's, assignment's
and mediation's events into it, and the queries on it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from gm_directory import load_directory
from gm_platform import topology
from gm_platform.bootstrap import Application, Platform
from gm_platform.feed import RpcSourceLog
from gm_platform.messagebus import MessageBus
from gm_platform.query_codes import QueryCodes

from .feeds import Feeds
from .handlers import Reporting
from .ratelimit import RateLimiter
from .store import ProjectionStore, open_projection_store
from .store.layout import PROJECTIONS


@dataclass
class ReportingApp(Application):
    """Reporting's application: the projection store, the feeds filling it and the
    queries reading it. Reporting decides nothing, so it has no message bus."""

    bus: Optional[MessageBus] = None
    store: Optional[ProjectionStore] = None
    queries: Optional[Reporting] = None
    codes: Optional[QueryCodes] = None  # the petitioners' query codes (CONTRACT §8)
    limiter: Optional[RateLimiter] = None  # of the public status page, per client address
    rpc_timeout: float = 10.0  # how long a rating forwarded to mediation may take

    def stale(self) -> List[str]:
        """Projections whose active generation was built by another version of the code."""
        out = []
        for spec in PROJECTIONS.values():
            active = self.store.active(spec.name)
            if active is None or active.version != spec.version:
                out.append(f"{spec.name} (generation version "
                           f"{active.version if active else '-'}, code {spec.version})")
        return out

    def close(self) -> None:
        self.store.close()


def bootstrap(platform: Platform) -> ReportingApp:
    settings = platform.settings
    directory = load_directory(settings.directory_file)
    store = open_projection_store(settings.store_uri, platform.service, settings.data_dir)
    try:
        for spec in PROJECTIONS.values():
            store.ensure(spec)  # a first, empty generation the feeds fill
    except BaseException:
        store.close()
        raise
    logs = {source: RpcSourceLog(settings.amqp_uri, source, settings.rpc_timeout)
            for source in topology.SUBSCRIPTIONS[platform.service]}
    return ReportingApp(feeds=Feeds(store, PROJECTIONS.values(), logs), store=store,
                        queries=Reporting(store, directory, settings.timezone, platform.clock),
                        codes=QueryCodes(settings.query_code_key),
                        limiter=RateLimiter(settings.status_limit),
                        rpc_timeout=settings.rpc_timeout)
