"""The mediator roster (调解员名册) as parties, clerks and agencies read it: who is listed,
for which categories and regions, in which languages, and whether they take a case today.
Courts publish their invited mediators' roster (特邀调解规定: 名册 公示) and committees
their mediators; the parties choose from it."""
from __future__ import annotations

from datetime import date
from typing import Any, Dict, List, Mapping, Optional

from gm_directory.directory import Directory


def roster(directory: Directory, day: date, loads: Optional[Mapping[str, int]] = None,
           region: Optional[str] = None, category: Optional[str] = None,
           kind: Optional[str] = None, language: Optional[str] = None,
           ) -> List[Dict[str, Any]]:
    """The roster's mediators (Directory.mediators' order) — with `region`, those serving
    it; with `category`, those listing it; with `kind`, those of that kind; with
    `language`, those mediating in it (a party who signs, or speaks only the dialect) —
    and whether each can take a new case on `day` holding their open cases (`loads`)."""
    loads = loads or {}
    listed = []
    for mediator, unit in directory.mediators():
        entry = mediator.roster
        if ((region is not None and entry.region_served(region) is None)
                or (category is not None and category not in mediator.specialties)
                or (kind is not None and entry.kind != kind)
                or (language is not None and language not in entry.languages)):
            continue
        open_cases = loads.get(mediator.id, 0)
        why_not = entry.unavailable(day, open_cases)
        listed.append({
            "id": mediator.id, "name": mediator.name, "kind": entry.kind, "unit": unit.code,
            "office": mediator.office, "track": next(iter(mediator.tracks)),
            "specialties": sorted(mediator.specialties), "regions": list(entry.regions),
            "languages": list(entry.languages), "max_cases": entry.max_cases,
            "open_cases": open_cases, "available": why_not is None, "unavailable": why_not,
        })
    return listed
