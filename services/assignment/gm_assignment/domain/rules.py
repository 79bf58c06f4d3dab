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
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gm_directory.vocabulary import (
    BODIES,
    CATEGORIES,
    CHANNELS,
    LEVELS,
    PETITION_CHANNELS,
    PROCEDURES,
    REFERRAL_KINDS,
    TRACKS,
)
from gm_directory.yamlconfig import Field, compose_file

DEFAULT_TIME_ZONE = "Asia/Shanghai"
DEFAULT_WARN_DAYS = 3
DEFAULT_REMIND_EVERY_DAYS = 7

#: When a time limit starts: at registration; for a petition matter also at 受理
#: (acceptance), ordinary or 简易办理 (simple handling).
STAGES = ("registered", "accepted", "accepted_simple")
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


# -- loading -------------------------------------------------------------------------------


def load_rules(path: Union[str, Path], time_zone: Optional[str] = None) -> RuleBook:
    """Load and validate a rules file; raises ConfigError naming file, line and field.

    `time_zone`: the deployment's (GM_TIMEZONE). A file without `time_zone` takes it; a
    file naming a different one is refused, so deadlines never silently follow one
    clock while case numbers and reports follow another.

    Checked: required fields and no unknown ones; enumerations; positive periods; dates;
    a known time zone; unique (id, effective_from); no two entries ambiguous for the same
    case; every referral kind and channel × category routed; a registration-stage rule
    for every route, and an acceptance-stage rule for every routed petition matter.
    """
    doc = compose_file(path)
    root = doc.mapping(required=("rules", "routing"),
                       optional=("time_zone", "warn_days", "supervision"))
    configured, time_zone = time_zone, time_zone or DEFAULT_TIME_ZONE
    if "time_zone" in root:
        time_zone = root["time_zone"].string()
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise root["time_zone"].error(
                f"unknown time zone {time_zone} (is the tzdata package installed?)") from None
        if configured is not None and time_zone != configured:
            raise root["time_zone"].error(
                f"{time_zone} differs from the deployment's time zone {configured} "
                f"(GM_TIMEZONE); remove it here or make them agree")
    warn_days = root["warn_days"].integer(minimum=0, maximum=60) if "warn_days" in root \
        else DEFAULT_WARN_DAYS
    remind = DEFAULT_REMIND_EVERY_DAYS
    if "supervision" in root:
        remind = root["supervision"].mapping(required=("remind_every_days",))[
            "remind_every_days"].integer(minimum=1, maximum=60)

    routes = [_read_route(item) for item in root["routing"].sequence(min_len=1)]
    rules = [_read_rule(item) for item in root["rules"].sequence(min_len=1)]
    for entries in (routes, rules):
        _check_versions(entries)
        _check_unambiguous(entries)
    book = RuleBook(tuple(r for _, r in rules), tuple(r for _, r in routes),
                    time_zone_name=time_zone, warn_days=warn_days, remind_every_days=remind)
    _check_coverage(book, root["routing"], root["rules"])
    return book


_COMMON = ("id", "description", "applies_to", "basis", "effective_from")


def _read_common(fields: Dict[str, Field], routing: bool) -> dict:
    local_default = fields["local_default"].boolean() if "local_default" in fields else False
    basis = fields["basis"].string()
    if local_default and "本地默认" not in basis:
        raise fields["basis"].error("a local default must say so in its basis (本地默认)")
    return dict(
        id=fields["id"].identifier(),
        description=fields["description"].string(),
        applies_to=tuple(_read_matcher(m, routing)
                         for m in fields["applies_to"].sequence(min_len=1)),
        basis=basis,
        effective_from=fields["effective_from"].date(),
        local_default=local_default,
    )


def _read_route(item: Field) -> Tuple[Dict[str, Field], Route]:
    fields = item.mapping(required=_COMMON + ("track", "level", "bodies", "task"),
                          optional=("specialist", "local_default"))
    route = Route(
        **_read_common(fields, routing=True),
        track=fields["track"].string(choices=TRACKS),
        level=fields["level"].string(choices=LEVELS),
        bodies=tuple(fields["bodies"].string_list(choices=BODIES)),
        specialist=fields["specialist"].boolean() if "specialist" in fields else False,
        task=fields["task"].string(),
    )
    return fields, route


