"""Wiring the mediation service: the working-day calendar and time zone, the views of its
own log (open hand-offs, final petitions), the message bus with its handlers, the feeds
of intake's, assignment's and its own events, and the agencies' messages it takes."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from gm_directory import load_directory
from gm_directory.calendar_file import load_calendar
from gm_directory.directory import Directory, load_directory
from gm_platform import topology
from gm_platform.bootstrap import Platform
from gm_platform.feed import Feeds
from gm_platform.messagebus import MessageBus

from .adapters.final_petitions import FinalPetitions
from .adapters.open_handoffs import OpenHandOffs
from .commands import ReplyToHandOff, RuleOnConfirmation
from .domain.documents import Names
from .handlers import COMMANDS, EVENTS, OUTBOX_RULES, Mediation


def load_config(settings):
    """The working-day calendar and the directory (its mediator roster: parties may name
    a mediator at the first session); ConfigError (file:line: field) if one is malformed."""
    return load_calendar(settings.calendar_file), load_directory(settings.directory_file)


def directory_names(directory: Directory) -> Names:
    """The names documents print for a unit, handler or leader id (the id itself where the
    directory has none: a unit or person since removed from it)."""

    def unit(code):
        return directory.unit(code).name if code and code in directory else code or ""

    def person(person_id):
        if not person_id:
            return ""
        for find in (directory.handler, directory.leader):
            try:
                return find(person_id)[0].name
            except KeyError:
                pass
        return person_id

    return Names(unit=unit, person=person)


def bootstrap(platform: Platform) -> Mediation:
    calendar, directory = load_config(platform.settings)
    bus = MessageBus(platform.store, platform.clock, commands=COMMANDS, events=EVENTS,
                     outbox_rules=OUTBOX_RULES, dependencies=dict(
                         calendar=calendar, directory=directory,
                         tz=ZoneInfo(platform.settings.timezone),
                         names=directory_names(load_directory(platform.settings.directory_file)),
                         final_petitions=FinalPetitions(platform.store)))
    feeds = Feeds.of_bus(bus, platform.service, topology.followed_logs(platform.service),
                         platform.settings.amqp_uri, platform.settings.rpc_timeout)
    return Mediation(bus, feeds, inbound={"handoff_reply": ReplyToHandOff,
                                          "confirmation_ruling": RuleOnConfirmation},
                     open_handoffs=OpenHandOffs(platform.store))
