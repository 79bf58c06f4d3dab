"""Deciding the 四定 for a registered case (seed: 定任务、定包案领导、定具体承办人、定办结时限):
the task, the unit and its responsible leader (and for a key case the lead leader, 包案领导),
the handler, and the deadline.

A pure function of the case facts, the directory, the rules table, the working-day
calendar and the handlers' current load. The steps, in order:

1. Route (三调联动, deploy/rules.yaml `routing:`): from the source and the dispute's
   category, the track (people / administrative / judicial), the lowest level the case may
   start at, the bodies whose handlers may take it, whether a specialist committee for the
   category comes first, and the task. Court referrals go to the court-attached mediation
   office (judicial track); police, procuratorate and petition-bureau referrals of civil
   disputes to people's mediation — never back to the referring agency; a channel case to
   people's mediation, a specialist committee (medical, traffic, labour), or, for a dispute
   an administrative organ resolves within its remit, the administrative track.

2. Level and unit (重心下移): the lowest unit at or above the region (village → township
   → county → city, along the directory's parents) at or above the route's level that has
   a handler of the route's bodies on its track — for a specialist route, first the lowest
   such unit with a specialist for the category. Key cases — collective, repeat, flagged
   key (e.g. high risk), or received on a leader's reception day — start at county level
   or above.

3. Leaders: every case names the chosen unit's responsible leader (its first leader);
   a key case also has a lead leader (包案领导): the leader named on a leader_reception
   case, otherwise the unit's first leader.

4. Handler (承办人, the mediator): the parties' choice if they named a mediator on the
   roster (调解员名册, 人民调解法 第十九条; 特邀调解规定: 当事人在名册中选定) who can take the
   case — on the route's track and bodies, serving the case's region, at a unit at or
   above the floor, available on the registration day and below their ceiling of open
   cases; the case then goes to that mediator's unit. Otherwise (and when the named
   mediator cannot take it: the committee designates another, and the event says why)
   the unit is chosen as in step 2 (the roster does not move cases between units), and
   the candidates there are the eligible handlers (works on the track, in one of the
   route's bodies, a specialist where one was sought; a handler whose body the
   directory does not say is eligible) and the roster's mediators there on the track
   who serve the region and are available (listing the category, where a specialist
   was sought); the first by: the case's category among their specialties,
   then the most specific region they serve that holds the case's, then the fewest open
   cases, then the smaller id. `Selection` records the basis: party_choice,
   specialty_region (matched on the category or on a region narrower than the unit's) or
   load.

5. Deadline (办结时限): the time limit in force on the registration date (local) for the
   case's stage `registered`, in its unit (days, months or working days) unless the
   referring agency set `requested_days`; counted on the working-day calendar
   (gm_kernel.calendar): day one excluded, a period ending on a rest day or holiday ends
   on the next working day (民法典 第二百零一条至第二百零三条; 民事诉讼法 第八十五条).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from gm_directory.directory import Directory, Handler, Unit
from gm_directory.vocabulary import RISK_ASSESSMENT_CHANNEL, level_of_code, level_rank
from gm_kernel import DomainError, format_time, parse_time
from gm_kernel.calendar import WorkingCalendar
from gm_kernel.localtime import local_date

from .rules import Extension, NoRuleInForce, Period, Route, Rule, RuleBook, Source

#: Key cases are handled at this level or above (四定四包 with a lead leader).
KEY_CASE_FLOOR = "county"


class DecisionError(DomainError):
    """The 四定 cannot be decided: bad facts, an unserved region, no unit, rule or handler."""


@dataclass(frozen=True)
class CaseFacts:
    """What intake registered about a case, as far as assignment needs it."""

    source: Source
    category: str
    region: str
    registered_at: datetime
    collective: bool = False
    repeat: bool = False
    key_case: bool = False  # flagged key by intake, e.g. high risk
    leader: Optional[str] = None  # leader_reception: the receiving leader's id (or unique name)
    requested_days: Optional[int] = None  # a time limit the referring agency set
    mediator: Optional[str] = None  # the roster mediator the parties named, if any

    @classmethod
    def of_registration(cls, data: Mapping[str, Any]) -> "CaseFacts":
        """What intake's CaseRegistered says, in assignment's terms. A preventive case
        opened by a high stability risk (稳评) was found by the authorities, not
        petitioned: like screening (排查) it is placed and timed as a screening case
        (and, being a key case, at county level with a lead). KeyError or ValueError
        when the registration lacks what a placement needs."""
        if data.get("source_agency"):
            source = Source.referral(data["source_agency"], data["kind"], data.get("procedure"))
        else:
            channel = data["channel"]
            source = Source.from_channel("screening" if channel == RISK_ASSESSMENT_CHANNEL
                                         else channel)
        return cls(
            source=source, category=data["category"], region=data["region"],
            registered_at=parse_time(data["registered_at"]),
            collective=bool(data.get("collective")), repeat=bool(data.get("repeat")),
            key_case=bool(data.get("key_case")), leader=data.get("leader"),
            requested_days=data.get("requested_days"), mediator=data.get("mediator"),
        )

    @property
    def is_key(self) -> bool:
        """Collective, repeat, flagged key, or received on a leader's reception day."""
        return (self.key_case or self.collective or self.repeat
                or self.source.channel == "leader_reception")


