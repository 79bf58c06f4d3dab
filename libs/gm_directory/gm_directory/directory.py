"""The organisation directory: which units exist, where, on which tracks, and who works there.

A unit is the mediation body of one administrative division — a village committee's
people's mediation committee, a township's dispute mediation centre, a county's or the
city's centre where court, procuratorate, police and petition bureau sit together (the
court-attached mediation office gives the judicial track). Its `code` is the division's
national code, so a region code finds its unit by walking up the code: a village that is
not listed is handled by its township (first 9 digits), then its county (first 6), then
the city.

Each handler says which kind of body they work in (`vocabulary.BODIES`); members of a
specialist people's mediation committee (medical, traffic accident, labour disputes …)
list the dispute categories they take as `specialties`. A unit's `liaisons` are the
referring agencies' counterparts at that division (the court, procuratorate, police and
petition bureau sitting in the centre): hand-offs are addressed to them; they are not
handlers and never get cases.

The file's optional `mediators:` section is the mediator roster (调解员名册, see
`roster`): each entry becomes a handler of its unit, with its `roster` entry.

The file (deploy/directory.yaml) is validated when loaded; see `load_directory`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple, Union

from .vocabulary import (AGENCIES, BODIES, CATEGORIES, LEVELS, TRACKS, administrative_ancestors,
                         level_of_code, level_rank)
from .roster import RosterEntry, read_mediator
from .yamlconfig import Field, compose_file

#: Units at these levels must name at least one leader: key cases are led from county up.
_LEADER_LEVELS = ("county", "city")


@dataclass(frozen=True)
class Leader:
    """A leader who can be a case's lead (包案领导)."""

    id: str
    name: str
    title: str


@dataclass(frozen=True)
class Handler:
    """A person who does the work on a case (承办人), on the tracks they are qualified for."""

    id: str
    name: str
    tracks: FrozenSet[str]
    office: Optional[str] = None  # e.g. the court-attached mediation office
    body: Optional[str] = None  # the kind of body the office is, one of vocabulary.BODIES
    #: Dispute categories (vocabulary.CATEGORIES) of the specialist people's mediation
    #: committee this handler sits on, e.g. 医疗纠纷人民调解委员会 → {"medical"}; empty for a
    #: general handler.
    specialties: FrozenSet[str] = frozenset()
    #: The mediator roster's entry (调解员名册) for a mediator listed there; None for the
    #: directory's own handlers.
    roster: Optional[RosterEntry] = None


@dataclass(frozen=True)
class Liaison:
    """A referring agency's counterpart at a unit's division (e.g. the district
    procuratorate for its county centre): whom hand-offs to that agency are addressed to.
    Not a handler: a liaison never gets a case."""

    agency: str  # one of vocabulary.AGENCIES
    office: str  # e.g. 淇滨区人民检察院


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: str
    parent: Optional[str]
    tracks: FrozenSet[str]
    leaders: Tuple[Leader, ...] = ()
    handlers: Tuple[Handler, ...] = ()
    liaisons: Tuple[Liaison, ...] = ()  # at most one per agency

    def offers(self, track: str) -> bool:
        return track in self.tracks

    def handlers_for(self, track: str, specialty: Optional[str] = None,
                     bodies: Optional[Iterable[str]] = None) -> Tuple[Handler, ...]:
        """The handlers on `track`, in file order; with `specialty`, only those having that
        category among their specialties; with `bodies`, only those whose body is one of
        them (a handler without a body is then left out)."""
        wanted = None if bodies is None else (
            frozenset((bodies,)) if isinstance(bodies, str) else frozenset(bodies))
        return tuple(
            h for h in self.handlers
            if track in h.tracks
            and (specialty is None or specialty in h.specialties)
            and (wanted is None or h.body in wanted))

    def specialists(self, track: str, category: str) -> Tuple[Handler, ...]:
        """The handlers on `track` sitting on a specialist committee for `category` (the
        directory's: a roster mediator's specialties are preferences, not a committee)."""
        return tuple(h for h in self.handlers_for(track, specialty=category) if h.roster is None)

    def liaison(self, agency: str) -> Optional[Liaison]:
        """This unit's counterpart of `agency` (court, procuratorate, police, petition)."""
        return next((li for li in self.liaisons if li.agency == agency), None)

    @property
    def first_leader(self) -> Optional[Leader]:
        return self.leaders[0] if self.leaders else None


