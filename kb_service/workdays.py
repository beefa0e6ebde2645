"""Working-day arithmetic for ticket time limits, on chinese-calendar plus operator calendar files.

Every due time is an aware datetime in Asia/Shanghai. A working day is a weekday that is not a
public holiday, or a weekend day declared a make-up workday (调休上班). Years the bundled
chinese-calendar data does not cover must come from an operator calendar file (see
``kb_service/data/calendar-example.yaml``); this module never guesses a year from weekends alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml

from kb_service.errors import Invalid

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR_FILE_ENV = "KB_CALENDAR_FILE"

_ONE_DAY = timedelta(days=1)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RANGE_SEPARATOR = ".."
_SPEC_KEYS = frozenset({"holidays", "workdays"})
_MIN_FILE_YEAR = 1949
_MAX_FILE_YEAR = 2200


class CalendarYearUnknown(Invalid):
    """No holiday arrangement is known for the year a computation needs."""

    code = "calendar_year_unknown"

    def __init__(self, year: int) -> None:
        super().__init__(
            message=(
                f"缺少 {year} 年的法定节假日安排，无法计算工作日。"
                f"请按国务院办公厅公布的 {year} 年放假安排编写日历文件"
                f"（格式见 kb_service/data/calendar-example.yaml），"
                f"并通过环境变量 {CALENDAR_FILE_ENV} 指定该文件路径。"
            ),
            year=year,
        )
        self.year = year


class CalendarFileInvalid(Invalid):
    """An operator calendar file (or in-code year spec) is malformed or self-contradictory."""

    code = "calendar_file_invalid"

    def __init__(self, message: str, *, source: str | None = None) -> None:
        prefix = f"日历文件 {source} 有误：" if source else "日历数据有误："
        super().__init__(message=prefix + message, source=source)
        self.detail = message
        self.source = source


@dataclass(frozen=True)
class YearSpec:
    """One year's arrangement: extra days off and weekend make-up workdays."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day under this arrangement."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def _library_years() -> tuple[int, int]:
    """The inclusive range of years the installed chinese-calendar has data for."""
    known = chinese_calendar.holidays.keys()
    return min(known).year, max(known).year


LIBRARY_FIRST_YEAR, LIBRARY_LAST_YEAR = _library_years()


def _check_spec(year: int, spec: YearSpec) -> None:
    """Raise CalendarFileInvalid unless ``spec`` is a consistent arrangement for ``year``."""
    for kind, days in (
        ("holidays（放假日）", spec.holidays),
        ("workdays（调休上班日）", spec.workdays),
    ):
        outside = sorted(d for d in days if d.year != year)
        if outside:
            raise CalendarFileInvalid(
                f"{year} 年的 {kind} 中含有不属于该年的日期 {outside[0].isoformat()}"
            )
    weekday_makeups = sorted(d for d in spec.workdays if d.weekday() < 5)
    if weekday_makeups:
        d = weekday_makeups[0]
        raise CalendarFileInvalid(
            f"{year} 年的调休上班日 {d.isoformat()} 是周{'一二三四五'[d.weekday()]}，"
            "本来就是工作日；workdays 只能列周六、周日"
        )
    both = sorted(spec.holidays & spec.workdays)
    if both:
        raise CalendarFileInvalid(
            f"{both[0].isoformat()} 同时出现在 {year} 年的放假日和调休上班日中"
        )


