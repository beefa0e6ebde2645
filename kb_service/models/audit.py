"""The audit log of every write, and the change log the index replays."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlmodel import Field, SQLModel

from kb_service.models.common import created_at_field


class AuditLog(SQLModel, table=True):
    """Who did what to which row, when (every write)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    actor_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    action: str = Field(max_length=64, index=True)
    entity: str = Field(max_length=32)
    entity_id: int | None = Field(default=None, index=True)
    department_id: int | None = Field(default=None, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class ChangeKind(StrEnum):
    """What kind of row changed."""

    entry = "entry"
    passage = "passage"


class ChangeOp(StrEnum):
    """upsert: (re)index the row as it now is; delete: drop it from the index."""

    upsert = "upsert"
    delete = "delete"


# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit sequence.
_SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class ChangeLog(SQLModel, table=True):
    """Monotonic sequence of changes to what is served; the index and syncs replay it."""

    seq: int | None = Field(default=None, primary_key=True, sa_type=_SEQ_TYPE)
    kind: ChangeKind = Field(sa_type=String(16))
    entity_id: int = Field(index=True)
    op: ChangeOp = Field(sa_type=String(16))
    at: datetime = created_at_field()
