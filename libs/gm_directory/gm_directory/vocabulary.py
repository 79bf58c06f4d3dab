"""The vocabularies the directory and the assignment domain decide over: the suite's
shared lists (gm_contracts.vocabulary) and the directory's own (BODIES)."""
from __future__ import annotations

from typing import Tuple

from gm_contracts.vocabulary import (  # noqa: F401  (the shared vocabulary, re-exported)
    AGENCIES,
    CATEGORIES,
    CHANNELS,
    LEVELS,
    PETITION_CHANNELS,
    PROCEDURES,
    REFERRAL_KINDS,
    RISK_ASSESSMENT_CHANNEL,
    TRACKS,
)

#: The kinds of body a handler works in (the directory's `body` of a handler).
BODIES: Tuple[str, ...] = (
    "people_mediation",  # 人民调解委员会, including the specialist committees (专业性人民调解委员会)
    "justice_office",    # 司法所 (the justice bureau's office in a township)
    "petition_office",   # 信访局 / 信访办
    "police",            # 公安机关 / 派出所
    "court",             # 法院诉调对接工作室 / 特邀调解 (court-attached mediation)
    "administrative",    # another administrative organ (行政机关) mediating within its remit
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
