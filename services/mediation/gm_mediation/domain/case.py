"""A mediation case (调解案件): the work on one registered case, from assignment to closure.

Stream `mediation-<case id>`. Two other services open it, in either order: intake's
CaseRegistered becomes MediationOpened (what the case is) and assignment's AssignmentMade
becomes MediatorAssigned (who works on it, by when; again on escalation and
reassignment). Mediators' commands need both. Then:

    SessionHeld, DutyRecorded ...           in_mediation
    AgreementReached                        agreement
      ├─ FollowUpRecorded + CaseClosed      closed, outcome agreement (no confirmation asked)
      └─ ConfirmationRequested              agreement, a court hand-off pending
           ├─ (court confirms) CaseClosed   closed, outcome confirmed
           └─ (court refuses)  MediationReopened → in_mediation: a new agreement, or failure
    MediationFailed (next step none) + CaseClosed           closed, outcome failed
    MediationFailed (next step X)                           handed_off
      ├─ (agency accepts) CaseClosed                        closed, outcome handed_off
      └─ (agency rejects) MediationReopened → in_mediation: choose another next step
    MediationWithdrawn + CaseClosed                         closed, outcome withdrawn
    FollowUpRecorded after closure (回访): once per case

A hand-off itself lives in its own stream (`handoff.HandOff`). This aggregate records the
decision to hand off (ConfirmationRequested / MediationFailed with a hand-off id) and,
later, what the agency's answer means for the case; the service's process manager
carries each across, exactly once.

Key cases (重点案件: collective, repeat, high risk, leader reception day) get 四定四包:
they close as resolved (agreement, confirmed) only when all four duties (四包: 包调查、
包处理、包疏导教育、包息诉罢访) are recorded.
"""
from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any, Dict, List, Mapping, Optional

from gm_contracts.mediation_events import SATISFACTION_LEVELS, satisfaction_level
from gm_kernel import Aggregate, DomainError, format_time, parse_time

from .rules import confirmation_window_end, local_date

# The four duties (四包), in the order the policy lists them.
DUTIES = ("investigation", "handling", "counselling", "cessation")
# Failure next steps → the agency that takes the case over (诉调/公调/检调/访调对接).
NEXT_STEPS: Mapping[str, str] = {
    "litigation": "court",
    "public_security": "police",
    "criminal_reconciliation": "procuratorate",
    "petition_handling": "petition",
}
NO_NEXT_STEP = "none"
JUDICIAL_CONFIRMATION = "judicial_confirmation"
RESOLVED_OUTCOMES = ("agreement", "confirmed")

# Statuses, as the case view (reporting) shows them.
REGISTERED = "registered"
ASSIGNED = "assigned"
IN_MEDIATION = "in_mediation"
AGREEMENT = "agreement"
HANDED_OFF = "handed_off"
CLOSED = "closed"

MAX_SUMMARY = 4000
# What MediationOpened keeps of intake's CaseRegistered.
OPENED_FIELDS = ("case_id", "case_number", "source_agency", "referral_id", "kind",
                 "procedure", "channel", "category", "summary", "region", "parties",
                 "headcount", "key_case", "key_reasons", "collective", "repeat",
                 "registered_at")
ASSIGNMENT_FIELDS = ("track", "level", "unit", "handler", "lead", "due_at")


