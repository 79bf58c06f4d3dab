"""Mediation's service layer: load, decide, append — every step one atomic commit.

Four ways in, no Nameko here:

- mediators' commands (HTTP and RPC): load the case, decide, append at the version read;
  a concurrent change is decided again on the fresh state (optimistic concurrency), and
  an idempotency key recorded in the same commit makes a retried command one effect;
- other services' events (intake, assignment), through `gm_platform.feed.EventFeed`:
  each applied once, in its source's order, committed with its tracking record;
- this service's own events, through a feed over its own log (a process manager):
  a step that spans two streams — a case decided to hand off → the hand-off is
  requested; an agency answered → the case closes or reopens — is the second commit of
  a pair, made exactly once even if the process dies between the two;
- agencies' replies and rulings on gm.inbound, each answered `rejected` unless it
  settles a hand-off, and recorded with its message id so a re-sent one changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Dict, List, Mapping, Optional
from zoneinfo import ZoneInfo

from gm_contracts.inbound import InboundRejected, parse_inbound
from gm_kernel.follow import LogFollower
from gm_kernel import (
    NO_STREAM,
    ConcurrencyError,
    DomainError,
    DuplicateMessage,
    EventStore,
    OutboxMessage,
    Processed,
    RecordedEvent,
    Tracking,
    format_time,
    new_id,
    parse_time,
    utcnow,
)
from gm_platform import answers, topology
from gm_platform.consumer import Delivery

from gm_kernel.calendar import WorkingCalendar

from .domain import (
    JUDICIAL_CONFIRMATION,
    NEXT_STEPS,
    NO_NEXT_STEP,
    PETITION_NOTICE,
    REVIEW_DECISION,
    REVIEW_REQUEST,
    HandOff,
    MediationCase,
    ReplyRefused,
    case_view,
    confirmation_window,
    count,
    count_from_day,
    handoff_due,
    ruling_due,
)

log = logging.getLogger(__name__)

COMMAND_RETRIES = 8
WATCH_ACTOR = "mediation:handoff-watch"
# Assignment's events that (re)name who mediates the case or move its deadline, and why.
ASSIGNMENT_REASONS = {"AssignmentMade": "assigned", "CaseEscalated": "escalated",
                      "CaseReassigned": "reassigned", "DeadlineExtended": "extended",
                      "HandlingPeriodStarted": "handling_period"}
SETTLING_EVENTS = ("HandOffAccepted", "HandOffRejected", "ConfirmationRuled")


class CaseNotFound(LookupError):
    """No mediation case with this id (never registered, or not yet seen here)."""


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came with a different command."""


@dataclass(frozen=True)
class Caller:
    """Who sends a command: the principal's subject (HTTP) or the named actor (RPC), its
    optional idempotency key, and the region check of its token."""

    actor: str
    idempotency_key: Optional[str] = None
    may_see: Callable[[Optional[str]], None] = field(default=lambda region: None)


