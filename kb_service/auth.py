"""Users and bearer tokens: tokens are shown once and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, select

from kb_service import audit
from kb_service.db import utcnow
from kb_service.departments import get_by_code
from kb_service.errors import Invalid, Unauthorized
from kb_service.models import ApiToken, Department, Role, User
from kb_service.models.users import DEPARTMENT_ROLES
from kb_service.principals import Actor

TOKEN_PREFIX = "kb_"


def hash_token(token: str) -> str:
    """SHA-256 hex of a token (tokens are high-entropy, so no salt/KDF is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(
    session: Session,
    *,
    name: str,
    role: Role | str,
    department_code: str | None = None,
    by: Actor | None = None,
) -> User:
    """Create a user; editors and reviewers must be bound to exactly one department."""
    try:
        role = Role(role)
    except ValueError as exc:
        raise Invalid("role_invalid", f"未知角色“{role}”") from exc
    dept_id: int | None = None
    if role in DEPARTMENT_ROLES:
        if not department_code:
            raise Invalid("department_required", "编辑和审核员必须绑定一个单位")
        dept_id = get_by_code(session, code=department_code).id
    elif department_code:
        dept_id = get_by_code(session, code=department_code).id
    user = User(name=name, role=role, department_id=dept_id)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="user.create",
        entity="user",
        entity_id=user.id,
        department_id=dept_id,
        detail={"role": role.value, "name": name},
    )
    return user


def issue_token(
    session: Session, *, user: User, label: str | None = None, by: Actor | None = None
) -> str:
    """Create a token for `user`; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(user_id=user.id or 0, token_hash=hash_token(token), prefix=token[:10], label=label)
    )
    audit.record(
        session,
        actor=by,
        action="token.create",
        entity="user",
        entity_id=user.id,
        detail={"prefix": token[:10], "label": label},
    )
    session.flush()
    return token


def create_token(
    session: Session,
    *,
    name: str,
    role: Role | str,
    department_code: str | None = None,
    label: str | None = None,
) -> tuple[User, str]:
    """Create a user and a token for it in one step (the CLI's `kb token create`)."""
    user = create_user(session, name=name, role=role, department_code=department_code)
    return user, issue_token(session, user=user, label=label)


def actor_for(session: Session, *, user: User) -> Actor:
    """The Actor of a user row."""
    code = None
    if user.department_id is not None:
        dept = session.get(Department, user.department_id)
        code = dept.code if dept else None
    return Actor(
        user_id=user.id,
        name=user.name,
        role=Role(user.role),
        department_id=user.department_id,
        department_code=code,
    )


def authenticate(session: Session, *, token: str | None) -> Actor:
    """The actor behind a bearer token, or `token_invalid`."""
    if not token:
        raise Unauthorized("token_missing", "缺少访问令牌，请在 Authorization 头中提供 Bearer 令牌")
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("token_invalid", "访问令牌无效或已被吊销")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("token_invalid", "访问令牌对应的用户不存在或已停用")
    row.last_used_at = utcnow()
    return actor_for(session, user=user)


def revoke(session: Session, *, prefix: str, by: Actor | None = None) -> int:
    """Revoke every token starting with `prefix`; returns how many."""
    rows = session.exec(select(ApiToken).where(ApiToken.prefix == prefix)).all()
    for row in rows:
        row.revoked_at = utcnow()
        audit.record(
            session,
            actor=by,
            action="token.revoke",
            entity="user",
            entity_id=row.user_id,
            detail={"prefix": prefix},
        )
    return len(rows)
