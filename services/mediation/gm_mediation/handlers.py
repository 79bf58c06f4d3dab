"""Mediation's use cases. Each handler is registered against what it handles (COMMANDS,
EVENTS) and run by the message bus in one unit of work (gm_platform.messagebus): it loads
the case or the hand-off, calls a command of the domain, and the bus commits what it
decided — with the caller's idempotency key, an agency message's key, or a feed's
tracking record; OUTBOX_RULES add what agencies are told of it. No Nameko here.

Four ways in:

- mediators' and leaders' commands (HTTP and RPC), each answered with the case view;
- intake's and assignment's events (their feeds): a case opens, its mediator is named;
- this service's own events (a feed over its own log: a process manager): a step that
  spans two streams — a case decided to hand off → the hand-off is requested; an agency
  answered → the case closes or reopens — is the second commit of a pair, made exactly
  once even if the process dies between the two;
- agencies' replies and rulings on gm.inbound (gm_platform.answers): each settles a
  hand-off, or is answered `rejected` with the errors the domain gives.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, Optional

from gm_contracts import assignment_events, intake_events
from gm_contracts import mediation_events as events
from gm_contracts.streams import case_id_of
from gm_kernel import (
    ConcurrencyError, DomainError, InvalidValue, NewEvent, OutboxMessage, RecordedEvent, new_id,
)
from gm_platform import answers
from gm_platform.auth import Forbidden
from gm_platform.bootstrap import Application
from gm_platform.messagebus import Caller, UnitOfWork

from .adapters import pdf
from .adapters.open_handoffs import OpenHandOffs
from .commands import (
    AnswerPetition, DecideAcceptance, DecideReview, HoldJointMeeting, HoldSession,
    IssueDocument,
    MarkHandOffOverdue,
    RateCase, ReachAgreement, RecordDuty, RecordFailure, RecordFollowUp, ReplyToHandOff,
    RequestConfirmation, RequestReview, RuleOnConfirmation, Withdraw,
)
from .domain import (
    JUDICIAL_CONFIRMATION, NO_NEXT_STEP, CaseNotFound, HandOff, MediationCase, case_view,
    confirmation_window, handoff_decided, handoff_due, handoff_requested,
    petition_notice_due, review_dues, ruling_due,
)
from .domain.documents import compose, document_list, document_sources, find_source

log = logging.getLogger(__name__)

WATCH_ACTOR = "mediation:handoff-watch"


# -- reading -------------------------------------------------------------------------------
def mediation_view(case_id: str, caller: Caller, uow: UnitOfWork, *, tz) -> dict:
    """GET /cases/{id}/mediation."""
    return _view(uow, _mediators_case(uow, case_id, caller), tz)


def _view(uow: UnitOfWork, case: MediationCase, tz) -> dict:
    """The case view, with its hand-offs as far as their streams exist yet."""
    handoffs = {h["handoff_id"]: uow.load(HandOff, h["handoff_id"]) for h in case.handoffs}
    return case_view(case, handoffs, uow.now, tz)


def _mediators_case(uow: UnitOfWork, case_id: str, caller: Caller) -> MediationCase:
    case = uow.get(MediationCase, case_id)
    try:
        caller.may_see(case.region)
    except Forbidden:
        if case.opened:
            raise
        # Known from assignment's events before intake's registration arrived: its region
        # is not known here yet, so to a region-scoped token it is a case not yet seen
        # here (404, as the registration arrives), not one of another region (403).
        raise CaseNotFound(case_id) from None
    return case


def _by(caller: Caller) -> dict:
    """Who and what caused the events of a command: the caller, and the command itself."""
    return dict(actor=caller.actor, causation_id=new_id())


# -- the mediator's commands (CONTRACT.md §5) ------------------------------------------------
def hold_session(command: HoldSession, uow: UnitOfWork, *, tz, directory) -> dict:
    """A session; at the first, the parties may name a mediator from the roster (调解员名册):
    one not on it, not serving the case's region or on another track is refused with the
    field; assignment decides whether they are free to take it (SessionHeld)."""
    case = _mediators_case(uow, command.case_id, command.caller)
    if command.mediator is not None:
        problem = directory.roster_problem(command.mediator, case.region or "", case.track)
        if problem is not None:
            raise InvalidValue("mediator", problem)
    case.hold_session(command.held_on, command.notes, uow.now, tz, mediator=command.mediator,
                      **_by(command.caller))
    return _view(uow, case, tz)


def record_duty(command: RecordDuty, uow: UnitOfWork, *, tz) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    case.record_duty(command.duty, command.note, uow.now, **_by(command.caller))
    return _view(uow, case, tz)


def reach_agreement(command: ReachAgreement, uow: UnitOfWork, *, tz, calendar) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    window = confirmation_window(command.signed_on, calendar, tz).due_at
    case.reach_agreement(command.terms, command.signed_on, uow.now, tz, window_ends_at=window,
                         performance=command.performance, perform_by=command.perform_by,
                         **_by(command.caller))
    return _view(uow, case, tz)


def request_confirmation(command: RequestConfirmation, uow: UnitOfWork, *, tz) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    case.request_confirmation(new_id(), uow.now, tz, applicants=command.applicants,
                              applied_on=command.applied_on, **_by(command.caller))
    return _view(uow, case, tz)


def record_failure(command: RecordFailure, uow: UnitOfWork, *, tz) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    handoff_id = new_id() if command.next_step != NO_NEXT_STEP else None
    case.fail(command.reason, command.next_step, handoff_id, uow.now, **_by(command.caller))
    return _view(uow, case, tz)


def withdraw(command: Withdraw, uow: UnitOfWork, *, tz) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    case.withdraw(command.reason, uow.now, **_by(command.caller))
    return _view(uow, case, tz)


def record_follow_up(command: RecordFollowUp, uow: UnitOfWork, *, tz) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    case.record_follow_up(command.satisfaction, command.petition_ceased, uow.now,
                          **_by(command.caller))
    return _view(uow, case, tz)


def rate_case(command: RateCase, uow: UnitOfWork) -> dict:
    """The petitioner's rating: no view back (the petitioner sees only the public status)."""
    case = uow.get(MediationCase, command.case_id)
    case.rate_by_petitioner(command.rating, command.comment, uow.now, **_by(command.caller))
    return {"rating": command.rating}


