"""The working-day calendar file: the shipped deploy/calendar.yaml day by day, counting on
it across the 2026 holidays and the provisional 2027, and the loader's errors."""
from __future__ import annotations

import textwrap
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from gm_directory.calendar_file import DEFAULT_CALENDAR_FILE, load_calendar
from gm_directory.yamlconfig import ConfigError

from .conftest import REPO

SHANGHAI = ZoneInfo("Asia/Shanghai")


def d(text: str) -> date:
    return date.fromisoformat(text)


def span(first: str, last: str):
    start, end = d(first), d(last)
    return [start + timedelta(n) for n in range((end - start).days + 1)]


def every_day(year: int):
    return span(f"{year}-01-01", f"{year}-12-31")


@pytest.fixture(scope="module")
def cal():
    return load_calendar(REPO / DEFAULT_CALENDAR_FILE)


# -- the shipped years ------------------------------------------------------------------

def test_shipped_years(cal):
    assert sorted(cal.years) == [2025, 2026, 2027]
    assert not cal.is_provisional(2025) and not cal.is_provisional(2026)
    assert cal.is_provisional(2027) and cal.is_known(2027)
    assert "国办发明电〔2025〕7号" in cal.years[2026].source
    assert "国办发明电〔2024〕12号" in cal.years[2025].source


# 国办发明电〔2025〕7号, as the notice words it.
HOLIDAYS_2026 = {
    "元旦": span("2026-01-01", "2026-01-03"),
    "春节": span("2026-02-15", "2026-02-23"),
    "清明节": span("2026-04-04", "2026-04-06"),
    "劳动节": span("2026-05-01", "2026-05-05"),
    "端午节": span("2026-06-19", "2026-06-21"),
    "中秋节": span("2026-09-25", "2026-09-27"),
    "国庆节": span("2026-10-01", "2026-10-07"),
}
WORKDAYS_2026 = [d("2026-01-04"), d("2026-02-14"), d("2026-02-28"), d("2026-05-09"),
                 d("2026-09-20"), d("2026-10-10")]


@pytest.mark.parametrize("name", HOLIDAYS_2026)
def test_2026_holidays_rest(cal, name):
    for day in HOLIDAYS_2026[name]:
        assert not cal.is_working_day(day), day
        assert cal.holiday_name(day) == name


@pytest.mark.parametrize("day", WORKDAYS_2026, ids=str)
def test_2026_make_up_days_work(cal, day):
    assert day.weekday() >= 5 and cal.is_working_day(day)


def test_2026_every_other_day_is_monday_to_friday(cal):
    rest = {day for days in HOLIDAYS_2026.values() for day in days}
    for day in every_day(2026):
        expected = day in WORKDAYS_2026 or (day not in rest and day.weekday() < 5)
        assert cal.is_working_day(day) == expected, day
    # 365 days - 104 weekend days - 13 statutory holidays = 248 working days.
    assert sum(map(cal.is_working_day, every_day(2026))) == 248


def test_2025_as_its_notice(cal):
    rest = {*span("2025-01-01", "2025-01-01"), *span("2025-01-28", "2025-02-04"),
            *span("2025-04-04", "2025-04-06"), *span("2025-05-01", "2025-05-05"),
            *span("2025-05-31", "2025-06-02"), *span("2025-10-01", "2025-10-08")}
    work = {d("2025-01-26"), d("2025-02-08"), d("2025-04-27"), d("2025-09-28"), d("2025-10-11")}
    for day in every_day(2025):
        assert cal.is_working_day(day) == (day in work or (day not in rest and day.weekday() < 5)), day
    assert sum(map(cal.is_working_day, every_day(2025))) == 248


# Statutory days under 《全国年节及纪念日放假办法》 and the in-lieu days for those on a weekend.
STATUTORY_2027 = ["2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08",
                  "2027-04-05", "2027-05-01", "2027-05-02", "2027-06-09", "2027-09-15",
                  "2027-10-01", "2027-10-02", "2027-10-03"]
IN_LIEU_2027 = ["2027-02-09", "2027-02-10", "2027-05-03", "2027-05-04", "2027-10-04",
                "2027-10-05"]


def test_2027_provisional_table(cal):
    rest = {d(t) for t in STATUTORY_2027 + IN_LIEU_2027}
    for day in every_day(2027):
        assert cal.is_working_day(day) == (day not in rest and day.weekday() < 5), day
    assert not cal.years[2027].workdays            # unknown until the notice
    assert cal.holiday_name(d("2027-02-09")) == "春节补假"
    # 13 statutory days, 6 of them on a weekend, made up by 6 in-lieu weekdays.
    assert sum(1 for t in STATUTORY_2027 if d(t).weekday() >= 5) == len(IN_LIEU_2027)
    assert sum(map(cal.is_working_day, every_day(2027))) == 365 - 104 - 13


def test_an_unlisted_year_counts_weekends_only(cal):
    assert not cal.is_known(2030) and cal.is_provisional(2030)
    assert cal.is_working_day(d("2030-10-01"))           # a Tuesday, no table
    assert not cal.is_working_day(d("2030-10-05"))       # Saturday
    result = cal.deadline(datetime(2030, 9, 27, 2, tzinfo=timezone.utc), SHANGHAI, days=8)
    assert result.last_day == d("2030-10-07") and result.provisional   # Sat 10-05 -> Mon