class OpenHandOffs(LogFollower):
    """Unsettled hand-offs and their deadlines, read from this service's own log — the
    watch's work list. Every replica reads the same log, so each sees every hand-off."""

    def __init__(self, store: EventStore):
        super().__init__(store)
        self.due: Dict[str, datetime] = {}

    def apply(self, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "HandOffRequested":
            self.due[data["handoff_id"]] = parse_time(data["due_at"])
        elif event.type == "HandOffAccepted" and data.get("kind") == JUDICIAL_CONFIRMATION:
            # the court still has to rule, by then (older events kept the first deadline)
            if data.get("due_at") and data["handoff_id"] in self.due:
                self.due[data["handoff_id"]] = parse_time(data["due_at"])
        elif event.type in (*SETTLING_EVENTS, "HandOffOverdue"):
            self.due.pop(data["handoff_id"], None)

    def overdue(self, now: datetime) -> List[str]:
        self.refresh()
        return [hid for hid, due in sorted(self.due.items(), key=lambda kv: kv[1]) if now > due]


class FinalPetitions(LogFollower):
    """Cases whose petition matter was finally decided on re-review (复核), read from this
    service's own log: the same matter is not accepted again."""

    def __init__(self, store: EventStore):
        super().__init__(store)
        self.cases: set = set()

    def apply(self, event: RecordedEvent) -> None:
        if event.type == "ReviewDecided" and event.data.get("final"):
            self.cases.add(event.data["case_id"])

    def final_among(self, case_ids) -> Optional[str]:
        self.refresh()
        return next((c for c in case_ids if c in self.cases), None)


class Mediation:
    """Mediation cases and hand-offs of one service process."""

    def __init__(self, store: EventStore, tz: str, clock: Callable[[], datetime],
                 calendar: WorkingCalendar):
        self.store = store
        self.tz = ZoneInfo(tz)
        self.clock = clock
        self.calendar = calendar
        self.open_handoffs = OpenHandOffs(store)
        self.final_petitions = FinalPetitions(store)

    # -- loading -------------------------------------------------------------------------
    def load_case(self, case_id: str) -> MediationCase:
        return MediationCase.load(case_id, self.store.read_stream(
            MediationCase.stream_prefix + case_id))

    def load_handoff(self, handoff_id: str) -> HandOff:
        return HandOff.load(handoff_id, self.store.read_stream(HandOff.stream_prefix + handoff_id))

    def _existing_case(self, case_id: str) -> MediationCase:
        case = self.load_case(case_id)
        if not case.exists:
            raise CaseNotFound(case_id)
        return case

    def view(self, case_id: str, may_see: Callable[[Optional[str]], None] = lambda r: None
             ) -> dict:
        case = self._existing_case(case_id)
        may_see(case.region)
        return self._view(case, self.clock())

    def _view(self, case: MediationCase, now: datetime) -> dict:
        handoffs = {h["handoff_id"]: self.load_handoff(h["handoff_id"]) for h in case.handoffs}
        return case_view(case, handoffs, now, self.tz)

    # -- the mediator's commands (CONTRACT.md §5) ------------------------------------------
    def hold_session(self, case_id: str, held_on: date, notes: str, caller: Caller) -> dict:
        return self._command(
            case_id, "session", {"held_on": held_on.isoformat(), "notes": notes}, caller,
            lambda case, now, meta: case.hold_session(held_on, notes, now, self.tz, **meta))

    def record_duty(self, case_id: str, duty: str, note: str, caller: Caller) -> dict:
        return self._command(
            case_id, f"duty:{duty}", {"note": note}, caller,
            lambda case, now, meta: case.record_duty(duty, note, now, **meta))

    def reach_agreement(self, case_id: str, terms: str, signed_on: date, caller: Caller) -> dict:
        window = confirmation_window(signed_on, self.calendar, self.tz).due_at
        return self._command(
            case_id, "agreement", {"terms": terms, "signed_on": signed_on.isoformat()}, caller,
            lambda case, now, meta: case.reach_agreement(terms, signed_on, now, self.tz,
                                                         window_ends_at=window, **meta))

    def request_confirmation(self, case_id: str, caller: Caller,
                             applicants: Optional[List[str]] = None,
                             applied_on: Optional[date] = None) -> dict:
        payload = {"applicants": applicants,
                   "applied_on": applied_on.isoformat() if applied_on else None}
        return self._command(
            case_id, "confirmation-request", payload, caller,
            lambda case, now, meta: case.request_confirmation(
                new_id(), now, self.tz, applicants=applicants, applied_on=applied_on, **meta))

    # -- a petition matter's statutory steps (信访工作条例) --------------------------------
    def decide_acceptance(self, case_id: str, decision: str, notified_on: date,
                          caller: Caller, simple: bool = False, reason: Optional[str] = None,
                          route: Optional[str] = None) -> dict:
        def act(case: MediationCase, now: datetime, meta: dict) -> None:
            registered = case.registration.get("registered_at")
            notice_due, _ = count(PETITION_NOTICE, parse_time(registered) if registered
                                  else now, self.calendar, self.tz)
            earlier = [e.get("case_id") for e in case.registration.get("repeat_of") or []]
            case.decide_acceptance(decision, notified_on, now, self.tz, notice_due.due_at,
                                   simple=simple, reason=reason, route=route,
                                   final_earlier=self.final_petitions.final_among(earlier),
                                   **meta)
        return self._command(case_id, "petition-acceptance", {
            "decision": decision, "notified_on": notified_on.isoformat(), "simple": simple,
            "reason": reason, "route": route}, caller, act)

    def answer_petition(self, case_id: str, opinion: str, summary: str, issued_on: date,
                        caller: Caller) -> dict:
        return self._command(
            case_id, "petition-answer", {"opinion": opinion, "summary": summary,
                                         "issued_on": issued_on.isoformat()}, caller,
            lambda case, now, meta: case.answer_petition(opinion, summary, issued_on, now,
                                                         self.tz, **meta))

    def request_review(self, case_id: str, stage: str, requested_on: date,
                       received_on: Optional[date], caller: Caller) -> dict:
        def act(case: MediationCase, now: datetime, meta: dict) -> None:
            answered = (case.petition.get("answered") or {}).get("issued_on")
            received = received_on or (date.fromisoformat(answered) if answered
                                       and stage == "review" else requested_on)
            request_due, _ = count_from_day(REVIEW_REQUEST[stage], received, self.calendar,
                                            self.tz)
            decision_due, _ = count_from_day(REVIEW_DECISION[stage], requested_on,
                                             self.calendar, self.tz)
            case.request_review(stage, requested_on, received, request_due.due_at,
                                decision_due.due_at, now, self.tz, **meta)
        return self._command(case_id, f"review:{stage}", {
            "requested_on": requested_on.isoformat(),
            "received_on": received_on.isoformat() if received_on else None}, caller, act)

    def decide_review(self, case_id: str, stage: str, opinion: str, summary: str,
                      issued_on: date, caller: Caller) -> dict:
        return self._command(
            case_id, f"review-decision:{stage}", {"opinion": opinion, "summary": summary,
                                                  "issued_on": issued_on.isoformat()},
            caller, lambda case, now, meta: case.decide_review(stage, opinion, summary,
                                                               issued_on, now, self.tz, **meta))

    def record_failure(self, case_id: str, reason: str, next_step: str, caller: Caller) -> dict:
        def act(case: MediationCase, now: datetime, meta: dict) -> None:
            handoff_id = new_id() if next_step != NO_NEXT_STEP else None
            case.fail(reason, next_step, handoff_id, now, **meta)
        return self._command(case_id, "failure", {"reason": reason, "next": next_step},
                             caller, act)

    def withdraw(self, case_id: str, reason: str, caller: Caller) -> dict:
        return self._command(case_id, "withdrawal", {"reason": reason}, caller,
                             lambda case, now, meta: case.withdraw(reason, now, **meta))

    def record_follow_up(self, case_id: str, satisfaction: int, petition_ceased: bool,
                         caller: Caller) -> dict:
        return self._command(
            case_id, "follow-up",
            {"satisfaction": satisfaction, "petition_ceased": petition_ceased}, caller,
            lambda case, now, meta: case.record_follow_up(satisfaction, petition_ceased, now,
                                                          **meta))

    def _command(self, case_id: str, name: str, payload: Mapping[str, Any], caller: Caller,
                 act: Callable[[MediationCase, datetime, dict], None]) -> dict:
        """Load, check the caller's region, act, append at the version read; on a
        concurrent change decide again on the fresh state. With an idempotency key the
        answer is recorded in the same commit, and a retry gets that answer back."""
        fingerprint = hashlib.sha256(json.dumps([case_id, name, payload], sort_keys=True,
                                                ensure_ascii=False).encode()).hexdigest()
        key = (f"command:{caller.actor}:{caller.idempotency_key[:200]}"
               if caller.idempotency_key else None)
        if key:
            earlier = self.store.processed_result(key)
            if earlier is not None:
                return self._answer_again(earlier.result, fingerprint)
        command_id = new_id()  # the causation id of what this command records
        for attempt in range(COMMAND_RETRIES):
            case = self._existing_case(case_id)
            caller.may_see(case.region)
            now = self.clock()
            act(case, now, {"actor": caller.actor, "causation_id": command_id})
            view = self._view(case, now)
            processed = ([Processed(key, {"fingerprint": fingerprint, "response": view})]
                         if key else [])
            try:
                self.store.append(case.stream_id, case.version_before, case.pending,
                                  outbox=self._outcome_messages(case), processed=processed)
                return view
            except ConcurrencyError:
                # Another command (or a feed) moved the case on: decide again on the fresh
                # state after a short, jittered pause so retries do not collide again.
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
            except DuplicateMessage as dup:
                if key and dup.key == key:  # the same command, committed by a twin request
                    return self._answer_again(dup.result, fingerprint)
                raise
        raise ConcurrencyError(MediationCase.stream_prefix + case_id, -1, -1)

    @staticmethod
    def _answer_again(result: Optional[Mapping[str, Any]], fingerprint: str) -> dict:
        if not result or result.get("fingerprint") != fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used for another command")
        return dict(result["response"])

    def _outcome_messages(self, case: MediationCase) -> List[OutboxMessage]:
        """`<agency>.case_outcome` for a closing case that an agency referred."""
        messages = []
        for event in case.pending:
            data = event.data
            if event.type == "CaseClosed" and data.get("source_agency") and data.get("referral_id"):
                messages.append(answers.outbound(data["source_agency"], "case_outcome", {
                    "referral_id": data["referral_id"], "case_id": data["case_id"],
                    "outcome": data["outcome"], "closed_at": data["closed_at"],
                    "summary": data["summary"],
                }))
        return messages

    def _append_case(self, case: MediationCase, tracking: Optional[Tracking] = None) -> None:
        self.store.append(case.stream_id, case.version_before, case.pending,
                          outbox=self._outcome_messages(case), tracking=tracking)

    # -- intake's and assignment's events (EventFeed appliers) ----------------------------
    def on_intake_event(self, event: RecordedEvent, tracking: Tracking) -> bool:
        """CaseRegistered → MediationOpened."""
        if event.type != "CaseRegistered":
            return False
        case = self.load_case(event.data["case_id"])
        if case.opened:
            return False
        case.open(event.data, actor=event.actor, agency=event.agency, causation_id=event.id,
                  occurred_at=self.clock())
        self._append_case(case, tracking)
        return True

    def on_assignment_event(self, event: RecordedEvent, tracking: Tracking) -> bool:
        """AssignmentMade, CaseEscalated, CaseReassigned, DeadlineExtended →
        MediatorAssigned (an extension changes only `due_at`). Once the
        case is closed, a late escalation or reassignment changes nothing here."""
        reason = ASSIGNMENT_REASONS.get(event.type)
        if reason is None:
            return False
        case_id = event.correlation_id or event.stream_id.removeprefix("assignment-")
        case = self.load_case(case_id)
        if case.closed:
            return False
        case.assign(event.data, reason, actor=event.actor, causation_id=event.id,
                    occurred_at=self.clock())
        self._append_case(case, tracking)
        return True

    # -- the process manager: this service's own events -----------------------------------
    def on_own_event(self, event: RecordedEvent, tracking: Tracking) -> bool:
        """The second commit of every two-stream step, made exactly once (the feed's
        tracking record is part of it)."""
        data = event.data
        if event.type == "ConfirmationRequested":
            return self._request_handoff(event, tracking, "court", JUDICIAL_CONFIRMATION,
                                         data["agreement"])
        if event.type == "MediationFailed" and data.get("handoff_id"):
            return self._request_handoff(event, tracking, NEXT_STEPS[data["next"]],
                                         data["next"], None)
        if event.type in SETTLING_EVENTS:
            return self._settle_case(event, tracking)
        return False

    def _request_handoff(self, event: RecordedEvent, tracking: Tracking, agency: str,
                         kind: str, agreement: Optional[Mapping[str, Any]]) -> bool:
        """The case decided to hand off → HandOffRequested and `<agency>.handoff_requested`,
        in one commit. The hand-off id was chosen by the case's event, so a replay finds
        the stream already there and does nothing."""
        handoff = self.load_handoff(event.data["handoff_id"])
        if handoff.exists:
            return False
        case = self.load_case(event.correlation_id or event.stream_id.removeprefix("mediation-"))
        reg = case.registration
        requested_at = event.occurred_at
        due_at, rule = handoff_due(kind, requested_at, self.calendar, self.tz)
        handoff.request(case.id, reg["case_number"], agency, kind, agreement, requested_at,
                        due_at, rule.id, actor=event.actor, causation_id=event.id,
                        occurred_at=requested_at)
        message = answers.outbound(agency, "handoff_requested", {
            "handoff_id": handoff.id, "case_id": case.id, "case_number": reg["case_number"],
            "kind": kind, "summary": reg["summary"],
            "parties": reg["parties"],
            "agreement": dict(agreement) if agreement is not None else None,
            "due_at": format_time(due_at),
        })
        self.store.append(handoff.stream_id, NO_STREAM, handoff.pending, outbox=[message],
                          tracking=tracking)
        return True

    def _settle_case(self, event: RecordedEvent, tracking: Tracking) -> bool:
        """An agency answered a hand-off → the case closes or mediation reopens."""
        data = event.data
        case = self.load_case(data["case_id"])
        pending = case.awaits(data["handoff_id"])
        if pending is None:  # cannot happen while commands refuse to act on a waiting case
            log.warning("case %s does not wait on hand-off %s; %s ignored", case.id,
                        data["handoff_id"], event.type)
            return False
        meta = dict(actor=event.actor, agency=event.agency, causation_id=event.id)
        at = event.occurred_at
        if event.type == "HandOffAccepted":
            if pending["kind"] == JUDICIAL_CONFIRMATION:
                return False  # the court accepted the application; its ruling settles it
            case.close_handed_off(data["handoff_id"], data.get("agency_case_number"), at,
                                  **meta)
        elif event.type == "HandOffRejected":
            case.reopen(data["handoff_id"],
                        _because(f"{data['agency']} rejected the {pending['kind']} hand-off",
                                 data.get("reason")), at, **meta)
        elif data["confirmed"]:
            case.confirm(data["handoff_id"], data.get("ruling_number"), at, **meta)
        else:
            case.reopen(data["handoff_id"],
                        _because("the court refused judicial confirmation", data.get("reason")),
                        at, **meta)
        self._append_case(case, tracking)
        return True

    # -- agencies' replies and rulings (gm.inbound) ----------------------------------------
    def handle_inbound(self, delivery: Delivery) -> str:
        """Settle a hand-off with `<agency>.handoff_reply` / `court.confirmation_ruling`,
        or answer `<agency>.rejected` (and keep the message in the dead-letter store)."""
        try:
            message = parse_inbound(delivery.routing_key, delivery.body, delivery.message_id,
                                    delivery.properties.get("content_type"),
                                    properties=delivery.properties, headers=delivery.headers)
            if message.type not in topology.MEDIATION_INBOUND_TYPES:
                raise InboundRejected(
                    "not for mediation", {"type": [f"{message.type} is not handled here"]},
                    agency=message.agency, message_id=message.message_id, type=message.type,
                    referral_id=None, routing_key=delivery.routing_key)
        except InboundRejected as rejected:
            return answers.reject(self.store, delivery, rejected)
        agency, data = message.agency, message.data
        key = answers.message_key(agency, message.message_id)
        earlier = self.store.processed_result(key)
        if earlier is not None:  # the same message again: its original answer, if any
            answers.answer_again(self.store, earlier.result, delivery.redelivered)
            return "duplicate"
        for attempt in range(COMMAND_RETRIES):
            handoff = self.load_handoff(data["handoff_id"])
            now = self.clock()
            meta = dict(actor=f"agency:{agency}", causation_id=message.message_id)
            try:
                if message.type == "handoff_reply":
                    handoff.reply(agency, data["decision"], data.get("agency_case_number"),
                                  data.get("reason"), now,
                                  ruling_due_at=ruling_due(now, self.calendar, self.tz)[0]
                                  if handoff.kind == JUDICIAL_CONFIRMATION else None, **meta)
                else:
                    handoff.rule(agency, data["confirmed"], data.get("ruling_number"),
                                 data.get("reason"), now, **meta)
            except ReplyRefused as refused:
                return answers.reject(self.store, delivery, InboundRejected(
                    "illegal state", refused.errors, agency=agency,
                    message_id=message.message_id, type=message.type, referral_id=None,
                    routing_key=delivery.routing_key))
            try:
                # Settled: nothing to send back (CONTRACT.md §4 answers only rejections);
                # the key, with no answer, makes a re-sent copy a no-op.
                self.store.append(handoff.stream_id, handoff.version_before, handoff.pending,
                                  processed=[Processed(key, None)])
                return handoff.pending[-1].type
            except ConcurrencyError:
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
            except DuplicateMessage as dup:
                answers.answer_again(self.store, dup.result, delivery.redelivered)
                return "duplicate"
        raise ConcurrencyError(HandOff.stream_prefix + data["handoff_id"], -1, -1)

    # -- the hand-off deadline watch --------------------------------------------------------
    def watch_handoffs(self) -> Dict[str, int]:
        """Raise HandOffOverdue, once, for each hand-off whose agency let its deadline
        pass. Replicas may run this at the same time: the append at the version read
        lets one of them record it; the other finds it no longer due."""
        now = self.clock()
        done = {"overdue": 0, "failed": 0}
        for handoff_id in self.open_handoffs.overdue(now):
            try:
                handoff = self.load_handoff(handoff_id)
                if not handoff.overdue_at(now):
                    continue
                handoff.raise_overdue(now, actor=WATCH_ACTOR)
                self.store.append(handoff.stream_id, handoff.version_before, handoff.pending)
                done["overdue"] += 1
            except ConcurrencyError:
                continue  # settled or marked meanwhile; the next run looks again
            except Exception as exc:  # one bad hand-off must not stop the others
                log.error("hand-off watch: %s: %s: %s", handoff_id, type(exc).__name__, exc)
                done["failed"] += 1
        return done


def _because(what: str, reason: Optional[str]) -> str:
    return f"{what}: {reason}" if reason else what