# -- a petition matter's statutory steps (信访工作条例) ------------------------------------
def decide_acceptance(command: DecideAcceptance, uow: UnitOfWork, *, tz, calendar,
                      final_petitions) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    notice_due = petition_notice_due(case.registered_at or uow.now, calendar, tz)
    case.decide_acceptance(command.decision, command.notified_on, uow.now, tz, notice_due,
                           simple=command.simple, reason=command.reason, route=command.route,
                           final_earlier=final_petitions.final_among(case.earlier_cases),
                           **_by(command.caller))
    return _view(uow, case, tz)


def answer_petition(command: AnswerPetition, uow: UnitOfWork, *, tz) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    case.answer_petition(command.opinion, command.summary, command.issued_on, uow.now, tz,
                         **_by(command.caller))
    return _view(uow, case, tz)


def request_review(command: RequestReview, uow: UnitOfWork, *, tz, calendar) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    received = case.review_received_on(command.stage, command.requested_on,
                                       command.received_on)
    request_due, decision_due = review_dues(command.stage, received, command.requested_on,
                                            calendar, tz)
    case.request_review(command.stage, command.requested_on, received, request_due,
                        decision_due, uow.now, tz, **_by(command.caller))
    return _view(uow, case, tz)


def decide_review(command: DecideReview, uow: UnitOfWork, *, tz) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    case.decide_review(command.stage, command.opinion, command.summary, command.issued_on,
                       uow.now, tz, **_by(command.caller))
    return _view(uow, case, tz)


def hold_joint_meeting(command: HoldJointMeeting, uow: UnitOfWork, *, tz) -> dict:
    case = _mediators_case(uow, command.case_id, command.caller)
    case.hold_joint_meeting(command.held_on, list(command.participants), list(command.agenda),
                            [dict(d) for d in command.decisions], uow.now, tz,
                            **_by(command.caller))
    return _view(uow, case, tz)


# -- documents (文书) ---------------------------------------------------------------------------
def documents(case_id: str, caller: Caller, uow: UnitOfWork) -> dict:
    """GET /cases/{id}/documents: what the case's events back, issued or not yet."""
    case = _mediators_case(uow, case_id, caller)
    return document_list(case, document_sources(uow.store.read_stream(case.stream_id)))


