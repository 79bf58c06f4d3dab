"""Synthetic but consistent event logs of intake, assignment and mediation, for tests and
benchmarks: N cases registered over a period, each placed, mediated, supervised (督办,
催办; or escalated, as older versions did), extended, handed off, closed and followed up
as the real services would record it — and petition matters (信访事项) accepted or
declined, answered in writing and reviewed (复查, 复核) — up to a given `now` (later
events are not in the logs yet).

    logs = generate(500, seed=7, start=..., end=..., now=...)
    logs.sources["intake"]  # RecordedEvents in log order, positions 1..n

Event shapes follow the services' vocabulary (see gm_reporting/README.md).
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time as dtime, timedelta, timezone
from typing import Dict, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

from gm_contracts.mediation_events import DECLINE_ROUTES, OPINIONS, satisfaction_level
from gm_contracts.vocabulary import CATEGORIES, CHANNELS, RISK_LEVELS, DUTIES, HANDOFF_KINDS
from gm_kernel import RecordedEvent, format_time

PETITION_CHANNELS = ("visit", "letter", "website")  # of which some are petition matters
# Referrals (gm_contracts.vocabulary.REFERRAL_KINDS) in the order the generator has always
# drawn them from: the seeded logs the tests reckon with depend on it.
REFERRALS = (("court", "delegated"), ("court", "entrusted"), ("police", "minor_dispute"),
             ("procuratorate", "criminal_reconciliation"), ("petition", "petition"))
NEXT_AGENCY = {kind: agency for agency, kinds in HANDOFF_KINDS.items() for kind in kinds}
DEFAULT_REGIONS = ("410602", "410602002", "410611", "410611100", "410611100201",
                   "410621", "410621101", "410622", "410603", "410603200001")
DEFAULT_UNITS = (("410600", "city"), ("410611", "county"), ("410611100", "township"),
                 ("410611100201", "village"), ("410602", "county"))


@dataclass
class _Draft:
    source: str
    stream: str
    type: str
    at: datetime
    data: dict
    actor: Optional[str]
    case_id: Optional[str]
    order: Tuple[int, int]


@dataclass
class Logs:
    sources: Dict[str, List[RecordedEvent]]
    now: datetime
    case_ids: List[str] = field(default_factory=list)

    def all_events(self) -> List[Tuple[str, RecordedEvent]]:
        return [(s, e) for s, events in self.sources.items() for e in events]

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.sources.values())


def _local_day(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).date().isoformat()


def _unit_above(code: str) -> str:
    """The unit whose leader supervises (督办) `code`: the one a level up; the city
    supervises itself."""
    return {12: code[:9], 9: code[:6]}.get(len(code), "410600")


def _end_of_local_day(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    day = moment.astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(day, dtime.max, tzinfo=tz).astimezone(timezone.utc)


def generate(n_cases: int, seed: int = 1, *, start: datetime, end: datetime, now: datetime,
             regions: Sequence[str] = DEFAULT_REGIONS,
             units: Sequence[Tuple[str, str]] = DEFAULT_UNITS,
             tz: str = "Asia/Shanghai", reports: int = 6, risks: int = 4) -> Logs:
    rng = random.Random(seed)
    zone = ZoneInfo(tz)
    drafts: List[_Draft] = []
    case_ids: List[str] = []

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def emit(source, stream, type_, at, data, actor, case_id, case_no, seq):
        drafts.append(_Draft(source, stream, type_, at, data, actor, case_id, (case_no, seq)))

    span = (end - start).total_seconds()
    for n in range(n_cases):
        case_id = uid()
        case_ids.append(case_id)
        seq = iter(range(1000))
        reg_at = start + timedelta(seconds=rng.uniform(0, span))
        region = rng.choice(regions)
        category = rng.choice(CATEGORIES)
        agency = kind = None
        if rng.random() < 0.35:
            agency, kind = rng.choice(REFERRALS)
            channel = "referral"
        else:
            channel = rng.choice(CHANNELS)
        headcount = rng.choice((1, 1, 1, 2, 3, 6, 12)) if rng.random() < 0.3 else 1
        collective = headcount >= 5
        repeat = rng.random() < 0.1
        key_case = collective or repeat or channel == "leader_reception"
        number = f"{region[:6]}-{reg_at.astimezone(zone).year}-{n + 1:06d}"
        parties = [{"role": "applicant", "name": f"申请人{n}",
                    "id_number": f"410611{1950 + n % 50}0101{n % 10000:04d}"[:18].ljust(18, "X"),
                    "phone": f"138{n % 100000000:08d}"},
                   {"role": "respondent", "name": f"被申请人{n}"}]
        emit("intake", f"case-{case_id}", "CaseRegistered", reg_at, {
            "case_id": case_id, "case_number": number, "channel": channel,
            "category": category, "summary": f"纠纷 {n}", "region": region,
            "parties": parties, "headcount": headcount, "source_agency": agency,
            "referral_id": f"R-{n:08d}" if agency else None, "kind": kind,
            "procedure": "ordinary" if kind == "entrusted" else None, "requested_days": None,
            "leader": "L410611-01" if channel == "leader_reception" else None,
            "screening_report_id": None, "risk_assessment_id": None,
            "collective": collective, "repeat": repeat, "repeat_of": [],
            "key_case": key_case, "key_reasons": [], "registered_at": reg_at.isoformat(),
        }, f"agency:{agency}" if agency else "clerk-1", case_id, n, next(seq))

        if rng.random() < 0.03:
            emit("assignment", f"assignment-{case_id}", "AssignmentFailed",
                 reg_at + timedelta(minutes=1),
                 {"reason": "no unit offers the track", "failed_at": format_time(reg_at)},
                 "assignment-service", case_id, n, next(seq))
            continue
        # A petition matter (信访事项): registered through a petition channel, placed on the
        # administrative track at the county with 15 days to decide its acceptance.
        petition = channel in PETITION_CHANNELS and rng.random() < 0.6
        days = 15 if petition else rng.choice((7, 15, 30, 60))
        unit = region[:9] if len(region) >= 9 else region[:6]
        if key_case or petition:
            unit = region[:6]
        level = {6: "county", 9: "township", 12: "village"}[len(unit)]
        track = "administrative" if petition else "people"
        handler, lead = f"H{unit}-0{rng.randint(1, 3)}", (f"L{unit}-01" if key_case else None)
        responsible = f"L{unit}-01"
        due = _end_of_local_day(reg_at, days, zone)
        made_at = reg_at + timedelta(minutes=1)
        a_stream, m_stream = f"assignment-{case_id}", f"mediation-{case_id}"

        def asg(type_, at, data):
            emit("assignment", a_stream, type_, at, data, "assignment-service", case_id, n,
                 next(seq))

        def med(type_, at, data, stream=m_stream):
            emit("mediation", stream, type_, at, data, handler, case_id, n, next(seq))

        asg("AssignmentMade", made_at, {
            "task": "依法告知受理情况并出具信访处理意见书" if petition else "调解民间纠纷",
            "route_id": "petition" if petition else "people", "route_basis": "…",
            "track": track, "level": level, "unit": unit, "responsible_leader": responsible,
            "lead": lead, "handler": handler,
            "registered_at": format_time(reg_at), "days": days, "due_at": format_time(due),
            "period": {"days": days}, "local_default": not petition,
            "calendar_provisional": False, "rolled_from": None,
            "rule_id": "petition-acceptance" if petition else "people",
            "rule_effective_from": "2022-05-01" if petition else "2002-11-01",
            "legal_basis": "…", "extension": None, "time_zone": tz, "key_case": key_case,
            "region": region, "petition_matter": petition, "stage": "registered",
            "source": {"channel": channel, "agency": agency, "kind": kind, "procedure": None},
            "category": category})
        med("MediationOpened", reg_at + timedelta(minutes=2), {
            "case_id": case_id, "case_number": number, "source_agency": agency,
            "referral_id": f"R-{n:08d}" if agency else None, "kind": kind, "channel": channel,
            "category": category, "summary": f"纠纷 {n}", "region": region,
            "parties": parties, "key_case": key_case, "collective": collective,
            "repeat": repeat, "registered_at": format_time(reg_at)})
        med("MediatorAssigned", reg_at + timedelta(minutes=3), {
            "track": track, "level": level, "unit": unit, "handler": handler, "lead": lead,
            "due_at": format_time(due), "petition_matter": petition, "reason": "assigned"})
        if rng.random() < 0.05:
            other = f"H{unit}-09"
            asg("CaseReassigned", reg_at + timedelta(hours=5), {
                "reason": "workload", "from_unit": unit, "unit": unit, "level": level,
                "from_level": level, "from_handler": handler, "handler": other,
                "responsible_leader": responsible})
            handler = other
        if rng.random() < 0.03:
            asg("JointHandlingArranged", reg_at + timedelta(hours=6), {
                "participants": ["court", "police"], "meeting": key_case, "reason": "联合接访",
                "arranged_at": format_time(reg_at + timedelta(hours=6))})
        if not petition and rng.random() < 0.1:
            ext_at = reg_at + timedelta(days=days * 0.5)
            if ext_at < due:
                new_due = _end_of_local_day(due, 15, zone)
                asg("DeadlineExtended", ext_at, {
                    "days": 15, "unit": "days", "reason": "双方同意", "notified_on": None,
                    "previous_due_at": format_time(due),
                    "due_at": format_time(new_due), "extension_number": 1,
                    "extended_days": 15})
                due = new_due
        for s in range(rng.randint(0, 3)):
            med("SessionHeld", reg_at + timedelta(days=s + 1),
                {"held_on": (reg_at + timedelta(days=s + 1)).date().isoformat(), "notes": "…"})
        for duty in rng.sample(DUTIES, rng.randint(0, 4)):
            med("DutyRecorded", reg_at + timedelta(days=1, hours=1), {"duty": duty, "note": "…"})

        # The deadlines the case runs on, each from when it applies: the first one, and for
        # an accepted petition matter its handling period from acceptance (受理).
        deadlines = [(made_at, due)]
        if petition:
            path = "petition"
            decided_at = reg_at + timedelta(days=rng.uniform(0.5, 20))
            declined = rng.random() < 0.2
            simple = not declined and rng.random() < 0.15
            answer_at = None
            if declined:
                closed_at = decided_at
            else:
                handling_due = _end_of_local_day(decided_at, 10 if simple else 60, zone)
                deadlines.append((decided_at + timedelta(minutes=1), handling_due))
                period = 10 if simple else 60
                late = rng.random() < 0.25  # answered after the handling period ended
                answer_at = (decided_at + timedelta(days=rng.uniform(period + 2, period + 30)
                                                    if late else rng.uniform(2, period - 1))
                             if rng.random() < 0.8 else None)
                closed_at = answer_at
        else:
            path = rng.choices(("agreement", "failed", "withdrawn", "open", "pending"),
                               (40, 22, 8, 22, 8))[0]
            closed_at = reg_at + timedelta(days=rng.uniform(1, days * 1.6), minutes=5)
            if path in ("open", "pending"):
                closed_at = None
        # The deadline watch: warn 3 days before the first deadline; once a deadline passes
        # while the case is open, supervise (督办: the unit and deadline stay) and remind
        # (催办) every 7 days — or, as older versions did (some cases here, never a petition
        # matter), escalate one level up with a fresh period.
        end_of_watch = closed_at or now + timedelta(days=3650)
        escalations = 0
        warn_at = due - timedelta(days=3)
        if warn_at > made_at and warn_at < end_of_watch:
            asg("DeadlineWarningRaised", warn_at, {"due_at": format_time(due),
                                                   "warned_at": format_time(warn_at),
                                                   "unit": unit, "handler": handler,
                                                   "lead": lead,
                                                   "responsible_leader": responsible})
        legacy = not petition and rng.random() < 0.35
        while legacy:
            esc_at = due + timedelta(minutes=rng.randint(1, 90))
            if esc_at >= end_of_watch or esc_at > now or level == "city" or escalations >= 3:
                break
            new_unit, new_level = ("410600", "city") if level == "county" else \
                (region[:6], "county")
            new_due = _end_of_local_day(esc_at, days, zone)
            lead = lead or f"L{new_unit}-01"
            asg("CaseEscalated", esc_at, {
                "reason": "overdue", "escalated_at": format_time(esc_at), "from_unit": unit,
                "from_level": level, "unit": new_unit, "level": new_level,
                "previous_handler": handler, "handler": f"H{new_unit}-01", "lead": lead,
                "previous_due_at": format_time(due), "due_at": format_time(new_due)})
            unit, level, handler, due = new_unit, new_level, f"H{new_unit}-01", new_due
            escalations += 1
        reminders = 0
        for i, (since, deadline) in enumerate(deadlines if not legacy else ()):
            until = deadlines[i + 1][0] if i + 1 < len(deadlines) else end_of_watch
            ordered = deadline + timedelta(minutes=rng.randint(1, 90))
            if ordered >= until or ordered > now:
                continue
            supervising = _unit_above(unit)
            asg("SupervisionOrdered", ordered, {
                "supervisor": f"L{supervising}-01", "supervising_unit": supervising,
                "ordered_at": format_time(ordered), "due_at": format_time(deadline),
                "unit": unit, "handler": handler, "lead": lead,
                "responsible_leader": responsible})
            reminded = ordered + timedelta(days=7)
            while reminded < until and reminded <= now:
                reminders += 1
                asg("SupervisionReminded", reminded, {
                    "supervisor": f"L{supervising}-01", "reminded_at": format_time(reminded),
                    "due_at": format_time(deadline), "unit": unit, "handler": handler,
                    "reminder_number": reminders,
                    "days_overdue": (reminded.astimezone(zone).date()
                                     - deadline.astimezone(zone).date()).days})
                reminded += timedelta(days=7)
        due = deadlines[-1][1] if not legacy else due  # the deadline the case closes on

        def close(outcome: str, resolved: bool, at: datetime):
            med("CaseClosed", at, {"case_id": case_id, "outcome": outcome, "resolved": resolved,
                                   "closed_at": format_time(at), "summary": "结案",
                                   "source_agency": agency,
                                   "referral_id": f"R-{n:08d}" if agency else None})
            asg("AssignmentClosed", at + timedelta(seconds=30), {
                "closed_at": format_time(at), "outcome": outcome,
                "on_time": escalations == 0 and at <= due})
            if rng.random() < 0.7:
                # Three kinds of follow-up, as mediation has recorded them: a score only
                # (before levels), a score with its level, a level only (no score).
                score = rng.randint(1, 5)
                follow = {"satisfaction": score, "petition_ceased": rng.random() < 0.8,
                          "visited_at": format_time(at + timedelta(days=3))}
                if n % 3:
                    follow["satisfaction_level"] = satisfaction_level(score)
                if n % 3 == 2:
                    follow["satisfaction"] = None
                med("FollowUpRecorded", at + timedelta(days=3), follow)

        def handoff(agency_: str, kind_: str, at: datetime, reply: Optional[str],
                    agreement: Optional[dict] = None) -> str:
            hid = uid()
            stream = f"handoff-{hid}"
            h_due = at + timedelta(days=30)
            if kind_ == "judicial_confirmation":  # both parties apply jointly
                med("ConfirmationRequested", at, {
                    "handoff_id": hid, "agency": agency_, "kind": kind_,
                    "agreement": {"terms": "赔偿", "signed_on": _local_day(at, zone)},
                    "requested_at": format_time(at), "window_ends_at": format_time(h_due),
                    "joint_application": {"applicants": ["申请人", "被申请人"],
                                          "applied_on": _local_day(at, zone)}})
            med("HandOffRequested", at, {"handoff_id": hid, "case_id": case_id,
                                         "case_number": number, "agency": agency_,
                                         "kind": kind_, "agreement": agreement,
                                         "requested_at": format_time(at),
                                         "due_at": format_time(h_due)}, stream)
            if reply == "accepted":
                accepted = {"handoff_id": hid, "case_id": case_id, "agency": agency_,
                            "agency_case_number": f"(2026)豫0611民特{n}号"}
                if kind_ == "judicial_confirmation":  # the court's time to rule
                    accepted["due_at"] = format_time(at + timedelta(hours=20, days=30))
                med("HandOffAccepted", at + timedelta(hours=20), accepted, stream)
            elif reply == "rejected":
                med("HandOffRejected", at + timedelta(hours=20), {
                    "handoff_id": hid, "case_id": case_id, "agency": agency_,
                    "reason": "不属于受理范围"}, stream)
            elif h_due < now:
                med("HandOffOverdue", h_due + timedelta(minutes=1), {
                    "handoff_id": hid, "case_id": case_id, "due_at": format_time(h_due)},
                    stream)
            return hid

        def review(stage: str, answered: datetime) -> Optional[datetime]:
            """复查 / 复核 requested within 30 days of the answer; decided (or not yet)."""
            requested = answered + timedelta(days=rng.uniform(2, 25))
            decision_due = _end_of_local_day(requested, 30, zone)
            med("ReviewRequested", requested, {
                "case_id": case_id, "stage": stage,
                "requested_on": _local_day(requested, zone),
                "received_on": _local_day(answered + timedelta(days=1), zone),
                "request_due_at": format_time(_end_of_local_day(answered, 31, zone)),
                "due_at": format_time(decision_due)})
            if rng.random() < 0.15:
                return None
            decided = requested + timedelta(days=rng.uniform(3, 40))
            med("ReviewDecided", decided, {
                "case_id": case_id, "stage": stage,
                "opinion": rng.choice(("upheld", "upheld", "changed")), "summary": "…",
                "issued_on": _local_day(decided, zone),
                "on_time": decided.astimezone(zone).date()
                <= decision_due.astimezone(zone).date(),
                "final": stage == "re_review"})
            return decided

        if path == "petition":
            notice = {"notified_on": _local_day(decided_at, zone),
                      "notice_due_at": format_time(deadlines[0][1]),
                      "timely": decided_at.astimezone(zone).date()
                      <= deadlines[0][1].astimezone(zone).date()}
            if declined:
                med("PetitionDeclined", decided_at - timedelta(minutes=1), {
                    "case_id": case_id, "reason": "不属于信访事项受理范围",
                    "route": rng.choice(DECLINE_ROUTES), **notice})
                close("declined", False, decided_at)
            else:
                med("PetitionAccepted", decided_at, {
                    "case_id": case_id, "accepted_on": _local_day(decided_at, zone),
                    "simple": simple, **notice})
                asg("HandlingPeriodStarted", decided_at + timedelta(minutes=1), {
                    "stage": "accepted_simple" if simple else "accepted",
                    "accepted_on": _local_day(decided_at, zone),
                    "previous_due_at": format_time(deadlines[0][1]),
                    "due_at": format_time(deadlines[1][1]), "rule_id": "petition-handling",
                    "rule_effective_from": "2022-05-01", "legal_basis": "信访工作条例",
                    "period": {"days": 10 if simple else 60}, "extension": None})
                med("MediatorAssigned", decided_at + timedelta(minutes=2), {
                    "track": track, "level": level, "unit": unit, "handler": handler,
                    "lead": lead, "due_at": format_time(deadlines[1][1]),
                    "petition_matter": True, "reason": "handling_period"})
                if answer_at is not None:
                    opinion = rng.choice(OPINIONS)
                    med("PetitionAnswered", answer_at - timedelta(minutes=1), {
                        "case_id": case_id, "opinion": opinion, "summary": "处理意见",
                        "issued_on": _local_day(answer_at, zone)})
                    close("answered", opinion == "support", answer_at)
                    if rng.random() < 0.5:
                        decided = review("review", answer_at)
                        if decided is not None and rng.random() < 0.5:
                            review("re_review", decided)
        elif path == "agreement":
            agreed = closed_at - timedelta(days=6) if closed_at - timedelta(days=6) > made_at \
                else closed_at - timedelta(minutes=3)
            med("AgreementReached", agreed, {"terms": "赔偿", "signed_on": agreed.date().isoformat()})
            if rng.random() < 0.3 and agreed + timedelta(days=5) < closed_at:
                hid = handoff("court", "judicial_confirmation", agreed + timedelta(minutes=10),
                              "accepted", {"terms": "赔偿"})
                confirmed = rng.random() < 0.85
                med("ConfirmationRuled", agreed + timedelta(days=4), {
                    "handoff_id": hid, "case_id": case_id, "confirmed": confirmed,
                    "ruling_number": f"(2026)豫0611民特{n}号" if confirmed else None,
                    "reason": None if confirmed else "协议内容违法"}, f"handoff-{hid}")
                if confirmed:
                    close("confirmed", True, closed_at)
                else:
                    med("MediationReopened", agreed + timedelta(days=4, minutes=5),
                        {"reason": "确认被驳回", "handoff_id": hid})
                    close("failed", False, closed_at)
            else:
                close("agreement", True, closed_at)
        elif path == "failed":
            failed_at = closed_at - timedelta(days=2) if closed_at - timedelta(days=2) > made_at \
                else closed_at - timedelta(minutes=3)
            nxt = rng.choice(("litigation", "public_security", "petition_handling",
                              "criminal_reconciliation", "none"))
            med("MediationFailed", failed_at, {"reason": "分歧过大", "next": nxt})
            if nxt == "none":
                close("failed", False, closed_at)
            else:
                reply = rng.choice(("accepted", "accepted", "accepted", "rejected"))
                handoff(NEXT_AGENCY[nxt], nxt, failed_at + timedelta(minutes=5), reply)
                close("handed_off" if reply == "accepted" else "failed", False, closed_at)
        elif path == "withdrawn":
            med("MediationWithdrawn", closed_at - timedelta(minutes=2), {"reason": "撤回"})
            close("withdrawn", False, closed_at)
        elif path == "pending":
            at = reg_at + timedelta(days=rng.uniform(1, days))
            med("AgreementReached", at, {"terms": "赔偿", "signed_on": at.date().isoformat()})
            if rng.random() < 0.6:
                handoff("court", "judicial_confirmation", at + timedelta(minutes=10),
                        rng.choice((None, "accepted")), {"terms": "赔偿"})

    for i in range(reports):
        code, level = units[i % len(units)]
        when = start + timedelta(seconds=rng.uniform(0, span))
        local = when.astimezone(zone)
        period = (f"{local.year:04d}-{local.month:02d}-H{1 if local.day <= 15 else 2}"
                  if level == "village" else f"{local.year:04d}-{local.month:02d}")
        report_id = f"{code}:{period}"
        if any(d.data.get("report_id") == report_id for d in drafts):
            continue
        drafts.append(_Draft("intake", f"screening-{report_id}", "ScreeningReportFiled", when, {
            "report_id": report_id, "unit": code, "level": level, "period": period,
            "findings": [], "finding_count": rng.randint(0, 5), "filed_by": "clerk-1"},
            "clerk-1", None, (n_cases + i, 0)))
    for i in range(risks):
        when = start + timedelta(seconds=rng.uniform(0, span))
        aid = uid()
        drafts.append(_Draft("intake", f"risk-{aid}", "RiskAssessmentRecorded", when, {
            "assessment_id": aid, "project": f"项目{i}", "region": rng.choice(regions),
            "level": rng.choice(RISK_LEVELS), "summary": "…",
            "assessed_by": "clerk-1"}, "clerk-1", None, (n_cases + reports + i, 0)))

    sources: Dict[str, List[RecordedEvent]] = {"intake": [], "assignment": [], "mediation": []}
    versions: Dict[str, int] = {}
    for d in sorted((d for d in drafts if d.at <= now), key=lambda d: (d.at, d.order)):
        versions[d.stream] = versions.get(d.stream, 0) + 1
        events = sources[d.source]
        events.append(RecordedEvent(
            id=uid(), stream_id=d.stream, version=versions[d.stream], position=len(events) + 1,
            type=d.type, schema_version=1, occurred_at=d.at, data=d.data, actor=d.actor,
            agency=None, correlation_id=d.case_id, causation_id=None))
    return Logs(sources, now, case_ids)


class ListLog:
    """A source log held in memory (a SourceLog for feeds and rebuilds in tests)."""

    def __init__(self, events: Sequence[RecordedEvent]):
        self.events = list(events)
        self.reads = 0

    def read(self, after_position: int, limit: int) -> List[RecordedEvent]:
        self.reads += 1
        return [e for e in self.events[after_position:after_position + limit]]

    def last_position(self) -> int:
        return len(self.events)


class ScriptedLogs:
    """Hand-written events of the three sources (a scripted month), each case's stream
    named as its source names it, positions counted per source."""

    STREAM_PREFIX = {"intake": "case-", "assignment": "assignment-",
                     "mediation": "mediation-"}

    def __init__(self):
        self.sources: Dict[str, List[RecordedEvent]] = {s: [] for s in self.STREAM_PREFIX}

    def add(self, source: str, case_id: str, type_: str, data: dict, at: datetime) -> None:
        events = self.sources[source]
        events.append(RecordedEvent(
            id=f"{source}-{len(events) + 1}", stream_id=self.STREAM_PREFIX[source] + case_id,
            version=1, position=len(events) + 1, type=type_, schema_version=1,
            occurred_at=at, data=data, actor="clerk-1", correlation_id=case_id))
