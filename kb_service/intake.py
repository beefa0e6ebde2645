"""One intake item → suggestions → routing decision → (optionally) a ticket, all logged masked.

The routing rules in force are the newest saved `RuleSetVersion`, else the bundled defaults;
admins change them through the API with validation and a dry run against recent items.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from kb_service import audit, suggestions, tickets
from kb_service.db import utcnow
from kb_service.errors import Invalid
from kb_service.models import IntakeLog, RuleSetVersion
from kb_service.models.users import Role
from kb_service.principals import Actor, require_role
from kb_service.privacy import mask
from kb_service.routing import Decision, IntakeItem, RuleSet, decide, dry_run
from kb_service.search import SearchService
from kb_service.workdays import WorkCalendar

Similarity = Callable[[str, Sequence[str]], float]


class RulesCache:
    """The rules in force, reloaded only when a new version is saved."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = -1
        self._rules: RuleSet | None = None

    def current(self, session: Session) -> tuple[RuleSet, int | None]:
        """(rules, version); version None means the bundled defaults."""
        row = session.exec(
            select(RuleSetVersion).order_by(col(RuleSetVersion.version).desc()).limit(1)
        ).first()
        version = row.version if row else None
        with self._lock:
            if self._rules is None or version != self._version:
                self._rules = RuleSet.load(row.text) if row else RuleSet.default()
                self._version = version
            return self._rules, version


# Caller texts whose vectors are kept (one intake asks for the same text once per rule).
_RECENT_TEXTS = 64


def make_similarity(encode_queries: Callable[[list[str]], np.ndarray]) -> Similarity:
    """Max cosine between the text and example utterances.

    Example vectors are cached for good (the rules change rarely), stacked per example list so a
    comparison is one matrix product; the last few caller texts are cached too, so the rules of
    one intake encode its text once.
    """
    vectors: dict[str, np.ndarray] = {}
    stacks: dict[tuple[str, ...], np.ndarray] = {}
    recent: dict[str, np.ndarray] = {}
    lock = threading.Lock()

    def stack(examples: Sequence[str]) -> np.ndarray:
        key = tuple(examples)
        found = stacks.get(key)
        if found is not None:
            return found
        todo = list(dict.fromkeys(e for e in examples if e not in vectors))
        if todo:
            vecs = encode_queries(todo)
            with lock:
                vectors.update(zip(todo, vecs, strict=True))
        matrix = np.stack([vectors[e] for e in examples]).astype(np.float32)
        with lock:
            stacks[key] = matrix
        return matrix

    def query(text: str) -> np.ndarray:
        found = recent.get(text)
        if found is None:
            found = np.asarray(encode_queries([text])[0], dtype=np.float32)
            with lock:
                if len(recent) >= _RECENT_TEXTS:
                    recent.pop(next(iter(recent)))
                recent[text] = found
        return found

    def similarity(text: str, examples: Sequence[str]) -> float:
        if not examples:
            return 0.0
        return float((stack(examples) @ query(text)).max())

    return similarity


def warm_up_similarity(rules: RuleSet, similarity: Similarity) -> int:
    """Encode every `similar_to` example list of the rules now; returns how many lists."""
    lists = [
        examples
        for rule in rules.rules
        for cond in (*rule.all, *rule.any)
        if cond.similar_to is not None
        for examples in (cond.similar_to.examples, cond.similar_to.unlike)
        if examples
    ]
    for examples in lists:
        similarity("", examples)
    return len(lists)


def decision_json(decision: Decision) -> dict[str, Any]:
    """The decision as the API and CLI print it."""
    t = decision.ticket
    return {
        "action": str(decision.action),
        "rule_id": decision.rule_id,
        "divert_to": decision.divert_to,
        "say": decision.say,
        "reason": decision.reason,
        "channel": decision.channel,
        "ticket": None
        if t is None
        else {
            "type": str(t.type),
            "type_label": tickets.TYPE_LABELS.get(t.type, str(t.type)),
            "department": t.department,
            "department_name": t.department_name,
            "department_source": str(t.department_source),
            "due": t.due.isoformat(),
            "limit_workdays": t.limit_workdays,
            "complex": t.complex,
            "form_by": t.form_by.isoformat(),
        },
    }


