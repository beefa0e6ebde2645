"""Departments: lookup by code or alias, and loading the bundled table."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sqlmodel import Session, select

from kb_service.errors import NotFound
from kb_service.models import Department, DepartmentLevel
from kb_service.models.departments import DepartmentPublic


def bundled_records() -> list[dict[str, Any]]:
    """The department table shipped with the package (from the provincial gazette)."""
    text = resources.files("kb_service").joinpath("data/departments.json").read_text("utf-8")
    records: list[dict[str, Any]] = json.loads(text)
    return records


def get_by_code(session: Session, *, code: str) -> Department:
    """The department with this code, or `department_not_found`."""
    dept = session.exec(select(Department).where(Department.code == code)).first()
    if dept is None:
        raise NotFound("department_not_found", f"单位编码“{code}”不存在")
    return dept


def resolve(session: Session, *, name_or_code: str) -> Department:
    """Find a department by code, full name or alias (e.g. 省医保局)."""
    key = "".join(name_or_code.split())
    for dept in session.exec(select(Department)).all():
        names = {dept.code, dept.name, *dept.aliases}
        if key in {"".join(n.split()) for n in names}:
            return dept
    raise NotFound("department_not_found", f"找不到单位“{name_or_code}”")


def list_all(session: Session) -> list[Department]:
    """All departments, by code."""
    return list(session.exec(select(Department).order_by(Department.code)).all())


def by_id(session: Session) -> dict[int, Department]:
    """All departments keyed by id."""
    return {d.id: d for d in session.exec(select(Department)).all() if d.id is not None}


def to_public(dept: Department, parents: dict[int, Department] | None = None) -> DepartmentPublic:
    """The API shape of a department."""
    parent = parents.get(dept.parent_id) if parents and dept.parent_id else None
    return DepartmentPublic(
        code=dept.code,
        name=dept.name,
        level=dept.level,
        parent=parent.code if parent else None,
        aliases=list(dept.aliases),
    )


def upsert_many(session: Session, *, records: list[dict[str, Any]]) -> int:
    """Create or update departments from records (idempotent); returns how many changed."""
    existing = {d.code: d for d in session.exec(select(Department)).all()}
    changed = 0
    for rec in records:
        dept = existing.get(rec["code"])
        level = DepartmentLevel(rec.get("level", "province"))
        if dept is None:
            dept = Department(code=rec["code"], name=rec["name"], level=level)
            session.add(dept)
            existing[dept.code] = dept
            changed += 1
        elif (dept.name, dept.level, list(dept.aliases)) != (
            rec["name"],
            level,
            list(rec.get("aliases", [])),
        ):
            changed += 1
        dept.name = rec["name"]
        dept.level = level
        dept.aliases = list(rec.get("aliases", []))
        if rec.get("review_interval_days"):
            dept.review_interval_days = int(rec["review_interval_days"])
    session.flush()
    for rec in records:
        if rec.get("parent"):
            existing[rec["code"]].parent_id = existing[rec["parent"]].id
    session.flush()
    return changed
