"""Screening reports (排查) and project stability risk assessments (稳评)."""
from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence

from gm_contracts import streams
from gm_contracts import intake_events as events
from gm_contracts.vocabulary import RISK_ASSESSMENT_CHANNEL, RISK_LEVELS
from gm_kernel import Aggregate, DomainError, InvalidValue, applies

from .case import Registration


# Cadence from the seed: villages screen every half month, townships, districts and the
# city every month. Half months are written YYYY-MM-H1 (days 1-15) and YYYY-MM-H2.
_HALF_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])-H([12])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def check_period(level: str, period: str) -> Optional[str]:
    """None when `period` fits the unit's cadence, else the reason it does not."""
    if level == "village":
        if not _HALF_MONTH.match(period):
            return "a village reports per half month: YYYY-MM-H1 or YYYY-MM-H2"
    elif not _MONTH.match(period):
        return f"a {level} reports per month: YYYY-MM"
    return None


class ScreeningReport(Aggregate):
    """One unit's report for one period; its id is `<unit>:<period>`, filed once."""

    stream_prefix = streams.SCREENING_REPORT

    def __init__(self, id: str):
        super().__init__(id)
        self.findings: list = []

    def file(self, unit: str, level: str, period: str, findings: Sequence[dict],
             filed_by: str, **meta) -> None:
        if self.exists:
            raise DomainError(f"{unit} already filed its report for {period}")
        reason = check_period(level, period)
        if reason:
            raise InvalidValue("period", reason)
        self._record(events.ScreeningReportFiled, {
            "report_id": self.id, "unit": unit, "level": level, "period": period,
            "findings": [dict(f) for f in findings], "finding_count": len(findings),
            "filed_by": filed_by,
        }, **meta)

    @applies(events.ScreeningReportFiled)
    def _screening_report_filed(self, data) -> None:
        self.findings = list(data["findings"])


def preventive_case_key(assessment_id: str) -> str:
    """The key a high risk's preventive case is registered under: once per assessment."""
    return f"risk:{assessment_id}"


def preventive_case(assessment: Mapping[str, Any]) -> Optional[Registration]:
    """The preventive key case (稳评预防) a recorded assessment opens: one for a high risk,
    none otherwise. No parties: nobody has complained yet."""
    if assessment["level"] != "high":
        return None
    return Registration(
        channel=RISK_ASSESSMENT_CHANNEL, category=assessment.get("category") or "other",
        summary=f"{assessment['project']}: {assessment['summary']}"[:4000],
        region=assessment["region"], parties=[], high_risk=True,
        risk_assessment_id=assessment["assessment_id"])


class RiskAssessment(Aggregate):
    """A major project's stability risk assessment; `high` opens a preventive key case."""

    stream_prefix = streams.RISK_ASSESSMENT

    def record(self, project: str, region: str, level: str, summary: str,
               assessed_by: str, category: str = "other", **meta) -> None:
        if self.exists:
            raise DomainError(f"risk assessment {self.id} is already recorded")
        if level not in RISK_LEVELS:
            raise InvalidValue("level", f"must be one of {', '.join(RISK_LEVELS)}")
        self._record(events.RiskAssessmentRecorded, {
            "assessment_id": self.id, "project": project, "region": region, "level": level,
            "summary": summary, "assessed_by": assessed_by, "category": category,
        }, **meta)

    @applies(events.RiskAssessmentRecorded)
    def _risk_assessment_recorded(self, data) -> None:
        pass  # nothing read back: an assessment is recorded once, then only reported