class Directory:
    """Queries over a validated set of units (build it with `load_directory`)."""

    def __init__(self, units: Iterable[Unit]):
        self._units: Dict[str, Unit] = {u.code: u for u in units}
        self._leaders: Dict[str, Tuple[Leader, Unit]] = {
            leader.id: (leader, u) for u in self._units.values() for leader in u.leaders
        }
        self._handlers: Dict[str, Tuple[Handler, Unit]] = {
            h.id: (h, u) for u in self._units.values() for h in u.handlers
        }

    def __contains__(self, code: object) -> bool:
        return code in self._units

    def __iter__(self):
        return iter(self._units.values())

    def __len__(self) -> int:
        return len(self._units)

    def unit(self, code: str) -> Unit:
        """The unit with exactly this code; KeyError if it is not listed."""
        return self._units[code]

    def serves(self, region: str) -> bool:
        """Whether the region's county part (its first 6 digits) is a listed unit."""
        try:
            level_of_code(region)
        except ValueError:
            return False
        return region[:6] in self._units

    def unit_for(self, region: str) -> Optional[Unit]:
        """The nearest listed unit at or above `region`, or None if the region is not served.

        A 12-digit village not listed falls to its township (first 9 digits), then its
        county (first 6), then the city.
        """
        if not self.serves(region):
            return None
        for code in (region, *administrative_ancestors(region)):
            if code in self._units:
                return self._units[code]
        return None  # unreachable: the county part is listed

    def parent(self, code: str) -> Optional[Unit]:
        """The unit one level up (None at the top)."""
        parent = self._units[code].parent
        return self._units[parent] if parent is not None else None

    def ancestors(self, code: str) -> List[Unit]:
        """The units above `code`, nearest first: the escalation path."""
        chain = []
        unit = self.parent(code)
        while unit is not None:
            chain.append(unit)
            unit = self.parent(unit.code)
        return chain

    def specialist_unit(self, region: str, track: str, category: str) -> Optional[Unit]:
        """The lowest unit at or above `region` (its `unit_for`, then that unit's ancestors)
        with a specialist for `category` on `track`; None if there is none or the region
        is not served."""
        unit = self.unit_for(region)
        if unit is None:
            return None
        return next((u for u in (unit, *self.ancestors(unit.code))
                     if u.specialists(track, category)), None)

    def escalation_target(self, code: str, track: str) -> Optional[Unit]:
        """Where an overdue case at `code` goes: the nearest unit above it offering `track`."""
        return next((u for u in self.ancestors(code) if u.offers(track)), None)

    def eligible_handlers(self, code: str, track: str) -> Tuple[Handler, ...]:
        """The handlers at unit `code` who work on `track` (empty if the unit does not offer it)."""
        return self._units[code].handlers_for(track)

    def handler(self, handler_id: str) -> Tuple[Handler, Unit]:
        """A handler and their unit; KeyError if unknown."""
        return self._handlers[handler_id]

    def mediators(self) -> Tuple[Tuple[Handler, Unit], ...]:
        """The mediator roster (调解员名册): its mediators and their units, by unit (in the
        file's order of units), then in the roster's order."""
        return tuple(entry for entry in self._handlers.values() if entry[0].roster is not None)

    def mediator(self, mediator_id: str) -> Optional[Tuple[Handler, Unit]]:
        """A mediator on the roster and their unit; None if `mediator_id` is not on it."""
        entry = self._handlers.get(mediator_id)
        return entry if entry is not None and entry[0].roster is not None else None

    def roster_problem(self, mediator_id: str, region: str,
                       track: Optional[str] = None) -> Optional[str]:
        """Why the parties may not name `mediator_id` for a case in `region` (on `track`,
        if known): not on the roster, not serving the region, mediating on another
        track. None if they may (whether the mediator is free is decided on placing)."""
        found = self.mediator(mediator_id)
        if found is None:
            return f"{mediator_id!r} is not on the mediator roster"
        mediator = found[0]
        if mediator.roster.region_served(region) is None:
            return f"{mediator_id} serves {', '.join(mediator.roster.regions)}, not region {region}"
        if track is not None and track not in mediator.tracks:
            return (f"{mediator_id} mediates on track {', '.join(sorted(mediator.tracks))}, "
                    f"not {track}")
        return None

    def leader(self, leader_id: str) -> Tuple[Leader, Unit]:
        """A leader and their unit; KeyError if unknown."""
        return self._leaders[leader_id]

    def find_leader(self, id_or_name: str) -> Optional[Tuple[Leader, Unit]]:
        """A leader by id, or else by name when exactly one leader has that name."""
        if id_or_name in self._leaders:
            return self._leaders[id_or_name]
        named = [entry for entry in self._leaders.values() if entry[0].name == id_or_name]
        return named[0] if len(named) == 1 else None


