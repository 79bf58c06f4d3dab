"""Wiring the intake service: the directory, the repeat index and the message bus."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from gm_directory import load_directory
from gm_platform import topology
from gm_platform.bootstrap import Platform
from gm_platform.feed import Feeds
from gm_platform.messagebus import MessageBus
from gm_platform.query_codes import QueryCodes

from .adapters.applicants import RegisteredApplicants
from .commands import RegisterReferral
from .handlers import COMMANDS, EVENTS, Intake


def bootstrap(platform: Platform) -> Intake:
    tz = ZoneInfo(platform.settings.timezone)
    bus = MessageBus(platform.store, platform.clock, commands=COMMANDS, events=EVENTS,
                     dependencies=dict(
                         directory=load_directory(platform.settings.directory_file), tz=tz,
                         applicants=RegisteredApplicants(platform.store, tz,
                                                         platform.pseudonym),
                         query_codes=QueryCodes(platform.settings.query_code_key)))
    feeds = Feeds.of_bus(bus, platform.service, topology.followed_logs(platform.service),
                         platform.settings.amqp_uri, platform.settings.rpc_timeout)
    return Intake(bus, feeds, inbound={"referral": RegisterReferral})
