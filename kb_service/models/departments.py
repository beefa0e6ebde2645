"""Departments (承办单位) with their level, parent and aliases."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import JSON, String
from sqlmodel import Field, SQLModel


class DepartmentLevel(StrEnum):
    """省 / 市州 / 县区."""

    province = "province"
    city = "city"
    county = "county"


LEVEL_LABELS = {"province": "省", "city": "市州", "county": "县区"}


class Department(SQLModel, table=True):
    """A member unit of the hotline that owns answers and handles tickets."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    level: DepartmentLevel = Field(default=DepartmentLevel.province, sa_type=String(16))
    parent_id: int | None = Field(default=None, foreign_key="department.id")
    aliases: list[str] = Field(default_factory=list, sa_type=JSON)
    review_interval_days: int | None = Field(default=None)
    active: bool = True


class DepartmentPublic(BaseModel):
    """A department as the API shows it."""

    code: str
    name: str
    level: DepartmentLevel
    parent: str | None = None
    aliases: list[str] = []