# -- loading -------------------------------------------------------------------------------


def load_directory(path: Union[str, Path]) -> Directory:
    """Load and validate a directory file; raises ConfigError naming file, line and field.

    Checked: required fields and no unknown ones; level, track enumerations; code formats
    (6/9/12 digits) agreeing with the level; unique unit codes, leader ids and handler ids;
    a parent for every unit but the city, which exists, is higher, and is the nearest
    listed unit above the code; handlers only on tracks their unit offers and at least one
    handler for every track a unit offers; a leader at every county and city unit; every
    track a unit offers is offered somewhere above it (so an overdue case can escalate).
    A handler's optional `body` is one of vocabulary.BODIES and its optional `specialties`
    are distinct vocabulary.CATEGORIES, allowed only with body people_mediation; a unit's
    optional `liaisons` name an agency of vocabulary.AGENCIES at most once each.
    The optional `mediators` (the roster, `roster.read_mediator`): ids unique among all
    handlers; a listed unit offering the kind's track; regions within the unit's
    division; languages of roster.LANGUAGES; dated absences that end after they start.
    """
    root = compose_file(path).mapping(required=("units",), optional=("mediators",))
    entries = root["units"].sequence(min_len=1)
    parsed: List[Tuple[Field, Dict[str, Field], Unit]] = []
    seen_codes: Dict[str, Field] = {}
    seen_leaders: Dict[str, Field] = {}
    seen_handlers: Dict[str, Field] = {}
    for entry in entries:
        fields, unit = _read_unit(entry, seen_leaders, seen_handlers)
        if unit.code in seen_codes:
            raise fields["code"].error(
                f"duplicate code {unit.code} (first at line {seen_codes[unit.code].line})")
        seen_codes[unit.code] = fields["code"]
        parsed.append((entry, fields, unit))

    units = {unit.code: unit for _, _, unit in parsed}
    for entry, fields, unit in parsed:
        _check_parent(entry, fields, unit, units)
    directory = Directory(units.values())
    for _, fields, unit in parsed:
        if unit.parent is None:
            continue
        for track in sorted(unit.tracks):
            if directory.escalation_target(unit.code, track) is None:
                raise fields["tracks"].error(
                    f"no unit above offers track {track}, so an overdue case could not escalate")
    if "mediators" not in root:
        return directory
    rostered: Dict[str, List[Handler]] = {}
    for item in root["mediators"].sequence():
        f, read = read_mediator(item, units)
        _claim(seen_handlers, read["handler"]["id"], f["id"], "handler")
        rostered.setdefault(read["unit"], []).append(Handler(**read["handler"]))
    return Directory(replace(u, handlers=u.handlers + tuple(rostered.get(u.code, ())))
                     for u in units.values())


