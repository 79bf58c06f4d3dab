"""The working-day calendar's counting rules, on tables built here (the shipped
deploy/calendar.yaml is pinned in libs/gm_directory/tests/test_calendar_file.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from gm_kernel.calendar import Deadline, WorkingCalendar, YearTable, add_months

SHANGHAI = ZoneInfo("Asia/Shanghai")


def days(first: str, last: str, name: str):
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return {start + timedelta(n): name for n in range((end - start).days + 1)}


# Part of 2026 as the State Council's notice (国办发明电〔2025〕7号) has it.
Y2026 = YearTable(
    2026,
    holidays={**days("2026-02-15", "2026-02-23", "春节"), **days("2026-10-01", "2026-10-07", "国庆节")},
    workdays={date(2026, 2, 14): "春节调休", date(2026, 2, 28): "春节调休",
              date(2026, 10, 10): "国庆调休"},
    source="test",
)
# A provisional 2027: 国庆节 10-01..03 and its in-lieu days 10-04, 10-05.
Y2027 = YearTable(2027, holidays=days("2027-10-01", "2027-10-05", "国庆节"), provisional=True)

CAL = WorkingCalendar({2026: Y2026, 2027: Y2027})


def d(text: str) -> date:
    return date.fromisoformat(text)


# -- which days work ----------------------------------------------------------------

def test_weekdays_work_weekends_rest_without_a_table_entry():
    assert CAL.is_working_day(d("2026-03-13"))      # Friday
    assert not CAL.is_working_day(d("2026-03-14"))  # Saturday
    assert not CAL.is_working_day(d("2026-03-15"))  # Sunday


def test_a_holiday_rests_and_a_make_up_day_works():
    assert not CAL.is_working_day(d("2026-10-01"))  # Thursday, 国庆节
    assert not CAL.is_working_day(d("2026-02-23"))  # Monday, 春节
    assert CAL.is_working_day(d("2026-10-10"))      # Saturday, 调休上班
    assert CAL.is_working_day(d("2026-02-14"))      # Saturday, 调休上班
    assert CAL.holiday_name(d("2026-10-03")) == "国庆节"
    assert CAL.holiday_name(d("2026-10-10")) is None


def test_known_and_provisional_years():
    assert CAL.is_known(2026) and not CAL.is_provisional(2026)
    assert CAL.is_known(2027) and CAL.is_provisional(2027)
    assert not CAL.is_known(2030) and CAL.is_provisional(2030)


def test_next_working_day_on_or_after():
    assert CAL.next_working_day_on_or_after(d("2026-10-08")) == d("2026-10-08")
    assert CAL.next_working_day_on_or_after(d("2026-10-01")) == d("2026-10-08")
    assert CAL.next_working_day_on_or_after(d("2026-10-11")) == d("2026-10-12")  # Sunday


# -- working days ---------------------------------------------------------------------

@pytest.mark.parametrize("n, expected", [
    (1, "2026-10-08"),   # Thursday, the first day after 国庆节
    (2, "2026-10-09"),   # Friday
    (3, "2026-10-10"),   # Saturday, a make-up working day
    (4, "2026-10-12"),   # Monday (Sunday 10-11 rests)
])
def test_working_days_across_national_day(n, expected):
    assert CAL.add_working_days(d("2026-09-30"), n) == d(expected)
    assert CAL.period_end(d("2026-09-30"), working_days=n) == d(expected)


def test_working_days_start_day_is_not_counted_even_when_it_works():
    assert CAL.add_working_days(d("2026-03-12"), 1) == d("2026-03-13")  # Thu -> Fri


def test_working_days_from_inside_a_holiday():
    # 2026-02-18 is in 春节: 02-24 Tue 1, 25 2, 26 3, 27 4, 28 Sat (调休) 5, 03-02 Mon 6, 03-03 7.
    assert CAL.add_working_days(d("2026-02-18"), 7) == d("2026-03-03")


def test_working_days_count_the_make_up_saturdays():
    # From Thursday 02-12: 13 Fri 1, 14 Sat (调休) 2, then 24..27 3–6, 28 Sat (调休) 7.
    assert CAL.add_working_days(d("2026-02-12"), 7) == d("2026-02-28")


@pytest.mark.parametrize("n", [0, -1])
def test_working_days_at_least_one(n):
    with pytest.raises(ValueError):
        CAL.add_working_days(d("2026-03-12"), n)


# -- calendar days and months, rolled off rest days -------------------------------------

def test_days_plain():
    assert CAL.period_end(d("2026-03-01"), days=30) == d("2026-03-31")  # a Tuesday


def test_days_ending_on_a_holiday_roll_to_the_next_working_day():
    # 30 days from an agreement of 2026-09-01 end on 10-01 (国庆节): the period ends 10-08.
    assert CAL.period_end(d("2026-09-01"), days=30) == d("2026-10-08")
    assert CAL.period_end(d("2026-09-01"), days=30, roll_forward=False) == d("2026-10-01")


def test_days_ending_on_a_make_up_saturday_stay():
    assert CAL.period_end(d("2026-09-30"), days=10) == d("2026-10-10")


def test_days_ending_on_a_weekend_roll_to_monday():
    assert CAL.period_end(d("2026-03-04"), days=10) == d("2026-03-16")  # Sat 03-14 -> Mon


@pytest.mark.parametrize("start, months, expected", [
    ("2026-03-15", 1, "2026-04-15"),   # the corresponding day
    ("2026-01-31", 1, "2026-02-28"),   # none: the month's last day (民法典 202)
    ("2024-01-31", 1, "2024-02-29"),   # leap year
    ("2026-03-31", 1, "2026-04-30"),
    ("2026-12-31", 2, "2027-02-28"),   # across the year
    ("2026-11-30", 1, "2026-12-30"),
    ("2026-05-15", 12, "2027-05-15"),
])
def test_add_months(start, months, expected):
    assert add_months(d(start), months) == d(expected)


def test_months_ending_on_a_make_up_saturday_stay():
    # 2026-01-31 + 1 month = 02-28, a Saturday that is a make-up working day.
    assert CAL.period_end(d("2026-01-31"), months=1) == d("2026-02-28")


def test_months_ending_on_a_sunday_roll_to_monday():
    assert CAL.period_end(d("2026-01-15"), months=2) == d("2026-03-16")  # Sun 03-15
    assert CAL.period_end(d("2026-01-15"), months=2, roll_forward=False) == d("2026-03-15")


@pytest.mark.parametrize("kwargs", [
    {}, {"days": 1, "months": 1}, {"days": 1, "working_days": 1},
])
def test_exactly_one_kind_of_period(kwargs):
    with pytest.raises(TypeError):
        CAL.period_end(d("2026-03-01"), **kwargs)


@pytest.mark.parametrize("kwargs", [{"days": 0}, {"months": -1}, {"working_days": 0}])
def test_a_period_is_at_least_one_unit(kwargs):
    with pytest.raises(ValueError):
        CAL.period_end(d("2026-03-01"), **kwargs)


def test_non_integers_and_datetimes_are_refused():
    with pytest.raises(TypeError):
        CAL.period_end(d("2026-03-01"), days=True)
    with pytest.raises(TypeError):
        CAL.period_end(datetime(2026, 3, 1, tzinfo=timezone.utc), days=3)
    with pytest.raises(TypeError):
        CAL.is_working_day(datetime(2026, 3, 1, tzinfo=timezone.utc))


# -- deadlines ----------------------------------------------------------------------------

def test_deadline_ends_at_the_end_of_the_local_last_day_in_utc():
    # 00:30 on 2026-09-01 in Beijing is still 08-31 in UTC: the start day is 09-01.
    start = datetime(2026, 8, 31, 16, 30, tzinfo=timezone.utc)
    result = CAL.deadline(start, SHANGHAI, days=30)
    assert result == Deadline(
        due_at=datetime(2026, 10, 8, 15, 59, 59, 999999, tzinfo=timezone.utc),
        last_day=d("2026-10-08"), provisional=False, rolled_from=d("2026-10-01"))
    assert result.due_at.astimezone(SHANGHAI) == datetime(2026, 10, 8, 23, 59, 59, 999999,
                                                            tzinfo=SHANGHAI)


def test_deadline_not_rolled_has_no_rolled_from():
    start = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)
    result = CAL.deadline(start, SHANGHAI, days=30)
    assert result.last_day == d("2026-03-31") and result.rolled_from is None
    assert not result.provisional


def test_deadline_in_working_days():
    start = datetime(2026, 9, 30, 1, 0, tzinfo=timezone.utc)
    result = CAL.deadline(start, SHANGHAI, working_days=3)
    assert result.last_day == d("2026-10-10") and result.rolled_from is None
    assert result.due_at == datetime(2026, 10, 10, 15, 59, 59, 999999, tzinfo=timezone.utc)


def test_deadline_refuses_naive_start():
    with pytest.raises(ValueError):
        CAL.deadline(datetime(2026, 3, 1), SHANGHAI, days=1)


def test_deadline_touching_a_provisional_year_is_provisional():
    start = datetime(2027, 9, 20, 2, 0, tzinfo=timezone.utc)
    result = CAL.deadline(start, SHANGHAI, days=11)   # 10-01 -> rolls over 10-01..05
    assert result.last_day == d("2027-10-06") and result.provisional
    assert result.rolled_from == d("2027-10-01")


def test_working_days_from_a_final_into_a_provisional_year_are_provisional():
    start = datetime(2026, 12, 28, 2, 0, tzinfo=timezone.utc)  # Monday
    result = CAL.deadline(start, SHANGHAI, working_days=5)
    # 12-29 Tue, 30 Wed, 31 Thu, 2027-01-01 Fri (no 元旦 in this test table), 01-04 Mon.
    assert result.last_day == d("2027-01-04") and result.provisional


def test_calendar_days_that_consult_only_a_final_year_are_not_provisional():
    # The count starts in 2025 (no table) but only the last day's status matters.
    start = datetime(2025, 12, 20, 2, 0, tzinfo=timezone.utc)
    result = CAL.deadline(start, SHANGHAI, days=30)
    assert result.last_day == d("2026-01-19") and not result.provisional
    # Without roll-forward no day's status is consulted at all.
    assert not CAL.deadline(start, SHANGHAI, days=30, roll_forward=False).provisional


def test_an_unknown_year_counts_weekends_only_and_is_provisional():
    assert CAL.is_working_day(d("2030-10-01"))          # Tuesday: no table, works
    assert not CAL.is_working_day(d("2030-10-05"))      # Saturday
    start = datetime(2030, 9, 30, 2, 0, tzinfo=timezone.utc)
    result = CAL.deadline(start, SHANGHAI, working_days=5)
    assert result.last_day == d("2030-10-07") and result.provisional
    assert WorkingCalendar({}).period_end(d("2030-10-04"), days=1) == d("2030-10-07")


# -- tables ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, problem", [
    ({"holidays": {date(2027, 1, 1): "元旦"}}, "not in 2026"),
    ({"holidays": {}, "workdays": {date(2026, 3, 13): "x"}}, "a Friday"),
    ({"holidays": {date(2026, 3, 14): "x"}, "workdays": {date(2026, 3, 14): "x"}},
     "both a holiday and a workday"),
    ({"holidays": {datetime(2026, 3, 14): "x"}}, "not a date"),
])
def test_year_table_refuses_inconsistent_data(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        YearTable(2026, **kwargs)


def test_year_table_accepts_plain_dates_and_is_read_only():
    table = YearTable(2026, holidays=[date(2026, 10, 1)])
    assert dict(table.holidays) == {date(2026, 10, 1): ""}
    with pytest.raises(TypeError):
        table.holidays[date(2026, 10, 2)] = "x"  # type: ignore[index]


def test_calendar_refuses_a_table_filed_under_another_year():
    with pytest.raises(ValueError):
        WorkingCalendar({2027: Y2026})
