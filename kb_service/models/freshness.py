"""Freshness obligations (知识更新义务, 知识提问) and operators' feedback on suggestions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kb_service.db import UTCDateTime
from kb_service.models.common import created_at_field, utc_field


class ObligationKind(StrEnum):
    """Why a department owes the knowledge base something."""

    ticket_refresh = "ticket_refresh"  # 第二十三条: consultation closed → refresh in 2 workdays
    knowledge_question = "knowledge_question"  # 知识提问 from an operator
    document_change = "document_change"  # a cited policy document changed or was repealed
    review_interval = "review_interval"  # the entry's review interval ran out


KIND_LABELS = {
    "ticket_refresh": "工单办结后知识更新",
    "knowledge_question": "知识提问",
    "document_change": "政策文件变化复核",
    "review_interval": "定期复核",
}


class Fulfilment(StrEnum):
    """How an obligation was met."""

    update = "update"  # a new version of a related entry went live
    new_entry = "new_entry"  # a new entry linked to the obligation went live
    confirm = "confirm"  # "still correct", with a reason
    answer = "answer"  # the answer to a knowledge question went live


FULFILMENT_LABELS = {
    "update": "更新条目",
    "new_entry": "新增条目",
    "confirm": "确认无需修改",
    "answer": "已答复",
}


class ObligationState(StrEnum):
    """Where an obligation stands (derived, never stored)."""

    open = "open"
    fulfilled_on_time = "fulfilled_on_time"
    fulfilled_late = "fulfilled_late"
    overdue = "overdue"


STATE_LABELS = {
    "open": "待办",
    "fulfilled_on_time": "按时完成",
    "fulfilled_late": "逾期完成",
    "overdue": "已逾期",
}


class Obligation(SQLModel, table=True):
    """Something one department must do to keep its knowledge current, with a deadline."""

    # `source_key` names the event that created the obligation (e.g. "ticket:GD…"), so the
    # same event arriving twice, or in another order, can never create a second obligation.
    __table_args__ = (UniqueConstraint("source_key", name="uq_obligation_source"),)

    id: int | None = Field(default=None, primary_key=True)
    source_key: str = Field(max_length=160)
    kind: ObligationKind = Field(sa_type=String(24), index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    # The entry concerned (document change, review) or linked (new entry, answer).
    entry_id: int | None = Field(default=None, foreign_key="entry.id", index=True)
    related_entries: list[int] = Field(default_factory=list, sa_type=JSON)
    text: str = Field(default="", sa_type=Text)
    asked_by_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    query_id: int | None = Field(default=None, foreign_key="querylog.id")
    closed_at: datetime | None = utc_field()
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    created_at: datetime = created_at_field()
    fulfilled_at: datetime | None = utc_field(index=True)
    fulfilment: Fulfilment | None = Field(default=None, sa_type=String(16))
    fulfilled_entry_id: int | None = Field(default=None, foreign_key="entry.id")
    confirm_reason: str | None = Field(default=None, sa_type=Text)
    fulfilled_by_id: int | None = Field(default=None, foreign_key="user.id")


class FeedbackVerdict(StrEnum):
    """What the operator made of one suggestion."""

    adopted = "adopted"
    not_helpful = "not_helpful"


class FeedbackReason(StrEnum):
    """Why a suggestion did not help."""

    outdated = "outdated"
    wrong = "wrong"
    incomplete = "incomplete"
    irrelevant = "irrelevant"


REASON_LABELS = {
    "outdated": "过时",
    "wrong": "错误",
    "incomplete": "不完整",
    "irrelevant": "不相关",
}
VERDICT_LABELS = {"adopted": "已采纳", "not_helpful": "无帮助"}


class Feedback(SQLModel, table=True):
    """An operator's verdict on one suggestion shown for one query (the latest one counts)."""

    __table_args__ = (
        UniqueConstraint("query_id", "item_kind", "item_id", name="uq_feedback_item"),
    )

    id: int | None = Field(default=None, primary_key=True)
    query_id: int = Field(foreign_key="querylog.id", index=True)
    item_kind: str = Field(sa_type=String(16))
    item_id: int
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    verdict: FeedbackVerdict = Field(sa_type=String(16))
    reason: FeedbackReason | None = Field(default=None, sa_type=String(16))
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = created_at_field()
