"""The query log: what operators searched (personal data masked) and what they were shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from kb_service.models.common import created_at_field


class QueryLog(SQLModel, table=True):
    """One suggestion request; the text is stored only after masking."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    channel: str | None = Field(default=None, max_length=32)
    region: str | None = Field(default=None, max_length=64)
    text: str = Field(sa_type=Text)
    answerable: bool = False
    results: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
