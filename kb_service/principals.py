"""Who is acting, and the permission rules every service checks (not only the routes)."""

from __future__ import annotations

from dataclasses import dataclass

from kb_service.errors import Forbidden
from kb_service.models.users import Role


@dataclass(frozen=True)
class Actor:
    """The authenticated caller as the services see it."""

    user_id: int | None
    name: str
    role: Role
    department_id: int | None = None
    department_code: str | None = None

    @property
    def is_global(self) -> bool:
        """Managers and admins act across departments."""
        return self.role in (Role.manager, Role.admin)


SYSTEM = Actor(user_id=None, name="system", role=Role.admin)

ROLE_LABELS = {
    "operator": "话务员",
    "editor": "编辑",
    "reviewer": "审核员",
    "manager": "管理员",
    "admin": "系统管理员",
}


def require_role(actor: Actor, *roles: Role) -> None:
    """Refuse unless the actor has one of `roles`."""
    if actor.role not in roles:
        wanted = "、".join(ROLE_LABELS[r] for r in roles)
        raise Forbidden(
            "role_forbidden",
            f"当前角色（{ROLE_LABELS[actor.role]}）无权执行此操作，需要：{wanted}",
        )


def require_department(actor: Actor, department_id: int, department_code: str) -> None:
    """Refuse a department-bound actor acting on another department's data."""
    if actor.is_global:
        return
    if actor.department_id != department_id:
        raise Forbidden(
            "department_forbidden",
            f"您只能管理本单位的知识条目，无权操作单位“{department_code}”的数据",
            department=department_code,
        )


def can_edit(actor: Actor, department_id: int, department_code: str) -> None:
    """Editors and reviewers of the owning department, managers and admins may edit."""
    require_role(actor, Role.editor, Role.reviewer, Role.manager, Role.admin)
    require_department(actor, department_id, department_code)


def can_review(actor: Actor, department_id: int, department_code: str) -> None:
    """Reviewers of the owning department, managers and admins may approve, publish, retire."""
    require_role(actor, Role.reviewer, Role.manager, Role.admin)
    require_department(actor, department_id, department_code)
