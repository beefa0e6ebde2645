"""Policy documents, their versions and their citable passages."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kb_service.models.common import created_at_field


class DocumentStatus(StrEnum):
    """Whether a document's passages may still be suggested."""

    active = "active"
    repealed = "repealed"
    superseded = "superseded"


class Document(SQLModel, table=True):
    """One policy document (a notice, measures, a plan), across all its versions."""

    id: int | None = Field(default=None, primary_key=True)
    doc_id: str = Field(max_length=128, unique=True, index=True)
    doc_no: str | None = Field(default=None, max_length=64, index=True)
    title: str = Field(sa_type=Text)
    issuer: str | None = Field(default=None, max_length=200)
    issued: date | None = None
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    status: DocumentStatus = Field(default=DocumentStatus.active, sa_type=String(16))
    superseded_by_id: int | None = Field(default=None, foreign_key="document.id")
    current_version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class DocumentVersion(SQLModel, table=True):
    """The text of a document as ingested once, with what changed against the previous one."""

    __table_args__ = (UniqueConstraint("document_id", "version", name="uq_document_version"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    version: int
    content_hash: str = Field(max_length=64, index=True)
    text: str = Field(sa_type=Text)
    source_name: str | None = Field(default=None, max_length=500)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    by_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = created_at_field()


class Passage(SQLModel, table=True):
    """A citable piece of one document version: an article, an item, a table row."""

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    version: int
    ordinal: int
    locator: str = Field(max_length=200)
    heading: list[str] = Field(default_factory=list, sa_type=JSON)
    text: str = Field(sa_type=Text)
    original_text: str = Field(sa_type=Text)
    departments: list[str] = Field(default_factory=list, sa_type=JSON)
    content_hash: str = Field(max_length=64)
    active: bool = Field(default=True, index=True)