class InvalidValue(ValueError):
    """A command value that can never be right for this case (HTTP 400, not 409)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class MediationCase(Aggregate):
    """Mediation of one case; id = the case id.

    Commands take the current time (`now`, timezone-aware) and, where dates matter, the
    deployment's time zone; they raise DomainError when the case's state does not allow
    them (nothing is recorded) and InvalidValue for a value that cannot be right. Extra
    keyword arguments (actor, agency, causation_id, occurred_at) go on the events;
    `correlation_id` is always the case id.
    """

    stream_prefix = "mediation-"

    def __init__(self, id: str):
        super().__init__(id)
        self.opened = False
        self.registration: Dict[str, Any] = {}
        self.assignment: Optional[Dict[str, Any]] = None
        self.sessions: List[Dict[str, Any]] = []
        self.duties: Dict[str, str] = {}
        self.agreement: Optional[Dict[str, Any]] = None  # the agreement in force, if any
        self.agreements = 0  # how many were reached (an amended one counts again)
        self.awaiting: Optional[Dict[str, str]] = None  # the hand-off the case waits on
        self.handoffs: List[Dict[str, str]] = []  # every hand-off asked for, oldest first
        self.working = False  # a session or duty recorded, or mediation reopened
        self.failure: Optional[Dict[str, Any]] = None
        self.withdrawal: Optional[Dict[str, Any]] = None
        self.closure: Optional[Dict[str, Any]] = None
        self.follow_up: Optional[Dict[str, Any]] = None

    # -- queries ----------------------------------------------------------------------

    @property
    def status(self) -> str:
        if self.closure is not None:
            return CLOSED
        if not self.opened or self.assignment is None:
            return REGISTERED
        if self.awaiting is not None:
            # judicial confirmation included: the court holds the case until it rules
            # (reporting's case view says the same)
            return HANDED_OFF
        if self.agreement is not None:
            return AGREEMENT
        return IN_MEDIATION if self.working else ASSIGNED

    @property
    def closed(self) -> bool:
        return self.closure is not None

    @property
    def key_case(self) -> bool:
        return bool(self.registration.get("key_case"))

    @property
    def region(self) -> Optional[str]:
        return self.registration.get("region")

    @property
    def source_agency(self) -> Optional[str]:
        return self.registration.get("source_agency")

    @property
    def referral_id(self) -> Optional[str]:
        return self.registration.get("referral_id")

    @property
    def missing_duties(self) -> List[str]:
        return [d for d in DUTIES if d not in self.duties]

    def awaits(self, handoff_id: str) -> Optional[Dict[str, str]]:
        """The pending hand-off with this id, or None if the case does not wait on it."""
        if self.awaiting is not None and self.awaiting["handoff_id"] == handoff_id:
            return self.awaiting
        return None

    def confirmation_window_ends_at(self, tz: tzinfo) -> Optional[datetime]:
        if self.agreement is None:
            return None
        return confirmation_window_end(date.fromisoformat(self.agreement["signed_on"]), tz)

    # -- opened and assigned by other services' events -------------------------------

    def open(self, registration: Mapping[str, Any], **meta: Any) -> None:
        """Open mediation for a case intake registered (MediationOpened)."""
        if self.opened:
            raise DomainError(f"mediation of case {self.id} is already open")
        data = {field: registration.get(field) for field in OPENED_FIELDS}
        data["case_id"] = self.id
        data["key_reasons"] = list(data["key_reasons"] or [])
        data["parties"] = list(data["parties"] or [])
        self._emit("MediationOpened", data, meta)

    def assign(self, changes: Mapping[str, Any], reason: str, **meta: Any) -> None:
        """Record who mediates and by when (MediatorAssigned); `changes` may name only some
        fields (a reassignment keeps track, lead and deadline)."""
        if self.closed:
            raise DomainError(f"case {self.id} is closed")
        current = self.assignment or {field: None for field in ASSIGNMENT_FIELDS}
        data = {field: changes.get(field, current[field]) for field in ASSIGNMENT_FIELDS}
        data["reason"] = reason
        self._emit("MediatorAssigned", data, meta)

    # -- the mediator's commands -------------------------------------------------------

    def hold_session(self, held_on: date, notes: str, now: datetime, tz: tzinfo,
                     **meta: Any) -> None:
        self._require_workable()
        self._require_not_awaiting()
        if self.status == AGREEMENT:
            raise DomainError("an agreement was reached: mediation resumes only if the "
                              "court refuses to confirm it, or the mediation fails")
        self._check_day("held_on", held_on, now, tz)
        self._emit("SessionHeld", {"held_on": held_on.isoformat(), "notes": notes,
                                   "number": len(self.sessions) + 1}, meta, now)

    def record_duty(self, duty: str, note: str, now: datetime, **meta: Any) -> None:
        """Record one of the four duties as done. Duties stay open to record until the
        case closes (包息诉罢访 often ends after the agreement), each once."""
        if duty not in DUTIES:
            raise InvalidValue("duty", f"must be one of: {', '.join(DUTIES)}")
        self._require_workable()
        if duty in self.duties:
            raise DomainError(f"the {duty} duty is already recorded for case {self.id}")
        self._emit("DutyRecorded", {"duty": duty, "note": note}, meta, now)

    def reach_agreement(self, terms: str, signed_on: date, now: datetime, tz: tzinfo,
                        **meta: Any) -> None:
        """调解协议: the parties signed an agreement (again, after a refused confirmation)."""
        self._require_workable()
        self._require_not_awaiting()
        if self.agreement is not None:
            raise DomainError("an agreement is already in force; it can be amended only "
                              "after the court refuses to confirm it")
        self._check_day("signed_on", signed_on, now, tz)
        self._emit("AgreementReached", {"terms": terms, "signed_on": signed_on.isoformat(),
                                        "number": self.agreements + 1}, meta, now)

    def request_confirmation(self, handoff_id: str, now: datetime, tz: tzinfo,
                             **meta: Any) -> None:
        """Ask the court for judicial confirmation (司法确认) of the agreement in force,
        within 30 days of its signing; a key case first needs its four duties."""
        self._require_workable()
        self._require_not_awaiting()
        if self.agreement is None:
            raise DomainError("judicial confirmation needs an agreement in force")
        window_ends = self.confirmation_window_ends_at(tz)
        if now > window_ends:
            raise DomainError(
                f"the 30-day window to apply for judicial confirmation of the agreement "
                f"signed on {self.agreement['signed_on']} ended on "
                f"{window_ends.astimezone(tz).date().isoformat()}")
        self._require_duties_for_resolution()
        self._require_parties()
        self._emit("ConfirmationRequested", {
            "handoff_id": handoff_id, "agency": "court", "kind": JUDICIAL_CONFIRMATION,
            "agreement": dict(self.agreement), "requested_at": format_time(now),
            "window_ends_at": format_time(window_ends),
        }, meta, now)

    def fail(self, reason: str, next_step: str, handoff_id: Optional[str], now: datetime,
             **meta: Any) -> None:
        """Mediation failed: close (next step `none`) or hand the case to the agency the
        next step names (the case then waits on that hand-off)."""
        if next_step != NO_NEXT_STEP and next_step not in NEXT_STEPS:
            raise InvalidValue("next", f"must be one of: {', '.join([*NEXT_STEPS, NO_NEXT_STEP])}")
        self._require_workable()
        self._require_not_awaiting()
        if next_step == NO_NEXT_STEP:
            self._emit("MediationFailed", {"reason": reason, "next": next_step,
                                           "handoff_id": None, "agency": None}, meta, now)
            self._close("failed", reason, now, meta)
            return
        self._require_parties()
        if not handoff_id:
            raise ValueError("a hand-off needs its id")
        self._emit("MediationFailed", {"reason": reason, "next": next_step,
                                       "handoff_id": handoff_id,
                                       "agency": NEXT_STEPS[next_step]}, meta, now)

    def withdraw(self, reason: str, now: datetime, **meta: Any) -> None:
        """The applicant withdrew (撤回): the case closes, not resolved."""
        self._require_workable()
        self._require_not_awaiting()
        self._emit("MediationWithdrawn", {"reason": reason}, meta, now)
        self._close("withdrawn", reason, now, meta)

    def record_follow_up(self, satisfaction, petition_ceased: bool, now: datetime,
                         **meta: Any) -> None:
        """回访: the visit after an agreement (which closes the case, outcome agreement)
        or after closure; once per case. `satisfaction` is a 1–5 score or a level
        (satisfied, basically_satisfied, dissatisfied); the event always carries the
        level, and the score when one was given (else null)."""
        if isinstance(satisfaction, str) and satisfaction in SATISFACTION_LEVELS:
            score, level = None, satisfaction
        elif isinstance(satisfaction, bool) or not isinstance(satisfaction, int) \
                or not 1 <= satisfaction <= 5:
            raise InvalidValue("satisfaction", "must be a whole number from 1 to 5 or one "
                                               "of: " + ", ".join(SATISFACTION_LEVELS))
        else:
            score, level = satisfaction, satisfaction_level(satisfaction)
        self._require_opened()
        if self.follow_up is not None:
            raise DomainError(f"case {self.id} already had its follow-up visit")
        data = {"satisfaction": score, "satisfaction_level": level,
                "petition_ceased": bool(petition_ceased), "visited_at": format_time(now)}
        if self.closed:
            self._emit("FollowUpRecorded", data, meta, now)
            return
        if self.status != AGREEMENT or self.awaiting is not None:
            raise DomainError("a follow-up visit comes after an agreement (with no judicial "
                              "confirmation pending) or after the case closed")
        self._require_duties_for_resolution()
        self._emit("FollowUpRecorded", data, meta, now)
        self._close("agreement", self.agreement["terms"], now, meta)

    # -- what an agency's answer to a hand-off means for the case ----------------------

    def close_handed_off(self, handoff_id: str, agency_case_number: Optional[str],
                         now: datetime, **meta: Any) -> None:
        """The agency accepted the failed case: mediation's part is over."""
        pending = self._require_awaiting(handoff_id)
        if pending["kind"] == JUDICIAL_CONFIRMATION:
            raise DomainError("a confirmation request is settled by the court's ruling")
        summary = f"Handed to {pending['agency']} ({pending['kind']})"
        if agency_case_number:
            summary += f", their case number {agency_case_number}"
        self._close("handed_off", f"{summary}: {self.failure['reason']}", now, meta,
                    handoff_id=handoff_id)

    def confirm(self, handoff_id: str, ruling_number: Optional[str], now: datetime,
                **meta: Any) -> None:
        """The court confirmed the agreement. The four duties of a key case were checked
        when confirmation was requested, and a recorded duty cannot be taken back."""
        pending = self._require_awaiting(handoff_id)
        if pending["kind"] != JUDICIAL_CONFIRMATION:
            raise DomainError(f"hand-off {handoff_id} is not a confirmation request")
        ruling = f" (ruling {ruling_number})" if ruling_number else ""
        self._close("confirmed", f"Judicially confirmed{ruling}: {self.agreement['terms']}",
                    now, meta, handoff_id=handoff_id)

    def reopen(self, handoff_id: str, reason: str, now: datetime, **meta: Any) -> None:
        """The agency refused (a confirmation, or to take the case): mediation resumes —
        amend the agreement or fail with another next step."""
        self._require_awaiting(handoff_id)
        self._emit("MediationReopened", {"reason": reason, "handoff_id": handoff_id},
                   meta, now)

    # -- rules -------------------------------------------------------------------------

    def _require_opened(self) -> None:
        if not self.opened:
            raise DomainError(f"case {self.id} has not reached mediation yet (registration "
                              "pending)")

    def _require_workable(self) -> None:
        self._require_opened()
        if self.closed:
            raise DomainError(f"case {self.id} is closed ({self.closure['outcome']})")
        if self.assignment is None:
            raise DomainError(f"case {self.id} is not yet assigned")

    def _require_not_awaiting(self) -> None:
        if self.awaiting is not None:
            raise DomainError(f"case {self.id} waits on {self.awaiting['agency']} "
                              f"({self.awaiting['kind']}, hand-off {self.awaiting['handoff_id']})")

    def _require_awaiting(self, handoff_id: str) -> Dict[str, str]:
        pending = self.awaits(handoff_id)
        if pending is None:
            raise DomainError(f"case {self.id} does not wait on hand-off {handoff_id}")
        return pending

    def _require_duties_for_resolution(self) -> None:
        if self.key_case and self.missing_duties:
            raise DomainError("a key case is resolved only with all four duties recorded; "
                              f"missing: {', '.join(self.missing_duties)}")

    def _require_parties(self) -> None:
        # An agency cannot act on a case with nobody in it (a risk assessment's
        # preventive case has no parties until mediation finds them).
        if not self.registration.get("parties"):
            raise DomainError(f"case {self.id} has no parties to hand over to an agency")

    def _check_day(self, field: str, day: date, now: datetime, tz: tzinfo) -> None:
        if day > local_date(now, tz):
            raise InvalidValue(field, "must not be in the future")
        registered = self.registration.get("registered_at")
        if registered and day < local_date(parse_time(registered), tz):
            raise InvalidValue(field, "must not be before the case was registered")

    def _close(self, outcome: str, summary: str, now: datetime, meta: Dict[str, Any],
               handoff_id: Optional[str] = None) -> None:
        self._emit("CaseClosed", {
            "case_id": self.id, "outcome": outcome, "resolved": outcome in RESOLVED_OUTCOMES,
            "closed_at": format_time(now), "summary": summary[:MAX_SUMMARY],
            "source_agency": self.source_agency, "referral_id": self.referral_id,
            "handoff_id": handoff_id,
        }, meta, now)

    def _emit(self, event_type: str, data: Mapping[str, Any], meta: Mapping[str, Any],
              now: Optional[datetime] = None) -> None:
        meta = dict(meta)
        meta["correlation_id"] = self.id
        if now is not None:
            meta.setdefault("occurred_at", now)
        self._record(event_type, data, **meta)

    # -- state changes (events are facts: no validation here) --------------------------

    def when_MediationOpened(self, data: Mapping[str, Any]) -> None:
        self.opened = True
        self.registration = dict(data)

    def when_MediatorAssigned(self, data: Mapping[str, Any]) -> None:
        self.assignment = {field: data.get(field) for field in ASSIGNMENT_FIELDS}

    def when_SessionHeld(self, data: Mapping[str, Any]) -> None:
        self.sessions.append(dict(data))
        self.working = True

    def when_DutyRecorded(self, data: Mapping[str, Any]) -> None:
        self.duties[data["duty"]] = data["note"]
        self.working = True

    def when_AgreementReached(self, data: Mapping[str, Any]) -> None:
        self.agreement = {"terms": data["terms"], "signed_on": data["signed_on"]}
        self.agreements += 1
        self.working = True

    def when_ConfirmationRequested(self, data: Mapping[str, Any]) -> None:
        self.awaiting = {"handoff_id": data["handoff_id"], "agency": data["agency"],
                         "kind": data["kind"]}
        self.handoffs.append(dict(self.awaiting))

    def when_MediationFailed(self, data: Mapping[str, Any]) -> None:
        self.failure = dict(data)
        self.agreement = None  # an agreement that fell through is no longer in force
        if data.get("handoff_id"):
            self.awaiting = {"handoff_id": data["handoff_id"], "agency": data["agency"],
                             "kind": data["next"]}
            self.handoffs.append(dict(self.awaiting))

    def when_MediationWithdrawn(self, data: Mapping[str, Any]) -> None:
        self.withdrawal = dict(data)

    def when_MediationReopened(self, data: Mapping[str, Any]) -> None:
        self.awaiting = None
        self.agreement = None  # refused or not taken: a new agreement is needed
        self.working = True

    def when_FollowUpRecorded(self, data: Mapping[str, Any]) -> None:
        self.follow_up = dict(data)
        if self.follow_up.get("satisfaction_level") is None:  # recorded before levels
            self.follow_up["satisfaction_level"] = satisfaction_level(data["satisfaction"])

    def when_CaseClosed(self, data: Mapping[str, Any]) -> None:
        self.closure = dict(data)
        self.awaiting = None
