"""Months, days and periods in the deployment's time zone (never UTC by accident).

Instants are kept as RFC 3339 UTC strings of one fixed width (gm_kernel.format_time), so
comparing two of them as text compares the instants, and a local month becomes a
[start, end) range of such strings: `month_bounds("2026-02", Asia/Shanghai)` starts at
2026-01-31T16:00:00.000000Z. A case registered at 2026-01-31T17:00Z is a February case.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timezone, tzinfo
from typing import List, Optional, Tuple

from gm_kernel import format_time, parse_time

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def norm_time(value) -> Optional[str]:
    """Any RFC 3339 / ISO 8601 instant (or aware datetime) in the one stored form."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) == 27 and value[-1] == "Z" \
            and value[10] == "T" and value[19] == ".":
        return value  # already in the stored form (what format_time writes)
    if isinstance(value, datetime):
        if value.tzinfo is timezone.utc and value.year >= 1000:
            # format_time's text, without strftime (twice as fast; every event's time
            # comes this way in a rebuild)
            return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
                value.year, value.month, value.day, value.hour, value.minute, value.second,
                value.microsecond)
        return format_time(value)
    return format_time(parse_time(str(value)))


def parse_month(month: str) -> Tuple[int, int]:
    m = MONTH.match(month or "")
    if not m:
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return int(m.group(1)), int(m.group(2))


def shift_month(month: str, n: int) -> str:
    year, mon = parse_month(month)
    y, m0 = divmod(year * 12 + mon - 1 + n, 12)
    return f"{y:04d}-{m0 + 1:02d}"


def month_of(instant, tz: tzinfo) -> str:
    moment = instant if isinstance(instant, datetime) else parse_time(instant)
    local = moment.astimezone(tz)
    return f"{local.year:04d}-{local.month:02d}"


def local_start(day: date, tz: tzinfo) -> str:
    return format_time(datetime.combine(day, time.min, tzinfo=tz).astimezone(timezone.utc))


def month_bounds(month: str, tz: tzinfo) -> Tuple[str, str]:
    """[start, end) of the local month as stored instants."""
    year, mon = parse_month(month)
    nxt = parse_month(shift_month(month, 1))
    return local_start(date(year, mon, 1), tz), local_start(date(nxt[0], nxt[1], 1), tz)


def month_days(month: str) -> Tuple[str, str]:
    """[first day, first day of the next month) as ISO dates: the range of a month's
    local dates (YYYY-MM-DD), such as the days a petitioner was told a decision."""
    parse_month(month)
    return f"{month}-01", f"{shift_month(month, 1)}-01"


def months_ending(month: str, count: int) -> List[str]:
    return [shift_month(month, -i) for i in range(count - 1, -1, -1)]


def local_days_late(due_at: str, now: datetime, tz: tzinfo) -> int:
    """Whole local calendar days from the deadline's day to today (0 on the due day)."""
    due_day = parse_time(due_at).astimezone(tz).date()
    return max(0, (now.astimezone(tz).date() - due_day).days)


def screening_periods(level: str, month: str, now: datetime, tz: tzinfo) -> List[str]:
    """The screening periods of `month` a unit at `level` must have filed by `now`
    (DESIGN.md §5: villages every half month, YYYY-MM-H1 / -H2; others monthly) — only
    the periods that have begun: the current half month counts from its first day."""
    year, mon = parse_month(month)
    local_now = now.astimezone(tz)
    today = local_now.date()
    if level != "village":
        return [month] if date(year, mon, 1) <= today else []
    periods = []
    if date(year, mon, 1) <= today:
        periods.append(f"{month}-H1")
    if date(year, mon, 16) <= today:
        periods.append(f"{month}-H2")
    return periods


def current_month(now: datetime, tz: tzinfo) -> str:
    return month_of(now, tz)


