"""Intake's service layer: load, decide, append — one atomic commit per handled message.

Every agency message is answered exactly as CONTRACT.md §2–4 says, and the answer is
recorded with its idempotency keys in the same commit, so a re-sent message (same id, or
same agency + referral_id) is answered again with the original answer and creates nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, List, Optional, Tuple
from zoneinfo import ZoneInfo

from gm_directory import Directory
from gm_contracts.inbound import InboundMessage, InboundRejected, parse_inbound
from gm_kernel import (
    NO_STREAM,
    DuplicateMessage,
    EventStore,
    OutboxMessage,
    Processed,
    RecordedEvent,
    Tracking,
    new_id,
    utcnow,
)
from gm_kernel.follow import LogFollower
from gm_platform import answers, topology
from gm_platform.consumer import Delivery

from gm_platform.http import BadRequest, Conflict

from .domain.case import (
    REFERRAL_CHANNEL,
    RISK_CHANNEL,
    Case,
    EarlierCase,
    Party,
    Registration,
    case_number,
    decide_flags,
)
from .domain.repeat import RepeatIndex
from .domain.screening import RiskAssessment, ScreeningReport

log = logging.getLogger(__name__)

MAX_NUMBER_RETRIES = 50


@dataclass(frozen=True)
class Registered:
    case_id: str
    case_number: str
    created: bool = True

    def as_dict(self) -> dict:
        return {"case_id": self.case_id, "case_number": self.case_number}


class RegionNotServed(ValueError):
    """The region's county is not in this deployment's directory."""


class UnknownLeader(ValueError):
    """A leader reception day names someone the directory does not list as a leader."""


class RegisteredApplicants(LogFollower):
    """The repeat index, fed from this service's own log by every case registered with
    an applicant's id number (by any instance sharing the store)."""

    def __init__(self, store: EventStore, tz: ZoneInfo):
        super().__init__(store)
        self.tz = tz
        self.index = RepeatIndex()

    def apply(self, event: RecordedEvent) -> None:
        if event.type != "CaseRegistered":
            return
        d = event.data
        at = event.occurred_at.astimezone(self.tz)
        earlier = EarlierCase(d["case_id"], d["case_number"], d["registered_at"])
        for p in d["parties"]:
            if p.get("role") == "applicant" and p.get("id_number"):
                self.index.add(p["id_number"], d["category"], earlier, at)