def _read_rule(item: Field) -> Tuple[Dict[str, Field], Rule]:
    fields = item.mapping(required=_COMMON,
                          optional=("extension", "stage", "local_default") + PERIOD_UNITS)
    units = [u for u in PERIOD_UNITS if u in fields]
    if len(units) != 1:
        raise item.error("exactly one of days, months or working_days",
                         child=units[1] if units else "days")
    unit = units[0]
    limit = {"days": 365, "months": 12, "working_days": 250}[unit]
    period = Period(fields[unit].integer(minimum=1, maximum=limit), unit)
    extension = None
    if "extension" in fields and not fields["extension"].is_null:
        ext = fields["extension"].mapping(
            required=("max_count",),
            optional=("max_days", "max_working_days", "condition", "notice"))
        kinds = [k for k in ("max_days", "max_working_days") if k in ext]
        if len(kinds) != 1:
            raise fields["extension"].error("exactly one of max_days or max_working_days",
                                            child=kinds[1] if kinds else "max_days")
        amount = ext[kinds[0]]
        extension = Extension(
            max_days=None if amount.is_null else amount.integer(minimum=1, maximum=365),
            max_count=None if ext["max_count"].is_null else ext["max_count"].integer(minimum=1),
            condition=ext["condition"].string() if "condition" in ext else None,
            unit="working_days" if kinds[0] == "max_working_days" else "days",
            notice=ext["notice"].boolean() if "notice" in ext else False,
        )
    rule = Rule(
        **_read_common(fields, routing=False),
        period=period,
        extension=extension,
        stage=fields["stage"].string(choices=STAGES) if "stage" in fields else "registered",
    )
    return fields, rule


def _read_matcher(item: Field, routing: bool) -> Matcher:
    allowed = ("agency", "kind", "procedure", "channels", "categories") \
        + (() if routing else ("track",))
    f = item.mapping(optional=allowed)
    track = f["track"].string(choices=TRACKS) if "track" in f else None
    categories = frozenset(f["categories"].string_list(choices=CATEGORIES)) \
        if "categories" in f else None
    if "channels" in f:
        for name in ("agency", "kind", "procedure"):
            if name in f:
                raise f[name].error("a matcher names either channels or an agency referral")
        return Matcher(channels=frozenset(f["channels"].string_list(choices=CHANNELS)),
                       categories=categories, track=track)
    if "agency" not in f or "kind" not in f:
        raise item.error("required field missing (a matcher names channels, or agency and kind)",
                         child="agency" if "agency" not in f else "kind")
    agency = f["agency"].string(choices=tuple(REFERRAL_KINDS))
    kind = f["kind"].string(choices=REFERRAL_KINDS[agency])
    procedure = None
    if "procedure" in f:
        if (agency, kind) != ("court", "entrusted"):
            raise f["procedure"].error("procedure applies to court entrusted referrals only")
        procedure = f["procedure"].string(choices=PROCEDURES)
    return Matcher(agency=agency, kind=kind, procedure=procedure, categories=categories,
                   track=track)


def _check_versions(entries: List[Tuple[Dict[str, Field], _Versioned]]) -> None:
    seen: Dict[Tuple[str, date], Field] = {}
    for fields, entry in entries:
        key = (entry.id, entry.effective_from)
        if key in seen:
            raise fields["effective_from"].error(
                f"{entry.id} already has a version effective {entry.effective_from} "
                f"(line {seen[key].line})")
        seen[key] = fields["effective_from"]


def _check_unambiguous(entries: List[Tuple[Dict[str, Field], _Versioned]]) -> None:
    for i, (fields, entry) in enumerate(entries):
        for earlier_fields, earlier in entries[:i]:
            if earlier.id == entry.id:
                continue  # versions of one entry
            if getattr(earlier, "stage", None) != getattr(entry, "stage", None):
                continue  # rules of different stages never compete
            if any(m.overlaps(e) for m in entry.applies_to for e in earlier.applies_to):
                raise fields["applies_to"].error(
                    f"ambiguous: {earlier.id} (line {earlier_fields['id'].line}) matches "
                    "the same cases just as specifically")


def _check_coverage(book: RuleBook, routing: Field, rules: Field) -> None:
    """Every source × category is routed, and every route has its time limits — from the
    first effective date on which the table is complete, on every later effective date
    (earlier versions stay for cases registered before; they need not be complete)."""
    dates = sorted({e.effective_from for e in (*book.routes, *book.rules)})
    complete = False
    for on in dates:
        routed = {}
        for source in all_sources():
            for category in CATEGORIES:
                try:
                    routed[(source, category)] = book.route(source, category, on)
                except NoRuleInForce as exc:
                    if complete or on == dates[-1]:
                        raise routing.error(str(exc)) from None
        if len(routed) < len(all_sources()) * len(CATEGORIES):
            continue
        complete = True
        for (source, category), route in routed.items():
            _require(book, rules, source, route.track, category, on, "registered")
            if source.is_petition and route.track == "administrative":
                for stage in ("accepted", "accepted_simple"):
                    _require(book, rules, source, route.track, category, on, stage)


def _require(book: RuleBook, where: Field, source: Source, track: str, category: str,
             on: date, stage: str) -> None:
    try:
        book.select(source, track, on, category=category, stage=stage)
    except NoRuleInForce as exc:
        raise where.error(str(exc)) from None