class WorkCalendar:
    """Holiday data: chinese-calendar for the years it knows, overridden or extended per year."""

    def __init__(self, extra_years: Mapping[int, YearSpec] | None = None) -> None:
        years = dict(extra_years or {})
        for year, spec in years.items():
            _check_spec(year, spec)
        self._extra: dict[int, YearSpec] = years

    @classmethod
    def from_file(cls, path: str | Path) -> WorkCalendar:
        """Load an operator calendar file (YAML, or JSON if ``.json``), validated strictly."""
        file = Path(path)
        source = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CalendarFileInvalid(
                f"无法读取文件（{exc.strerror or exc}）", source=source
            ) from exc
        except UnicodeDecodeError as exc:
            raise CalendarFileInvalid("文件不是 UTF-8 编码", source=source) from exc
        try:
            data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise CalendarFileInvalid(f"无法解析（{exc}）", source=source) from exc
        try:
            return cls.from_mapping(data)
        except CalendarFileInvalid as exc:
            raise CalendarFileInvalid(exc.detail, source=source) from None

    @classmethod
    def from_mapping(cls, data: Any) -> WorkCalendar:
        """Build a calendar from already-parsed file content: ``{year: {holidays, workdays}}``."""
        if not isinstance(data, Mapping) or not data:
            raise CalendarFileInvalid(
                "顶层应为“年份: {holidays: [...], workdays: [...]}”的映射，且不能为空"
            )
        years: dict[int, YearSpec] = {}
        for raw_year, raw_spec in data.items():
            year = _parse_year(raw_year)
            if year in years:
                raise CalendarFileInvalid(f"{year} 年重复出现")
            years[year] = _parse_spec(year, raw_spec)
        return cls(years)

    @property
    def known_years(self) -> frozenset[int]:
        """Every year this calendar can answer for."""
        library = range(LIBRARY_FIRST_YEAR, LIBRARY_LAST_YEAR + 1)
        return frozenset(library) | frozenset(self._extra)

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day; CalendarYearUnknown for a year nobody knows.

        An aware datetime is first converted to its Asia/Shanghai day; a naive one is rejected.
        """
        if isinstance(day, datetime):
            day = _local_day(day)
        spec = self._extra.get(day.year)
        if spec is not None:
            return spec.is_workday(day)
        if LIBRARY_FIRST_YEAR <= day.year <= LIBRARY_LAST_YEAR:
            return bool(chinese_calendar.is_workday(day))
        raise CalendarYearUnknown(day.year)


def _parse_year(raw: Any) -> int:
    """A year key: an int or a four-digit string."""
    if isinstance(raw, bool):
        raise CalendarFileInvalid(f"年份 {raw!r} 无效")
    if isinstance(raw, int):
        year = raw
    elif isinstance(raw, str) and re.fullmatch(r"\d{4}", raw.strip()):
        year = int(raw.strip())
    else:
        raise CalendarFileInvalid(f"年份 {raw!r} 无效，应为四位数字，如 2027")
    if not _MIN_FILE_YEAR <= year <= _MAX_FILE_YEAR:
        raise CalendarFileInvalid(f"年份 {year} 超出可接受范围")
    return year


def _parse_spec(year: int, raw: Any) -> YearSpec:
    """One year's ``{holidays: [...], workdays: [...]}`` block."""
    if not isinstance(raw, Mapping):
        raise CalendarFileInvalid(f"{year} 年的内容应为包含 holidays、workdays 的映射")
    unknown = sorted(str(k) for k in raw if k not in _SPEC_KEYS)
    if unknown:
        raise CalendarFileInvalid(
            f"{year} 年含有无法识别的字段 {'、'.join(unknown)}（只允许 holidays、workdays）"
        )
    if "holidays" not in raw:
        raise CalendarFileInvalid(f"{year} 年缺少 holidays（放假日）列表")
    spec = YearSpec(
        holidays=frozenset(_parse_days(year, "holidays", raw["holidays"])),
        workdays=frozenset(_parse_days(year, "workdays", raw.get("workdays") or [])),
    )
    _check_spec(year, spec)
    return spec


def _parse_days(year: int, key: str, raw: Any) -> Iterable[date]:
    """Expand a list of single days and inclusive ``start..end`` ranges."""
    if not isinstance(raw, list):
        raise CalendarFileInvalid(f"{year} 年的 {key} 应为日期列表")
    days: list[date] = []
    for item in raw:
        if isinstance(item, str) and _RANGE_SEPARATOR in item:
            first, _, last = item.partition(_RANGE_SEPARATOR)
            start, end = _parse_day(year, key, first), _parse_day(year, key, last)
            if end < start:
                raise CalendarFileInvalid(f"{year} 年 {key} 中的区间“{item}”结束日期早于开始日期")
            day = start
            while day <= end:
                days.append(day)
                day += _ONE_DAY
        else:
            days.append(_parse_day(year, key, item))
    return days


