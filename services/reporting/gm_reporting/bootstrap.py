"""Wiring the reporting service: the directory, the projection store (opened, and each
projection given a first generation if it has none), the feeds of intake's, assignment's
and mediation's events into it, and the queries on it; the early-warning watch, its
message bus on reporting's event store and the warnings board (early_warning.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional
from zoneinfo import ZoneInfo

from gm_directory import load_directory
from gm_platform import topology
from gm_platform.bootstrap import Application, Platform
from gm_platform.feed import RpcSourceLog
from gm_platform.messagebus import MessageBus
from gm_platform.query_codes import QueryCodes

from . import early_warning
from .feeds import Feeds
from .handlers import Reporting
from .scoring_file import load_scoring_rules
from .warnings_file import load_warning_rules
from .ratelimit import RateLimiter
from .store import ProjectionStore, open_private_projection_store
from .store.layout import PROJECTIONS


@dataclass
class ReportingApp(Application):
    """Reporting's application: the projection store, the feeds filling it and the
    queries reading it; and the one thing reporting decides, early warnings: their
    message bus (on reporting's event store) and board."""

    bus: Optional[MessageBus] = None
    store: Optional[ProjectionStore] = None
    queries: Optional[Reporting] = None
    warnings: Optional[early_warning.WarningBoard] = None
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
    rules = load_warning_rules(settings.rules_file)
    # The parties in case files sealed under reporting's vault (its event store's).
    store = open_private_projection_store(settings.store_uri,
                                          getattr(platform.store, "vault", None),
                                          platform.service, settings.data_dir)
    try:
        for spec in PROJECTIONS.values():
            store.ensure(spec)  # a first, empty generation the feeds fill
    except BaseException:
        store.close()
        raise
    logs = {source: RpcSourceLog(settings.amqp_uri, source, settings.rpc_timeout)
            for source in topology.SUBSCRIPTIONS[platform.service]}
    bus = MessageBus(platform.store, platform.clock, commands=early_warning.COMMANDS,
                     dependencies=dict(directory=directory))
    watch = early_warning.watch_feeds(rules, ZoneInfo(settings.timezone), bus, logs)
    return ReportingApp(bus=bus, feeds=Feeds(store, PROJECTIONS.values(), logs, others=watch),
                        store=store,
                        queries=Reporting(store, directory, settings.timezone, platform.clock,
                                          sources=logs,
                                          scoring_rules=load_scoring_rules(settings.rules_file)),
                        warnings=early_warning.WarningBoard(platform.store),
                        codes=QueryCodes(settings.query_code_key),
                        limiter=RateLimiter(settings.status_limit),
                        rpc_timeout=settings.rpc_timeout)
