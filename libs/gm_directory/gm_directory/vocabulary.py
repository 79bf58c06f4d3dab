"""The closed vocabularies the assignment domain decides over (DESIGN.md §8, CONTRACT.md §3, §5)."""
from __future__ import annotations

from typing import Mapping, Tuple

#: 三位一体: people's (人民调解), administrative (行政调解) and judicial (司法调解) mediation.
TRACKS: Tuple[str, ...] = ("people", "administrative", "judicial")

#: Levels from the bottom up; 重心下移 means a case starts as low as it can.
LEVELS: Tuple[str, ...] = ("village", "township", "county", "city")

#: Agencies that refer cases over `gm.inbound`, with the referral kinds each may send.
REFERRAL_KINDS: Mapping[str, Tuple[str, ...]] = {
    "court": ("delegated", "entrusted"),
    "procuratorate": ("criminal_reconciliation",),
    "police": ("minor_dispute",),
    "petition": ("petition",),
}
AGENCIES: Tuple[str, ...] = tuple(REFERRAL_KINDS)

#: The kinds of body a handler works in (the directory's `body` of a handler).
BODIES: Tuple[str, ...] = (
    "people_mediation",  # 人民调解委员会, including the specialist committees (专业性人民调解委员会)
    "justice_office",    # 司法所 (the justice bureau's office in a township)
    "petition_office",   # 信访局 / 信访办
    "police",            # 公安机关 / 派出所
    "court",             # 法院诉调对接工作室 / 特邀调解 (court-attached mediation)
    "administrative",    # another administrative organ (行政机关) mediating within its remit
)

#: Court `entrusted` referrals only; `ordinary` is the default.
PROCEDURES: Tuple[str, ...] = ("ordinary", "simplified")

#: Ways people reach the system directly (CONTRACT.md §5, POST /cases).
CHANNELS: Tuple[str, ...] = (
    "visit", "letter", "phone", "website", "newspaper_hotline", "radio_hotline",
    "leader_reception", "screening",
)

#: Channels through which a person complains to the authorities: these are petitions (信访).
#: Screening (排查) finds disputes; nobody petitioned.
PETITION_CHANNELS: Tuple[str, ...] = tuple(c for c in CHANNELS if c != "screening")

CATEGORIES: Tuple[str, ...] = (
    "marriage_family", "neighbour", "housing_homestead", "contract", "business", "damages",
    "land_forest", "land_acquisition", "environment", "labour", "consumer", "medical",
    "traffic_accident", "property_management", "village_affairs", "other",
)


def level_rank(level: str) -> int:
    """0 for village up to 3 for city."""
    return LEVELS.index(level)


def level_of_code(code: str) -> str:
    """The level an administrative division code denotes: 12 digits village, 9 township,
    6 county, 6 ending in "00" city (prefecture). Raises ValueError for anything else."""
    if not code.isdigit() or len(code) not in (6, 9, 12):
        raise ValueError(f"{code!r} is not a 6, 9 or 12 digit administrative division code")
    if len(code) == 12:
        return "village"
    if len(code) == 9:
        return "township"
    return "city" if code.endswith("00") else "county"


def administrative_ancestors(code: str) -> Tuple[str, ...]:
    """The codes above `code`, nearest first: village → township → county → city.

    >>> administrative_ancestors("410611100201")
    ('410611100', '410611', '410600')
    """
    level_of_code(code)  # validates
    chain = []
    if len(code) == 12:
        chain.append(code[:9])
    if len(code) >= 9:
        chain.append(code[:6])
    city = code[:4] + "00"
    if code != city:
        chain.append(city)
    return tuple(dict.fromkeys(c for c in chain if c != code))