class Intake:
    """Registers cases from every channel; answers and dead-letters agency messages."""

    def __init__(self, store: EventStore, directory: Directory, tz: str = "Asia/Shanghai",
                 clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.directory = directory
        self.tz = ZoneInfo(tz)
        self.clock = clock
        self._applicants = RegisteredApplicants(store, self.tz)

    # -- the agency side (gm.inbound) ------------------------------------------------------
    def handle_inbound(self, delivery: Delivery) -> str:
        """Answer one message from gm.inbound; returns what happened (for logs and metrics)."""
        if topology.is_for_mediation(delivery.routing_key):
            return "left to mediation"
        try:
            message = parse_inbound(delivery.routing_key, delivery.body, delivery.message_id,
                                    delivery.properties.get("content_type"),
                                    properties=delivery.properties, headers=delivery.headers)
            if message.type != "referral":
                # parse_inbound knows every inbound type; only referrals reach intake.
                raise InboundRejected(
                    agency=message.agency, message_id=message.message_id, type=message.type,
                    referral_id=None, errors={"type": [f"{message.type} is not handled here"]},
                    reason="not a referral")
            self._check_region(message.data["region"])
        except InboundRejected as rejected:
            return answers.reject(self.store, delivery, rejected)
        except RegionNotServed as exc:
            return answers.reject(self.store, delivery, InboundRejected(
                agency=message.agency, message_id=message.message_id, type=message.type,
                referral_id=message.data.get("referral_id"), errors={"region": [str(exc)]},
                reason="region not served"))
        return self._register_referral(message, delivery.redelivered)

    def _register_referral(self, message: InboundMessage, redelivered: bool = False) -> str:
        agency, data = message.agency, message.data
        message_key = answers.message_key(agency, message.message_id)
        referral_key = f"referral:{agency}:{data['referral_id']}"
        for key in (message_key, referral_key):
            earlier = self.store.processed_result(key)
            if earlier is not None:
                return self._answer_duplicate(earlier.result, key, message_key, redelivered)
        reg = Registration(
            channel=REFERRAL_CHANNEL,
            category=data["category"],
            summary=data["summary"],
            region=data["region"],
            parties=[Party(**p) for p in data["parties"]],
            headcount=data.get("headcount", 1),
            source_agency=agency,
            referral_id=data["referral_id"],
            kind=data["kind"],
            procedure=data.get("procedure"),
            requested_days=data.get("requested_days"),
        )

        def answer(registered: Registered) -> Tuple[List[Processed], List[OutboxMessage]]:
            body = {"referral_id": data["referral_id"], **registered.as_dict()}
            result, outbox = answers.answer(agency, "referral_accepted", body)
            return [Processed(message_key, result), Processed(referral_key, result)], [outbox]

        try:
            self.register(reg, actor=f"agency:{agency}", agency=agency,
                          causation_id=message.message_id, answer=answer)
        except DuplicateMessage as dup:  # another instance handled the same referral
            return self._answer_duplicate(dup.result, dup.key, message_key, redelivered)
        return "registered"

    def _answer_duplicate(self, result: Optional[dict], found_key: str, message_key: str,
                          redelivered: bool) -> str:
        """The message, or another about the same referral (CONTRACT §2), was answered:
        the same answer again, except to a redelivery of a message already answered."""
        if found_key == message_key:
            again = answers.answer_again(self.store, result, redelivered)
        else:
            again = answers.answer_again(self.store, result, record=message_key)
        return "duplicate answered again" if again else "duplicate"

    def _check_region(self, region: str) -> None:
        if not self.directory.serves(region):
            raise RegionNotServed(f"county {region[:6]} is not served by this deployment")

    # -- registration, every channel ---------------------------------------------------------
    def register(self, reg: Registration, *, actor: str, agency: Optional[str] = None,
                 causation_id: Optional[str] = None,
                 answer: Optional[Callable[[Registered], Tuple[List[Processed],
                                                               List[OutboxMessage]]]] = None,
                 ) -> Registered:
        """Register a case: flags, a case number unique per county and year, one commit.

        The case number is claimed through a tracking record (name = county and year,
        position = the number), which the store refuses twice: two instances racing for
        the same number cannot both win, and the loser retries with the next one.
        """
        self._check_region(reg.region)
        if reg.leader is not None and self.directory.find_leader(reg.leader) is None:
            raise UnknownLeader(f"{reg.leader!r} is not a leader in the directory")
        now = self.clock()
        local = now.astimezone(self.tz)
        earlier = self._earlier_cases(reg, local)
        flags = decide_flags(reg, earlier)
        case_id = new_id()
        counter = f"case-number:{reg.region[:6]}:{local.year}"
        for _ in range(MAX_NUMBER_RETRIES):
            sequence = self.store.tracked_position(counter) + 1
            number = case_number(reg.region[:6], local.year, sequence)
            registered = Registered(case_id, number)
            keys, outbox = answer(registered) if answer else ([], [])
            case = Case(case_id)
            case.register(reg, number, flags, earlier, now, actor=actor, agency=agency,
                          correlation_id=case_id, causation_id=causation_id)
            try:
                self.store.append(case.stream_id, NO_STREAM, case.pending, outbox=outbox,
                                  processed=keys, tracking=Tracking(counter, sequence))
                return registered
            except DuplicateMessage as dup:
                if dup.key in {k.key for k in keys}:
                    raise
                continue  # someone took this number first
        raise RuntimeError(f"could not allocate a case number for {counter}")

    # -- screening reports (排查) and risk assessments (稳评) ---------------------------------
    def file_screening(self, body: dict, actor: str) -> Tuple[int, dict]:
        """File a unit's report for a period; each finding registers a screening case.

        Filing the same report again (a client retry) registers whatever findings are
        still missing and answers with the same cases; different content is a conflict.
        """
        if body["unit"] not in self.directory:
            raise BadRequest({"unit": ["not a unit in this deployment's directory"]})
        unit = self.directory.unit(body["unit"])
        findings = [dict(f, region=f.get("region") or unit.code) for f in body["findings"]]
        errors = {f"findings.{i}.region": ["must lie within the reporting unit"]
                  for i, f in enumerate(findings) if not f["region"].startswith(unit.code)}
        if errors:
            raise BadRequest(errors)
        report = ScreeningReport.load(f"{unit.code}:{body['period']}",
                                      self.store.read_stream(
                                          f"screening-{unit.code}:{body['period']}"))
        status = 200
        if report.exists:
            if report.findings != findings:
                raise Conflict(f"{unit.code} already filed a different report for "
                               f"{body['period']}")
        else:
            try:
                report.file(unit.code, unit.level, body["period"], findings, filed_by=actor,
                            actor=actor)
            except ValueError as exc:
                raise BadRequest({"period": [str(exc)]}) from None
            self.store.append(report.stream_id, NO_STREAM, report.pending)
            status = 201
        cases = [self._register_once(
            f"screening:{report.id}:{i}",
            Registration(channel="screening", category=f["category"], summary=f["summary"],
                         region=f["region"], parties=[Party(**p) for p in f["parties"]],
                         headcount=f["headcount"], screening_report_id=report.id),
            actor) for i, f in enumerate(findings)]
        return status, {"report_id": report.id, "unit": unit.code, "period": body["period"],
                        "cases": cases}

    def record_risk(self, body: dict, actor: str) -> dict:
        """Record a project's stability risk assessment; a high risk opens a key case."""
        if not self.directory.serves(body["region"]):
            raise BadRequest({"region": ["not served by this deployment"]})
        assessment = RiskAssessment(new_id())
        assessment.record(body["project"], body["region"], body["level"], body["summary"],
                          assessed_by=actor, actor=actor)
        self.store.append(assessment.stream_id, NO_STREAM, assessment.pending)
        result = {"assessment_id": assessment.id, "case": None}
        if body["level"] == "high":
            result["case"] = self._register_once(
                f"risk:{assessment.id}",
                Registration(channel=RISK_CHANNEL, category=body["category"],
                             summary=f"{body['project']}: {body['summary']}"[:4000],
                             region=body["region"], parties=[], high_risk=True,
                             risk_assessment_id=assessment.id),
                actor)
        return result

    def _register_once(self, key: str, reg: Registration, actor: str) -> dict:
        done = self.store.processed_result(key)
        if done is not None:
            return dict(done.result)
        try:
            return self.register(reg, actor=actor,
                                 answer=lambda r: ([Processed(key, r.as_dict())], [])).as_dict()
        except DuplicateMessage as dup:
            return dict(dup.result)

    def _earlier_cases(self, reg: Registration, local: datetime) -> List[EarlierCase]:
        ids = reg.applicant_ids
        if not ids:
            return []
        self._applicants.refresh()  # also what other instances registered
        return self._applicants.index.earlier(ids, reg.category, local)
