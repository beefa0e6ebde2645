"""Answer entries (答复口径), their published versions, and the API shapes."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kb_service.models.common import created_at_field, utc_field


class EntryStatus(StrEnum):
    """draft → in_review → published → retired."""

    draft = "draft"
    in_review = "in_review"
    published = "published"
    retired = "retired"


STATUS_LABELS = {
    "draft": "草稿",
    "in_review": "待审核",
    "published": "已发布",
    "retired": "已下线",
}


class SourceRef(BaseModel):
    """Where an answer comes from: a document number and the article inside it."""

    model_config = ConfigDict(extra="forbid")

    doc_no: str | None = None
    title: str | None = None
    locator: str | None = None
    doc_id: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> SourceRef:
        if not (self.doc_no or self.title or self.doc_id):
            raise ValueError("来源至少需要文号、标题或文档编号之一")
        return self


class EntryContent(BaseModel):
    """The editable content of an entry: what departments push and editors change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    question: str
    similar_questions: list[str] = []
    answer: str
    region: str | None = None
    category: str | None = None
    tags: list[str] = []
    sources: list[SourceRef] = []
    valid_from: date | None = None
    valid_to: date | None = None
    review_interval_days: int | None = None

    @field_validator("question")
    @classmethod
    def _question(cls, v: str) -> str:
        if not v:
            raise ValueError("标准问题不能为空")
        if len(v) > 500:
            raise ValueError("标准问题不能超过500字")
        return v

    @field_validator("answer")
    @classmethod
    def _answer(cls, v: str) -> str:
        if not v:
            raise ValueError("答复口径不能为空")
        if len(v) > 20000:
            raise ValueError("答复口径不能超过20000字")
        return v

    @field_validator("similar_questions", "tags")
    @classmethod
    def _clean_list(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for item in v:
            item = item.strip()
            if item and item not in out:
                out.append(item)
        return out

    @field_validator("review_interval_days")
    @classmethod
    def _interval(cls, v: int | None) -> int | None:
        if v is not None and not 1 <= v <= 3660:
            raise ValueError("复核周期应在1到3660天之间")
        return v

    @model_validator(mode="after")
    def _window(self) -> EntryContent:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("有效期结束日期不能早于开始日期")
        return self


CONTENT_FIELDS = tuple(EntryContent.model_fields)


class Entry(SQLModel, table=True):
    """The working copy of one answer entry; the served copy is its live EntryVersion."""

    __table_args__ = (UniqueConstraint("department_id", "external_id", name="uq_entry_external"),)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    external_id: str | None = Field(default=None, max_length=128)
    question: str = Field(sa_type=Text)
    similar_questions: list[str] = Field(default_factory=list, sa_type=JSON)
    answer: str = Field(sa_type=Text)
    region: str = Field(default="青海省", max_length=64, index=True)
    category: str | None = Field(default=None, max_length=64, index=True)
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    valid_from: date | None = None
    valid_to: date | None = Field(default=None, index=True)
    review_interval_days: int | None = None
    status: EntryStatus = Field(default=EntryStatus.draft, sa_type=String(16), index=True)
    # Optimistic lock: every write increments it; a write based on an older one is refused.
    version: int = 1
    # The EntryVersion.version that operators are served (None: nothing live).
    live_version: int | None = Field(default=None, index=True)
    content_hash: str = Field(max_length=64)
    needs_review: bool = Field(default=False, index=True)
    needs_review_reason: str | None = Field(default=None, sa_type=Text)
    review_comment: str | None = Field(default=None, sa_type=Text)
    last_reviewed_at: datetime | None = utc_field()
    published_at: datetime | None = utc_field()
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    updated_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class EntryVersion(SQLModel, table=True):
    """A full snapshot of an entry at one version: who, when, why."""

    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_entry_version"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True)
    version: int
    status: EntryStatus = Field(sa_type=String(16))
    action: str = Field(max_length=32)
    reason: str | None = Field(default=None, sa_type=Text)
    question: str = Field(sa_type=Text)
    similar_questions: list[str] = Field(default_factory=list, sa_type=JSON)
    answer: str = Field(sa_type=Text)
    region: str = Field(default="青海省", max_length=64)
    category: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    valid_from: date | None = None
    valid_to: date | None = None
    review_interval_days: int | None = None
    content_hash: str = Field(max_length=64)
    by_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = created_at_field()


class EntryPublic(BaseModel):
    """An entry as the API returns it."""

    id: int
    department: str
    external_id: str | None
    question: str
    similar_questions: list[str]
    answer: str
    region: str
    category: str | None
    tags: list[str]
    sources: list[dict[str, Any]]
    valid_from: date | None
    valid_to: date | None
    review_interval_days: int | None
    status: EntryStatus
    version: int
    live_version: int | None
    needs_review: bool
    needs_review_reason: str | None
    review_comment: str | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    last_reviewed_at: datetime | None


class EntryVersionPublic(BaseModel):
    """One entry version in the history."""

    version: int
    status: EntryStatus
    action: str
    reason: str | None
    question: str
    similar_questions: list[str]
    answer: str
    sources: list[dict[str, Any]]
    valid_from: date | None
    valid_to: date | None
    by: str | None
    at: datetime
