"""The Assignment aggregate: who answers for a case and by when, and what happens to that.

Stream `assignment-<case id>`. Its life:

    AssignmentMade ─┬─ DeadlineWarningRaised   (before the deadline, once per deadline)
                    ├─ CaseEscalated           (overdue: one level up, once per deadline)
                    ├─ DeadlineExtended        (within the rule's limits)
                    ├─ CaseReassigned          (another unit and/or handler)
                    ├─ JointHandlingArranged   (联合接访 / 联席会议)
                    └─ AssignmentClosed        (the case closed; the watch stops)
    AssignmentFailed                           (the 四定 could not be decided: kept, with
                                                the reason, for an operator to see)

The deadline watch (`watch`) is a pure decision: given the aggregate and the time, which
of warning and escalation are due. Each fires at most once per deadline: a warning when
the deadline is within `warn_days` and not yet passed (a deadline that passed unwarned —
the watcher was down — is escalated, not warned); an escalation when the deadline has
passed. Escalation renews the deadline: the unit receiving the case gets a fresh period
of the same length (the assignment's `days`), counted from the escalation day, so the
new handler has a real time limit and a second overdue escalates again, one level at a
time, up to the city. The case stays marked overdue (`escalations` > 0): it can no longer
close on time. At city level nothing is above: the watch reports `overdue` and no
escalation.

Escalation names a lead if the case had none (the receiving unit's first leader), so an
overdue case always has a leader answerable; CaseEscalated carries the lead to notify.
Reassignment keeps the lead: a lead leader answers for the case until it closes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Mapping, Optional, Sequence
from zoneinfo import ZoneInfo

from gm_kernel import Aggregate, DomainError, format_time, parse_time

from .deadline import due_after, end_of_local_day, local_date
from .decide import KEY_CASE_FLOOR, Decision, least_loaded
from gm_directory.directory import Directory
from .rules import DEFAULT_WARN_DAYS, Extension
from gm_directory.vocabulary import AGENCIES, level_rank

ASSIGNMENT_MADE = "AssignmentMade"
DEADLINE_WARNING_RAISED = "DeadlineWarningRaised"
CASE_ESCALATED = "CaseEscalated"
DEADLINE_EXTENDED = "DeadlineExtended"
CASE_REASSIGNED = "CaseReassigned"
JOINT_HANDLING_ARRANGED = "JointHandlingArranged"
ASSIGNMENT_CLOSED = "AssignmentClosed"
ASSIGNMENT_FAILED = "AssignmentFailed"
EVENT_TYPES = (ASSIGNMENT_MADE, DEADLINE_WARNING_RAISED, CASE_ESCALATED, DEADLINE_EXTENDED,
               CASE_REASSIGNED, JOINT_HANDLING_ARRANGED, ASSIGNMENT_CLOSED, ASSIGNMENT_FAILED)


@dataclass(frozen=True)
class WatchDecision:
    """What the deadline watch should do now."""

    warn: bool = False
    escalate: bool = False
    overdue: bool = False


def watch(assignment: "Assignment", now: datetime,
          warn_days: int = DEFAULT_WARN_DAYS) -> WatchDecision:
    """Which of warning / escalation are due for `assignment` at `now` (pure).

    warn: the deadline is at most `warn_days` days away, not passed, and not yet warned.
    escalate: the deadline has passed, it was not yet escalated, and there is a level above.
    overdue: the deadline has passed (whether or not anything is due).
    Nothing is due before the assignment is made or after it is closed.
    """
    if (not assignment.exists or assignment.closed or assignment.due_at is None
            or assignment.failure is not None):
        return WatchDecision()
    due = assignment.due_at
    overdue = now > due
    warn = (not overdue and now >= due - timedelta(days=warn_days)
            and assignment.warned_for != due)
    escalate = overdue and assignment.escalated_for != due and assignment.level != "city"
    return WatchDecision(warn=warn, escalate=escalate, overdue=overdue)


class Assignment(Aggregate):
    """Responsibility for one case (四定); id = the case id.

    Commands take the current time (`now`, timezone-aware) and, where they place the case,
    the directory and the handlers' open-case loads; they raise DomainError when the
    state does not allow them. Extra keyword arguments (actor, agency, causation_id, ...)
    go on the recorded event; `occurred_at` defaults to `now`, `correlation_id` to the case.
    """

    stream_prefix = "assignment-"

    def __init__(self, id: str):
        super().__init__(id)
        self.track: Optional[str] = None
        self.level: Optional[str] = None
        self.unit: Optional[str] = None
        self.lead: Optional[str] = None
        self.handler: Optional[str] = None
        self.key_case = False
        self.days = 0
        self.due_at: Optional[datetime] = None
        self.time_zone: Optional[ZoneInfo] = None
        self.rule_id: Optional[str] = None
        self.extension_limits: Optional[Extension] = None
        self.extension_count = 0
        self.extended_days = 0
        self.warned_for: Optional[datetime] = None  # the deadline last warned about
        self.escalated_for: Optional[datetime] = None  # the deadline last escalated for
        self.escalations = 0
        self.joint_handling: List[Dict[str, Any]] = []
        self.closed = False
        self.region: Optional[str] = None
        self.failure: Optional[str] = None

    # -- queries ---------------------------------------------------------------------

    @property
    def extended(self) -> bool:
        return self.extension_count > 0

    def watch(self, now: datetime, warn_days: int = DEFAULT_WARN_DAYS) -> WatchDecision:
        return watch(self, now, warn_days)

    def view(self) -> Dict[str, Any]:
        """The assignment as `GET /cases/{case_id}/assignment` returns it."""
        return {"track": self.track, "level": self.level, "unit": self.unit, "lead": self.lead,
                "handler": self.handler,
                "due_at": format_time(self.due_at) if self.due_at else None,
                "extended": self.extended}

    # -- commands --------------------------------------------------------------------

    def assign(self, decision: Decision, now: datetime, **meta: Any) -> None:
        """Record the 四定 decided for the case."""
        if self.exists:
            raise DomainError(f"case {self.id} is already assigned")
        meta.setdefault("occurred_at", now)
        self._emit(ASSIGNMENT_MADE, decision.to_data(), meta)

    def fail(self, reason: str, now: datetime, **meta: Any) -> None:
        """Record that the case could not be placed (no unit, rule or handler fits)."""
        if self.exists:
            raise DomainError(f"case {self.id} is already assigned")
        meta.setdefault("occurred_at", now)
        self._emit(ASSIGNMENT_FAILED, {"reason": reason, "failed_at": format_time(now)}, meta)

    def raise_warning(self, now: datetime, warn_days: int = DEFAULT_WARN_DAYS, **meta: Any) -> None:
        """Warn handler and lead that the deadline is near (once per deadline)."""
        self._require_open()
        if not watch(self, now, warn_days).warn:
            raise DomainError("no deadline warning is due")
        meta.setdefault("occurred_at", now)
        self._emit(DEADLINE_WARNING_RAISED, {
            "due_at": format_time(self.due_at), "warned_at": format_time(now),
            "unit": self.unit, "handler": self.handler, "lead": self.lead,
        }, meta)

    def escalate(self, now: datetime, directory: Directory,
                 loads: Optional[Mapping[str, int]] = None, **meta: Any) -> None:
        """Move an overdue case one level up (the nearest unit above offering the track),
        to its least-loaded eligible handler, with a renewed deadline; notify the lead."""
        self._require_open()
        if not watch(self, now).escalate:
            raise DomainError("no escalation is due: the deadline has not passed, was already "
                              "escalated, or the case is at the top level")
        if self.unit not in directory:
            raise DomainError(f"unit {self.unit} is no longer in the directory")
        target = directory.escalation_target(self.unit, self.track)
        if target is None:
            raise DomainError(f"no unit above {self.unit} offers track {self.track}")
        handler = least_loaded(target.handlers_for(self.track), loads)
        lead = self.lead or (target.first_leader.id if target.first_leader else None)
        meta.setdefault("occurred_at", now)
        self._emit(CASE_ESCALATED, {
            "reason": "overdue", "escalated_at": format_time(now),
            "from_unit": self.unit, "from_level": self.level,
            "unit": target.code, "level": target.level,
            "previous_handler": self.handler, "handler": handler.id, "lead": lead,
            "previous_due_at": format_time(self.due_at),
            "due_at": format_time(due_after(now, self.days, self.time_zone)),
        }, meta)

    def extend(self, days: int, reason: str, now: datetime, **meta: Any) -> None:
        """Extend the deadline by `days` calendar days, within the rule's limits, before it passes."""
        self._require_open()
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise DomainError("days must be a positive whole number")
        if not reason or not reason.strip():
            raise DomainError("an extension needs a reason")
        limits = self.extension_limits
        if limits is None:
            raise DomainError(f"rule {self.rule_id} allows no extension")
        if limits.max_count is not None and self.extension_count >= limits.max_count:
            raise DomainError(f"rule {self.rule_id} allows at most {limits.max_count} "
                              f"extension{'s' if limits.max_count > 1 else ''}")
        if limits.max_days is not None and self.extended_days + days > limits.max_days:
            left = limits.max_days - self.extended_days
            raise DomainError(f"rule {self.rule_id} allows at most {limits.max_days} extra days "
                              f"in all; {left} left")
        if now > self.due_at:
            raise DomainError("the deadline has passed: an extension must be approved before it")
        new_due = end_of_local_day(local_date(self.due_at, self.time_zone) + timedelta(days=days),
                                   self.time_zone)
        meta.setdefault("occurred_at", now)
        self._emit(DEADLINE_EXTENDED, {
            "days": days, "reason": reason.strip(),
            "previous_due_at": format_time(self.due_at), "due_at": format_time(new_due),
            "extension_number": self.extension_count + 1,
            "extended_days": self.extended_days + days,
        }, meta)

    def reassign(self, reason: str, now: datetime, directory: Directory, unit: Optional[str] = None,
                 handler: Optional[str] = None, loads: Optional[Mapping[str, int]] = None,
                 **meta: Any) -> None:
        """Give the case to another unit and/or handler. The unit must offer the case's
        track (and be at county level or above for a key case); the handler must work on
        the track there. With a new unit and no handler, its least-loaded handler is chosen."""
        self._require_open()
        if not reason or not reason.strip():
            raise DomainError("a reassignment needs a reason")
        if unit is None and handler is None:
            raise DomainError("name a unit, a handler or both")
        code = unit or self.unit
        if code not in directory:
            raise DomainError(f"unit {code} is not in the directory")
        target = directory.unit(code)
        if not target.offers(self.track):
            raise DomainError(f"unit {code} does not offer track {self.track}")
        if self.key_case and level_rank(target.level) < level_rank(KEY_CASE_FLOOR):
            raise DomainError(f"a key case is handled at {KEY_CASE_FLOOR} level or above")
        eligible = target.handlers_for(self.track)
        if handler is None:
            chosen = least_loaded(eligible, loads).id
        elif handler in {h.id for h in eligible}:
            chosen = handler
        else:
            raise DomainError(f"handler {handler} does not work on track {self.track} at unit {code}")
        if code == self.unit and chosen == self.handler:
            raise DomainError("the case is already with this unit and handler")
        meta.setdefault("occurred_at", now)
        self._emit(CASE_REASSIGNED, {
            "reason": reason.strip(), "from_unit": self.unit, "unit": code, "level": target.level,
            "from_handler": self.handler, "handler": chosen,
        }, meta)

    def arrange_joint_handling(self, participants: Sequence[str], reason: str, now: datetime,
                               directory: Directory, meeting: Optional[bool] = None,
                               **meta: Any) -> None:
        """Arrange joint handling: 联合接访 (joint reception) by several agencies/units, and
        with `meeting` a 联席会议 (joint meeting) — by default for key (major) cases.

        participants: at least two distinct agencies (court, procuratorate, police,
        petition) or directory unit codes.
        """
        self._require_open()
        if not reason or not reason.strip():
            raise DomainError("joint handling needs a reason")
        named = list(dict.fromkeys(participants))
        unknown = [p for p in named if p not in AGENCIES and p not in directory]
        if unknown:
            raise DomainError(f"not an agency or a directory unit: {', '.join(unknown)}")
        if len(named) < 2:
            raise DomainError("joint handling needs at least two agencies or units")
        meeting = self.key_case if meeting is None else bool(meeting)
        meta.setdefault("occurred_at", now)
        self._emit(JOINT_HANDLING_ARRANGED, {
            "participants": named, "meeting": meeting, "reason": reason.strip(),
            "arranged_at": format_time(now),
        }, meta)

    def close(self, now: datetime, outcome: Optional[str] = None, **meta: Any) -> None:
        """The case closed: stop the watch. `on_time` is false once the case went overdue."""
        self._require_open()
        meta.setdefault("occurred_at", now)
        self._emit(ASSIGNMENT_CLOSED, {
            "closed_at": format_time(now), "outcome": outcome,
            "on_time": self.escalations == 0 and now <= self.due_at,
        }, meta)

    # -- helpers ---------------------------------------------------------------------

    def _require_open(self) -> None:
        if not self.exists:
            raise DomainError(f"case {self.id} has no assignment")
        if self.failure is not None:
            raise DomainError(f"case {self.id} could not be assigned: {self.failure}")
        if self.closed:
            raise DomainError(f"the assignment of case {self.id} is closed")

    def _emit(self, event_type: str, data: Mapping[str, Any], meta: Dict[str, Any]) -> None:
        meta.setdefault("correlation_id", self.id)
        self._record(event_type, data, **meta)

    # -- state changes (events are facts: no validation here) -------------------------

    def when_AssignmentMade(self, data: Mapping[str, Any]) -> None:
        decision = Decision.from_data(data)
        self.track, self.level, self.unit = decision.track, decision.level, decision.unit
        self.lead, self.handler = decision.lead, decision.handler
        self.key_case = decision.key_case
        self.days = decision.days
        self.due_at = decision.due_at
        self.time_zone = ZoneInfo(decision.time_zone)
        self.rule_id = decision.rule_id
        self.extension_limits = decision.extension
        self.region = decision.region

    def when_DeadlineWarningRaised(self, data: Mapping[str, Any]) -> None:
        self.warned_for = parse_time(data["due_at"])

    def when_CaseEscalated(self, data: Mapping[str, Any]) -> None:
        self.escalated_for = parse_time(data["previous_due_at"])
        self.escalations += 1
        self.unit, self.level = data["unit"], data["level"]
        self.handler, self.lead = data["handler"], data["lead"]
        self.due_at = parse_time(data["due_at"])

    def when_DeadlineExtended(self, data: Mapping[str, Any]) -> None:
        self.extension_count = data["extension_number"]
        self.extended_days = data["extended_days"]
        self.due_at = parse_time(data["due_at"])

    def when_CaseReassigned(self, data: Mapping[str, Any]) -> None:
        self.unit, self.level, self.handler = data["unit"], data["level"], data["handler"]

    def when_JointHandlingArranged(self, data: Mapping[str, Any]) -> None:
        self.joint_handling.append(dict(data))

    def when_AssignmentClosed(self, data: Mapping[str, Any]) -> None:
        self.closed = True

    def when_AssignmentFailed(self, data: Mapping[str, Any]) -> None:
        self.failure = data["reason"]