# -- counting across the 2026 holidays -----------------------------------------------------

@pytest.mark.parametrize("start, n, expected", [
    # National Day: 10-01..07 rest; 10-08 Thu, 10-09 Fri, 10-10 Sat (调休上班) work.
    ("2026-09-30", 1, "2026-10-08"),
    ("2026-09-30", 2, "2026-10-09"),
    ("2026-09-30", 3, "2026-10-10"),
    ("2026-09-30", 4, "2026-10-12"),
    # Mid-Autumn then National Day: 09-28 Mon .. 09-30 Wed, then 10-08.
    ("2026-09-24", 4, "2026-10-08"),
    # Working days in the middle of National Day: 10-08, 09, 10, 12, 13, 14, 15.
    ("2026-10-04", 7, "2026-10-15"),
    # Spring Festival: 02-13 Fri, 02-14 Sat (调休), then 02-24..27, 02-28 Sat (调休).
    ("2026-02-12", 2, "2026-02-14"),
    ("2026-02-12", 3, "2026-02-24"),
    ("2026-02-12", 7, "2026-02-28"),
    ("2026-02-12", 8, "2026-03-02"),
    # From inside Spring Festival: 02-24, 25, 26, 27, 28 (调休), 03-02, 03-03.
    ("2026-02-18", 7, "2026-03-03"),
    # New Year: 01-04 Sun (调休) is the first working day after 元旦.
    ("2025-12-31", 1, "2026-01-04"),
    ("2025-12-31", 2, "2026-01-05"),
    # Labour Day: 05-06 Wed, 07, 08, 09 Sat (调休), 11 Mon.
    ("2026-04-30", 5, "2026-05-11"),
])
def test_working_days_2026(cal, start, n, expected):
    assert cal.add_working_days(d(start), n) == d(expected)
    assert cal.period_end(d(start), working_days=n) == d(expected)


def test_thirty_days_ending_on_national_day_roll_to_its_end(cal):
    # A 30-day period from an agreement of 2026-09-01 would end 10-01 (国庆节).
    assert cal.period_end(d("2026-09-01"), days=30, roll_forward=False) == d("2026-10-01")
    assert cal.period_end(d("2026-09-01"), days=30) == d("2026-10-08")
    result = cal.deadline(datetime(2026, 9, 1, 9, 0, tzinfo=SHANGHAI), SHANGHAI, days=30)
    assert result.last_day == d("2026-10-08") and result.rolled_from == d("2026-10-01")
    assert result.due_at == datetime(2026, 10, 8, 15, 59, 59, 999999, tzinfo=timezone.utc)
    assert not result.provisional


def test_a_period_ending_on_a_make_up_saturday_stays(cal):
    assert cal.period_end(d("2026-01-31"), months=1) == d("2026-02-28")   # 民法典 202 + 调休
    assert cal.period_end(d("2026-09-30"), days=10) == d("2026-10-10")


def test_a_month_period_ending_on_a_sunday_rolls_to_monday(cal):
    assert cal.period_end(d("2026-02-15"), months=1) == d("2026-03-16")   # Sun 03-15


def test_a_period_ending_in_spring_festival_rolls_past_it(cal):
    result = cal.deadline(datetime(2026, 1, 16, 10, tzinfo=SHANGHAI), SHANGHAI, days=30)
    assert result.rolled_from == d("2026-02-15") and result.last_day == d("2026-02-24")


def test_a_period_ending_on_the_sunday_before_a_make_up_day(cal):
    # 2026-09-19 Sat rests, 09-20 Sun is a make-up working day: the period ends that Sunday.
    assert cal.period_end(d("2026-09-09"), days=10) == d("2026-09-20")


def test_deadline_in_2027_is_provisional(cal):
    result = cal.deadline(datetime(2027, 9, 20, 10, tzinfo=SHANGHAI), SHANGHAI, days=11)
    # 10-01 Fri .. 10-03 Sun 国庆节, 10-04 Mon, 10-05 Tue in lieu: ends Wed 10-06.
    assert result.rolled_from == d("2027-10-01") and result.last_day == d("2027-10-06")
    assert result.provisional
    # Working days from the last final week of 2026 into 2027 are provisional too.
    across = cal.deadline(datetime(2026, 12, 30, 10, tzinfo=SHANGHAI), SHANGHAI, working_days=2)
    assert across.last_day == d("2027-01-04") and across.provisional   # 12-31, (元旦), 01-04
    # A count that stays in 2026 is not.
    inside = cal.deadline(datetime(2026, 12, 28, 10, tzinfo=SHANGHAI), SHANGHAI, working_days=2)
    assert inside.last_day == d("2026-12-30") and not inside.provisional


def test_spring_festival_2027_working_days(cal):
    # 02-05 Fri .. 02-10 Wed rest (provisional): 3 working days after 02-04 are 02-11, 12, 15.
    assert cal.add_working_days(d("2027-02-04"), 3) == d("2027-02-15")


