"""Every event intake records matches its published schema (gm_contracts.intake_events)."""
from __future__ import annotations

from datetime import datetime, timezone

from gm_contracts import event_schema
from gm_contracts.intake_events import EVENT_TYPES, SERVICE
from gm_contracts.testing import VALID_RESIDENT_ID

from gm_intake.domain.case import Case, EarlierCase, Party, Registration, decide_flags
from gm_intake.domain.screening import RiskAssessment, ScreeningReport

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)


def check(agg) -> set:
    for event in agg.pending:
        errors = event_schema(SERVICE, EVENT_TYPES[event.type])().validate(dict(event.data))
        assert errors == {}, (event.type, errors)
    return {e.type for e in agg.pending}


def test_every_intake_event_matches_its_schema():
    seen = set()
    for reg in (
        Registration(channel="visit", category="neighbour", summary="邻里纠纷",
                     region="410611100201", headcount=6,
                     parties=[Party("applicant", "张三", VALID_RESIDENT_ID, "13800000000"),
                              Party("respondent", "李四")]),
        Registration(channel="referral", category="contract", summary="合同纠纷",
                     region="410611", parties=[Party("applicant", "王五")],
                     source_agency="court", referral_id="R-1", kind="entrusted",
                     procedure="simplified", requested_days=10),
    ):
        earlier = [EarlierCase("c-0", "410611-2026-000001", NOW.isoformat())]
        case = Case("c-1")
        case.register(reg, "410611-2026-000002", decide_flags(reg, earlier), earlier, NOW)
        seen |= check(case)
    report = ScreeningReport("s-1")
    report.file("410611100", "township", "2026-11",
                [{"category": "neighbour", "summary": "排水沟纠纷", "region": "410611100"}],
                "clerk-1")
    risk = RiskAssessment("r-1")
    risk.record("新区道路拓宽", "410611", "high", "征地补偿争议", "leader-1")
    seen |= check(report) | check(risk)
    assert seen == set(EVENT_TYPES)
