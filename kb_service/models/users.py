"""Users, roles and API tokens (stored only as hashes)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from kb_service.models.common import created_at_field, utc_field


class Role(StrEnum):
    """What a user may do; editor and reviewer are bound to one department."""

    operator = "operator"
    editor = "editor"
    reviewer = "reviewer"
    manager = "manager"
    admin = "admin"


DEPARTMENT_ROLES = frozenset({Role.editor, Role.reviewer})


class User(SQLModel, table=True):
    """A person or a department system that calls the API."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: Role = Field(sa_type=String(16))
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    active: bool = True
    created_at: datetime = created_at_field()


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is stored, the prefix helps people tell them apart."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    label: str | None = Field(default=None, max_length=100)
    created_at: datetime = created_at_field()
    last_used_at: datetime | None = utc_field()
    revoked_at: datetime | None = utc_field()
