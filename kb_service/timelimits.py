"""Statutory time limits of a 12345 ticket (青政办〔2022〕57号 第十四条), in working days."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kb_service.errors import Invalid
from kb_service.workdays import WorkCalendar, add_workdays


class TicketType(StrEnum):
    """The five kinds of ticket a caller's request can become."""

    CONSULTATION = "consultation"  # 咨询
    HELP = "help"  # 求助
    SUGGESTION = "suggestion"  # 意见建议
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报


class LimitKind(StrEnum):
    """Every deadline the measures set, ticket types included."""

    CONSULTATION = "consultation"
    HELP = "help"
    SUGGESTION = "suggestion"
    COMPLAINT = "complaint"
    REPORT = "report"
    WRONG_DEPARTMENT_RETURN = "wrong_department_return"  # 非本单位职责，退回
    EXTENSION = "extension"  # 延期，最长
    REWORK = "rework"  # 补办，最长
    CALLBACK = "callback"  # 办结后满意度回访
    REHANDLING = "rehandling"  # 不满意重新办理，最长


TICKET_TYPE_LABELS: dict[TicketType, str] = {
    TicketType.CONSULTATION: "咨询",
    TicketType.HELP: "求助",
    TicketType.SUGGESTION: "意见建议",
    TicketType.COMPLAINT: "投诉",
    TicketType.REPORT: "举报",
}


class TimeLimits(BaseModel):
    """Working-day limits; the defaults are those of 第十四条, any may be overridden by config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    form_ticket_hours: int = Field(default=24, gt=0, le=72)  # 24 小时内形成工单
    consultation: int = Field(default=2, gt=0, le=60)
    help: int = Field(default=2, gt=0, le=60)
    complex_consultation: int = Field(default=5, gt=0, le=60)
    complex_help: int = Field(default=5, gt=0, le=60)
    suggestion: int = Field(default=5, gt=0, le=60)
    complaint: int = Field(default=10, gt=0, le=60)
    report: int = Field(default=15, gt=0, le=60)
    wrong_department_return: int = Field(default=1, gt=0, le=60)
    extension: int = Field(default=10, gt=0, le=60)
    rework: int = Field(default=3, gt=0, le=60)
    callback: int = Field(default=5, gt=0, le=60)
    rehandling: int = Field(default=10, gt=0, le=60)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str | Path | None = None) -> TimeLimits:
        """Build limits from a dict, a YAML text or a YAML file; absent keys keep the defaults."""
        if config is None:
            return cls()
        data: Any
        if isinstance(config, Mapping):
            data = dict(config)
        else:
            text = config.read_text(encoding="utf-8") if isinstance(config, Path) else config
            try:
                data = yaml.safe_load(text) or {}
            except yaml.YAMLError as exc:
                raise Invalid("time_limits_invalid", f"办理时限配置不是有效的 YAML：{exc}") from exc
            if isinstance(data, Mapping) and "time_limits" in data:
                data = data["time_limits"]
        if not isinstance(data, Mapping):
            raise Invalid("time_limits_invalid", "办理时限配置应为“名称: 工作日数”的映射")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "；".join(
                f"{'.'.join(str(p) for p in err['loc']) or '配置'}：{_problem(err['type'])}"
                for err in exc.errors()
            )
            raise Invalid("time_limits_invalid", f"办理时限配置有误：{problems}") from exc

    def workdays(self, kind: LimitKind | str, *, complex: bool = False) -> int:
        """Working days allowed for `kind`; complex consultation/help gets the longer limit."""
        k = _kind(kind)
        if complex and k is LimitKind.CONSULTATION:
            return self.complex_consultation
        if complex and k is LimitKind.HELP:
            return self.complex_help
        return int(getattr(self, k.value))


def _problem(error_type: str) -> str:
    return {
        "extra_forbidden": "未知的时限名称",
        "greater_than": "必须大于 0",
        "less_than_equal": "超出允许范围",
        "int_parsing": "应为整数",
        "int_type": "应为整数",
        "int_from_float": "应为整数",
    }.get(error_type, "取值无效")


def _kind(kind: LimitKind | str) -> LimitKind:
    try:
        return LimitKind(kind)
    except ValueError as exc:
        raise Invalid("unknown_time_limit", f"未知的办理时限类别：{kind}") from exc


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise Invalid("naive_datetime", "时间必须带时区")


def due(
    kind: LimitKind | str,
    at: datetime,
    *,
    complex: bool = False,
    calendar: WorkCalendar | None = None,
    limits: TimeLimits | None = None,
) -> datetime:
    """Deadline for `kind` started at `at`: end of the Nth working day after it (Shanghai)."""
    _require_aware(at)
    n = (limits or TimeLimits()).workdays(kind, complex=complex)
    return add_workdays(at, n, calendar=calendar)


def ticket_form_deadline(at: datetime, *, limits: TimeLimits | None = None) -> datetime:
    """Latest moment a ticket must be formed for a request received at `at` (24 hours)."""
    _require_aware(at)
    return at + timedelta(hours=(limits or TimeLimits()).form_ticket_hours)
