"""Intake's use cases: registering cases from every channel, agencies' referrals, screening
reports (排查) and risk assessments (稳评). Each handler is registered against its command
(COMMANDS) and run by the message bus in one unit of work (gm_platform.messagebus); the
bus commits the case with its number and the answer, recorded with the message's keys,
so a re-sent referral (same message id, or same agency and referral id) is answered
again with the original answer and creates nothing. No Nameko here.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from zoneinfo import ZoneInfo

from gm_contracts import intake_events
from gm_directory import Directory
from gm_kernel import DomainError, DuplicateMessage, RecordedEvent, Refused, new_id
from gm_platform import answers
from gm_platform.bootstrap import Application
from gm_platform.messagebus import Caller, UnitOfWork
from gm_platform.query_codes import QueryCodes

from .adapters.applicants import RegisteredApplicants
from .commands import FileScreeningReport, RecordRiskAssessment, RegisterCase, RegisterReferral
from .domain.case import (
    Case, Party, Registration, case_number, check_registration, decide_flags, numbering,
)
from .domain.screening import (
    RiskAssessment, ScreeningReport, preventive_case, preventive_case_key,
)

log = logging.getLogger(__name__)

ACTOR = "intake-service"  # the actor of what the service does by itself


def register(uow: UnitOfWork, reg: Registration, actor: str, *, directory: Directory,
             applicants: RegisteredApplicants, tz: ZoneInfo, query_codes: QueryCodes,
             agency: Optional[str] = None, causation_id: Optional[str] = None) -> dict:
    """Register a case: its flags (collective, repeat, key) and a number unique per
    county and year, taken with the commit — two instances racing for one number
    cannot both win; the loser is decided again and takes the next. The petitioner's
    query code goes into the answer only; the case records its keyed digest."""
    check_registration(reg, directory)
    local = uow.now.astimezone(tz)
    pseudonyms = applicants.pseudonyms(reg)
    earlier = applicants.earlier(pseudonyms, reg.category, local)
    sequence = uow.take_number(numbering(reg.region, local.year))
    case = uow.new(Case(new_id()))
    code, digest = query_codes.issue()
    case.register(reg, case_number(reg.region[:6], local.year, sequence),
                  decide_flags(reg, earlier), earlier, uow.now, pseudonyms=pseudonyms,
                  query_code_digest=digest, actor=actor, agency=agency,
                  correlation_id=case.id, causation_id=causation_id)
    uow.answer = {"case_id": case.id, "case_number": case.case_number, "query_code": code}
    return dict(uow.answer)


def register_case(command: RegisterCase, uow: UnitOfWork, *, directory, applicants,
                  tz, query_codes) -> dict:
    command.caller.may_see(command.registration.region)
    return register(uow, command.registration, command.caller.actor, directory=directory,
                    applicants=applicants, tz=tz, query_codes=query_codes)


def register_referral(command: RegisterReferral, uow: UnitOfWork, *, directory, applicants,
                      tz, query_codes) -> str:
    agency, data = command.message.agency, command.message.data
    registered = register(uow, command.registration, f"agency:{agency}", directory=directory,
                          applicants=applicants, tz=tz, query_codes=query_codes, agency=agency,
                          causation_id=command.message.message_id)
    answers.reply(uow, agency, "referral_accepted",
                  {"referral_id": data["referral_id"], **registered})
    return "registered"


def file_screening_report(command: FileScreeningReport, uow: UnitOfWork, *,
                          directory) -> dict:
    """The report, once per unit and period; filing the same report again (a client
    retry) changes nothing, a different one for the same period is refused."""
    command.caller.may_see(command.unit)
    if command.unit not in directory:
        raise Refused({"unit": ["not a unit in this deployment's directory"]})
    unit = directory.unit(command.unit)
    findings = [dict(f, region=f.get("region") or unit.code) for f in command.findings]
    errors = {f"findings.{i}.region": ["must lie within the reporting unit"]
              for i, f in enumerate(findings) if not f["region"].startswith(unit.code)}
    if errors:
        raise Refused(errors)
    report = uow.load(ScreeningReport, f"{unit.code}:{command.period}")
    filed = not report.exists
    if filed:
        report.file(unit.code, unit.level, command.period, findings,
                    filed_by=command.caller.actor, actor=command.caller.actor)
    elif report.findings != findings:
        raise DomainError(f"{unit.code} already filed a different report for {command.period}")
    return {"report_id": report.id, "unit": unit.code, "period": command.period,
            "findings": findings, "filed": filed}


def record_risk_assessment(command: RecordRiskAssessment, uow: UnitOfWork, *,
                           directory) -> str:
    command.caller.may_see(command.region)
    if not directory.serves(command.region):
        raise Refused({"region": ["not served by this deployment"]})
    assessment = uow.new(RiskAssessment(new_id()))
    assessment.record(command.project, command.region, command.level, command.summary,
                      assessed_by=command.caller.actor, category=command.category,
                      actor=command.caller.actor)
    return assessment.id


# -- the process manager: intake's own events ------------------------------------------------
def open_preventive_case(event: RecordedEvent, uow: UnitOfWork, *, directory, applicants,
                         tz, query_codes) -> None:
    """RiskAssessmentRecorded (high) → its preventive key case, once. The request that
    recorded the assessment registers it at once; this makes it when the process stopped
    between the two (intake follows its own log, topology.CATCH_UP_ONLY)."""
    registration = preventive_case(event.data)
    if registration is None:
        return
    uow.record_under(preventive_case_key(event.data["assessment_id"]))
    register(uow, registration, event.actor or ACTOR, directory=directory,
             applicants=applicants, tz=tz, query_codes=query_codes, causation_id=event.id)


EVENTS = {
    intake_events.RiskAssessmentRecorded: open_preventive_case,
}


COMMANDS = {
    RegisterCase: register_case,
    RegisterReferral: register_referral,
    FileScreeningReport: file_screening_report,
    RecordRiskAssessment: record_risk_assessment,
}


@dataclass
class Intake(Application):
    """Intake's application: a report or an assessment, then the cases it opens, each in
    its own commit and each once (a retry registers only what is missing)."""

    def file_screening(self, command: FileScreeningReport) -> dict:
        """The report and a screening case per finding; `filed`: the report is new."""
        report = self.bus.handle(command)
        cases = [self._register_once(
            f"screening:{report['report_id']}:{i}",
            Registration(channel="screening", category=f["category"], summary=f["summary"],
                         region=f["region"], parties=[Party(**p) for p in f["parties"]],
                         headcount=f["headcount"], screening_report_id=report["report_id"]),
            command.caller) for i, f in enumerate(report["findings"])]
        return {"report_id": report["report_id"], "unit": report["unit"],
                "period": report["period"], "cases": cases, "filed": report["filed"]}

    def record_risk(self, command: RecordRiskAssessment) -> dict:
        """The assessment; a high risk opens a preventive key case (the same one the
        process manager would make: open_preventive_case)."""
        assessment_id = self.bus.handle(command)
        registration = preventive_case({
            "assessment_id": assessment_id, "project": command.project,
            "region": command.region, "level": command.level, "summary": command.summary,
            "category": command.category})
        case = None if registration is None else self._register_once(
            preventive_case_key(assessment_id), registration, command.caller)
        return {"assessment_id": assessment_id, "case": case}

    def _register_once(self, key: str, reg: Registration, caller: Caller) -> dict:
        try:
            return self.bus.handle(RegisterCase(reg, Caller(caller.actor)), keys=[key])
        except DuplicateMessage as dup:
            return dict(dup.result)
