"""Wiring the intake service: the directory, the repeat index and the message bus."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from gm_directory import load_directory
from gm_platform.bootstrap import Platform
from gm_platform.messagebus import MessageBus

from .adapters.applicants import RegisteredApplicants
from .commands import RegisterReferral
from .handlers import COMMANDS, Intake


def bootstrap(platform: Platform) -> Intake:
    tz = ZoneInfo(platform.settings.timezone)
    bus = MessageBus(platform.store, platform.clock, commands=COMMANDS, dependencies=dict(
        directory=load_directory(platform.settings.directory_file), tz=tz,
        applicants=RegisteredApplicants(platform.store, tz)))
    return Intake(bus, inbound={"referral": RegisterReferral})
