"""A registered case (登记): the one record every agency and channel shares.

The case stream holds the registration; what happens next (assignment, mediation) lives
in the other services' streams, correlated by case_id.
"""
from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import List, Optional, Sequence

from gm_contracts import streams
from gm_contracts import intake_events as events
from gm_directory import Directory
from gm_directory.vocabulary import administrative_ancestors
from gm_kernel import Aggregate, DomainError, InvalidValue, applies

# 集体访: five or more people is a statistical convention of petition work, not a statute
# (信访工作条例 第二十条 caps a group's representatives at five; it does not define the
# collective petition); CONTRACT.md §3 makes it the contract's rule for `headcount`.
COLLECTIVE_HEADCOUNT = 5
# 重复访: local practice — the same applicant (resident id) and matter (category) within
# 12 months, counted on local dates (GM_TIMEZONE), not UTC.
REPEAT_WINDOW_MONTHS = 12

class RegionNotServed(InvalidValue):
    """The region's county is not in this deployment's directory."""

    reason = "region not served"

    def __init__(self, region: str):
        super().__init__("region", f"county {region[:6]} is not served by this deployment")


class UnknownLeader(InvalidValue):
    """A leader reception day names someone the directory does not list as a leader."""

    def __init__(self, leader: str):
        super().__init__("leader", f"{leader!r} is not a leader in the directory")


@dataclass(frozen=True)
class Party:
    role: str
    name: str
    id_number: Optional[str] = None
    phone: Optional[str] = None


@dataclass(frozen=True)
class EarlierCase:
    case_id: str
    case_number: str
    registered_at: str
    region: Optional[str] = None  # absent on events of early versions


@dataclass(frozen=True)
class Registration:
    """What is known about a case when it comes in, from whichever channel."""

    channel: str
    category: str
    summary: str
    region: str
    parties: Sequence[Party]
    headcount: int = 1
    source_agency: Optional[str] = None
    referral_id: Optional[str] = None
    kind: Optional[str] = None
    procedure: Optional[str] = None
    requested_days: Optional[int] = None
    leader: Optional[str] = None
    screening_report_id: Optional[str] = None
    risk_assessment_id: Optional[str] = None
    high_risk: bool = False
    mediator: Optional[str] = None  # a roster mediator the parties named (调解员名册)

    @property
    def applicant_ids(self) -> List[str]:
        return [p.id_number.upper() for p in self.parties
                if p.role == "applicant" and p.id_number]


@dataclass(frozen=True)
class Flags:
    collective: bool
    repeat: bool
    key_case: bool
    key_reasons: List[str] = field(default_factory=list)
    level_skipping_of: List[str] = field(default_factory=list)

    @property
    def level_skipping(self) -> bool:
        return bool(self.level_skipping_of)


def decide_flags(reg: Registration, earlier: Sequence[EarlierCase]) -> Flags:
    """Collective (5+ people), repeat (earlier cases found) and key case (重点案件: collective,
    repeat, leader reception day or high risk) — the key ones get the full 四定四包."""
    collective = reg.headcount >= COLLECTIVE_HEADCOUNT
    repeat = bool(earlier)
    reasons = [name for name, on in (
        ("collective", collective),
        ("repeat", repeat),
        ("leader_reception", reg.channel == "leader_reception"),
        ("high_risk", reg.high_risk),
    ) if on]
    return Flags(collective=collective, repeat=repeat, key_case=bool(reasons), key_reasons=reasons,
                 level_skipping_of=skipped_levels(reg.region, earlier))


def skipped_levels(region: str, earlier: Sequence[EarlierCase]) -> List[str]:
    """越级访: the earlier cases of the same matter (the repeat index's) registered at a
    level below this one, in a division within this one — the petitioner went over the
    head of the unit that has the matter. (Intake does not follow closures: an earlier
    case counts while it is within the repeat window.)"""
    return [e.case_id for e in earlier
            if e.region and region in administrative_ancestors(e.region)]


def check_registration(reg: Registration, directory: Directory) -> None:
    """A case is registered only in a region this deployment serves, a leader
    reception day only with a leader the directory lists, and a mediator the parties
    named only if the roster lists them for the case's region (whether they are free is
    assignment's to judge, when it places the case)."""
    if not directory.serves(reg.region):
        raise RegionNotServed(reg.region)
    if reg.leader is not None and directory.find_leader(reg.leader) is None:
        raise UnknownLeader(reg.leader)
    if reg.mediator is not None:
        problem = directory.roster_problem(reg.mediator, reg.region)
        if problem is not None:
            raise InvalidValue("mediator", problem)


def months_before(day: date, months: int) -> date:
    """The same calendar day `months` earlier, clamped to the month's end (31 Mar -> 28 Feb)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def case_number(county: str, year: int, sequence: int) -> str:
    """Human case number, unique per county and year: 410611-2026-000123."""
    return f"{county}-{year}-{sequence:06d}"


def numbering(region: str, year: int) -> str:
    """The sequence a case's number is taken from: one per county and (local) year."""
    return f"case-number:{region[:6]}:{year}"


class Case(Aggregate):
    stream_prefix = streams.CASE

    def __init__(self, id: str):
        super().__init__(id)
        self.case_number: Optional[str] = None
        self.registration: Optional[dict] = None

    def register(self, reg: Registration, number: str, flags: Flags,
                 earlier: Sequence[EarlierCase], registered_at: datetime,
                 pseudonyms: Sequence[str] = (), query_code_digest: Optional[str] = None,
                 **meta) -> None:
        """`pseudonyms`: the applicants' keyed hashes, recorded for repeat detection;
        `query_code_digest`: the keyed digest of the petitioner's query code."""
        if self.exists:
            raise DomainError(f"case {self.id} is already registered")
        data = asdict(reg)
        data.pop("high_risk")
        if data["mediator"] is None:
            data.pop("mediator")  # events stay as they were when no mediator is named
        data.update(
            case_id=self.id,
            case_number=number,
            collective=flags.collective,
            repeat=flags.repeat,
            repeat_of=[asdict(e) for e in earlier],
            key_case=flags.key_case,
            key_reasons=list(flags.key_reasons),
            level_skipping=flags.level_skipping,
            level_skipping_of=list(flags.level_skipping_of),
            registered_at=registered_at.isoformat(),
            applicant_pseudonyms=list(pseudonyms),
            query_code_digest=query_code_digest,
        )
        self._record(events.CaseRegistered, data, occurred_at=registered_at, **meta)

    @applies(events.CaseRegistered)
    def _case_registered(self, data) -> None:
        self.case_number = data["case_number"]
        self.registration = dict(data)