def route(
    session: Session,
    *,
    search: SearchService,
    calibration: suggestions.Calibration,
    rules_cache: RulesCache,
    core: tickets.TicketCore,
    text: str,
    channel: str = "phone",
    region: str | None = None,
    at: datetime | None = None,
    complex: bool = False,
    create_ticket: bool = True,
    calendar: WorkCalendar | None = None,
    similarity: Similarity | None = None,
    tokenize: Callable[[str], list[str]] | None = None,
    user_id: int | None = None,
    k: int = 5,
) -> dict[str, Any]:
    """Decide what happens to one intake item; create its ticket when that is the decision."""
    at = at or utcnow()
    if at.tzinfo is None:
        raise Invalid("naive_datetime", "受理时间必须带时区，例如 2026-10-09T09:30:00+08:00")
    found = suggestions.suggest(
        session,
        search=search,
        calibration=calibration,
        text=text,
        region=region,
        k=k,
        user_id=user_id,
        channel=channel,
        now=at,
    )
    rules, version = rules_cache.current(session)
    item = IntakeItem(text=text, channel=channel, region=region, at=at, complex=complex)
    decision = decide(
        item,
        rules=rules,
        answerable=found["answerable"],
        similarity=similarity,
        tokenize=tokenize,
        calendar=calendar,
    )
    out = decision_json(decision)
    out["suggestions"] = found["results"]
    out["answerable"] = found["answerable"]
    out["query_id"] = found["query_id"]
    out["rules_version"] = version
    masked = mask(text)
    ticket_row = None
    if decision.ticket is not None and create_ticket:
        plan = decision.ticket
        shown = [{"kind": r["kind"], "id": r["id"], "title": r["title"]} for r in found["results"]]
        ticket_row = tickets.create(
            session,
            core=core,
            type=str(plan.type),
            department=plan.department,
            text=masked,
            due_at=plan.due,
            channel=channel,
            region=region,
            complex=plan.complex,
            rule_id=decision.rule_id,
            query_id=found["query_id"],
            suggestions=shown,
            received_at=at,
        )
        out["ticket"]["ticket_no"] = ticket_row.ticket_no
        out["ticket"]["status"] = str(ticket_row.status)
    log = IntakeLog(
        at=at,
        user_id=user_id,
        channel=channel,
        region=region,
        text=masked,
        action=str(decision.action),
        rule_id=decision.rule_id,
        rules_version=version,
        decision={k2: v for k2, v in out.items() if k2 != "suggestions"},
        query_id=found["query_id"],
        ticket_id=ticket_row.id if ticket_row else None,
    )
    session.add(log)
    session.flush()
    out["intake_id"] = log.id
    return out


def save_rules(
    session: Session, *, actor: Actor, text: str, comment: str | None, rules_cache: RulesCache
) -> RuleSetVersion:
    """Validate and save a new rules version (admin)."""
    require_role(actor, Role.admin)
    RuleSet.load(text)  # raises rules_invalid with the rule id and the problem
    _, current = rules_cache.current(session)
    row = RuleSetVersion(
        version=(current or 0) + 1, text=text, comment=comment, by_id=actor.user_id
    )
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="rules.save",
        entity="rules",
        entity_id=None,
        detail={"version": row.version, "comment": comment},
    )
    session.flush()
    return row


def rules_dry_run(
    session: Session,
    *,
    actor: Actor,
    text: str,
    rules_cache: RulesCache,
    limit: int = 500,
    calendar: WorkCalendar | None = None,
) -> dict[str, Any]:
    """Replay the most recent intake items under candidate rules; list what would change."""
    require_role(actor, Role.admin, Role.manager)
    candidate = RuleSet.load(text)
    current, version = rules_cache.current(session)
    logs = session.exec(select(IntakeLog).order_by(col(IntakeLog.id).desc()).limit(limit)).all()
    items = [
        IntakeItem(text=log.text, channel=log.channel or "phone", region=log.region, at=log.at)
        for log in logs
    ]
    rows = dry_run(candidate, items, baseline=current, calendar=calendar)
    return {
        "compared_with_version": version,
        "items": len(items),
        "changed": len(rows),
        "changes": [
            {"text": r.item.text, "old": decision_json(r.old), "new": decision_json(r.new)}
            for r in rows[:100]
        ],
    }
