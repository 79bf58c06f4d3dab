"""Counting time limits (办结时限, 期限) in calendar days, in the deployment's time zone.

Shared by assignment (case deadlines) and mediation (confirmation windows, hand-off
deadlines), so every service counts a day the same way.

The choice, and why:

- Calendar days, counted from the day after registration: the registration day itself
  is not counted (民法典 第二百零一条: 开始的当日不计入，自下一日开始计算). A 30-day
  limit for a case registered on 1 March ends with 31 March.
- The day is the local day of the configured time zone (default Asia/Shanghai): a case
  registered at 23:30 Beijing time on 1 March is a 1 March case, although it is 15:30 UTC
  and a 00:30 Beijing-time registration on 2 March is still 1 March in UTC.
- A deadline ends at the end of its last local day, 23:59:59.999999, returned as a
  UTC-aware datetime: "within 30 days" leaves the whole last day to finish.
- Public holidays are not modelled here: these functions count plain calendar days, as
  the rules table states its limits. Counting on the working-day calendar (a last day on
  a rest day moving to the next working day, 民法典 第二百零三条; 工作日 periods) is
  gm_kernel.calendar, which uses end_of_local_day for its deadlines.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo


def local_date(moment: datetime, tz: tzinfo) -> date:
    """The calendar date of `moment` in time zone `tz` (aware datetimes only)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every time in the domain is timezone-aware")
    return moment.astimezone(tz).date()


def end_of_local_day(day: date, tz: tzinfo) -> datetime:
    """23:59:59.999999 of `day` in `tz`, as a UTC datetime."""
    return datetime.combine(day, time.max, tzinfo=tz).astimezone(timezone.utc)


def due_after(start: datetime, days: int, tz: tzinfo) -> datetime:
    """The end of the `days`-th local day after the local day of `start`."""
    if days < 1:
        raise ValueError("a time limit is at least one day")
    return end_of_local_day(local_date(start, tz) + timedelta(days=days), tz)


def days_after(day: date, days: int, tz: tzinfo) -> datetime:
    """The end of the `days`-th local day after the local date `day`."""
    if days < 1:
        raise ValueError("a time limit is at least one day")
    return end_of_local_day(day + timedelta(days=days), tz)
