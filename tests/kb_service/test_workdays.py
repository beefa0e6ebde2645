"""Working-day arithmetic: chinese-calendar data, operator calendar files, time-limit rules."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb_service.errors import Invalid
from kb_service.workdays import (
    LIBRARY_FIRST_YEAR,
    LIBRARY_LAST_YEAR,
    SHANGHAI,
    CalendarFileInvalid,
    CalendarYearUnknown,
    WorkCalendar,
    YearSpec,
    add_workdays,
    end_of_day,
    is_workday,
    nth_workday_of_month,
    workdays_between,
)

DATA = Path(__file__).resolve().parents[1] / "data"
CALENDAR_2027 = DATA / "calendar-2027.yaml"
EXAMPLE = Path(__file__).resolve().parents[2] / "kb_service" / "data" / "calendar-example.yaml"


def at(day: str, hhmm: str = "10:00") -> datetime:
    """An aware Asia/Shanghai datetime."""
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=SHANGHAI)


def eod(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T23:59:59.999999").replace(tzinfo=SHANGHAI)


# --- the 2026 arrangement as chinese-calendar 1.11.0 has it ---------------------------------
# 中秋 9-25..9-27 (Fri–Sun) off; 国庆 10-01..10-07 off; make-up workdays Sun 9-20 and Sat 10-10.
# 9-27 (Sun) is a holiday, not a make-up day; 10-08 (Thu) is an ordinary working day.


def test_library_range() -> None:
    assert LIBRARY_FIRST_YEAR == 2004
    assert LIBRARY_LAST_YEAR == 2026


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-09-20", True),  # Sunday, make-up workday
        ("2026-09-25", False),  # Mid-Autumn
        ("2026-09-27", False),  # Sunday inside the Mid-Autumn break
        ("2026-09-30", True),
        ("2026-10-01", False),
        ("2026-10-07", False),
        ("2026-10-08", True),
        ("2026-10-10", True),  # Saturday, make-up workday
        ("2026-10-11", False),
        ("2026-12-31", True),
    ],
)
def test_is_workday_2026(day: str, expected: bool) -> None:
    assert is_workday(date.fromisoformat(day)) is expected


@pytest.mark.parametrize("hhmm", ["00:00", "09:30", "17:45", "23:59"])
def test_consultation_closed_before_national_day(hhmm: str) -> None:
    assert add_workdays(at("2026-09-30", hhmm), 2) == eod("2026-10-09")


def test_complaint_counts_make_up_saturday() -> None:
    due = add_workdays(at("2026-09-24", "15:20"), 10)
    assert due == eod("2026-10-15")
    assert workdays_between(at("2026-09-24"), due) == 10


def test_due_is_end_of_day_in_shanghai() -> None:
    due = add_workdays(at("2026-03-02"), 1)
    assert due.tzinfo is SHANGHAI
    assert due + timedelta(microseconds=1) == datetime(2026, 3, 4, tzinfo=SHANGHAI)
    assert end_of_day(date(2026, 3, 3)) == due


def test_event_time_converted_to_shanghai_first() -> None:
    # 2026-09-29 17:30 UTC is 2026-09-30 01:30 in Shanghai.
    utc_event = datetime(2026, 9, 29, 17, 30, tzinfo=UTC)
    assert add_workdays(utc_event, 2) == eod("2026-10-09")


def test_saturday_event_counts_from_monday() -> None:
    assert add_workdays(at("2026-03-07"), 1) == eod("2026-03-09")
    assert add_workdays(at("2026-03-08"), 1) == eod("2026-03-09")
    assert add_workdays(at("2026-03-06"), 1) == eod("2026-03-09")  # Friday too


def test_zero_days_is_end_of_same_day() -> None:
    assert add_workdays(at("2026-10-03"), 0) == eod("2026-10-03")


def test_naive_datetime_rejected() -> None:
    with pytest.raises(Invalid) as info:
        add_workdays(datetime(2026, 9, 30, 10, 0), 2)
    assert info.value.code == "naive_datetime"
    with pytest.raises(Invalid) as info:
        workdays_between(at("2026-09-30"), datetime(2026, 10, 9))
    assert info.value.code == "naive_datetime"


def test_negative_count_rejected() -> None:
    with pytest.raises(Invalid) as info:
        add_workdays(at("2026-09-30"), -1)
    assert info.value.code == "invalid_workday_count"


def test_between_is_zero_for_same_or_earlier_day() -> None:
    assert workdays_between(at("2026-09-30", "08:00"), at("2026-09-30", "20:00")) == 0
    assert workdays_between(at("2026-10-09"), at("2026-09-30")) == 0


def test_nth_workday_of_month() -> None:
    # October 2026: 1–7 off, 8 Thu, 9 Fri, 10 Sat (make-up), 12 Mon, 13 Tue.
    assert nth_workday_of_month(2026, 10, 1) == date(2026, 10, 8)
    assert nth_workday_of_month(2026, 10, 3) == date(2026, 10, 10)
    assert nth_workday_of_month(2026, 10, 5) == date(2026, 10, 13)
    with pytest.raises(Invalid):
        nth_workday_of_month(2026, 10, 30)
    with pytest.raises(Invalid):
        nth_workday_of_month(2026, 13, 1)


# --- years beyond the library ------------------------------------------------------------


def test_2027_unknown_without_calendar_file() -> None:
    with pytest.raises(CalendarYearUnknown) as info:
        add_workdays(at("2026-12-30"), 2)
    err = info.value
    assert isinstance(err, Invalid)
    assert err.code == "calendar_year_unknown"
    assert "2027" in err.message
    assert "KB_CALENDAR_FILE" in err.message
    with pytest.raises(CalendarYearUnknown):
        is_workday(date(2003, 5, 1))


def test_2027_with_calendar_file() -> None:
    cal = WorkCalendar.from_file(CALENDAR_2027)
    assert 2027 in cal.known_years
    # Dec 31 (Thu) is day 1; Jan 1–3 off; Mon Jan 4 is day 2.
    assert add_workdays(at("2026-12-30", "16:00"), 2, calendar=cal) == eod("2027-01-04")
    # Spring Festival: Feb 5–13 off, Sunday Feb 14 is a make-up workday.
    assert add_workdays(at("2027-02-04"), 2, calendar=cal) == eod("2027-02-15")
    assert is_workday(date(2027, 2, 20), calendar=cal)
    assert not is_workday(date(2027, 2, 8), calendar=cal)
    assert nth_workday_of_month(2027, 10, 1, calendar=cal) == date(2027, 10, 8)
    # The library still answers for 2026.
    assert add_workdays(at("2026-09-30"), 2, calendar=cal) == eod("2026-10-09")


def test_json_calendar_file(tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    path.write_text(
        json.dumps({"2027": {"holidays": ["2027-01-01..2027-01-03"], "workdays": []}}),
        encoding="utf-8",
    )
    cal = WorkCalendar.from_file(path)
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 1, 4))


def test_file_overrides_library_year(tmp_path: Path) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text("2026:\n  holidays: ['2026-09-30']\n", encoding="utf-8")
    cal = WorkCalendar.from_file(path)
    assert not cal.is_workday(date(2026, 9, 30))
    # With only the file's 2026, Oct 1–7 are ordinary weekdays and Oct 10 an ordinary Saturday.
    assert cal.is_workday(date(2026, 10, 1))
    assert not cal.is_workday(date(2026, 10, 10))


def test_unquoted_yaml_dates_accepted(tmp_path: Path) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text("2027:\n  holidays: [2027-01-01]\n  workdays: [2027-01-09]\n", "utf-8")
    cal = WorkCalendar.from_file(path)
    assert cal.is_workday(date(2027, 1, 9))


def test_example_file_is_valid() -> None:
    cal = WorkCalendar.from_file(EXAMPLE)
    assert 2099 in cal.known_years


def test_in_code_year_spec() -> None:
    cal = WorkCalendar({2030: YearSpec(holidays=frozenset({date(2030, 1, 1)}))})
    assert not cal.is_workday(date(2030, 1, 1))
    with pytest.raises(CalendarFileInvalid):
        WorkCalendar({2030: YearSpec(workdays=frozenset({date(2030, 1, 2)}))})


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("2027:\n  holidays: ['2027-02-30']\n", "不是有效日期"),
        ("2027:\n  holidays: ['2027/01/01']\n", "YYYY-MM-DD"),
        ("2027:\n  holidays: ['2027-02-13..2027-02-06']\n", "结束日期早于开始日期"),
        ("2027:\n  holidays: ['2028-01-01']\n", "不属于该年"),
        ("2027:\n  holidays: ['2026-12-31..2027-01-02']\n", "不属于该年"),
        ("2027:\n  holidays: []\n  workdays: ['2027-01-05']\n", "只能列周六、周日"),
        (
            "2027:\n  holidays: ['2027-02-05..2027-02-14']\n  workdays: ['2027-02-14']\n",
            "同时出现",
        ),
        ("2027:\n  holidays: []\n  extra: []\n", "无法识别的字段"),
        ("2027:\n  workdays: []\n", "缺少 holidays"),
        ("twenty:\n  holidays: []\n", "年份"),
        ("- 2027-01-01\n", "顶层"),
        ("", "顶层"),
        ("2027: [unclosed\n", "无法解析"),
        ("2027:\n  holidays: '2027-01-01'\n", "日期列表"),
    ],
)
def test_invalid_calendar_files(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CalendarFileInvalid) as info:
        WorkCalendar.from_file(path)
    err = info.value
    assert err.code == "calendar_file_invalid"
    assert isinstance(err, Invalid)
    assert fragment in err.message
    assert str(path) in err.message


def test_missing_calendar_file(tmp_path: Path) -> None:
    with pytest.raises(CalendarFileInvalid) as info:
        WorkCalendar.from_file(tmp_path / "absent.yaml")
    assert "无法读取" in info.value.message


# --- property: add/between agree ---------------------------------------------------------

_START = datetime(2025, 1, 1, tzinfo=SHANGHAI)
_SPAN_MINUTES = 2 * 365 * 24 * 60 - 60 * 24 * 60  # stay far enough from 2027


@settings(max_examples=200, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=_SPAN_MINUTES),
    n=st.integers(min_value=0, max_value=25),
    utc=st.booleans(),
)
def test_between_inverts_add(offset: int, n: int, utc: bool) -> None:
    start = _START + timedelta(minutes=offset)
    if utc:
        start = start.astimezone(UTC)
    due = add_workdays(start, n)
    assert workdays_between(start, due) == n
    assert is_workday(due.date()) or n == 0
    if n:
        # One microsecond earlier is still inside the last working day; a day earlier is not.
        assert workdays_between(start, due - timedelta(days=1)) == n - 1


def test_is_workday_accepts_aware_datetime_in_shanghai() -> None:
    # 2026-09-30 17:00 UTC is already 2026-10-01 (a holiday) in Shanghai.
    assert not is_workday(datetime(2026, 9, 30, 17, 0, tzinfo=UTC))
    with pytest.raises(Invalid) as info:
        is_workday(datetime(2026, 9, 30, 17, 0))
    assert info.value.code == "naive_datetime"
