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

Judicial confirmation (司法确认) applies to an agreement reached in people's mediation
(or in mediation a court delegated before filing): both parties apply jointly (民事诉讼法
第二百零五条; its interpretation, art. 351), recorded with the request. It does not apply
to criminal reconciliation, whose agreement the procuratorate reviews (人民检察院刑事诉讼
规则 第四百九十七条), nor to a case the court entrusted after filing (the court closes it
itself), nor to administrative mediation.

A petition matter (信访事项: registered through a petition channel and routed to the
administrative track) follows the statutory workflow of 信访工作条例 (2022):

    PetitionAccepted (受理, told in writing; 简易办理 possible)
      ... the work (sessions, duties, an agreement or a failure hand-off) ...
      └─ PetitionAnswered (信访处理意见书: support / explain / not_support) + CaseClosed answered
           └─ ReviewRequested (复查, within 30 days of the answer) → ReviewDecided
                └─ ReviewRequested (复核, within 30 days) → ReviewDecided: final
    PetitionDeclined (不予受理, told in writing, with the route to take) + CaseClosed declined

Acceptance or non-acceptance is due within 15 days of registration (`timely` says
whether it was told in time); after 复核 the same matter is not accepted again.
"""
from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any, Dict, List, Mapping, Optional

from gm_contracts import assignment_events
from gm_contracts import mediation_events as events
from gm_contracts import streams, vocabulary
from gm_contracts.mediation_events import (
    DECLINE_ROUTES, OPINIONS, REVIEW_OPINIONS, REVIEW_STAGES, SATISFACTION_LEVELS,
    satisfaction_level,
)
from gm_kernel import (
    Aggregate, DomainError, InvalidValue, NotRecorded, applies, format_time, parse_time,
)

from .rules import local_date

# The four duties (四包), in the order the policy lists them.
DUTIES = vocabulary.DUTIES
JUDICIAL_CONFIRMATION = "judicial_confirmation"
#: Hand-off kind → the agency that takes it (诉调/公调/检调/访调对接).
HANDOFF_AGENCIES: Mapping[str, str] = {
    kind: agency for agency, kinds in vocabulary.HANDOFF_KINDS.items() for kind in kinds}
NO_NEXT_STEP = "none"
#: Failure next steps (a hand-off kind each) → the agency that takes the case over.
NEXT_STEPS: Mapping[str, str] = {
    step: HANDOFF_AGENCIES[step] for step in vocabulary.NEXT_STEPS if step != NO_NEXT_STEP}
RESOLVED_OUTCOMES = vocabulary.RESOLVED_OUTCOMES

# Statuses, as the case view (reporting) shows them, from registration to closure.
REGISTERED, ASSIGNED, IN_MEDIATION, AGREEMENT, HANDED_OFF, CLOSED = vocabulary.CASE_STATUSES

MAX_SUMMARY = 4000
# What MediationOpened keeps of intake's CaseRegistered.
OPENED_FIELDS = ("case_id", "case_number", "source_agency", "referral_id", "kind",
                 "procedure", "channel", "category", "summary", "region", "parties",
                 "headcount", "key_case", "key_reasons", "collective", "repeat",
                 "repeat_of", "registered_at")
ASSIGNMENT_FIELDS = ("track", "level", "unit", "handler", "lead", "due_at", "petition_matter")
#: Assignment's events that (re)name who mediates the case or move its deadline, and the
#: reason MediatorAssigned gives for each.
ASSIGNMENT_REASONS: Mapping[str, str] = {
    assignment_events.AssignmentMade.event_type: "assigned",
    assignment_events.CaseEscalated.event_type: "escalated",
    assignment_events.CaseReassigned.event_type: "reassigned",
    assignment_events.DeadlineExtended.event_type: "extended",
    assignment_events.HandlingPeriodStarted.event_type: "handling_period",
}
#: Those that move only the deadline: their other fields are not the assignment's (an
#: extension's `unit` is `days` or `working_days`, not the unit that handles the case).
DEADLINE_ONLY = (assignment_events.DeadlineExtended.event_type,
                 assignment_events.HandlingPeriodStarted.event_type)


class CaseNotFound(NotRecorded):
    """No mediation case with this id (never registered, or not yet seen here)."""

    def __init__(self, case_id: str):
        super().__init__(f"no mediation case {case_id}", case_id)


class MediationCase(Aggregate):
    """Mediation of one case; id = the case id.

    Commands take the current time (`now`, timezone-aware) and, where dates matter, the
    deployment's time zone; they raise DomainError when the case's state does not allow
    them (nothing is recorded) and InvalidValue for a value that cannot be right. Extra
    keyword arguments (actor, agency, causation_id, occurred_at) go on the events;
    `correlation_id` is always the case id.
    """

    stream_prefix = streams.MEDIATION

    @classmethod
    def not_recorded(cls, id: str) -> LookupError:
        return CaseNotFound(id)

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
        self.closure: Optional[Dict[str, Any]] = None
        self.follow_up: Optional[Dict[str, Any]] = None
        self.rating: Optional[Dict[str, Any]] = None  # the petitioner's own (CONTRACT §8)
        self.petition: Dict[str, Any] = {}  # a petition matter's statutory steps
        self.reviews: List[Dict[str, Any]] = []  # 复查 / 复核, requested and decided
        self.documents: Dict[str, Dict[str, Any]] = {}  # 文书 issued, by document id
        self.joint_meetings: List[Dict[str, Any]] = []  # 联席会议 held, oldest first

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

    @property
    def confirmation_window_ends_at(self) -> Optional[str]:
        """When the agreement in force can last be sent for confirmation (counted when it
        was reached, on the working-day calendar)."""
        return (self.agreement or {}).get("confirmation_window_ends_at")

    @property
    def track(self) -> Optional[str]:
        return (self.assignment or {}).get("track")

    @property
    def petition_matter(self) -> bool:
        return bool((self.assignment or {}).get("petition_matter"))

    @property
    def accepted(self) -> bool:
        return self.petition.get("decision") == "accepted"

    @property
    def registered_at(self) -> Optional[datetime]:
        registered = self.registration.get("registered_at")
        return parse_time(registered) if registered else None

    @property
    def earlier_cases(self) -> List[str]:
        """The earlier cases of the same applicant and matter (intake's `repeat_of`)."""
        return [e.get("case_id") for e in self.registration.get("repeat_of") or []]

    def review_received_on(self, stage: str, requested_on: date,
                           received_on: Optional[date] = None) -> date:
        """When the petitioner received the answer a review is requested against, if the
        request does not say: a 复查's, the day the written answer was issued; a 复核's,
        the day of the request."""
        if received_on is not None:
            return received_on
        answered = (self.petition.get("answered") or {}).get("issued_on")
        if answered and stage == "review":
            return date.fromisoformat(answered)
        return requested_on

    def confirmation_refusal(self) -> Optional[str]:
        """Why judicial confirmation does not apply to this case, or None if it does."""
        reg = self.registration
        if (reg.get("source_agency"), reg.get("kind")) == ("procuratorate",
                                                           "criminal_reconciliation"):
            return ("a criminal reconciliation agreement is reviewed by the procuratorate "
                    "(人民检察院刑事诉讼规则 第四百九十七条), not judicially confirmed")
        if (reg.get("source_agency"), reg.get("kind")) == ("court", "entrusted"):
            return ("mediation the court entrusted after filing ends in the court's own "
                    "decision on the case, not in judicial confirmation")
        if self.track == "administrative":
            return ("judicial confirmation is for agreements of people's mediation "
                    "(民事诉讼法 第二百零五条), not of administrative mediation")
        return None

    # -- opened and assigned by other services' events -------------------------------

    def open(self, registration: Mapping[str, Any], **meta: Any) -> None:
        """Open mediation for a case intake registered (MediationOpened)."""
        if self.opened:
            raise DomainError(f"mediation of case {self.id} is already open")
        data = {field: registration.get(field) for field in OPENED_FIELDS}
        data["case_id"] = self.id
        data["key_reasons"] = list(data["key_reasons"] or [])
        data["parties"] = list(data["parties"] or [])
        data["repeat_of"] = [{"case_id": e.get("case_id"), "case_number": e.get("case_number")}
                             for e in data["repeat_of"] or []]
        self._emit(events.MediationOpened, data, meta)

    def assign(self, changes: Mapping[str, Any], reason: str,
               extension: Optional[Mapping[str, Any]] = None, **meta: Any) -> None:
        """Record who mediates and by when (MediatorAssigned); `changes` may name only some
        fields (a reassignment keeps track, lead and deadline); `extension`: a deadline
        extension's particulars (reason `extended`)."""
        if self.closed:
            raise DomainError(f"case {self.id} is closed")
        current = self.assignment or {field: None for field in ASSIGNMENT_FIELDS}
        data = {field: changes.get(field, current[field]) for field in ASSIGNMENT_FIELDS}
        data["reason"] = reason
        if extension:
            data["extension"] = dict(extension)
        self._emit(events.MediatorAssigned, data, meta)

    def follow_assignment(self, event_type: str, changes: Mapping[str, Any],
                          **meta: Any) -> None:
        """What assignment's event (ASSIGNMENT_REASONS) changed, as MediatorAssigned (an
        extension or a handling period changes only `due_at`); once the case is closed, a
        late escalation or reassignment changes nothing here."""
        extension = None
        if event_type == assignment_events.DeadlineExtended.event_type \
                and changes.get("reason") and changes.get("previous_due_at"):
            # kept for the 延期告知书: why, by how much, when the person was told
            extension = {"days": changes["days"], "unit": changes.get("unit"),
                         "reason": changes["reason"],
                         "notified_on": changes.get("notified_on"),
                         "previous_due_at": changes["previous_due_at"],
                         "extension_number": changes.get("extension_number") or 1}
        if event_type in DEADLINE_ONLY:
            changes = {"due_at": changes["due_at"]}
        if not self.closed:
            self.assign(changes, ASSIGNMENT_REASONS[event_type], extension=extension, **meta)

    # -- the mediator's commands -------------------------------------------------------

    def hold_session(self, held_on: date, notes: str, now: datetime, tz: tzinfo,
                     mediator: Optional[str] = None, **meta: Any) -> None:
        """A session held; at the first, `mediator`: the roster mediator the parties chose
        (人民调解法 第十九条: 当事人选择), checked against the roster by the caller."""
        if mediator is not None and self.sessions:
            raise InvalidValue("mediator", "the parties name a mediator at the first session, "
                                           f"not at session {len(self.sessions) + 1}")
        self._require_workable()
        self._require_not_awaiting()
        self._require_accepted_petition()
        if self.status == AGREEMENT:
            raise DomainError("an agreement was reached: mediation resumes only if the "
                              "court refuses to confirm it, or the mediation fails")
        self._check_day("held_on", held_on, now, tz)
        self._emit(events.SessionHeld, {"held_on": held_on.isoformat(), "notes": notes,
                                        "number": len(self.sessions) + 1,
                                        **({"mediator": mediator} if mediator else {})},
                   meta, now)

    def record_duty(self, duty: str, note: str, now: datetime, **meta: Any) -> None:
        """Record one of the four duties as done. Duties stay open to record until the
        case closes (包息诉罢访 often ends after the agreement), each once."""
        if duty not in DUTIES:
            raise InvalidValue("duty", f"must be one of: {', '.join(DUTIES)}")
        self._require_workable()
        if duty in self.duties:
            raise DomainError(f"the {duty} duty is already recorded for case {self.id}")
        self._emit(events.DutyRecorded, {"duty": duty, "note": note}, meta, now)

    def reach_agreement(self, terms: str, signed_on: date, now: datetime, tz: tzinfo,
                        window_ends_at: Optional[datetime] = None,
                        performance: Optional[str] = None, perform_by: Optional[date] = None,
                        **meta: Any) -> None:
        """调解协议: the parties signed an agreement (again, after a refused confirmation).
        `window_ends_at`: the end of its judicial-confirmation window, where that applies;
        `performance` / `perform_by`: the manner and time limit of performance (履行方式、
        期限, 人民调解法 第二十九条), when the mediator states them apart from the terms."""
        self._require_workable()
        self._require_not_awaiting()
        self._require_accepted_petition()
        if self.agreement is not None:
            raise DomainError("an agreement is already in force; it can be amended only "
                              "after the court refuses to confirm it")
        self._check_day("signed_on", signed_on, now, tz)
        if perform_by is not None and perform_by < signed_on:
            raise InvalidValue("perform_by", "must not be before the agreement was signed")
        self._emit(events.AgreementReached, {
            "terms": terms, "signed_on": signed_on.isoformat(), "number": self.agreements + 1,
            "confirmation_window_ends_at": format_time(window_ends_at)
            if window_ends_at and self.confirmation_refusal() is None else None,
            "performance": performance,
            "perform_by": perform_by.isoformat() if perform_by else None,
        }, meta, now)

    def request_confirmation(self, handoff_id: str, now: datetime, tz: tzinfo,
                             applicants: Optional[List[str]] = None,
                             applied_on: Optional[date] = None, **meta: Any) -> None:
        """Ask the court for judicial confirmation (司法确认) of the agreement in force: a
        joint application of both parties (by default all parties, today), within 30 days
        of the signing (the window counted when it was reached); a key case first needs
        its four duties. Refused where confirmation does not apply."""
        self._require_workable()
        self._require_not_awaiting()
        refusal = self.confirmation_refusal()
        if refusal is not None:
            raise DomainError(refusal)
        if self.agreement is None:
            raise DomainError("judicial confirmation needs an agreement in force")
        window = self.confirmation_window_ends_at
        if window is None or now > parse_time(window):
            raise DomainError(
                f"the 30-day window to apply for judicial confirmation of the agreement "
                f"signed on {self.agreement['signed_on']} ended"
                + (f" on {parse_time(window).astimezone(tz).date().isoformat()}" if window
                   else ""))
        self._require_duties_for_resolution()
        self._require_parties()
        application = self._joint_application(applicants, applied_on, now, tz)
        self._emit(events.ConfirmationRequested, {
            "handoff_id": handoff_id, "agency": HANDOFF_AGENCIES[JUDICIAL_CONFIRMATION],
            "kind": JUDICIAL_CONFIRMATION,
            "agreement": {"terms": self.agreement["terms"],
                          "signed_on": self.agreement["signed_on"]},
            "requested_at": format_time(now), "window_ends_at": window,
            "joint_application": application,
        }, meta, now)

    def _joint_application(self, applicants: Optional[List[str]], applied_on: Optional[date],
                           now: datetime, tz: tzinfo) -> Dict[str, Any]:
        """Both parties apply (共同申请): each side (applicant, respondent) that the case
        has must be among the applicants."""
        parties = self.registration.get("parties") or []
        names = {p.get("name"): p.get("role") for p in parties}
        chosen = list(dict.fromkeys(applicants)) if applicants else list(names)
        unknown = [n for n in chosen if n not in names]
        if unknown:
            raise InvalidValue("applicants", f"not parties to the case: {', '.join(unknown)}")
        missing = sorted({p.get("role") for p in parties} - {names[n] for n in chosen})
        if missing:
            raise InvalidValue("applicants", "judicial confirmation is applied for jointly by "
                               f"both parties; no {' or '.join(missing)} among the applicants")
        day = applied_on or local_date(now, tz)
        if day > local_date(now, tz):
            raise InvalidValue("applied_on", "must not be in the future")
        if day < date.fromisoformat(self.agreement["signed_on"]):
            raise InvalidValue("applied_on", "must not be before the agreement was signed")
        return {"applicants": chosen, "applied_on": day.isoformat()}

    def fail(self, reason: str, next_step: str, handoff_id: Optional[str], now: datetime,
             **meta: Any) -> None:
        """Mediation failed: close (next step `none`) or hand the case to the agency the
        next step names (the case then waits on that hand-off)."""
        if next_step != NO_NEXT_STEP and next_step not in NEXT_STEPS:
            raise InvalidValue("next", f"must be one of: {', '.join([*NEXT_STEPS, NO_NEXT_STEP])}")
        self._require_workable()
        self._require_not_awaiting()
        self._require_accepted_petition()
        if next_step == NO_NEXT_STEP:
            self._emit(events.MediationFailed, {"reason": reason, "next": next_step,
                                                "handoff_id": None, "agency": None},
                       meta, now)
            self._close("failed", reason, now, meta)
            return
        self._require_parties()
        if not handoff_id:
            raise ValueError("a hand-off needs its id")
        self._emit(events.MediationFailed, {"reason": reason, "next": next_step,
                                            "handoff_id": handoff_id,
                                            "agency": NEXT_STEPS[next_step]}, meta, now)

    def withdraw(self, reason: str, now: datetime, **meta: Any) -> None:
        """The applicant withdrew (撤回): the case closes, not resolved."""
        self._require_workable()
        self._require_not_awaiting()
        self._emit(events.MediationWithdrawn, {"reason": reason}, meta, now)
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
            self._emit(events.FollowUpRecorded, data, meta, now)
            return
        if self.status != AGREEMENT or self.awaiting is not None:
            raise DomainError("a follow-up visit comes after an agreement (with no judicial "
                              "confirmation pending) or after the case closed")
        self._require_duties_for_resolution()
        self._emit(events.FollowUpRecorded, data, meta, now)
        self._close("agreement", self.agreement["terms"], now, meta)

    def rate_by_petitioner(self, rating: str, comment: Optional[str], now: datetime,
                           **meta: Any) -> None:
        """The petitioner's rating (满意 / 基本满意 / 不满意) with the query code: once
        per case, and only once it is closed — there is nothing to rate before."""
        if rating not in SATISFACTION_LEVELS:
            raise InvalidValue("rating", "must be one of: " + ", ".join(SATISFACTION_LEVELS))
        if comment is not None and (not isinstance(comment, str) or len(comment) > 1000):
            raise InvalidValue("comment", "at most 1000 characters")
        self._require_opened()
        if not self.closed:
            raise DomainError("the case is not closed yet")
        if self.rating is not None:
            raise DomainError("the case has been rated already")
        self._emit(events.PetitionerRated, {"rating": rating, "comment": comment or None,
                                            "rated_at": format_time(now)}, meta, now)

    def hold_joint_meeting(self, held_on: date, participants: List[str], agenda: List[str],
                           decisions: List[Mapping[str, Any]], now: datetime, tz: tzinfo,
                           **meta: Any) -> None:
        """联席会议: the agencies and units handling the case together met (assignment
        arranges joint handling; this records the meeting itself, for its minutes):
        who took part, the agenda, and each decision with its owner and date."""
        self._require_workable()
        self._check_day("held_on", held_on, now, tz)
        if len(set(participants)) < 2:
            raise InvalidValue("participants", "a joint meeting has at least two participants")
        for i, decision in enumerate(decisions):
            if decision["due_on"] < held_on:
                raise InvalidValue(f"decisions.{i}.due_on", "must not be before the meeting")
        self._emit(events.JointMeetingHeld, {
            "number": len(self.joint_meetings) + 1, "held_on": held_on.isoformat(),
            "participants": list(dict.fromkeys(participants)), "agenda": list(agenda),
            "decisions": [{"decision": d["decision"], "owner": d["owner"],
                           "due_on": d["due_on"].isoformat()} for d in decisions]},
            meta, now)

    # -- documents (文书) ---------------------------------------------------------------

    def issue_document(self, document: str, kind: str, title: str, drawn_up_from: int,
                       digest: str, size: int, now: datetime, **meta: Any) -> None:
        """A document drawn up from the case's events is issued (DocumentIssued), once:
        the digest of its first issue is the one every later copy must have."""
        self._require_opened()
        if document in self.documents:
            raise DomainError(f"document {document} of case {self.id} was already issued")
        if not 0 < drawn_up_from <= self.version:
            raise ValueError(f"version {drawn_up_from} is not in case {self.id}")
        self._emit(events.DocumentIssued, {
            "document": document, "kind": kind, "title": title,
            "drawn_up_from": drawn_up_from, "digest": digest, "size": size,
            "issued_at": format_time(now)}, meta, now)

    # -- a petition matter's statutory steps (信访工作条例) ------------------------------

    def decide_acceptance(self, decision: str, notified_on: date, now: datetime, tz: tzinfo,
                          notice_due: datetime, simple: bool = False,
                          reason: Optional[str] = None, route: Optional[str] = None,
                          final_earlier: Optional[str] = None, **meta: Any) -> None:
        """受理 or 不予受理 of a petition matter, told to the petitioner in writing on
        `notified_on` (due by `notice_due`: 15 days from registration). Not accepting
        closes the case, naming the route the petitioner is to take. `final_earlier`: an
        earlier case of the same matter whose 复核 was decided — it is not accepted again
        (信访工作条例 第三十六条第三款)."""
        if decision not in ("accepted", "declined"):
            raise InvalidValue("decision", "must be accepted or declined")
        self._require_workable()
        if not self.petition_matter:
            raise DomainError(f"case {self.id} is not a petition matter (信访事项)")
        if self.petition.get("decision"):
            raise DomainError(f"case {self.id} was already {self.petition['decision']}")
        self._check_day("notified_on", notified_on, now, tz)
        timely = notified_on <= local_date(notice_due, tz)
        common = {"notified_on": notified_on.isoformat(), "notice_due_at":
                  format_time(notice_due), "timely": timely}
        if decision == "accepted":
            if final_earlier:
                raise DomainError(
                    f"the same matter was finally decided on re-review (复核) in case "
                    f"{final_earlier}: it is not accepted again (信访工作条例 第三十六条第三款); "
                    "decline it with route final_after_re_review")
            self._emit(events.PetitionAccepted, {
                "case_id": self.id, "accepted_on": notified_on.isoformat(),
                "simple": bool(simple), **common}, meta, now)
            return
        if route not in DECLINE_ROUTES:
            raise InvalidValue("route", f"must be one of: {', '.join(DECLINE_ROUTES)}")
        if not reason or not reason.strip():
            raise InvalidValue("reason", "say why it is not accepted")
        self._emit(events.PetitionDeclined, {"case_id": self.id, "reason": reason.strip(),
                                             "route": route, **common}, meta, now)
        self._close("declined", f"不予受理: {reason.strip()}", now, meta)

    def answer_petition(self, opinion: str, summary: str, issued_on: date, now: datetime,
                        tz: tzinfo, **meta: Any) -> None:
        """信访处理意见书: the written decision on an accepted petition matter; it closes the
        case (outcome `answered`; resolved when the claim is supported)."""
        if opinion not in OPINIONS:
            raise InvalidValue("opinion", f"must be one of: {', '.join(OPINIONS)}")
        self._require_workable()
        self._require_not_awaiting()
        if not self.petition_matter:
            raise DomainError(f"case {self.id} is not a petition matter (信访事项)")
        self._require_accepted_petition()
        self._check_day("issued_on", issued_on, now, tz)
        if issued_on < date.fromisoformat(self.petition["accepted_on"]):
            raise InvalidValue("issued_on", "must not be before the matter was accepted")
        self._emit(events.PetitionAnswered, {
            "case_id": self.id, "opinion": opinion, "summary": summary,
            "issued_on": issued_on.isoformat()}, meta, now)
        self._close("answered", summary, now, meta, resolved=opinion == "support")

    def request_review(self, stage: str, requested_on: date, received_on: date,
                       request_due: datetime, decision_due: datetime, now: datetime,
                       tz: tzinfo, **meta: Any) -> None:
        """复查 (after the answer) or 复核 (after the 复查 decision), requested within 30
        days of receiving the written answer (`request_due`, counted from `received_on`);
        decided by `decision_due`."""
        if stage not in REVIEW_STAGES:
            raise InvalidValue("stage", f"must be one of: {', '.join(REVIEW_STAGES)}")
        self._require_opened()
        previous = self._answer_before(stage)
        self._check_day("requested_on", requested_on, now, tz)
        if received_on < date.fromisoformat(previous["issued_on"]):
            raise InvalidValue("received_on", "must not be before the answer was issued")
        if received_on > requested_on:
            raise InvalidValue("received_on", "must not be after the request")
        if requested_on > local_date(request_due, tz):
            raise DomainError(f"a {stage} must be requested within 30 days of receiving the "
                              f"written answer (by {local_date(request_due, tz).isoformat()})")
        self._emit(events.ReviewRequested, {
            "case_id": self.id, "stage": stage, "requested_on": requested_on.isoformat(),
            "received_on": received_on.isoformat(), "request_due_at": format_time(request_due),
            "due_at": format_time(decision_due)}, meta, now)

    def decide_review(self, stage: str, opinion: str, summary: str, issued_on: date,
                      now: datetime, tz: tzinfo, **meta: Any) -> None:
        """复查意见 / 复核意见, in writing; after 复核 the matter is final."""
        if stage not in REVIEW_STAGES:
            raise InvalidValue("stage", f"must be one of: {', '.join(REVIEW_STAGES)}")
        if opinion not in REVIEW_OPINIONS:
            raise InvalidValue("opinion", f"must be one of: {', '.join(REVIEW_OPINIONS)}")
        self._require_opened()
        pending = next((r for r in self.reviews if r["stage"] == stage), None)
        if pending is None or pending.get("decided"):
            raise DomainError(f"no {stage} is waiting for its decision")
        self._check_day("issued_on", issued_on, now, tz)
        if issued_on < date.fromisoformat(pending["requested_on"]):
            raise InvalidValue("issued_on", "must not be before the request")
        self._emit(events.ReviewDecided, {
            "case_id": self.id, "stage": stage, "opinion": opinion, "summary": summary,
            "issued_on": issued_on.isoformat(),
            "on_time": issued_on <= local_date(parse_time(pending["due_at"]), tz),
            "final": stage == "re_review"}, meta, now)

    def _answer_before(self, stage: str) -> Dict[str, Any]:
        """The written answer a review of `stage` is requested against."""
        if stage == "review":
            if "answered" not in self.petition:
                raise DomainError("复查 is requested against a written answer (信访处理意见书); "
                                  "there is none")
            if any(r["stage"] == "review" for r in self.reviews):
                raise DomainError("复查 was already requested")
            return self.petition["answered"]
        review = next((r for r in self.reviews if r["stage"] == "review"), None)
        if review is None or not review.get("decided"):
            raise DomainError("复核 is requested against a 复查 decision; there is none")
        if any(r["stage"] == "re_review" for r in self.reviews):
            raise DomainError("复核 was already requested; after it the matter is final")
        return review["decided"]

    # -- what an agency's answer to a hand-off means for the case ----------------------

    def settle(self, answer: str, data: Mapping[str, Any], now: datetime,
               **meta: Any) -> None:
        """The agency answered the hand-off the case waits on (`answer`: its
        HandOffAccepted, HandOffRejected or ConfirmationRuled, with that event's data):
        a failure hand-off accepted closes the case (handed_off), a confirmation request
        accepted changes nothing yet (the court's ruling settles it), a confirmation
        closes it (confirmed), a rejection or a refusal reopens mediation."""
        handoff_id = data["handoff_id"]
        pending = self._require_awaiting(handoff_id)
        if answer == events.HandOffAccepted.event_type:
            if pending["kind"] != JUDICIAL_CONFIRMATION:
                self.close_handed_off(handoff_id, data.get("agency_case_number"), now, **meta)
        elif answer == events.HandOffRejected.event_type:
            self.reopen(handoff_id, _because(
                f"{data['agency']} rejected the {pending['kind']} hand-off",
                data.get("reason")), now, **meta)
        elif answer == events.ConfirmationRuled.event_type and data["confirmed"]:
            self.confirm(handoff_id, data.get("ruling_number"), now, **meta)
        elif answer == events.ConfirmationRuled.event_type:
            self.reopen(handoff_id, _because("the court refused judicial confirmation",
                                             data.get("reason")), now, **meta)
        else:
            raise ValueError(f"{answer} is not an answer to a hand-off")

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
        self._emit(events.MediationReopened, {"reason": reason, "handoff_id": handoff_id},
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

    def _require_accepted_petition(self) -> None:
        if self.petition_matter and not self.accepted:
            raise DomainError(f"case {self.id} is a petition matter (信访事项): decide on its "
                              "acceptance (受理) first")

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
               handoff_id: Optional[str] = None, resolved: Optional[bool] = None) -> None:
        self._emit(events.CaseClosed, {
            "case_id": self.id, "outcome": outcome,
            "resolved": outcome in RESOLVED_OUTCOMES if resolved is None else resolved,
            "closed_at": format_time(now), "summary": summary[:MAX_SUMMARY],
            "source_agency": self.source_agency, "referral_id": self.referral_id,
            "handoff_id": handoff_id,
        }, meta, now)

    def _emit(self, event_type: type, data: Mapping[str, Any], meta: Mapping[str, Any],
              now: Optional[datetime] = None) -> None:
        meta = dict(meta)
        meta["correlation_id"] = self.id
        if now is not None:
            meta.setdefault("occurred_at", now)
        self._record(event_type, data, **meta)

    # -- state changes (events are facts: no validation here) --------------------------

    @applies(events.MediationOpened)
    def _mediation_opened(self, data: Mapping[str, Any]) -> None:
        self.opened = True
        self.registration = dict(data)

    @applies(events.MediatorAssigned)
    def _mediator_assigned(self, data: Mapping[str, Any]) -> None:
        self.assignment = {field: data.get(field) for field in ASSIGNMENT_FIELDS}

    @applies(events.SessionHeld)
    def _session_held(self, data: Mapping[str, Any]) -> None:
        self.sessions.append(dict(data))
        self.working = True

    @applies(events.DutyRecorded)
    def _duty_recorded(self, data: Mapping[str, Any]) -> None:
        self.duties[data["duty"]] = data["note"]
        self.working = True

    @applies(events.AgreementReached)
    def _agreement_reached(self, data: Mapping[str, Any]) -> None:
        self.agreement = {"terms": data["terms"], "signed_on": data["signed_on"],
                          "confirmation_window_ends_at": data.get("confirmation_window_ends_at")}
        self.agreements += 1
        self.working = True

    @applies(events.ConfirmationRequested)
    def _confirmation_requested(self, data: Mapping[str, Any]) -> None:
        self.awaiting = {"handoff_id": data["handoff_id"], "agency": data["agency"],
                         "kind": data["kind"]}
        self.handoffs.append(dict(self.awaiting))

    @applies(events.MediationFailed)
    def _mediation_failed(self, data: Mapping[str, Any]) -> None:
        self.failure = dict(data)
        self.agreement = None  # an agreement that fell through is no longer in force
        if data.get("handoff_id"):
            self.awaiting = {"handoff_id": data["handoff_id"], "agency": data["agency"],
                             "kind": data["next"]}
            self.handoffs.append(dict(self.awaiting))

    @applies(events.MediationWithdrawn)
    def _mediation_withdrawn(self, data: Mapping[str, Any]) -> None:
        """Nothing to keep: the CaseClosed that follows it says the case is over."""

    @applies(events.MediationReopened)
    def _mediation_reopened(self, data: Mapping[str, Any]) -> None:
        self.awaiting = None
        self.agreement = None  # refused or not taken: a new agreement is needed
        self.working = True

    @applies(events.PetitionAccepted)
    def _petition_accepted(self, data: Mapping[str, Any]) -> None:
        self.petition = {**self.petition, "decision": "accepted",
                         "accepted_on": data["accepted_on"], "simple": data.get("simple"),
                         "timely": data.get("timely")}

    @applies(events.PetitionDeclined)
    def _petition_declined(self, data: Mapping[str, Any]) -> None:
        self.petition = {**self.petition, "decision": "declined", "route": data["route"],
                         "timely": data.get("timely")}

    @applies(events.PetitionAnswered)
    def _petition_answered(self, data: Mapping[str, Any]) -> None:
        self.petition = {**self.petition, "answered": {
            "opinion": data["opinion"], "issued_on": data["issued_on"]}}

    @applies(events.ReviewRequested)
    def _review_requested(self, data: Mapping[str, Any]) -> None:
        self.reviews.append({"stage": data["stage"], "requested_on": data["requested_on"],
                             "due_at": data["due_at"], "decided": None})

    @applies(events.ReviewDecided)
    def _review_decided(self, data: Mapping[str, Any]) -> None:
        for review in self.reviews:
            if review["stage"] == data["stage"]:
                review["decided"] = {"opinion": data["opinion"], "issued_on": data["issued_on"]}
        if data.get("final"):
            self.petition = {**self.petition, "final": True}

    @applies(events.JointMeetingHeld)
    def _joint_meeting_held(self, data: Mapping[str, Any]) -> None:
        """Recorded for its minutes; the case's status stays as it was."""
        self.joint_meetings.append(dict(data))

    @applies(events.DocumentIssued)
    def _document_issued(self, data: Mapping[str, Any]) -> None:
        self.documents[data["document"]] = dict(data)

    @applies(events.PetitionerRated)
    def _petitioner_rated(self, data: Mapping[str, Any]) -> None:
        self.rating = dict(data)

    @applies(events.FollowUpRecorded)
    def _follow_up_recorded(self, data: Mapping[str, Any]) -> None:
        self.follow_up = dict(data)
        if self.follow_up.get("satisfaction_level") is None:  # recorded before levels
            self.follow_up["satisfaction_level"] = satisfaction_level(data["satisfaction"])

    @applies(events.CaseClosed)
    def _case_closed(self, data: Mapping[str, Any]) -> None:
        self.closure = dict(data)
        self.awaiting = None


def _because(what: str, reason: Optional[str]) -> str:
    return f"{what}: {reason}" if reason else what