# -- loader errors --------------------------------------------------------------------------

VALID = textwrap.dedent("""\
    years:
      2026:
        source: 国办发明电〔2025〕7号
        provisional: false
        holidays:
          - {from: 2026-10-01, to: 2026-10-07, name: 国庆节}
          - 2026-01-01
        workdays:
          - {date: 2026-10-10, name: 国庆节调休}
    """)


def write(tmp_path, text: str):
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_calendar(path)
    return info.value


def test_minimal_file_loads(tmp_path):
    cal = load_calendar(write(tmp_path, VALID))
    assert not cal.is_working_day(d("2026-01-01")) and cal.is_working_day(d("2026-10-10"))
    assert cal.holiday_name(d("2026-01-01")) == ""
    assert cal.years[2026].holidays[d("2026-10-03")] == "国庆节"


@pytest.mark.parametrize("old, new, line, field, problem", [
    ("to: 2026-10-07", "to: 2026-09-30", 6, "years.2026.holidays[0].to",
     "2026-09-30 is before from (2026-10-01)"),
    ("to: 2026-10-07", "to: 2026-12-07", 6, "years.2026.holidays[0].to",
     "the range is 68 days; at most 31"),
    ("- 2026-01-01", "- 2027-01-01", 7, "years.2026.holidays[1]", "2027-01-01 is not in 2026"),
    ("from: 2026-10-01", "from: 2025-12-31", 6, "years.2026.holidays[0].from",
     "2025-12-31 is not in 2026"),
    ("- 2026-01-01", "- 2026-10-03", 7, "years.2026.holidays[1]",
     "2026-10-03 is listed twice (first at line 6)"),
    ("{date: 2026-10-10,", "{date: 2026-10-09,", 9, "years.2026.workdays[0]",
     "2026-10-09 is a Friday; a make-up working day (调休上班) is a Saturday or Sunday"),
    ("{date: 2026-10-10,", "{date: 2026-10-04,", 9, "years.2026.workdays[0]",
     "2026-10-04 is listed twice (first at line 6)"),
    ("{date: 2026-10-10,", "{date: 2026-02-30,", 9, "years.2026.workdays[0].date",
     "must be a date written YYYY-MM-DD"),
    ("name: 国庆节}", "name: 国庆节, days: 7}", 6, "years.2026.holidays[0].days",
     "unknown field; expected one of date, from, name, to"),
    ("{from: 2026-10-01,", "{date: 2026-10-01, from: 2026-10-01,", 6, "years.2026.holidays[0]",
     "give either date, or from and to, not both"),
    ("{from: 2026-10-01, ", "{", 6, "years.2026.holidays[0].from", "required field missing"),
    ("{date: 2026-10-10, name", "{from: 2026-10-10, name", 9, "years.2026.workdays[0].from",
     "unknown field; expected one of date, name"),
    ("provisional: false", "provisional: maybe", 4, "years.2026.provisional",
     "must be true or false"),
    ("provisional: false", "final: true", 4, "years.2026.final", "unknown field"),
    ("    workdays:\n      - {date: 2026-10-10, name: 国庆节调休}\n", "", 2,
     "years.2026.workdays", "required field missing"),
    ("  2026:", "  twenty-six:", 2, "years", "keys must be years written as four digits"),
    ("  2026:", "  1999:", 2, "years", "1999 is not a year this calendar can hold"),
    ("years:", "year:", 1, "year", "unknown field; expected one of years"),
])
def test_loader_errors_name_file_line_and_field(tmp_path, old, new, line, field, problem):
    assert old in VALID
    error = load_error(tmp_path, VALID.replace(old, new, 1))
    assert (error.line, error.field) == (line, field), str(error)
    assert problem in error.problem
    assert str(error).startswith(f"{tmp_path / 'calendar.yaml'}:{line}: {field}: ")


def test_a_year_listed_twice(tmp_path):
    text = VALID + VALID.split("\n", 1)[1]
    error = load_error(tmp_path, text)
    assert (error.line, error.field) == (10, "years.2026")
    assert "duplicate year (first at line 2)" in error.problem


def test_a_year_inside_another_years_table(tmp_path):
    error = load_error(tmp_path, VALID.replace("2026-01-01", "2027-01-01").replace("  2026:", "  2027:"))
    assert error.field == "years.2027.holidays[0].from" and "2026-10-01 is not in 2027" in error.problem


@pytest.mark.parametrize("text, field, problem", [
    ("years: {}\n", "years", "must list at least one year"),
    ("years: [2026]\n", "years", "must be a mapping of years"),
    ("years:\n  2026:\n    source: x\n    provisional: true\n    holidays: []\n    workdays: []\n",
     "years.2026.holidays", "must have at least 1 item"),
])
def test_empty_or_misshapen(tmp_path, text, field, problem):
    error = load_error(tmp_path, text)
    assert error.field == field and problem in error.problem


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_calendar(tmp_path / "absent.yaml")
    assert "invalid YAML" in str(load_error(tmp_path, "years: [\n"))
