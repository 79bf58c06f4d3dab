"""The mediator roster (调解员名册): the people's mediators (人民调解员, members of a people's
mediation committee, the specialist committees included) and the court's invited
mediators (特邀调解员, 《最高人民法院关于人民法院特邀调解的规定》) whom parties may name and
assignment matches to a case.

A roster entry (the directory file's `mediators:` section) becomes a handler of its unit,
on the track its kind mediates (a people's mediator: people's mediation; an invited
mediator: the court-attached judicial track), with what the roster adds: the regions
(division codes) the mediator serves, the languages they mediate in and their
availability (a flag, a ceiling on open cases, dated absences).

Unlike a directory handler's `specialties` (the specialist committee a handler sits on,
which confines them to its categories), a roster entry's `specialties` are the categories
the mediator is listed for (擅长): matching prefers them, and the mediator still takes
other cases of their track in their regions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Dict, List, Mapping, Optional, Tuple

from .vocabulary import CATEGORIES, administrative_ancestors
from .yamlconfig import Field

#: The kinds of mediator on the roster, and the (track, body) each mediates on.
MEDIATOR_KINDS: Mapping[str, Tuple[str, str]] = {
    "people_mediator": ("people", "people_mediation"),   # 人民调解员
    "invited_mediator": ("judicial", "court"),           # 特邀调解员 (法院特邀调解名册)
}

#: The languages a mediator may list (a closed list: parties' needs are matched on it).
LANGUAGES: Tuple[str, ...] = (
    "mandarin",       # 普通话
    "henan_dialect",  # 河南方言（中原官话）
    "sign_language",  # 中国手语
    "english",        # 英语
)

MAX_CASES_LIMIT = 1000


def region_within(region: str, area: str) -> bool:
    """Whether division `region` is `area` or lies beneath it."""
    return region == area or area in administrative_ancestors(region)


@dataclass(frozen=True)
class Absence:
    """A dated stretch (both days included) when the mediator takes no new case."""

    start: date
    end: date
    reason: str


@dataclass(frozen=True)
class RosterEntry:
    """What the roster says of a mediator beyond what every handler has."""

    kind: str  # one of MEDIATOR_KINDS
    regions: Tuple[str, ...]  # division codes served (each the unit's division or beneath it)
    languages: Tuple[str, ...]
    available: bool = True
    max_cases: Optional[int] = None  # open cases at most; None: no ceiling
    absences: Tuple[Absence, ...] = ()

    def region_served(self, region: str) -> Optional[str]:
        """The most specific of this mediator's regions that `region` lies within; None if
        the mediator does not serve it."""
        inside = [r for r in self.regions if region_within(region, r)]
        return max(inside, key=len) if inside else None

    def unavailable(self, day: date, open_cases: int) -> Optional[str]:
        """Why the mediator cannot take a new case on `day` holding `open_cases`; None if
        they can."""
        if not self.available:
            return "marked unavailable on the roster"
        absence = next((a for a in self.absences if a.start <= day <= a.end), None)
        if absence is not None:
            return (f"away {absence.start.isoformat()} to {absence.end.isoformat()}: "
                    f"{absence.reason}")
        if self.max_cases is not None and open_cases >= self.max_cases:
            return f"holds {open_cases} open cases, the most they take is {self.max_cases}"
        return None


def read_mediator(item: Field, units: Mapping[str, "object"]) -> Tuple[Dict[str, Field], dict]:
    """One `mediators:` entry, checked against the units: the keyword arguments of its
    Handler (with `roster`) and the code of its unit. ConfigError names file, line, field."""
    f = item.mapping(required=("id", "name", "kind", "unit", "office", "regions", "languages"),
                     optional=("specialties", "available", "max_cases", "unavailable"))
    kind = f["kind"].string(choices=tuple(MEDIATOR_KINDS))
    track, body = MEDIATOR_KINDS[kind]
    code = f["unit"].code()
    unit = units.get(code)
    if unit is None:
        raise f["unit"].error(f"unit {code} is not a listed unit")
    if not unit.offers(track):
        raise f["kind"].error(f"unit {code} does not offer track {track}, on which an "
                              f"{kind} mediates")
    regions: List[str] = []
    for field in f["regions"].sequence(min_len=1):
        region = field.code()
        if not region_within(region, code):
            raise field.error(f"{region} is not within unit {code}'s division")
        if region in regions:
            raise field.error(f"{region} is listed twice")
        regions.append(region)
    absences: List[Absence] = []
    for field in f["unavailable"].sequence() if "unavailable" in f else ():
        a = field.mapping(required=("from", "to", "reason"))
        start, end = a["from"].date(), a["to"].date()
        if end < start:
            raise a["to"].error(f"ends before it starts ({start.isoformat()})")
        absences.append(Absence(start, end, a["reason"].string()))
    entry = RosterEntry(
        kind=kind, regions=tuple(regions),
        languages=tuple(f["languages"].string_list(choices=LANGUAGES)),
        available=f["available"].boolean() if "available" in f else True,
        max_cases=f["max_cases"].integer(1, MAX_CASES_LIMIT) if "max_cases" in f else None,
        absences=tuple(absences))
    handler = dict(
        id=f["id"].identifier(), name=f["name"].string(), tracks=frozenset((track,)),
        office=f["office"].string(), body=body,
        specialties=frozenset(f["specialties"].string_list(choices=CATEGORIES))
        if "specialties" in f else frozenset(),
        roster=entry)
    return f, {"handler": handler, "unit": code}