def _read_unit(entry: Field, seen_leaders: Dict[str, Field],
               seen_handlers: Dict[str, Field]) -> Tuple[Dict[str, Field], Unit]:
    fields = entry.mapping(required=("code", "name", "level", "tracks", "handlers"),
                           optional=("parent", "leaders", "liaisons"))
    code = fields["code"].code()
    level = fields["level"].string(choices=LEVELS)
    if level_of_code(code) != level:
        raise fields["level"].error(
            f"code {code} denotes a {level_of_code(code)}, not a {level}")
    tracks = frozenset(fields["tracks"].string_list(choices=TRACKS))

    parent: Optional[str] = None
    if "parent" in fields and not fields["parent"].is_null:
        parent = fields["parent"].code()

    leaders: List[Leader] = []
    leader_items = fields["leaders"].sequence() if "leaders" in fields else []
    for item in leader_items:
        f = item.mapping(required=("id", "name", "title"))
        leader = Leader(f["id"].identifier(), f["name"].string(), f["title"].string())
        _claim(seen_leaders, leader.id, f["id"], "leader")
        leaders.append(leader)
    if level in _LEADER_LEVELS and not leaders:
        raise entry.error(f"a {level} unit needs at least one leader (key cases are led from "
                          "county level up)", child="leaders")

    handlers: List[Handler] = []
    for item in fields["handlers"].sequence():
        f = item.mapping(required=("id", "name", "tracks"),
                         optional=("office", "body", "specialties"))
        handler = Handler(
            id=f["id"].identifier(),
            name=f["name"].string(),
            tracks=frozenset(f["tracks"].string_list(choices=TRACKS)),
            office=f["office"].string() if "office" in f else None,
            body=f["body"].string(choices=BODIES) if "body" in f else None,
            specialties=frozenset(f["specialties"].string_list(choices=CATEGORIES))
            if "specialties" in f else frozenset(),
        )
        if handler.specialties and handler.body != "people_mediation":
            raise f["specialties"].error(
                "a handler with specialties sits on a specialist people's mediation committee: "
                "body must be people_mediation"
                + (f", not {handler.body}" if handler.body is not None else ""))
        _claim(seen_handlers, handler.id, f["id"], "handler")
        foreign = sorted(handler.tracks - tracks)
        if foreign:
            raise f["tracks"].error(f"track {foreign[0]} is not offered by unit {code}")
        handlers.append(handler)
    for track in TRACKS:
        if track in tracks and not any(track in h.tracks for h in handlers):
            raise fields["tracks"].error(f"unit {code} offers track {track} but has no handler for it")

    liaisons: List[Liaison] = []
    seen_agencies: Dict[str, Field] = {}
    liaison_items = fields["liaisons"].sequence() if "liaisons" in fields else []
    for item in liaison_items:
        f = item.mapping(required=("agency", "office"))
        liaison = Liaison(agency=f["agency"].string(choices=AGENCIES), office=f["office"].string())
        if liaison.agency in seen_agencies:
            raise f["agency"].error(f"duplicate liaison for agency {liaison.agency} "
                                    f"(first at line {seen_agencies[liaison.agency].line})")
        seen_agencies[liaison.agency] = f["agency"]
        liaisons.append(liaison)

    unit = Unit(code=code, name=fields["name"].string(), level=level, parent=parent,
                tracks=tracks, leaders=tuple(leaders), handlers=tuple(handlers),
                liaisons=tuple(liaisons))
    return fields, unit


def _claim(seen: Dict[str, Field], person_id: str, field: Field, kind: str) -> None:
    if person_id in seen:
        raise field.error(f"duplicate {kind} id {person_id} (first at line {seen[person_id].line})")
    seen[person_id] = field


def _check_parent(entry: Field, fields: Mapping[str, Field], unit: Unit,
                  units: Mapping[str, Unit]) -> None:
    if unit.parent is None:
        if unit.level != "city":
            problem = f"required for a {unit.level} unit"
            raise fields["parent"].error(problem) if "parent" in fields \
                else entry.error(problem, child="parent")
        return
    where = fields["parent"]
    if unit.level == "city":
        raise where.error("a city unit is the top of the directory and has no parent")
    if unit.parent not in units:
        raise where.error(f"parent {unit.parent} is not a listed unit")
    parent = units[unit.parent]
    if level_rank(parent.level) <= level_rank(unit.level):
        raise where.error(f"parent {parent.code} is a {parent.level}, not above a {unit.level}")
    nearest = next((c for c in administrative_ancestors(unit.code) if c in units), None)
    if unit.parent != nearest:
        raise where.error(f"must be {nearest}, the nearest listed unit above {unit.code}")
