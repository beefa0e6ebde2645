"""Health, who-am-I and the department list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import text

from api.deps import ActorDep, SessionDep
from kb_service import departments
from kb_service.models.departments import DepartmentPublic
from kb_service.principals import ROLE_LABELS

router = APIRouter(tags=["meta"])


@router.get("/healthz")
def healthz(session: SessionDep) -> dict[str, Any]:
    """Liveness plus a database round trip."""
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return {"status": "ok"}


@router.get("/api/v1/me")
def me(actor: ActorDep) -> dict[str, Any]:
    """The caller's identity and role."""
    return {
        "name": actor.name,
        "role": actor.role.value,
        "role_label": ROLE_LABELS[actor.role],
        "department": actor.department_code,
    }


@router.get("/api/v1/departments", response_model=list[DepartmentPublic])
def list_departments(session: SessionDep, actor: ActorDep) -> Any:
    """All departments with their aliases."""
    parents = departments.by_id(session)
    return [departments.to_public(d, parents) for d in departments.list_all(session)]