def _parse_day(year: int, key: str, raw: Any) -> date:
    """One ``YYYY-MM-DD`` date (YAML may already have turned it into a date)."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    text = raw.strip() if isinstance(raw, str) else None
    if text is None or not _DATE_RE.fullmatch(text):
        raise CalendarFileInvalid(f"{year} 年 {key} 中的“{raw}”不是 YYYY-MM-DD 格式的日期")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CalendarFileInvalid(f"{year} 年 {key} 中的“{raw}”不是有效日期") from exc


_LIBRARY_ONLY = WorkCalendar()


def _calendar(calendar: WorkCalendar | None) -> WorkCalendar:
    return _LIBRARY_ONLY if calendar is None else calendar


def _local_day(moment: datetime) -> date:
    """The Asia/Shanghai calendar day of an aware datetime; naive datetimes are rejected."""
    if not isinstance(moment, datetime):
        raise Invalid("invalid_datetime", f"需要带时区的日期时间，收到的是 {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid(
            "naive_datetime", f"日期时间 {moment.isoformat()} 缺少时区信息，无法换算为北京时间"
        )
    return moment.astimezone(SHANGHAI).date()


def end_of_day(day: date) -> datetime:
    """The last microsecond of ``day`` in Asia/Shanghai (next midnight minus 1 µs)."""
    next_midnight = datetime.combine(day + _ONE_DAY, time.min, tzinfo=SHANGHAI)
    return next_midnight - timedelta(microseconds=1)


def is_workday(day: date, *, calendar: WorkCalendar | None = None) -> bool:
    """Whether ``day`` is a working day (calendar=None uses chinese-calendar data only)."""
    return _calendar(calendar).is_workday(day)


def add_workdays(start: datetime, n: int, *, calendar: WorkCalendar | None = None) -> datetime:
    """Due time for a limit of ``n`` working days counted from the day after ``start``.

    ``start`` is converted to Asia/Shanghai; the first working day strictly after its local day is
    working day 1, and the result is the end (23:59:59.999999 +08:00) of working day ``n``. An
    event on a weekend or holiday therefore starts counting at the next working day. ``n == 0``
    gives the end of the event's own day.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise Invalid("invalid_workday_count", f"工作日天数应为非负整数，收到 {n!r}")
    cal = _calendar(calendar)
    day = _local_day(start)
    remaining = n
    while remaining:
        day += _ONE_DAY
        if cal.is_workday(day):
            remaining -= 1
    return end_of_day(day)


def workdays_between(
    start: datetime, end: datetime, *, calendar: WorkCalendar | None = None
) -> int:
    """Count working days D with start's local day < D <= end's local day (Asia/Shanghai).

    Times of day are ignored; 0 when ``end`` falls on or before ``start``'s day. Consistent with
    :func:`add_workdays`: ``workdays_between(t, add_workdays(t, n)) == n`` for every ``n >= 0``.
    """
    cal = _calendar(calendar)
    first = _local_day(start)
    last = _local_day(end)
    count = 0
    day = first + _ONE_DAY
    while day <= last:
        if cal.is_workday(day):
            count += 1
        day += _ONE_DAY
    return count


def nth_workday_of_month(
    year: int, month: int, n: int, *, calendar: WorkCalendar | None = None
) -> date:
    """The ``n``-th working day (1-based) of ``year``-``month``, e.g. a monthly report deadline."""
    if not 1 <= month <= 12:
        raise Invalid("invalid_month", f"月份应在 1–12 之间，收到 {month}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise Invalid("invalid_workday_count", f"第几个工作日应为正整数，收到 {n!r}")
    cal = _calendar(calendar)
    day = date(year, month, 1)
    seen = 0
    while day.month == month:
        if cal.is_workday(day):
            seen += 1
            if seen == n:
                return day
        day += _ONE_DAY
    raise Invalid("invalid_workday_count", f"{year} 年 {month} 月只有 {seen} 个工作日，不足 {n} 个")
