"""First start: departments, the demo knowledge base and demo tokens (all idempotent)."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from kb_service import auth, departments, entries
from kb_service.models import Role, User
from kb_service.principals import SYSTEM

DEMO_USERS: list[tuple[str, Role, str | None]] = [
    ("演示话务员", Role.operator, None),
    ("演示编辑（省12345热线）", Role.editor, "hotline"),
    ("演示审核员（省12345热线）", Role.reviewer, "hotline"),
    ("演示编辑（省医保局）", Role.editor, "medical-insurance"),
    ("演示管理员", Role.manager, None),
    ("演示系统管理员", Role.admin, None),
]


def seed_departments(session: Session) -> int:
    """Create or update the bundled department table."""
    return departments.upsert_many(session, records=departments.bundled_records())


def demo_records() -> list[dict[str, Any]]:
    """The bundled demo answer scripts."""
    text = resources.files("kb_service").joinpath("data/demo_entries.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_demo(session: Session) -> dict[str, int]:
    """Push every demo entry as the system (published); the same data twice changes nothing."""
    by_dept: dict[str, list[dict[str, Any]]] = {}
    for rec in demo_records():
        by_dept.setdefault(rec["department"], []).append(
            {k: v for k, v in rec.items() if k != "department"}
        )
    counts: dict[str, int] = {}
    for code, items in by_dept.items():
        for result in entries.push_batch(session, actor=SYSTEM, department_code=code, items=items):
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return counts


def ensure_demo_tokens(session: Session, *, path: Path) -> dict[str, str] | None:
    """Create demo users with tokens once and write them to `path` (mode 600).

    Tokens are stored hashed, so they can be shown only when created; later runs return None.
    """
    names = {u.name for u in session.exec(select(User)).all()}
    if all(name in names for name, _, _ in DEMO_USERS):
        return None
    tokens: dict[str, str] = {}
    for name, role, dept in DEMO_USERS:
        if name in names:
            continue
        user = auth.create_user(session, name=name, role=role, department_code=dept)
        tokens[name] = auth.issue_token(session, user=user, label="demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    old: dict[str, str] = json.loads(path.read_text("utf-8")) if path.exists() else {}
    old.update(tokens)
    path.write_text(json.dumps(old, ensure_ascii=False, indent=2), "utf-8")
    os.chmod(path, 0o600)
    return tokens