@dataclass(frozen=True)
class Deadline:
    """A time limit as counted: its rule, its period and where it ends."""

    rule_id: str
    rule_effective_from: date
    legal_basis: str
    local_default: bool
    period: Period
    extension: Optional[Extension]
    due_at: datetime
    last_day: date
    provisional: bool  # counted over a year whose holiday arrangement is not yet published
    rolled_from: Optional[date]  # the rest day or holiday the period ended on, if moved

    def to_data(self) -> Dict[str, Any]:
        ext = self.extension
        return {
            "rule_id": self.rule_id,
            "rule_effective_from": self.rule_effective_from.isoformat(),
            "legal_basis": self.legal_basis, "local_default": self.local_default,
            "period": self.period.to_data(), "due_at": format_time(self.due_at),
            "calendar_provisional": self.provisional,
            "rolled_from": self.rolled_from.isoformat() if self.rolled_from else None,
            "extension": None if ext is None else {
                "max_days": ext.max_days, "max_count": ext.max_count,
                "condition": ext.condition, "unit": ext.unit, "notice": ext.notice},
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "Deadline":
        ext = data.get("extension")
        period = data.get("period") or {"days": data["days"]}  # before periods had units
        due_at = parse_time(data["due_at"])
        rolled = data.get("rolled_from")
        return cls(
            rule_id=data["rule_id"],
            rule_effective_from=date.fromisoformat(data["rule_effective_from"]),
            legal_basis=data["legal_basis"], local_default=bool(data.get("local_default")),
            period=Period.from_data(period), due_at=due_at,
            last_day=local_date(due_at, _tz(data)),
            provisional=bool(data.get("calendar_provisional")),
            rolled_from=date.fromisoformat(rolled) if rolled else None,
            extension=None if ext is None else Extension(
                ext.get("max_days"), ext.get("max_count"), ext.get("condition"),
                ext.get("unit", "days"), bool(ext.get("notice"))),
        )


def _tz(data: Mapping[str, Any]):
    from zoneinfo import ZoneInfo

    return ZoneInfo(data.get("time_zone") or "Asia/Shanghai")


def count_deadline(rule: Rule, start: datetime, calendar: WorkingCalendar, tz,
                   period: Optional[Period] = None) -> Deadline:
    """The deadline of `rule` (or of `period`, e.g. an agency's own) counted from `start`."""
    period = period or rule.period
    counted = calendar.deadline(start, tz, **period.as_kwargs())
    return Deadline(rule_id=rule.id, rule_effective_from=rule.effective_from,
                    legal_basis=rule.basis, local_default=rule.local_default, period=period,
                    extension=rule.extension, due_at=counted.due_at,
                    last_day=counted.last_day, provisional=counted.provisional,
                    rolled_from=counted.rolled_from)


@dataclass(frozen=True)
class Decision:
    """The 四定 of one case: the data of AssignmentMade."""

    task: str
    route_id: str
    route_basis: str
    track: str
    level: str
    unit: str
    responsible_leader: Optional[str]
    lead: Optional[str]
    handler: str
    registered_at: datetime
    deadline: Deadline
    time_zone: str
    key_case: bool
    region: str
    petition_matter: bool  # a 信访事项 on the administrative track (its statutory workflow)
    source: Optional[Source]  # None in assignments made before it was recorded
    category: Optional[str]
    selection: Optional[Selection] = None  # None in assignments made before it was recorded

    @property
    def due_at(self) -> datetime:
        return self.deadline.due_at

    def to_data(self) -> Dict[str, Any]:
        registered_day = local_date(self.registered_at, _tz({"time_zone": self.time_zone}))
        return {
            "task": self.task, "route_id": self.route_id, "route_basis": self.route_basis,
            "track": self.track, "level": self.level, "unit": self.unit,
            "responsible_leader": self.responsible_leader, "lead": self.lead,
            "handler": self.handler, "registered_at": format_time(self.registered_at),
            # calendar days from the registration day to the last day (for readers)
            "days": (self.deadline.last_day - registered_day).days,
            **self.deadline.to_data(),
            "time_zone": self.time_zone, "key_case": self.key_case, "region": self.region,
            "petition_matter": self.petition_matter, "stage": "registered",
            "source": None if self.source is None else {
                "channel": self.source.channel, "agency": self.source.agency,
                "kind": self.source.kind, "procedure": self.source.procedure},
            "category": self.category,
            "selection": None if self.selection is None else self.selection.to_data(),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "Decision":
        return cls(
            task=data.get("task", ""), route_id=data.get("route_id", ""),
            route_basis=data.get("route_basis", ""),
            track=data["track"], level=data["level"], unit=data["unit"],
            responsible_leader=data.get("responsible_leader"), lead=data.get("lead"),
            handler=data["handler"], registered_at=parse_time(data["registered_at"]),
            deadline=Deadline.from_data(data), time_zone=data["time_zone"],
            key_case=bool(data["key_case"]), region=data["region"],
            petition_matter=bool(data.get("petition_matter")),
            source=Source(**data["source"]) if data.get("source") else None,
            category=data.get("category"),
            selection=Selection.from_data(data["selection"]) if data.get("selection") else None,
        )


@dataclass(frozen=True)
class Selection:
    """Why the handler (the mediator) was chosen: the parties' choice, a match on the
    case's category or region, or the load; with the figures behind it."""

    basis: str  # one of gm_contracts.assignment_events.SELECTION_BASES
    specialty_match: bool  # the case's category is among the handler's specialties
    region: str  # the handler's region holding the case's (a roster region, else the unit's)
    open_cases: int  # the handler's open cases when chosen
    candidates: int  # how many could have taken it (1 for the parties' choice)
    named: Optional[str] = None  # the mediator the parties named
    named_refused: Optional[str] = None  # why the named mediator could not take the case

    def to_data(self) -> Dict[str, Any]:
        return {"basis": self.basis, "specialty_match": self.specialty_match,
                "region": self.region, "open_cases": self.open_cases,
                "candidates": self.candidates, "named": self.named,
                "named_refused": self.named_refused}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "Selection":
        return cls(**{k: data.get(k) for k in ("basis", "specialty_match", "region",
                                               "open_cases", "candidates", "named",
                                               "named_refused")})


def eligible(unit: Unit, route: Route, category: Optional[str] = None) -> Tuple[Handler, ...]:
    """The directory's own handlers at `unit` who may take a case on `route` (a handler
    whose body the directory does not say counts as eligible): with `category`, its
    specialists; without, the general handlers (a specialist committee takes the
    disputes of its speciality). The roster's mediators are not among them: they never
    decide which unit takes a case (`roster_candidates`)."""
    return tuple(h for h in unit.handlers_for(route.track)
                 if h.roster is None and (h.body is None or h.body in route.bodies)
                 and (category in h.specialties if category else not h.specialties))


def roster_candidates(unit: Unit, route: Route, region: str, day: date,
                      loads: Optional[Mapping[str, int]] = None,
                      category: Optional[str] = None) -> Tuple[Handler, ...]:
    """The roster's mediators at `unit` on the route's track and bodies who serve `region`
    and can take a case on `day` (not marked unavailable, not away, below their ceiling
    of open cases); with `category` (a specialist route), those listing it. Their
    specialties are preferences: without `category` they take any case of their track."""
    loads = loads or {}
    return tuple(h for h in unit.handlers_for(route.track)
                 if h.roster is not None and h.body in route.bodies
                 and (category is None or category in h.specialties)
                 and h.roster.region_served(region) is not None
                 and h.roster.unavailable(day, loads.get(h.id, 0)) is None)


def served_region(handler: Handler, unit: Unit, region: str) -> Optional[str]:
    """The handler's region holding `region`: a roster mediator's most specific one (None
    if they do not serve it); the unit's division for the directory's own handlers."""
    return unit.code if handler.roster is None else handler.roster.region_served(region)


def choose_unit(directory: Directory, region: str, route: Route, floor: str,
                category: Optional[str] = None) -> Optional[Unit]:
    """The lowest unit at or above `region`, at level `floor` or higher, with a handler
    eligible for `route` (a specialist for `category`, if given); None if none."""
    start = directory.unit_for(region)
    if start is None:
        raise DecisionError(f"region {region} is not served by this directory")
    for unit in (start, *directory.ancestors(start.code)):
        if level_rank(unit.level) >= level_rank(floor) and eligible(unit, route, category):
            return unit
    return None


def least_loaded(handlers: Sequence[Handler], loads: Optional[Mapping[str, int]] = None) -> Handler:
    """The handler with the fewest open cases (missing from `loads`: none); ties by id."""
    if not handlers:
        raise DecisionError("no eligible handler")
    loads = loads or {}
    return min(handlers, key=lambda h: (loads.get(h.id, 0), h.id))


def best_match(handlers: Sequence[Handler], unit: Unit, region: str, category: str,
               loads: Optional[Mapping[str, int]] = None,
               named: Optional[str] = None, named_refused: Optional[str] = None,
               ) -> Tuple[Handler, Selection]:
    """The first of `handlers` by specialty (the case's category among theirs), then the
    most specific region holding the case's, then the fewest open cases, then the id;
    and why it was chosen."""
    if not handlers:
        raise DecisionError("no eligible handler")
    loads = loads or {}

    def rank(h: Handler):
        return (category not in h.specialties, -len(served_region(h, unit, region) or ""),
                loads.get(h.id, 0), h.id)

    chosen = min(handlers, key=rank)
    specialty = category in chosen.specialties
    served = served_region(chosen, unit, region)
    matched = specialty or len(served) > len(unit.code)
    return chosen, Selection(
        basis="specialty_region" if matched else "load", specialty_match=specialty,
        region=served, open_cases=loads.get(chosen.id, 0), candidates=len(handlers),
        named=named, named_refused=named_refused)


def take_named(directory: Directory, mediator_id: str, track: str, region: str, floor: str,
               day: date, loads: Optional[Mapping[str, int]] = None,
               route: Optional[Route] = None,
               ) -> Tuple[Optional[Tuple[Handler, Unit]], Optional[str]]:
    """The mediator the parties named and their unit, if they can take a case on `track`
    (and `route`'s bodies) in `region` at `floor` or above on `day`; else (None, why
    not). Intake refuses a name not on the roster or outside the case's region; the rest
    changes with time and routing, so it falls back, recorded."""
    found = directory.mediator(mediator_id)
    if found is None:
        return None, f"{mediator_id} is not on the mediator roster"
    mediator, unit = found
    if track not in mediator.tracks or (route is not None and mediator.body not in route.bodies):
        where = (f"route {route.id} is track {track}, bodies {', '.join(route.bodies)}"
                 if route is not None else f"the case is on track {track}")
        return None, f"{mediator.id} mediates on track {next(iter(mediator.tracks))}; {where}"
    if mediator.roster.region_served(region) is None:
        return None, f"{mediator.id} does not serve region {region}"
    if level_rank(unit.level) < level_rank(floor):
        return None, (f"{mediator.id} sits at a {unit.level} unit; this case is handled at "
                      f"{floor} level or above")
    why = mediator.roster.unavailable(day, (loads or {}).get(mediator.id, 0))
    if why is not None:
        return None, f"{mediator.id} {why}"
    return found, None


def chosen_by_parties(handler: Handler, unit: Unit, region: str, category: Optional[str],
                      loads: Optional[Mapping[str, int]] = None) -> Selection:
    """The selection of a mediator the parties named and who can take the case."""
    return Selection(basis="party_choice", specialty_match=category in handler.specialties,
                     region=served_region(handler, unit, region), candidates=1,
                     open_cases=(loads or {}).get(handler.id, 0), named=handler.id)


def choose_lead(facts: CaseFacts, unit: Unit, directory: Directory) -> Optional[str]:
    """The lead leader (包案领导) of a key case (None for other cases)."""
    if not facts.is_key:
        return None
    if facts.source.channel == "leader_reception":
        if not facts.leader:
            raise DecisionError("a leader_reception case needs the receiving leader")
        found = directory.find_leader(facts.leader)
        if found is None:
            raise DecisionError(f"leader {facts.leader!r} is not in the directory")
        return found[0].id
    if unit.first_leader is None:
        raise DecisionError(f"unit {unit.code} has no leader to lead a key case")
    return unit.first_leader.id


def decide(facts: CaseFacts, directory: Directory, rules: RuleBook, calendar: WorkingCalendar,
           loads: Optional[Mapping[str, int]] = None) -> Decision:
    """The 四定 for a registered case. `loads`: open cases per handler id.

    Raises DecisionError when the facts are malformed or the case cannot be placed.
    """
    try:
        facts.source.validated()
        level_of_code(facts.region)
        day = local_date(facts.registered_at, rules.time_zone)
    except ValueError as exc:
        raise DecisionError(str(exc)) from None
    if facts.requested_days is not None and not 1 <= facts.requested_days <= 365:
        raise DecisionError("requested_days must be between 1 and 365")
    try:
        route = rules.route(facts.source, facts.category, day)
        rule = rules.select(facts.source, route.track, day, category=facts.category)
    except NoRuleInForce as exc:
        raise DecisionError(str(exc)) from None

    floor = route.level
    if facts.is_key and level_rank(floor) < level_rank(KEY_CASE_FLOOR):
        floor = KEY_CASE_FLOOR
    named, refused = (None, None) if facts.mediator is None else take_named(
        directory, facts.mediator, route.track, facts.region, floor, day, loads, route)
    if named is not None:
        handler, unit = named
        selection = chosen_by_parties(handler, unit, facts.region, facts.category, loads)
    else:
        unit, specialty = None, None
        if route.specialist:
            unit = choose_unit(directory, facts.region, route, floor, facts.category)
            specialty = facts.category if unit is not None else None
        unit = unit or choose_unit(directory, facts.region, route, floor)
        if unit is None:
            raise DecisionError(f"no unit at or above {facts.region} at {floor} level or above "
                                f"has a handler for route {route.id} (track {route.track}, "
                                f"bodies {', '.join(route.bodies)})")
        handler, selection = best_match(
            eligible(unit, route, specialty)
            + roster_candidates(unit, route, facts.region, day, loads, specialty),
            unit, facts.region,
            facts.category, loads, named=facts.mediator, named_refused=refused)
    period = Period(facts.requested_days) if facts.requested_days else None
    return Decision(
        task=route.task, route_id=route.id, route_basis=route.basis,
        track=route.track, level=unit.level, unit=unit.code,
        responsible_leader=unit.first_leader.id if unit.first_leader else None,
        lead=choose_lead(facts, unit, directory), handler=handler.id,
        registered_at=facts.registered_at,
        deadline=count_deadline(rule, facts.registered_at, calendar, rules.time_zone, period),
        time_zone=rules.time_zone_name, key_case=facts.is_key, region=facts.region,
        petition_matter=facts.source.is_petition and route.track == "administrative",
        source=facts.source, category=facts.category, selection=selection,
    )
