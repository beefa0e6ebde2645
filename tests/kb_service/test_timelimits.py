"""Statutory time limits (第十四条) and their deadlines across holidays."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kb_service.errors import Invalid
from kb_service.timelimits import LimitKind, TicketType, TimeLimits, due, ticket_form_deadline

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=SHANGHAI)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=SHANGHAI) + timedelta(days=1, microseconds=-1)


def test_defaults_follow_article_14() -> None:
    limits = TimeLimits()
    assert limits.form_ticket_hours == 24
    assert limits.workdays(TicketType.CONSULTATION) == 2
    assert limits.workdays(TicketType.HELP) == 2
    assert limits.workdays(TicketType.CONSULTATION, complex=True) == 5
    assert limits.workdays(TicketType.HELP, complex=True) == 5
    assert limits.workdays(TicketType.SUGGESTION) == 5
    assert limits.workdays(TicketType.COMPLAINT) == 10
    assert limits.workdays(TicketType.REPORT) == 15
    assert limits.workdays(LimitKind.WRONG_DEPARTMENT_RETURN) == 1
    assert limits.workdays(LimitKind.EXTENSION) == 10
    assert limits.workdays(LimitKind.REWORK) == 3
    assert limits.workdays(LimitKind.CALLBACK) == 5
    assert limits.workdays(LimitKind.REHANDLING) == 10


def test_complex_flag_does_not_lengthen_complaints() -> None:
    assert TimeLimits().workdays("complaint", complex=True) == 10


def test_complaint_opened_before_national_day_2026_is_due_end_of_october_15() -> None:
    # 9-25 is Mid-Autumn, 10-01..10-07 National Day, 10-10 (Sat) a make-up working day.
    assert due("complaint", at(2026, 9, 24)) == end_of(2026, 10, 15)


def test_consultation_on_thursday_before_holiday_is_due_after_it() -> None:
    assert due(TicketType.CONSULTATION, at(2026, 9, 24)) == end_of(2026, 9, 29)
    assert due(TicketType.CONSULTATION, at(2026, 9, 30)) == end_of(2026, 10, 9)


def test_complex_help_gets_five_working_days() -> None:
    assert due("help", at(2026, 9, 24), complex=True) == end_of(2026, 10, 9)


def test_wrong_department_return_within_one_working_day() -> None:
    assert due("wrong_department_return", at(2026, 9, 30, 17)) == end_of(2026, 10, 8)


def test_report_and_suggestion_deadlines() -> None:
    assert due("suggestion", at(2026, 9, 24)) == end_of(2026, 10, 9)
    assert due("report", at(2026, 9, 24)) == end_of(2026, 10, 22)


def test_due_is_end_of_day_in_shanghai_for_utc_input() -> None:
    start = datetime(2026, 9, 23, 20, tzinfo=ZoneInfo("UTC"))  # 2026-09-24 04:00 in Shanghai
    assert due("complaint", start) == end_of(2026, 10, 15)


def test_overrides_from_dict_and_yaml() -> None:
    limits = TimeLimits.from_config({"complaint": 7, "report": 12})
    assert limits.complaint == 7 and limits.report == 12 and limits.help == 2
    from_yaml = TimeLimits.from_config("time_limits:\n  suggestion: 3\n")
    assert from_yaml.suggestion == 3
    assert due("complaint", at(2026, 9, 24), limits=limits) == end_of(2026, 10, 12)


@pytest.mark.parametrize(
    ("config", "fragment"),
    [({"complaint": 0}, "大于 0"), ({"appeal": 3}, "未知的时限名称"), ("- 1\n- 2\n", "映射")],
)
def test_bad_config_is_rejected_in_chinese(config: object, fragment: str) -> None:
    with pytest.raises(Invalid) as err:
        TimeLimits.from_config(config)  # type: ignore[arg-type]
    assert err.value.code == "time_limits_invalid"
    assert fragment in err.value.message


def test_unknown_kind_and_naive_datetime_are_refused() -> None:
    with pytest.raises(Invalid) as err:
        due("appeal", at(2026, 9, 24))
    assert err.value.code == "unknown_time_limit"
    with pytest.raises(Invalid) as err:
        due("complaint", datetime(2026, 9, 24, 10))
    assert err.value.code == "naive_datetime"


def test_ticket_must_be_formed_within_24_hours() -> None:
    assert ticket_form_deadline(at(2026, 9, 30, 18)) == at(2026, 10, 1, 18)


def test_complaint_opened_late_december_needs_a_2027_calendar() -> None:
    """chinese-calendar stops at 2026: without a calendar file the deadline is refused."""
    from pathlib import Path

    from kb_service.workdays import CalendarYearUnknown, WorkCalendar

    opened = datetime(2026, 12, 24, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    with pytest.raises(CalendarYearUnknown) as err:
        due(TicketType.COMPLAINT, opened)
    assert err.value.code == "calendar_year_unknown"
    calendar = WorkCalendar.from_file(
        Path(__file__).resolve().parents[1] / "data" / "calendar-2027.yaml"
    )
    # 12-25, 28, 29, 30, 31 (5), 2027-01-01..03 New Year holiday, then 01-04..01-08 (10)
    deadline = due(TicketType.COMPLAINT, opened, calendar=calendar)
    assert deadline.date().isoformat() == "2027-01-08"
    assert (deadline.hour, deadline.minute) == (23, 59)


def test_intake_in_late_december_without_calendar_is_a_clear_error(client, tokens) -> None:
    """Over HTTP: the operator gets calendar_year_unknown, not a guessed date."""
    from tests.factories import bearer

    r = client.post(
        "/api/v1/intake",
        json={"text": "我要投诉小区门口餐馆油烟扰民", "at": "2026-12-24T10:00:00+08:00"},
        headers=bearer(tokens["operator"]),
    )
    assert r.status_code == 422 and r.json()["error"] == "calendar_year_unknown"
    assert "2027" in r.json()["detail"]
