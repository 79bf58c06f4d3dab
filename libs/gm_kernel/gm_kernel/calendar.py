"""The working-day calendar (工作日历) and counting periods (期间) on it.

Pure: no I/O. The calendar's data (deploy/calendar.yaml) is read by
`gm_directory.calendar_file.load_calendar`, which builds the `WorkingCalendar` defined
here; gm_kernel itself reads no configuration files.

Counting rules, and their articles
----------------------------------

1. The start day is not counted. 民法典 第二百零一条: 按照年、月、日计算期间的，开始的
   当日不计入，自下一日开始计算。民事诉讼法（2023年修正）第八十五条: 期间开始的时和日，
   不计算在期间内。So a period "from" day S of n days counts S+1 as its first day.

2. Days: the last day is S + n (calendar days).

3. Months: 民法典 第二百零二条: 按照年、月计算期间的，到期月的对应日为期间的最后一日；
   没有对应日的，月末日为期间的最后一日。The last day of an m-month period from S is the
   day of S's day-of-month in the m-th month after, or that month's last day when it has
   no such day: 2026-01-31 + 1 month = 2026-02-28; 2026-03-15 + 1 month = 2026-04-15.

4. A last day that is a rest day moves. 民法典 第二百零三条: 期间的最后一日是法定休假日
   的，以法定休假日结束的次日为期间的最后一日。民事诉讼法 第八十五条: 期间届满的最后一日
   是法定休假日的，以法定休假日后的第一日为期间届满的日期。"法定休假日" covers the weekly
   rest days and the statutory holidays; under the State Council's 调休 a Saturday or
   Sunday it declares a working day (调休上班) is a working day. So a calendar-day or month
   period whose last day is not a working day ends on the next working day
   (`roll_forward=True`, the default); `Deadline.rolled_from` keeps the day it would have
   ended on.

5. Working days (工作日): counted one by one on this calendar, the start day not counted;
   the n-th working day after S is the last day (it is a working day, nothing rolls).

6. A deadline ends at the end of its last day in the deployment's time zone,
   23:59:59.999999 local (gm_kernel.localtime.end_of_local_day), returned in UTC: the whole
   last day is left to act.

Which days are working days
---------------------------

Monday to Friday are working days and Saturday and Sunday rest days, except as a year's
table says: its `holidays` are rest days (放假, whatever the weekday) and its `workdays`
(调休上班) are working days although they fall on a weekend. The tables come from the
State Council's yearly notice (国务院办公厅关于某年部分节假日安排的通知). A table can be
*provisional* (written from 《全国年节及纪念日放假办法》 before the notice is published);
a year with no table is counted on weekends alone. Neither is an error — deadlines must
always be computable — but every result that consulted such a year says so
(`Deadline.provisional`), so a caller can show it as subject to confirmation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Dict, Iterable, Mapping, Optional, Set, Tuple, Union

from .localtime import end_of_local_day, local_date

__all__ = ["Deadline", "WorkingCalendar", "YearTable", "add_months"]

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

DateNames = Union[Mapping[date, str], Iterable[date]]


def _names(value: DateNames) -> Mapping[date, str]:
    """A read-only date -> name mapping from a mapping or a plain iterable of dates."""
    if isinstance(value, Mapping):
        items = dict(value)
    else:
        items = {d: "" for d in value}
    return MappingProxyType(items)


def _is_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


@dataclass(frozen=True)
class YearTable:
    """One year's deviations from "Monday to Friday work": holidays (rest days, whatever
    the weekday) and make-up working days (weekend days declared working days), each with
    a name (e.g. 春节, 春节调休). `provisional`: not (yet) the State Council's notice."""

    year: int
    holidays: Mapping[date, str]
    workdays: Mapping[date, str] = field(default_factory=dict)
    provisional: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", _names(self.holidays))
        object.__setattr__(self, "workdays", _names(self.workdays))
        for kind, days in (("holiday", self.holidays), ("workday", self.workdays)):
            for d in days:
                if not _is_date(d):
                    raise ValueError(f"{kind} {d!r} is not a date")
                if d.year != self.year:
                    raise ValueError(f"{kind} {d} is not in {self.year}")
        for d in self.workdays:
            if d.weekday() < 5:
                raise ValueError(f"workday {d} is a {_WEEKDAYS[d.weekday()]}; a make-up "
                                 "working day is a Saturday or Sunday")
            if d in self.holidays:
                raise ValueError(f"{d} is both a holiday and a workday")


@dataclass(frozen=True)
class Deadline:
    """When a period ends.

    due_at: the end of `last_day` in the time zone (23:59:59.999999 local), in UTC.
    last_day: the period's last day (after rolling forward).
    provisional: the count consulted a year whose table is provisional or missing.
    rolled_from: the day the period would have ended on had it not been rolled forward
        off a rest day (民法典 203 / 民诉法 85), or None if it was not rolled.
    """

    due_at: datetime
    last_day: date
    provisional: bool
    rolled_from: Optional[date] = None


