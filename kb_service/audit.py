"""Writing the audit log and the change log (both inside the caller's transaction)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from kb_service.models import AuditLog, ChangeKind, ChangeLog, ChangeOp
from kb_service.principals import Actor


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: int | None,
    department_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit row."""
    session.add(
        AuditLog(
            actor_id=actor.user_id if actor else None,
            action=action,
            entity=entity,
            entity_id=entity_id,
            department_id=department_id,
            detail=detail or {},
        )
    )


def change(session: Session, *, kind: ChangeKind, entity_id: int, op: ChangeOp) -> None:
    """Append one change-log row: what is served for this row may differ now."""
    session.add(ChangeLog(kind=kind, entity_id=entity_id, op=op))


def last_seq(session: Session) -> int:
    """The newest change-log sequence number (0 when empty)."""
    return int(session.exec(select(func.max(ChangeLog.seq))).one() or 0)


def changes_after(session: Session, *, seq: int, limit: int = 10_000) -> list[ChangeLog]:
    """Change-log rows after `seq`, oldest first."""
    stmt = select(ChangeLog).where(col(ChangeLog.seq) > seq).order_by(col(ChangeLog.seq))
    return list(session.exec(stmt.limit(limit)).all())
