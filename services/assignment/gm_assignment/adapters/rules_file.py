"""Reading the rules table from its YAML file (deploy/rules.yaml, GM_RULES_FILE) into the
domain's `RuleBook`, refusing a malformed one with `file:line: field: problem`.

What the entries mean is said in gm_assignment.domain.rules.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gm_directory.vocabulary import (
    BODIES,
    CATEGORIES,
    CHANNELS,
    LEVELS,
    PROCEDURES,
    REFERRAL_KINDS,
    TRACKS,
)
from gm_directory.yamlconfig import Field, compose_file

from ..domain.rules import (
    DEFAULT_REMIND_EVERY_DAYS,
    DEFAULT_TIME_ZONE,
    DEFAULT_WARN_DAYS,
    PERIOD_UNITS,
    STAGES,
    Extension,
    Matcher,
    NoRuleInForce,
    Period,
    Route,
    Rule,
    RuleBook,
    Source,
    _Versioned,
    all_sources,
)


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
                       # early_warning, performance_review: reporting's
                       # (gm_reporting.warnings_file, gm_reporting.scoring_file)
                       optional=("time_zone", "warn_days", "supervision", "early_warning",
                                 "performance_review"))
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
