"""Wiring the assignment service: its configuration files, the open-case index, the
message bus with its handlers, and the feeds of intake's and mediation's events."""
from __future__ import annotations

from gm_directory import load_directory
from gm_directory.calendar_file import load_calendar
from gm_platform import topology
from gm_platform.bootstrap import Platform
from gm_platform.feed import Feeds
from gm_platform.messagebus import MessageBus

from .adapters.open_cases import OpenCases
from .adapters.rules_file import load_rules
from .handlers import COMMANDS, EVENTS, Assigning


def load_config(settings):
    """The directory, the rules table and the working-day calendar; ConfigError
    (file:line: field) if one is malformed."""
    return (load_directory(settings.directory_file),
            load_rules(settings.rules_file, time_zone=settings.timezone),
            load_calendar(settings.calendar_file))


def bootstrap(platform: Platform) -> Assigning:
    directory, rules, calendar = load_config(platform.settings)
    open_cases = OpenCases(platform.store)
    bus = MessageBus(platform.store, platform.clock, commands=COMMANDS, events=EVENTS,
                     dependencies=dict(directory=directory, rules=rules, calendar=calendar,
                                       open_cases=open_cases, warn_days=rules.warn_days))
    feeds = Feeds.of_bus(bus, platform.service, topology.followed_logs(platform.service),
                         platform.settings.amqp_uri, platform.settings.rpc_timeout)
    return Assigning(bus, feeds, open_cases=open_cases, warn_days=rules.warn_days)
