"""Plain-Python checks for the identifiers and timestamps the contract carries.

No marshmallow here: services use these directly (intake validates the same resident ids
the agencies send), and `gm_contracts.fields` wraps them into schema fields.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

# GB 11643-1999 citizen identity number (公民身份号码): 6-digit address code, 8-digit birth
# date, 3-digit sequence, 1 check character computed with ISO 7064 MOD 11-2.
RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK_CHARS = "10X98765432"
_RESIDENT_ID_SHAPE = re.compile(r"[0-9]{17}[0-9Xx]", re.ASCII)

# National administrative division code (行政区划代码): county 6, township 9, village 12.
REGION_CODE_PATTERN = r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$"
_REGION_CODE = re.compile(r"[0-9]{6}|[0-9]{9}|[0-9]{12}", re.ASCII)

# A UUID in its canonical text form (RFC 4122 §3), any case.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII)

# RFC 3339 date-time with a mandatory offset. `fullmatch` (not `$`) so a trailing
# newline is not accepted; fractions are bounded so the text stays small.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)


def resident_id_check_char(first17: str) -> str:
    """The check character for the first 17 digits of a resident id."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected exactly 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, RESIDENT_ID_WEIGHTS))
    return RESIDENT_ID_CHECK_CHARS[total % 11]


def resident_id_problem(value: object) -> str | None:
    """Why `value` is not a valid 18-character resident id, or None when it is valid."""
    if not isinstance(value, str) or not _RESIDENT_ID_SHAPE.fullmatch(value):
        return "Must be 18 characters: 17 digits and a check digit or X."
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "Birth date (characters 7-14) is not a real date."
    if resident_id_check_char(value[:17]) != value[17].upper():
        return "Check digit does not match."
    return None


def is_valid_resident_id(value: object) -> bool:
    """True for an 18-character resident id with a real birth date and a valid check digit."""
    return resident_id_problem(value) is None


def normalize_resident_id(value: str) -> str:
    """The canonical form of a valid resident id: a lowercase check `x` becomes `X`."""
    problem = resident_id_problem(value)
    if problem:
        raise ValueError(problem)
    return value.upper()


def is_valid_region_code(value: object) -> bool:
    """True for a 6, 9 or 12 ASCII-digit administrative division code."""
    return isinstance(value, str) and _REGION_CODE.fullmatch(value) is not None


def mask_id_number(value: str | None) -> str | None:
    """Mask an id number for display: keep the first 4 and last 4 characters.

    Values of 8 characters or fewer would be shown whole, so they are masked entirely.
    """
    if value is None:
        return None
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def is_canonical_uuid(value: object) -> bool:
    """True for a UUID written as 8-4-4-4-12 hex digits (no braces, no `urn:uuid:`)."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def parse_rfc3339(value: object) -> datetime | None:
    """Parse an RFC 3339 date-time with offset (`Z` or `±hh:mm`) to an aware UTC datetime.

    Returns None when `value` is not one. Leap seconds (`:60`) are not accepted.
    """
    if not isinstance(value, str):
        return None
    match = _RFC3339.fullmatch(value)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if zulu:
        offset = timedelta(0)
    else:
        if int(off_h) > 23 or int(off_m) > 59:
            return None
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        if sign == "-":
            offset = -offset
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
            tzinfo=timezone(offset),
        )
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def is_rfc3339(value: object) -> bool:
    """True for an RFC 3339 date-time string with an explicit offset."""
    return parse_rfc3339(value) is not None


def format_rfc3339(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a `Z`, e.g. 2026-01-31T08:00:00.000000Z."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: contract timestamps carry an offset")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