def issue_document(command: IssueDocument, uow: UnitOfWork, *, tz, names) -> dict:
    """GET /cases/{id}/documents/{document}.pdf: the PDF, drawn up from the case as it
    stood after the event that backs it; DocumentIssued the first time, and the same
    digest every time after — or 409 if it can no longer be made the same (a party's
    data erased since, or the directory renamed the unit or the mediator)."""
    case = _mediators_case(uow, command.case_id, command.caller)
    recorded = list(uow.store.read_stream(case.stream_id))
    source = find_source(document_sources(recorded), case.id, command.document)
    as_then = MediationCase.load(case.id, [e for e in recorded if e.version <= source.version])
    made = pdf.render(compose(as_then, source, names, tz))
    digest = pdf.digest(made)
    issued = case.documents.get(source.document)
    if issued is None:
        case.issue_document(source.document, source.kind, source.title, source.version,
                            digest, len(made), uow.now, **_by(command.caller))
        issued = case.documents[source.document]
    elif issued["digest"] != digest:
        raise DomainError(f"document {source.document} was issued with digest "
                          f"{issued['digest']}; drawn up again it differs (a party's data "
                          "erased, or the directory's names changed since): not served")
    return {"document": source.document, "title": source.title, "digest": digest,
            "issued_at": issued["issued_at"],
            "case_number": case.registration.get("case_number"), "pdf": made}


# -- agencies' replies and rulings (gm.inbound) ----------------------------------------------
def reply_to_handoff(command: ReplyToHandOff, uow: UnitOfWork, *, tz, calendar) -> str:
    """Settled: nothing is sent back (CONTRACT.md §4 answers only rejections); the
    message's key, recorded with no answer, makes a re-sent copy change nothing."""
    agency, data = command.message.agency, command.message.data
    handoff = uow.load(HandOff, data["handoff_id"])
    ruling_due_at = (ruling_due(uow.now, calendar, tz)[0]
                     if handoff.kind == JUDICIAL_CONFIRMATION else None)
    handoff.reply(agency, data["decision"], data.get("agency_case_number"), data.get("reason"),
                  uow.now, ruling_due_at=ruling_due_at, **_from_agency(command.message))
    return handoff.pending[-1].type


def rule_on_confirmation(command: RuleOnConfirmation, uow: UnitOfWork) -> str:
    agency, data = command.message.agency, command.message.data
    handoff = uow.load(HandOff, data["handoff_id"])
    handoff.rule(agency, data["confirmed"], data.get("ruling_number"), data.get("reason"),
                 uow.now, **_from_agency(command.message))
    return handoff.pending[-1].type


def _from_agency(message) -> dict:
    return dict(actor=f"agency:{message.agency}", causation_id=message.message_id)


# -- the hand-off watch ------------------------------------------------------------------------
def mark_overdue(command: MarkHandOffOverdue, uow: UnitOfWork) -> bool:
    """HandOffOverdue, once; False when the hand-off is no longer overdue (settled, or
    marked by another replica meanwhile)."""
    handoff = uow.load(HandOff, command.handoff_id)
    if not handoff.overdue_at(uow.now):
        return False
    handoff.raise_overdue(uow.now, actor=WATCH_ACTOR)
    return True


COMMANDS = {
    HoldSession: hold_session,
    RecordDuty: record_duty,
    ReachAgreement: reach_agreement,
    RequestConfirmation: request_confirmation,
    RecordFailure: record_failure,
    Withdraw: withdraw,
    RecordFollowUp: record_follow_up,
    RateCase: rate_case,
    DecideAcceptance: decide_acceptance,
    AnswerPetition: answer_petition,
    RequestReview: request_review,
    DecideReview: decide_review,
    IssueDocument: issue_document,
    HoldJointMeeting: hold_joint_meeting,
    ReplyToHandOff: reply_to_handoff,
    RuleOnConfirmation: rule_on_confirmation,
    MarkHandOffOverdue: mark_overdue,
}


# -- intake's and assignment's events ----------------------------------------------------------
def open_case(event: RecordedEvent, uow: UnitOfWork) -> None:
    """CaseRegistered → MediationOpened."""
    case = uow.load(MediationCase, case_id_of(event))
    if not case.opened:
        case.open(event.data, actor=event.actor, agency=event.agency, causation_id=event.id,
                  occurred_at=uow.now)


