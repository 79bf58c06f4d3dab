"""Screening reports (排查) and risk assessments (稳评) as reporting sees them, and the
screening coverage: which units have not filed for the current period. Pure."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Iterable, List, Mapping, Optional

from gm_contracts import intake_events
from gm_kernel import type_name

from .casefile import region_parts
from .periods import norm_time, screening_periods

REPORT_FILED = type_name(intake_events.ScreeningReportFiled)
RISK_ASSESSED = type_name(intake_events.RiskAssessmentRecorded)


def report_key(event) -> Optional[str]:
    return (event.data or {}).get("report_id") if event.type == REPORT_FILED else None


def risk_key(event) -> Optional[str]:
    return (event.data or {}).get("assessment_id") if event.type == RISK_ASSESSED else None


def project_report(state: Optional[dict], event) -> Optional[dict]:
    if state is not None and state["positions"].get("intake", 0) >= event.position:
        return None
    d = event.data or {}
    return {"report_id": d.get("report_id"), "unit": d.get("unit"), "level": d.get("level"),
            "period": d.get("period"), "finding_count": int(d.get("finding_count") or 0),
            "filed_by": d.get("filed_by"), "filed_at": norm_time(event.occurred_at),
            "positions": {"intake": event.position}}


def report_row(s: Mapping) -> dict:
    return {"unit": s["unit"], "level": s["level"], "period": s["period"],
            "filed_at": s["filed_at"], "finding_count": s["finding_count"]}


def project_risk(state: Optional[dict], event) -> Optional[dict]:
    if state is not None and state["positions"].get("intake", 0) >= event.position:
        return None
    d = event.data or {}
    return {"assessment_id": d.get("assessment_id"), "project": d.get("project"),
            "region": d.get("region"), "level": d.get("level"),
            "assessed_at": norm_time(event.occurred_at), "positions": {"intake": event.position}}


def risk_row(s: Mapping) -> dict:
    return {**region_parts(s["region"]), "level": s["level"], "assessed_at": s["assessed_at"]}


def coverage(units: Iterable, reports: Iterable[Mapping], month: str, now: datetime,
             tz: tzinfo) -> dict:
    """Which units owe which screening reports of `month` by `now`.

    units: directory units (code, name, level); reports: rows with unit, period,
    filed_at, finding_count. Periods not begun yet are not owed."""
    filed = {(r["unit"], r["period"]): r for r in reports}
    rows: List[dict] = []
    owed = done = 0
    for unit in sorted(units, key=lambda u: u.code):
        periods = []
        for period in screening_periods(unit.level, month, now, tz):
            report = filed.get((unit.code, period))
            periods.append({"period": period, "filed": report is not None,
                            "filed_at": report["filed_at"] if report else None,
                            "findings": report["finding_count"] if report else None})
        owed += len(periods)
        done += sum(1 for p in periods if p["filed"])
        rows.append({"unit": unit.code, "name": unit.name, "level": unit.level,
                     "periods": periods,
                     "missing": [p["period"] for p in periods if not p["filed"]]})
    missing_units = [r for r in rows if r["missing"]]
    return {"month": month, "due": owed, "filed": done, "missing": owed - done,
            "coverage_rate": round(done / owed, 4) if owed else None,
            "units_missing": [{"unit": r["unit"], "name": r["name"], "level": r["level"],
                               "missing": r["missing"]} for r in missing_units],
            "units": rows}
