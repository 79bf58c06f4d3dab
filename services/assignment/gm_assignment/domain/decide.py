"""Deciding the 四定 (four fixes) for a registered case: track, level + unit, lead, handler, deadline.

A pure function of the case facts, the directory, the rules and the handlers' current
load. The steps, in order:

1. Track (三位一体) and floor level, from the source — `TRACK_TABLE`:

   ============================================  ==============  =========  ===============================
   source                                        track           floor      why
   ============================================  ==============  =========  ===============================
   court delegated / entrusted (诉调对接)        judicial        county     court-attached mediation office
   procuratorate criminal_reconciliation (检调)  administrative  county     prosecutorial oversight
   police minor_dispute (公调对接)               administrative  township   police station's mediation
   petition bureau petition (访调对接)           administrative  township   petition handling
   channel, category in PEOPLE_CATEGORIES        people          village    民间纠纷: people's mediation
   channel, category in ADMINISTRATIVE_CATEGORIES administrative village    needs an administrative body
   ============================================  ==============  =========  ===============================

   People's track categories: marriage_family, neighbour, housing_homestead, contract,
   business, damages, medical, property_management, village_affairs, other.
   Administrative track categories: land_forest, land_acquisition, environment, labour,
   consumer, traffic_accident (disputes an administrative organ mediates or decides:
   land and forest rights, expropriation, pollution, labour, market regulation,
   traffic police). No channel case starts on the judicial track: that needs a court.

2. Level and unit (重心下移): the lowest unit at or above the region (village → township
   → county → city, along the directory's parents) that offers the track and is at or
   above the floor. Key cases — collective, repeat, flagged key (e.g. high risk), or
   received on a leader's reception day — start at county level or above.

3. Lead (包案领导): key cases only. The leader named on a leader_reception case, otherwise
   the chosen unit's first leader. Other cases have no lead until they escalate.

4. Handler (承办人): the eligible handler at the unit (works on the track) with the fewest
   open cases; ties go to the smaller id.

5. Deadline (办结时限): the rule in force on the registration date (local), its days
   unless the referring agency set `requested_days`; counted as in `deadline`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from gm_kernel import DomainError, format_time, parse_time

from .deadline import due_after, local_date
from gm_directory.directory import Directory, Handler, Unit
from .rules import Extension, NoRuleInForce, RuleBook, Source
from gm_directory.vocabulary import level_of_code, level_rank

PEOPLE_CATEGORIES: Tuple[str, ...] = (
    "marriage_family", "neighbour", "housing_homestead", "contract", "business", "damages",
    "medical", "property_management", "village_affairs", "other",
)
ADMINISTRATIVE_CATEGORIES: Tuple[str, ...] = (
    "land_forest", "land_acquisition", "environment", "labour", "consumer", "traffic_accident",
)

#: (agency, kind) → (track, floor level) for agency referrals.
REFERRAL_TRACKS: Mapping[Tuple[str, str], Tuple[str, str]] = {
    ("court", "delegated"): ("judicial", "county"),
    ("court", "entrusted"): ("judicial", "county"),
    ("procuratorate", "criminal_reconciliation"): ("administrative", "county"),
    ("police", "minor_dispute"): ("administrative", "township"),
    ("petition", "petition"): ("administrative", "township"),
}

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

    @property
    def is_key(self) -> bool:
        """Collective, repeat, flagged key, or received on a leader's reception day."""
        return (self.key_case or self.collective or self.repeat
                or self.source.channel == "leader_reception")


