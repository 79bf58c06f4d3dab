"""Loading the working-day calendar (deploy/calendar.yaml) into a gm_kernel WorkingCalendar.

The loader lives here, not in gm_kernel, because gm_kernel does not depend on
gm_directory (nor on PyYAML): gm_kernel.calendar stays pure, and this module reads and
checks the file with the same line-numbered errors as the directory and the rules
(`ConfigError`: `<file>:<line>: <field>: <problem>`), e.g.

    deploy/calendar.yaml:64: years.2026.holidays[1].to: 2026-02-13 is before from (2026-02-15)

The file (see its header comment for the legal bases and how to add a year):

    years:
      2026:
        source: 国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号，2025年11月4日）
        provisional: false
        holidays:
          - {from: 2026-02-15, to: 2026-02-23, name: 春节}
          - {date: 2026-04-05, name: 清明节}     # or a bare date: - 2026-04-05
        workdays:
          - {date: 2026-02-14, name: 春节调休}

Checks: known fields only; each year a four-digit key, listed once; `from` not after `to`
and a range of at most 31 days (longer is a typo; split a real one); every date inside
its year; a day listed once (as holiday or workday); a workday on a Saturday or Sunday.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Dict, List, Tuple, Union

from yaml.nodes import MappingNode, ScalarNode

from gm_kernel.calendar import WorkingCalendar, YearTable

from .yamlconfig import ConfigError, Field, compose_file

DEFAULT_CALENDAR_FILE = "deploy/calendar.yaml"
"""Where services find the calendar unless GM_CALENDAR_FILE says otherwise."""

MAX_RANGE_DAYS = 31
_INT = "tag:yaml.org,2002:int"
_STR = "tag:yaml.org,2002:str"
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def load_calendar(path: Union[str, Path]) -> WorkingCalendar:
    """Read and check a calendar file; a file that cannot be used raises ConfigError."""
    root = compose_file(path)
    years = root.mapping(required=("years",))["years"]
    if not isinstance(years.node, MappingNode):
        raise years.error("must be a mapping of years (2026: …) to their tables")
    tables: Dict[int, YearTable] = {}
    lines: Dict[int, int] = {}
    for key_node, value_node in years.node.value:
        key_line = key_node.start_mark.line + 1
        key = Field(root.file, key_node, years.path, line=key_line)
        if (not isinstance(key_node, ScalarNode) or key_node.tag not in (_INT, _STR)
                or not re.fullmatch(r"\d{4}", key_node.value)):
            raise key.error("keys must be years written as four digits, e.g. 2026")
        year = int(key_node.value)
        if not 2000 <= year <= 2100:
            raise key.error(f"{year} is not a year this calendar can hold (2000–2100)")
        if year in lines:
            raise Field(root.file, key_node, f"years.{year}", line=key_line).error(
                f"duplicate year (first at line {lines[year]})")
        lines[year] = key_line
        tables[year] = _year(Field(root.file, value_node, f"years.{year}", line=key_line), year)
    if not tables:
        raise years.error("must list at least one year")
    return WorkingCalendar(tables)


def _year(field: Field, year: int) -> YearTable:
    fields = field.mapping(required=("source", "provisional", "holidays", "workdays"))
    source = fields["source"].string()
    provisional = fields["provisional"].boolean()
    listed: Dict[date, int] = {}  # day -> line of its entry, holidays and workdays alike

    holidays: Dict[date, str] = {}
    for item in fields["holidays"].sequence(min_len=1):
        days, name = _entry(item, year, ranges=True)
        for day in days:
            _once(item, day, listed)
            holidays[day] = name

    workdays: Dict[date, str] = {}
    for item in fields["workdays"].sequence():
        (day,), name = _entry(item, year, ranges=False)
        if day.weekday() < 5:
            raise item.error(f"{day} is a {_WEEKDAYS[day.weekday()]}; a make-up working day "
                             "(调休上班) is a Saturday or Sunday")
        _once(item, day, listed)
        workdays[day] = name

    try:
        return YearTable(year, holidays=holidays, workdays=workdays, provisional=provisional,
                         source=source)
    except ValueError as exc:  # the checks above should leave nothing for these
        raise field.error(str(exc)) from exc


def _once(item: Field, day: date, listed: Dict[date, int]) -> None:
    if day in listed:
        raise item.error(f"{day} is listed twice (first at line {listed[day]})")
    listed[day] = item.line


def _entry(item: Field, year: int, ranges: bool) -> Tuple[List[date], str]:
    """The days of one list entry, and its name ("" for a bare date)."""
    if isinstance(item.node, ScalarNode):
        return [_in_year(item, year)], ""
    keys = ("date", "from", "to") if ranges else ("date",)
    fields = item.mapping(optional=keys + ("name",))
    name = fields["name"].string(max_len=100) if "name" in fields else ""
    if "date" in fields:
        if "from" in fields or "to" in fields:
            raise item.error("give either date, or from and to, not both")
        return [_in_year(fields["date"], year)], name
    if not ranges:
        raise item.error("required field missing", child="date")
    for end in ("from", "to"):
        if end not in fields:
            raise item.error("required field missing (give date, or from and to)", child=end)
    first = _in_year(fields["from"], year)
    last = _in_year(fields["to"], year)
    if last < first:
        raise fields["to"].error(f"{last} is before from ({first})")
    length = (last - first).days + 1
    if length > MAX_RANGE_DAYS:
        raise fields["to"].error(f"the range is {length} days; at most {MAX_RANGE_DAYS} "
                                 "(split a longer one)")
    return [first + timedelta(days=n) for n in range(length)], name


def _in_year(field: Field, year: int) -> date:
    day = field.date()
    if day.year != year:
        raise field.error(f"{day} is not in {year}")
    return day


__all__ = ["DEFAULT_CALENDAR_FILE", "ConfigError", "load_calendar"]