def assign_mediator(event: RecordedEvent, uow: UnitOfWork) -> None:
    """AssignmentMade, CaseEscalated, CaseReassigned, DeadlineExtended,
    HandlingPeriodStarted → MediatorAssigned, while the case is open."""
    case = uow.load(MediationCase, case_id_of(event))
    case.follow_assignment(event.type, event.data, actor=event.actor, causation_id=event.id,
                           occurred_at=uow.now)


# -- the process manager: this service's own events ------------------------------------------
def request_handoff(event: RecordedEvent, uow: UnitOfWork, *, tz, calendar) -> None:
    """The case decided to hand off → HandOffRequested and `<agency>.handoff_requested`, in
    one commit. The case's event chose the hand-off's id, so a replay finds its stream
    already there and does nothing."""
    decided = handoff_decided(event.type, event.data)
    if decided is None or uow.load(HandOff, decided.handoff_id).exists:
        return
    handoff = uow.load(HandOff, decided.handoff_id)
    case = uow.get(MediationCase, case_id_of(event))
    due_at, rule = handoff_due(decided.kind, event.occurred_at, calendar, tz)
    handoff.request(case.id, case.registration["case_number"], decided.agency, decided.kind,
                    decided.agreement, event.occurred_at, due_at, rule.id, actor=event.actor,
                    causation_id=event.id, occurred_at=event.occurred_at)
    uow.send(answers.outbound(decided.agency, "handoff_requested",
                              handoff_requested(handoff, case)))


def settle_case(event: RecordedEvent, uow: UnitOfWork) -> None:
    """An agency answered a hand-off → the case closes or mediation reopens."""
    case = uow.load(MediationCase, case_id_of(event))
    if case.awaits(event.data["handoff_id"]) is None:
        # cannot happen while commands refuse to act on a waiting case
        log.warning("case %s does not wait on hand-off %s; %s ignored", case.id,
                    event.data["handoff_id"], event.type)
        return
    case.settle(event.type, event.data, event.occurred_at, actor=event.actor,
                agency=event.agency, causation_id=event.id)


EVENTS = {
    intake_events.CaseRegistered: open_case,
    assignment_events.AssignmentMade: assign_mediator,
    assignment_events.CaseEscalated: assign_mediator,
    assignment_events.CaseReassigned: assign_mediator,
    assignment_events.DeadlineExtended: assign_mediator,
    assignment_events.HandlingPeriodStarted: assign_mediator,
    events.ConfirmationRequested: request_handoff,
    events.MediationFailed: request_handoff,
    events.HandOffAccepted: settle_case,
    events.HandOffRejected: settle_case,
    events.ConfirmationRuled: settle_case,
}


# -- what agencies are told of the case's events -------------------------------------------------
def case_outcome(event: NewEvent) -> Optional[OutboxMessage]:
    """`<agency>.case_outcome` for a closing case that an agency referred."""
    data = event.data
    if not (data.get("source_agency") and data.get("referral_id")):
        return None
    return answers.outbound(data["source_agency"], "case_outcome", {
        "referral_id": data["referral_id"], "case_id": data["case_id"],
        "outcome": data["outcome"], "closed_at": data["closed_at"], "summary": data["summary"],
    })


OUTBOX_RULES = {events.CaseClosed: case_outcome}


@dataclass
class Mediation(Application):
    """The mediation service's application: its bus, feeds and the hand-off watch."""

    open_handoffs: Optional[OpenHandOffs] = None

    def watch_handoffs(self) -> Dict[str, int]:
        """Raise HandOffOverdue, once, for each hand-off whose agency let its deadline
        pass. Replicas may run this at the same time: the append at the version read
        lets one of them record it; the other finds it no longer due."""
        done = {"overdue": 0, "failed": 0}
        for handoff_id in self.open_handoffs.overdue(self.bus.clock()):
            try:
                if self.bus.handle(MarkHandOffOverdue(handoff_id)):
                    done["overdue"] += 1
            except ConcurrencyError:
                continue  # settled or marked meanwhile, again and again; the next run looks
            except Exception as exc:  # one bad hand-off must not stop the others
                log.error("hand-off watch: %s: %s: %s", handoff_id, type(exc).__name__, exc)
                done["failed"] += 1
        return done