def add_months(day: date, months: int) -> date:
    """The day `months` months after `day`: the same day of the month, or the month's last
    day when that month has no such day (民法典 第二百零二条)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    first_of_next = date(year + (month == 12), month % 12 + 1, 1)
    return min(date(year, month, 1) + timedelta(days=day.day - 1),
               first_of_next - timedelta(days=1))


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1: a time limit is at least one day")
    return value


def _check_day(name: str, value: object) -> date:
    if not _is_date(value):
        raise TypeError(f"{name} must be a date (not a datetime): {value!r}")
    return value  # type: ignore[return-value]


class WorkingCalendar:
    """Working days per year table, and period counting on them (see the module doc)."""

    def __init__(self, years: Mapping[int, YearTable]):
        tables: Dict[int, YearTable] = {}
        for year, table in years.items():
            if not isinstance(table, YearTable):
                raise TypeError(f"year {year}: {table!r} is not a YearTable")
            if table.year != year:
                raise ValueError(f"the table filed under {year} is for {table.year}")
            tables[year] = table
        self._years: Mapping[int, YearTable] = MappingProxyType(tables)

    @property
    def years(self) -> Mapping[int, YearTable]:
        return self._years

    def __repr__(self) -> str:
        years = ", ".join(f"{y}{'?' if t.provisional else ''}" for y, t in sorted(self._years.items()))
        return f"WorkingCalendar({years})"

    # -- days ------------------------------------------------------------------------

    def is_known(self, year: int) -> bool:
        """Whether the calendar has a table (final or provisional) for `year`."""
        return year in self._years

    def is_provisional(self, year: int) -> bool:
        """Whether counting in `year` is subject to confirmation: its table is provisional,
        or there is none (weekends only)."""
        table = self._years.get(year)
        return table is None or table.provisional

    def is_working_day(self, day: date) -> bool:
        """A make-up working day works; a holiday rests; otherwise Monday to Friday work.
        A year without a table: Monday to Friday."""
        _check_day("day", day)
        table = self._years.get(day.year)
        if table is not None:
            if day in table.workdays:
                return True
            if day in table.holidays:
                return False
        return day.weekday() < 5

    def holiday_name(self, day: date) -> Optional[str]:
        """The holiday `day` belongs to (e.g. 国庆节), or None if it is not a listed holiday."""
        table = self._years.get(_check_day("day", day).year)
        if table is None or day not in table.holidays:
            return None
        return table.holidays[day]

    def next_working_day_on_or_after(self, day: date) -> date:
        """`day` if it is a working day, else the first working day after it."""
        return self._roll(_check_day("day", day), set())

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (`start` itself is not counted; n >= 1)."""
        return self._add_working_days(_check_day("start", start), _positive("n", n), set())

    # -- periods ---------------------------------------------------------------------

    def period_end(self, start: date, *, days: Optional[int] = None,
                   months: Optional[int] = None, working_days: Optional[int] = None,
                   roll_forward: bool = True) -> date:
        """The last day of a period from `start` (民法典 201–203, 民事诉讼法 85).

        Exactly one of: `days` (calendar days: start + days), `months` (the corresponding
        day of the target month, or its last day), `working_days` (the n-th working day
        after start). With `roll_forward` a calendar-day or month period whose last day is
        not a working day ends on the next working day.
        """
        last_day, _, _ = self._period(start, days, months, working_days, roll_forward)
        return last_day

    def deadline(self, start_instant: datetime, tz: tzinfo, *, days: Optional[int] = None,
                 months: Optional[int] = None, working_days: Optional[int] = None,
                 roll_forward: bool = True) -> Deadline:
        """The deadline of a period that starts at `start_instant` (an aware datetime):
        counted from its local date in `tz` as `period_end`, ending at 23:59:59.999999 local
        on the last day, returned in UTC."""
        if not isinstance(start_instant, datetime):
            raise TypeError(f"start_instant must be a datetime: {start_instant!r}")
        start = local_date(start_instant, tz)
        last_day, rolled_from, seen = self._period(start, days, months, working_days,
                                                   roll_forward)
        return Deadline(
            due_at=end_of_local_day(last_day, tz),
            last_day=last_day,
            provisional=any(self.is_provisional(year) for year in seen),
            rolled_from=rolled_from,
        )

    # -- internals -------------------------------------------------------------------

    def _works(self, day: date, seen: Set[int]) -> bool:
        """is_working_day, noting the year consulted (for Deadline.provisional)."""
        seen.add(day.year)
        return self.is_working_day(day)

    def _roll(self, day: date, seen: Set[int]) -> date:
        while not self._works(day, seen):
            day += timedelta(days=1)
        return day

    def _add_working_days(self, start: date, n: int, seen: Set[int]) -> date:
        day = start
        while n:
            day += timedelta(days=1)
            if self._works(day, seen):
                n -= 1
        return day

    def _period(self, start: date, days: Optional[int], months: Optional[int],
                working_days: Optional[int], roll_forward: bool
                ) -> Tuple[date, Optional[date], Set[int]]:
        """(last day, the day it was rolled from or None, the years consulted)."""
        _check_day("start", start)
        given = [name for name, value in
                 (("days", days), ("months", months), ("working_days", working_days))
                 if value is not None]
        if len(given) != 1:
            raise TypeError("give exactly one of days, months, working_days"
                            + (f" (got {', '.join(given)})" if given else ""))
        seen: Set[int] = set()
        if working_days is not None:
            return self._add_working_days(start, _positive("working_days", working_days),
                                          seen), None, seen
        if days is not None:
            nominal = start + timedelta(days=_positive("days", days))
        else:
            nominal = add_months(start, _positive("months", months))
        if not roll_forward:
            return nominal, None, seen
        last_day = self._roll(nominal, seen)
        return last_day, (nominal if last_day != nominal else None), seen