@dataclass(frozen=True)
class Decision:
    """The 四定 of one case: the data of AssignmentMade."""

    track: str
    level: str
    unit: str
    lead: Optional[str]
    handler: str
    registered_at: datetime
    days: int
    due_at: datetime
    rule_id: str
    rule_effective_from: date
    legal_basis: str
    extension: Optional[Extension]
    time_zone: str
    key_case: bool
    region: str

    def to_data(self) -> Dict[str, Any]:
        ext = self.extension
        return {
            "track": self.track, "level": self.level, "unit": self.unit, "lead": self.lead,
            "handler": self.handler, "registered_at": format_time(self.registered_at),
            "days": self.days, "due_at": format_time(self.due_at), "rule_id": self.rule_id,
            "rule_effective_from": self.rule_effective_from.isoformat(),
            "legal_basis": self.legal_basis,
            "extension": None if ext is None else {
                "max_days": ext.max_days, "max_count": ext.max_count, "condition": ext.condition},
            "time_zone": self.time_zone, "key_case": self.key_case, "region": self.region,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "Decision":
        ext = data.get("extension")
        return cls(
            track=data["track"], level=data["level"], unit=data["unit"], lead=data.get("lead"),
            handler=data["handler"], registered_at=parse_time(data["registered_at"]),
            days=int(data["days"]), due_at=parse_time(data["due_at"]), rule_id=data["rule_id"],
            rule_effective_from=date.fromisoformat(data["rule_effective_from"]),
            legal_basis=data["legal_basis"],
            extension=None if ext is None else Extension(
                ext.get("max_days"), ext.get("max_count"), ext.get("condition")),
            time_zone=data["time_zone"], key_case=bool(data["key_case"]), region=data["region"],
        )


def choose_track(source: Source, category: str) -> Tuple[str, str]:
    """(track, floor level) for a case — see the module's table."""
    if source.agency is not None:
        return REFERRAL_TRACKS[(source.agency, source.kind)]
    if category in PEOPLE_CATEGORIES:
        return "people", "village"
    if category in ADMINISTRATIVE_CATEGORIES:
        return "administrative", "village"
    raise DecisionError(f"unknown category {category!r}")


def choose_unit(directory: Directory, region: str, track: str, floor: str) -> Unit:
    """The lowest unit at or above `region` offering `track` at level `floor` or higher."""
    start = directory.unit_for(region)
    if start is None:
        raise DecisionError(f"region {region} is not served by this directory")
    for unit in (start, *directory.ancestors(start.code)):
        if unit.offers(track) and level_rank(unit.level) >= level_rank(floor):
            return unit
    raise DecisionError(f"no unit at or above {region} offers track {track} at {floor} level or above")


def least_loaded(handlers: Sequence[Handler], loads: Optional[Mapping[str, int]] = None) -> Handler:
    """The handler with the fewest open cases (missing from `loads`: none); ties by id."""
    if not handlers:
        raise DecisionError("no eligible handler")
    loads = loads or {}
    return min(handlers, key=lambda h: (loads.get(h.id, 0), h.id))


def choose_lead(facts: CaseFacts, unit: Unit, directory: Directory) -> Optional[str]:
    """The lead leader of a key case (None for other cases)."""
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


def decide(facts: CaseFacts, directory: Directory, rules: RuleBook,
           loads: Optional[Mapping[str, int]] = None) -> Decision:
    """The 四定 for a registered case. `loads`: open cases per handler id.

    Raises DecisionError when the facts are malformed or the case cannot be placed.
    """
    try:
        facts.source.validated()
        level_of_code(facts.region)
        local_day = local_date(facts.registered_at, rules.time_zone)
    except ValueError as exc:
        raise DecisionError(str(exc)) from None
    if facts.requested_days is not None and not 1 <= facts.requested_days <= 365:
        raise DecisionError("requested_days must be between 1 and 365")

    track, floor = choose_track(facts.source, facts.category)
    if facts.is_key and level_rank(floor) < level_rank(KEY_CASE_FLOOR):
        floor = KEY_CASE_FLOOR
    unit = choose_unit(directory, facts.region, track, floor)
    lead = choose_lead(facts, unit, directory)
    handler = least_loaded(unit.handlers_for(track), loads)
    try:
        rule = rules.select(facts.source, track, local_day)
    except NoRuleInForce as exc:
        raise DecisionError(str(exc)) from None
    days = facts.requested_days or rule.days
    return Decision(
        track=track, level=unit.level, unit=unit.code, lead=lead, handler=handler.id,
        registered_at=facts.registered_at, days=days,
        due_at=due_after(facts.registered_at, days, rules.time_zone),
        rule_id=rule.id, rule_effective_from=rule.effective_from, legal_basis=rule.basis,
        extension=rule.extension, time_zone=rules.time_zone_name, key_case=facts.is_key,
        region=facts.region,
    )
