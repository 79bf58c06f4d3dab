"""The rules table (deploy/rules.yaml) as versioned data: routing (三调联动: which track and
which kind of unit mediates a case) and time limits (办结时限, DESIGN.md §5).

Both are lists of versioned entries: an entry may appear several times (same `id`,
different `effective_from`); the version in force on the case's registration date (in
the configured time zone) applies, so changing a rule never moves a case registered
before the change. Every entry names its legal `basis`; where no statute sets a figure,
the entry says `local_default: true` and the basis says so ("本地默认"), never citing a
law for it.

Matching. An entry lists matchers under `applies_to`; a matcher names either an agency
referral (`agency` + `kind`, optionally `procedure`) or intake `channels`, and may narrow
to `categories` (routing and rules) or a `track` (rules only: the track routing chose).
When several entries match a case, the most specific matcher wins (the one naming more of
agency, kind, procedure, channels, categories, track); two different entries may not have
equally specific matchers that could match the same case — the loader refuses that as
ambiguous.

Routing (`routing:`). A route gives the `track` (people / administrative / judicial), the
lowest `level` the case may start at, the `bodies` whose handlers may take it (so a
police referral goes to a people's mediation committee, never back to the police),
whether a specialist committee for the case's category comes first (`specialist`), and
the `task` (定任务: what is to be achieved). Every referral kind and every channel ×
category must be routed.

Time limits (`rules:`). A rule gives a `period` in `days` (calendar days), `months` or
`working_days` (counted on the working-day calendar, gm_kernel.calendar), how far it may
be extended, and at which `stage` of a case it applies: `registered` (from registration,
the default), or, for a petition matter (信访事项) on the administrative track,
`accepted` (from 受理) and `accepted_simple` (简易办理). Every routed case must find a
rule for its registration stage; every administrative petition a rule for `accepted`.

Extensions. `extension.max_count` caps how many times, and `max_days` (or
`max_working_days`) the total extra time over all extensions; a null limit means the
basis sets none. `notice: true` means the person must be told why (告知延期理由): an
extension then records when they were told. A rule with no `extension` cannot be
extended.

The file is read and checked by gm_assignment.adapters.rules_file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo

from gm_contracts.vocabulary import HANDLING_STAGES
from gm_directory.vocabulary import (
    CHANNELS,
    PETITION_CHANNELS,
    PROCEDURES,
    REFERRAL_KINDS,
)

DEFAULT_TIME_ZONE = "Asia/Shanghai"
DEFAULT_WARN_DAYS = 3
DEFAULT_REMIND_EVERY_DAYS = 7

#: When a time limit starts: at registration; for a petition matter also at 受理
#: (acceptance), ordinary or 简易办理 (simple handling).
STAGES = ("registered", *HANDLING_STAGES)
PERIOD_UNITS = ("days", "months", "working_days")


@dataclass(frozen=True)
class Source:
    """Where a case came from: an agency referral (agency, kind, procedure) or a channel."""

    channel: Optional[str] = None
    agency: Optional[str] = None
    kind: Optional[str] = None
    procedure: Optional[str] = None

    @classmethod
    def from_channel(cls, channel: str) -> "Source":
        return cls(channel=channel).validated()

    @classmethod
    def referral(cls, agency: str, kind: str, procedure: Optional[str] = None) -> "Source":
        """A referral; a court `entrusted` referral without procedure is `ordinary`."""
        if agency == "court" and kind == "entrusted" and procedure is None:
            procedure = "ordinary"
        return cls(agency=agency, kind=kind, procedure=procedure).validated()

    def validated(self) -> "Source":
        """Self, or ValueError if the combination is not one CONTRACT.md allows."""
        if (self.channel is None) == (self.agency is None):
            raise ValueError("a source is either a channel or an agency referral")
        if self.channel is not None:
            if self.channel not in CHANNELS:
                raise ValueError(f"unknown channel {self.channel!r}")
            if self.kind is not None or self.procedure is not None:
                raise ValueError("a channel source has no kind or procedure")
            return self
        if self.agency not in REFERRAL_KINDS:
            raise ValueError(f"unknown agency {self.agency!r}")
        if self.kind not in REFERRAL_KINDS[self.agency]:
            raise ValueError(f"{self.agency} does not refer {self.kind!r} cases")
        entrusted = (self.agency, self.kind) == ("court", "entrusted")
        if entrusted and self.procedure not in PROCEDURES:
            raise ValueError(f"unknown procedure {self.procedure!r}")
        if not entrusted and self.procedure is not None:
            raise ValueError("procedure applies to court entrusted referrals only")
        return self

    @property
    def is_petition(self) -> bool:
        """Registered through a channel a person petitions by (信访): not screening."""
        return self.channel in PETITION_CHANNELS

    def __str__(self) -> str:
        if self.channel is not None:
            return f"channel {self.channel}"
        return " ".join(p for p in (self.agency, self.kind, self.procedure) if p)


def all_sources() -> List[Source]:
    """Every source a case can have: each referral kind (and procedure), each channel."""
    out = []
    for agency, kinds in REFERRAL_KINDS.items():
        for kind in kinds:
            procedures = PROCEDURES if (agency, kind) == ("court", "entrusted") else (None,)
            out += [Source.referral(agency, kind, p) for p in procedures]
    return out + [Source.from_channel(c) for c in CHANNELS]


@dataclass(frozen=True)
class Matcher:
    """One `applies_to` entry; unset attributes match anything."""

    agency: Optional[str] = None
    kind: Optional[str] = None
    procedure: Optional[str] = None
    channels: Optional[FrozenSet[str]] = None
    categories: Optional[FrozenSet[str]] = None
    track: Optional[str] = None

    _SET_FIELDS = ("channels", "categories")

    @property
    def specificity(self) -> int:
        return sum(v is not None for v in (self.agency, self.kind, self.procedure,
                                           self.channels, self.categories, self.track))

    def matches(self, source: Source, category: Optional[str] = None,
                track: Optional[str] = None) -> bool:
        if self.channels is not None:
            if source.channel not in self.channels:
                return False
        elif source.agency != self.agency or source.kind != self.kind:
            return False
        if self.procedure is not None and source.procedure != self.procedure:
            return False
        if self.categories is not None and category not in self.categories:
            return False
        return self.track is None or self.track == track

    def overlaps(self, other: "Matcher") -> bool:
        """Whether both could match one case while being equally specific (ambiguity)."""
        if self.specificity != other.specificity:
            return False
        if (self.channels is None) != (other.channels is None):
            return False  # a case is either a referral or a channel case
        for name in ("agency", "kind", "procedure", "channels", "categories", "track"):
            a, b = getattr(self, name), getattr(other, name)
            if a is not None and b is not None and not (
                    a & b if name in self._SET_FIELDS else a == b):
                return False
        return True


@dataclass(frozen=True)
class Period:
    """A time limit: `amount` calendar days, months or working days (PERIOD_UNITS)."""

    amount: int
    unit: str = "days"

    def as_kwargs(self) -> Dict[str, int]:
        return {self.unit: self.amount}

    def to_data(self) -> Dict[str, int]:
        return {self.unit: self.amount}

    @classmethod
    def from_data(cls, data: Mapping[str, int]) -> "Period":
        [(unit, amount)] = data.items()
        return cls(int(amount), unit)

    def __str__(self) -> str:
        return {"days": f"{self.amount}日", "months": f"{self.amount}个月",
                "working_days": f"{self.amount}个工作日"}[self.unit]


@dataclass(frozen=True)
class Extension:
    """How far a deadline may be extended: total extra time (in `unit`: days or
    working_days) and number of extensions (None: no limit set by the basis), the
    condition the basis sets, and whether the person must be told why (`notice`)."""

    max_days: Optional[int]
    max_count: Optional[int]
    condition: Optional[str] = None
    unit: str = "days"
    notice: bool = False


@dataclass(frozen=True)
class _Versioned:
    id: str
    description: str
    applies_to: Tuple[Matcher, ...]
    basis: str
    effective_from: date
    local_default: bool

    def specificity_for(self, source: Source, category: Optional[str] = None,
                        track: Optional[str] = None) -> Optional[int]:
        """The specificity of the best matcher for this case, None if none matches."""
        found = [m.specificity for m in self.applies_to if m.matches(source, category, track)]
        return max(found) if found else None


@dataclass(frozen=True)
class Rule(_Versioned):
    period: Period = Period(30)
    extension: Optional[Extension] = None
    stage: str = "registered"

    @property
    def days(self) -> int:
        """The period in calendar days (ValueError for months or working days)."""
        if self.period.unit != "days":
            raise ValueError(f"rule {self.id} counts {self.period.unit}, not days")
        return self.period.amount


@dataclass(frozen=True)
class Route(_Versioned):
    track: str = "people"
    level: str = "village"
    bodies: Tuple[str, ...] = ()
    specialist: bool = False
    task: str = ""


class NoRuleInForce(LookupError):
    """No rule or route covers a case on the registration date."""


def _in_force(entries: Iterable[_Versioned], on: date, source: Source,
              category: Optional[str], track: Optional[str], what: str) -> _Versioned:
    candidates = [(specificity, e.effective_from, e) for e in entries if e.effective_from <= on
                  and (specificity := e.specificity_for(source, category, track)) is not None]
    if not candidates:
        raise NoRuleInForce(f"no {what} for {source}"
                            + (f", category {category}" if category else "")
                            + (f" on track {track}" if track else "") + f" in force on {on}")
    return max(candidates, key=lambda c: c[:2])[2]


@dataclass
class RuleBook:
    """All versions of all routes and rules, with the time zone days are counted in."""

    rules: Tuple[Rule, ...]
    routes: Tuple[Route, ...] = ()
    time_zone_name: str = DEFAULT_TIME_ZONE
    warn_days: int = DEFAULT_WARN_DAYS
    remind_every_days: int = DEFAULT_REMIND_EVERY_DAYS
    time_zone: ZoneInfo = field(init=False)

    def __post_init__(self):
        self.rules = tuple(self.rules)
        self.routes = tuple(self.routes)
        self.time_zone = ZoneInfo(self.time_zone_name)

    def route(self, source: Source, category: str, on: date) -> Route:
        """How a case from `source` about `category`, registered on `on`, is routed."""
        return _in_force(self.routes, on, source, category, None, "route")  # type: ignore

    def select(self, source: Source, track: str, on: date, *, category: Optional[str] = None,
               stage: str = "registered") -> Rule:
        """The time limit for a case from `source` on `track` registered on local date
        `on`, at `stage`: the most specific matching rule in its version in force then."""
        return _in_force((r for r in self.rules if r.stage == stage), on, source, category,
                         track, f"{stage} time limit")  # type: ignore

    def versions(self, rule_id: str) -> List[Rule]:
        """All versions of one rule, oldest first."""
        return sorted((r for r in self.rules if r.id == rule_id), key=lambda r: r.effective_from)
