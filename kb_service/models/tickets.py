"""Intake decisions, tickets (工单), their events, the delivery outbox, routing rule versions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kb_service.models.common import created_at_field, utc_field


class TicketStatus(StrEnum):
    """Where a ticket stands in the ticket core."""

    pending = "pending"  # decided, not yet confirmed by the ticket core
    open = "open"  # in the core, waiting for the department
    accepted = "accepted"
    returned = "returned"  # sent back to the hotline (wrong department)
    closed = "closed"


TICKET_STATUS_LABELS = {
    "pending": "待派发",
    "open": "已派发",
    "accepted": "办理中",
    "returned": "已退回",
    "closed": "已办结",
}


class OutboxStatus(StrEnum):
    """Delivery state of one outbox message."""

    pending = "pending"
    delivered = "delivered"
    dead = "dead"


class IntakeLog(SQLModel, table=True):
    """One routed intake item (text masked) with the decision taken."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    user_id: int | None = Field(default=None, foreign_key="user.id")
    channel: str | None = Field(default=None, max_length=32)
    region: str | None = Field(default=None, max_length=64)
    text: str = Field(sa_type=Text)
    action: str = Field(sa_type=String(16), index=True)
    rule_id: str | None = Field(default=None, max_length=64)
    rules_version: int | None = None
    decision: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    query_id: int | None = Field(default=None, foreign_key="querylog.id")
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")


class Ticket(SQLModel, table=True):
    """A 工单 handed to the ticket core; our copy of its state."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_no: str = Field(max_length=32, unique=True, index=True)
    type: str = Field(sa_type=String(16), index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    status: TicketStatus = Field(default=TicketStatus.pending, sa_type=String(16), index=True)
    core: str = Field(default="embedded", max_length=16)
    text: str = Field(sa_type=Text)
    channel: str | None = Field(default=None, max_length=32)
    region: str | None = Field(default=None, max_length=64)
    complex: bool = False
    rule_id: str | None = Field(default=None, max_length=64)
    query_id: int | None = Field(default=None, foreign_key="querylog.id")
    suggestions: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    received_at: datetime = created_at_field()
    due_at: datetime | None = utc_field(index=True)
    accepted_at: datetime | None = utc_field()
    extended_to: datetime | None = utc_field()
    returned_at: datetime | None = utc_field()
    return_reason: str | None = Field(default=None, sa_type=Text)
    closed_at: datetime | None = utc_field(index=True)
    result: str | None = Field(default=None, sa_type=Text)
    callback_due: datetime | None = utc_field()
    callback_at: datetime | None = utc_field()
    satisfaction: str | None = Field(default=None, max_length=32)
    updated_at: datetime = created_at_field()


class TicketEvent(SQLModel, table=True):
    """Something that happened to a ticket (ours or reported by the core); `event_id` dedupes."""

    __table_args__ = (UniqueConstraint("event_id", name="uq_ticket_event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(sa_type=String(16), index=True)
    at: datetime = created_at_field()
    recorded_at: datetime = created_at_field()
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Outbox(SQLModel, table=True):
    """A message to deliver to the ticket core, written in the same transaction as the ticket."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    idempotency_key: str = Field(max_length=64, unique=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: OutboxStatus = Field(default=OutboxStatus.pending, sa_type=String(16), index=True)
    attempts: int = 0
    next_attempt_at: datetime = created_at_field()
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = created_at_field()
    delivered_at: datetime | None = utc_field()


class RuleSetVersion(SQLModel, table=True):
    """One saved version of the routing rules file; the newest active one is in force."""

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(unique=True)
    text: str = Field(sa_type=Text)
    comment: str | None = Field(default=None, sa_type=Text)
    by_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = created_at_field()
