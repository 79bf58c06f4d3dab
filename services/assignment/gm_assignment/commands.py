"""What leaders, and the deadline watch, ask the assignment service to do. Each command has
one handler (handlers.COMMANDS); `caller` says who asks, with the region check of their
token and their idempotency key, if any."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional, Tuple

from gm_platform.messagebus import Caller


@dataclass(frozen=True)
class ExtendDeadline:
    """延期: more time, within the rule's limits, before the deadline passes."""

    case_id: str
    days: int
    reason: str
    caller: Caller
    notified_on: Optional[date] = None  # when the person was told why (告知延期理由)


@dataclass(frozen=True)
class Reassign:
    """Another unit and/or handler, with a reason: how a case changes level."""

    case_id: str
    reason: str
    caller: Caller
    unit: Optional[str] = None
    handler: Optional[str] = None


@dataclass(frozen=True)
class ArrangeJointHandling:
    """联合接访 / 联席会议 of two or more agencies or units."""

    case_id: str
    participants: Tuple[str, ...]
    reason: str
    caller: Caller
    meeting: Optional[bool] = None


@dataclass(frozen=True)
class CheckDeadline:
    """The deadline watch, for one case: warn (预警), supervise (督办) or remind (催办)."""

    case_id: str


@dataclass(frozen=True)
class ClaimWatchRun:
    """One run of the deadline watch, claimed so that one replica makes it."""

    run: int
