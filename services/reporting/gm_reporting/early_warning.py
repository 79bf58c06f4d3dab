"""Early warning (预警) in the reporting service: the watch that raises warnings from
intake's and assignment's logs, the leaders' commands on them, and the board they read.

Why here: the contract serves warnings from reporting (CONTRACT.md §9), and reporting
already follows every log. A warning is a decision with state, so unlike the read models
it is event-sourced, in reporting's own event store (stream `warning-<id>`, events of
gm_contracts.reporting_events), through the platform's message bus:

- raising is exactly once: the id comes from the rule and its evidence
  (domain/warnings.py), and the stream either exists or is created by one commit;
- the watch (IntakeWatch, AssignmentWatch) is kept in memory and folded from the source
  logs in their order, from position 0 at every start (a feed with in-memory positions):
  replaying raises the same ids, which are already recorded, so a restart, a second
  replica or a rebuild raises nothing twice and the same log always gives the same
  warnings;
- the board (GET /warnings) is folded from reporting's own log, so it is rebuilt
  identically from it at any time.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Callable, Dict, List, Mapping, Optional

from gm_contracts.reporting_events import EVENT_TYPES as WARNING_EVENTS
from gm_directory import Directory
from gm_kernel import EventStore, RecordedEvent, Tracking
from gm_kernel.follow import LogFollower
from gm_platform.auth import Principal
from gm_platform.feed import EventFeed, SourceLog
from gm_platform.messagebus import Caller, MessageBus, UnitOfWork

from .domain.periods import month_bounds
from .domain.warnings import (
    AssignmentWatch, Candidate, IntakeWatch, Warning, WarningRules, board_entry,
)

log = logging.getLogger(__name__)


# -- commands and their handlers ---------------------------------------------------------------


@dataclass(frozen=True)
class RaiseWarning:
    candidate: Candidate


@dataclass(frozen=True)
class AcknowledgeWarning:
    warning_id: str
    note: str
    caller: Caller


@dataclass(frozen=True)
class CloseWarning:
    warning_id: str
    note: str
    caller: Caller


def addressees(directory: Directory, candidate: Candidate) -> List[str]:
    """The region's leaders (its unit's, the responsible leader first), then the lead
    leaders (包案领导) of the cases in evidence."""
    unit = directory.unit_for(candidate.region)
    named = [leader.id for leader in unit.leaders] if unit is not None else []
    return list(dict.fromkeys([*named, *candidate.leads]))


def raise_warning(command: RaiseWarning, uow: UnitOfWork, *, directory: Directory) -> bool:
    warning = uow.load(Warning, command.candidate.warning_id)
    if warning.exists:
        return False
    warning.raise_(command.candidate, addressees(directory, command.candidate))
    return True


def acknowledge_warning(command: AcknowledgeWarning, uow: UnitOfWork) -> dict:
    warning = uow.get(Warning, command.warning_id)
    command.caller.may_see(warning.region, "the warning's region")
    warning.acknowledge(command.caller.actor, command.note, uow.now)
    return {"warning_id": warning.id, "status": warning.status}


def close_warning(command: CloseWarning, uow: UnitOfWork) -> dict:
    warning = uow.get(Warning, command.warning_id)
    command.caller.may_see(warning.region, "the warning's region")
    warning.close(command.caller.actor, command.note, uow.now)
    return {"warning_id": warning.id, "status": warning.status}


COMMANDS = {RaiseWarning: raise_warning, AcknowledgeWarning: acknowledge_warning,
            CloseWarning: close_warning}


# -- the watch ------------------------------------------------------------------------------------


class _Positions:
    """What an EventFeed needs of a store, kept in memory: the watch is folded again from
    position 0 at every start."""

    def __init__(self, service: str):
        self.service = service
        self.position = 0

    def tracked_position(self, name: str) -> int:
        return self.position

    def append(self, stream_id, expected_version, events=(), *, tracking: Tracking = None,
               **_):
        self.position = tracking.position
        return []


class WatchFeed(EventFeed):
    """One source's events into its watch; each warning the watch decides, raised
    through the bus. If raising fails (the store), the watch starts over from position
    0 at the next catch-up, so no event is folded twice into it."""

    def __init__(self, source: str, make_watch: Callable[[], Any], bus: MessageBus,
                 source_log: SourceLog, page_size: int = 500):
        self.make_watch, self.bus = make_watch, bus
        self.watch = make_watch()
        super().__init__(_Positions("reporting/warnings"), source, self._apply, source_log,
                         page_size=page_size)

    def _apply(self, event: RecordedEvent, tracking: Tracking) -> bool:
        try:
            for candidate in self.watch.apply(event):
                if self.bus.handle(RaiseWarning(candidate)):
                    log.info("warning raised: %s %s in %s", candidate.rule,
                             candidate.warning_id, candidate.region,
                             extra={"correlation_id": candidate.warning_id})
        except BaseException:
            self.watch, self.store.position = self.make_watch(), 0
            raise
        return False  # the feed records the position alone (in memory)


def watch_feeds(rules: WarningRules, tz: tzinfo, bus: MessageBus,
                logs: Mapping[str, SourceLog]) -> Dict[str, WatchFeed]:
    """The watch's feeds, by `warnings:<source>`."""
    makers = {"intake": lambda: IntakeWatch(rules, tz),
              "assignment": lambda: AssignmentWatch(rules, tz)}
    return {f"warnings:{source}": WatchFeed(source, make, bus, logs[source])
            for source, make in makers.items() if source in logs}


# -- the board --------------------------------------------------------------------------------------


class WarningBoard(LogFollower):
    """Every warning as leaders read it, folded from reporting's own log."""

    def __init__(self, store: EventStore):
        super().__init__(store)
        self.entries: Dict[str, dict] = {}

    def apply(self, event: RecordedEvent) -> None:
        if event.type in WARNING_EVENTS:
            wid = event.data["warning_id"]
            self.entries[wid] = board_entry(self.entries.get(wid), event.type, event.data)

    def items(self, principal: Principal, status: Optional[str] = None,
              region: Optional[str] = None) -> List[dict]:
        self.refresh()
        out = [e for e in self.entries.values()
               if (status is None or e["status"] == status)
               and (region is None or e["region"].startswith(region)
                    or region.startswith(e["region"]))
               and principal.may_see_region(e["region"])]
        return sorted(out, key=lambda e: (e["raised_at"], e["warning_id"]))

    def list(self, principal: Principal, status: Optional[str] = None,
             region: Optional[str] = None) -> dict:
        items = self.items(principal, status, region)
        return {"items": items, "total": len(items)}

    def monthly(self, principal: Principal, month: str, region: Optional[str],
                tz: tzinfo) -> dict:
        """Warnings raised in a local month, for the monthly analysis (研判)."""
        from gm_kernel import parse_time

        start, end = month_bounds(month, tz)
        raised = [e for e in self.items(principal, None, region)
                  if start <= _utc_text(parse_time(e["raised_at"])) < end]
        by_rule: Dict[str, int] = {}
        for e in raised:
            by_rule[e["rule"]] = by_rule.get(e["rule"], 0) + 1
        return {"raised": len(raised), "by_rule": by_rule,
                "open": sum(1 for e in raised if e["status"] == "open"),
                "warning_ids": [e["warning_id"] for e in raised]}


def _utc_text(instant) -> str:
    from gm_kernel import format_time

    return format_time(instant)
