"""The deadline rules table (办结时限, DESIGN.md §5) as versioned data.

Each rule says which case sources it applies to, how many calendar days the handler has,
how far the deadline may be extended, the legal basis, and the date it takes effect. A
rule may have several versions (same `id`, different `effective_from`): the version in
force on the case's registration date (in the configured time zone) applies, so changing
a time limit never changes the deadline of a case registered before the change.

Matching. A rule lists matchers under `applies_to`; a matcher names either a referral
(`agency` + `kind`, optionally `procedure`) or intake `channels`, optionally with a
`track`. When several rules match a case, the most specific matcher wins (the one naming
more of agency, kind, procedure, channels, track); two different rules may not have
equally specific matchers that could match the same case — the loader refuses that as
ambiguous. Every referral kind and every channel (on the people and administrative
tracks) must be covered by some rule.

Extensions. `extension.max_count` caps how many times, and `extension.max_days` the total
extra days over all extensions; a null limit means the basis sets none. A rule with no
`extension` cannot be extended.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Optional, Tuple, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gm_directory.vocabulary import CHANNELS, PROCEDURES, REFERRAL_KINDS, TRACKS
from gm_directory.yamlconfig import Field, compose_file

DEFAULT_TIME_ZONE = "Asia/Shanghai"
DEFAULT_WARN_DAYS = 3


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

    def __str__(self) -> str:
        if self.channel is not None:
            return f"channel {self.channel}"
        return " ".join(p for p in (self.agency, self.kind, self.procedure) if p)


@dataclass(frozen=True)
class Matcher:
    """One `applies_to` entry; unset attributes match anything."""

    agency: Optional[str] = None
    kind: Optional[str] = None
    procedure: Optional[str] = None
    channels: Optional[FrozenSet[str]] = None
    track: Optional[str] = None

    @property
    def specificity(self) -> int:
        return sum(v is not None for v in (self.agency, self.kind, self.procedure,
                                           self.channels, self.track))

    def matches(self, source: Source, track: str) -> bool:
        if self.channels is not None:
            if source.channel not in self.channels:
                return False
        elif source.agency != self.agency or source.kind != self.kind:
            return False
        if self.procedure is not None and source.procedure != self.procedure:
            return False
        return self.track is None or self.track == track

    def overlaps(self, other: "Matcher") -> bool:
        """Whether both could match one case while being equally specific (ambiguity)."""
        if self.specificity != other.specificity:
            return False
        if (self.channels is None) != (other.channels is None):
            return False  # a case is either a referral or a channel case
        for name in ("agency", "kind", "procedure", "channels", "track"):
            a, b = getattr(self, name), getattr(other, name)
            if a is not None and b is not None and not (a & b if name == "channels" else a == b):
                return False
        return True


@dataclass(frozen=True)
class Extension:
    """How far a deadline may be extended: total extra days and number of extensions
    (None: no limit set by the basis), and the condition the basis sets."""

    max_days: Optional[int]
    max_count: Optional[int]
    condition: Optional[str] = None


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    applies_to: Tuple[Matcher, ...]
    days: int
    extension: Optional[Extension]
    basis: str
    effective_from: date

    def specificity_for(self, source: Source, track: str) -> Optional[int]:
        """The specificity of the best matcher for this case, None if none matches."""
        found = [m.specificity for m in self.applies_to if m.matches(source, track)]
        return max(found) if found else None


class NoRuleInForce(LookupError):
    """No rule covers a case source on the registration date."""


class RuleBook:
    """All versions of all rules, with the time zone deadlines are counted in."""

    def __init__(self, rules: Iterable[Rule], time_zone: str = DEFAULT_TIME_ZONE,
                 warn_days: int = DEFAULT_WARN_DAYS):
        self.rules: Tuple[Rule, ...] = tuple(rules)
        self.time_zone_name = time_zone
        self.time_zone = ZoneInfo(time_zone)
        self.warn_days = warn_days

    def select(self, source: Source, track: str, on: date) -> Rule:
        """The rule for a case from `source` on `track` registered on local date `on`:
        the most specific matching rule, in its version in force on that date."""
        in_force = [(specificity, rule.effective_from, rule) for rule in self.rules
                    if rule.effective_from <= on
                    and (specificity := rule.specificity_for(source, track)) is not None]
        if not in_force:
            raise NoRuleInForce(f"no deadline rule for {source} on track {track} in force on {on}")
        return max(in_force, key=lambda c: c[:2])[2]

    def versions(self, rule_id: str) -> List[Rule]:
        """All versions of one rule, oldest first."""
        return sorted((r for r in self.rules if r.id == rule_id), key=lambda r: r.effective_from)


# -- loading -------------------------------------------------------------------------------


def load_rules(path: Union[str, Path], time_zone: Optional[str] = None) -> RuleBook:
    """Load and validate a rules file; raises ConfigError naming file, line and field.

    `time_zone`: the deployment's (GM_TIMEZONE). A file without `time_zone` takes it; a
    file naming a different one is refused, so deadlines never silently follow one
    clock while case numbers and reports follow another.

    Checked: required fields and no unknown ones; enumerations (agency, kind, procedure,
    channel, track); positive day counts; dates; a known time zone; unique
    (id, effective_from); no two rules ambiguous for the same case; every referral kind
    and channel covered.
    """
    doc = compose_file(path)
    root = doc.mapping(required=("rules",), optional=("time_zone", "warn_days"))
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

    entries = [_read_rule(item) for item in root["rules"].sequence(min_len=1)]
    seen_versions: Dict[Tuple[str, date], Field] = {}
    for fields, rule in entries:
        key = (rule.id, rule.effective_from)
        if key in seen_versions:
            raise fields["effective_from"].error(
                f"rule {rule.id} already has a version effective {rule.effective_from} "
                f"(line {seen_versions[key].line})")
        seen_versions[key] = fields["effective_from"]

    _check_unambiguous(entries)
    rules = [rule for _, rule in entries]
    _check_coverage(rules, root["rules"])
    return RuleBook(rules, time_zone=time_zone, warn_days=warn_days)


def _read_rule(item: Field) -> Tuple[Dict[str, Field], Rule]:
    fields = item.mapping(
        required=("id", "description", "applies_to", "days", "basis", "effective_from"),
        optional=("extension",))
    applies_to = tuple(_read_matcher(m) for m in fields["applies_to"].sequence(min_len=1))
    extension = None
    if "extension" in fields and not fields["extension"].is_null:
        ext = fields["extension"].mapping(required=("max_days", "max_count"),
                                          optional=("condition",))
        extension = Extension(
            max_days=None if ext["max_days"].is_null else ext["max_days"].integer(minimum=1,
                                                                                   maximum=365),
            max_count=None if ext["max_count"].is_null else ext["max_count"].integer(minimum=1),
            condition=ext["condition"].string() if "condition" in ext else None,
        )
    rule = Rule(
        id=fields["id"].identifier(),
        description=fields["description"].string(),
        applies_to=applies_to,
        days=fields["days"].integer(minimum=1, maximum=365),
        extension=extension,
        basis=fields["basis"].string(),
        effective_from=fields["effective_from"].date(),
    )
    return fields, rule


def _read_matcher(item: Field) -> Matcher:
    f = item.mapping(optional=("agency", "kind", "procedure", "channels", "track"))
    track = f["track"].string(choices=TRACKS) if "track" in f else None
    if "channels" in f:
        for name in ("agency", "kind", "procedure"):
            if name in f:
                raise f[name].error("a matcher names either channels or an agency referral")
        return Matcher(channels=frozenset(f["channels"].string_list(choices=CHANNELS)),
                       track=track)
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
    return Matcher(agency=agency, kind=kind, procedure=procedure, track=track)


def _check_unambiguous(entries: List[Tuple[Dict[str, Field], Rule]]) -> None:
    for i, (fields, rule) in enumerate(entries):
        for earlier_fields, earlier in entries[:i]:
            if earlier.id == rule.id:
                continue  # versions of one rule
            if any(m.overlaps(e) for m in rule.applies_to for e in earlier.applies_to):
                raise fields["applies_to"].error(
                    f"ambiguous: rule {earlier.id} (line {earlier_fields['id'].line}) matches "
                    "the same cases just as specifically")


def _check_coverage(rules: List[Rule], where: Field) -> None:
    def covered(source: Source, tracks: Iterable[str]) -> bool:
        return any(r.specificity_for(source, t) is not None for r in rules for t in tracks)

    for agency, kinds in REFERRAL_KINDS.items():
        for kind in kinds:
            procedures = PROCEDURES if (agency, kind) == ("court", "entrusted") else (None,)
            for procedure in procedures:
                source = Source.referral(agency, kind, procedure)
                if not covered(source, TRACKS):
                    raise where.error(f"no rule covers referrals of {source}")
    for channel in CHANNELS:
        for track in ("people", "administrative"):  # channel cases never start judicial
            if not covered(Source.from_channel(channel), (track,)):
                raise where.error(f"no rule covers channel {channel} on track {track}")
