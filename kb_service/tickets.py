"""Tickets (工单) and the ticket-core port.

`TicketCore` has two adapters: **embedded** (tickets live in our database and are handled
through our API/CLI, so one machine runs the whole flow) and **http** (each ticket goes to an
outbox row written in the same transaction as the decision; `kb_service.outbox` delivers it,
signed and idempotent, and the core reports back through signed events).

Every state change is a `TicketEvent` with a unique `event_id`, so an event delivered twice is
applied once, and events arriving out of order never move a ticket backwards.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session, col, select

from kb_service import audit, timelimits
from kb_service.db import utcnow
from kb_service.departments import get_by_code
from kb_service.errors import Conflict, Invalid, NotFound
from kb_service.models import Department, Ticket, TicketEvent, TicketStatus
from kb_service.models.users import Role
from kb_service.principals import Actor, require_department, require_role
from kb_service.workdays import SHANGHAI, WorkCalendar, add_workdays

EVENT_KINDS = ("created", "accepted", "returned", "extended", "closed", "callback")
# How far along each status is: an older event never moves a ticket back.
_RANK = {
    TicketStatus.pending: 0,
    TicketStatus.open: 1,
    TicketStatus.accepted: 2,
    TicketStatus.returned: 3,
    TicketStatus.closed: 4,
}
TYPE_LABELS = timelimits.TICKET_TYPE_LABELS
# What a person does to an embedded-core ticket (API path, CLI word) -> the event it records.
ACTIONS = {
    "accept": "accepted",
    "return": "returned",
    "extend": "extended",
    "close": "closed",
    "callback": "callback",
}


def event_kind(action: str) -> str:
    """The event kind of an action word; an unknown word is `action_invalid`."""
    if action not in ACTIONS:
        raise Invalid("action_invalid", f"未知的工单操作“{action}”")
    return ACTIONS[action]


class TicketCore(Protocol):
    """Where tickets are handled."""

    name: str

    def submit(self, session: Session, *, ticket: Ticket) -> None:
        """Hand a freshly created ticket over (inside the caller's transaction)."""
        ...


class EmbeddedCore:
    """Tickets stay in our database; departments handle them through our API and CLI."""

    name = "embedded"

    def submit(self, session: Session, *, ticket: Ticket) -> None:
        """The ticket is open at once."""
        ticket.status = TicketStatus.open


class HttpCore:
    """Tickets go to another system through the outbox (delivered by kb_service.outbox)."""

    name = "http"

    def submit(self, session: Session, *, ticket: Ticket) -> None:
        """Write the outbox row in the same transaction; the dispatcher delivers it."""
        from kb_service import outbox

        dept = session.get(Department, ticket.department_id)
        outbox.enqueue(
            session,
            ticket_id=ticket.id,
            idempotency_key=ticket.ticket_no,
            payload=payload(ticket, dept),
        )


def payload(ticket: Ticket, dept: Department | None) -> dict[str, Any]:
    """The JSON the ticket core receives."""
    return {
        "ticket_no": ticket.ticket_no,
        "type": ticket.type,
        "type_label": TYPE_LABELS.get(timelimits.TicketType(ticket.type), ticket.type),
        "department": dept.code if dept else None,
        "department_name": dept.name if dept else None,
        "text": ticket.text,
        "channel": ticket.channel,
        "region": ticket.region,
        "complex": ticket.complex,
        "received_at": ticket.received_at.isoformat(),
        "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
    }


def core_for(name: str) -> TicketCore:
    """The adapter configured by name."""
    if name == "embedded":
        return EmbeddedCore()
    if name == "http":
        return HttpCore()
    raise Invalid("ticket_core_invalid", f"未知的工单系统类型“{name}”（embedded 或 http）")


def _event(
    session: Session,
    *,
    ticket: Ticket,
    kind: str,
    at: datetime | None = None,
    detail: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> TicketEvent:
    ev = TicketEvent(
        event_id=event_id or f"kb-{uuid.uuid4().hex}",
        ticket_id=ticket.id or 0,
        kind=kind,
        at=at or utcnow(),
        detail=detail or {},
    )
    session.add(ev)
    return ev


def create(
    session: Session,
    *,
    core: TicketCore,
    type: str,
    department: str,
    text: str,
    due_at: datetime | None,
    channel: str | None = None,
    region: str | None = None,
    complex: bool = False,
    rule_id: str | None = None,
    query_id: int | None = None,
    suggestions: list[dict[str, Any]] | None = None,
    received_at: datetime | None = None,
    actor: Actor | None = None,
) -> Ticket:
    """Create a ticket from an intake decision and hand it to the core (text already masked)."""
    try:
        timelimits.TicketType(type)
    except ValueError as exc:
        raise Invalid("ticket_type_invalid", f"未知的工单类型“{type}”") from exc
    dept = get_by_code(session, code=department)
    now = received_at or utcnow()
    local = now.astimezone(SHANGHAI)
    ticket = Ticket(
        ticket_no=f"GD{local:%Y%m%d}-{uuid.uuid4().hex[:8].upper()}",
        type=type,
        department_id=dept.id or 0,
        core=core.name,
        text=text,
        channel=channel,
        region=region,
        complex=complex,
        rule_id=rule_id,
        query_id=query_id,
        suggestions=suggestions or [],
        received_at=now,
        due_at=due_at,
    )
    session.add(ticket)
    session.flush()
    _event(
        session,
        ticket=ticket,
        kind="created",
        at=now,
        detail={"type": type, "department": dept.code, "rule_id": rule_id},
    )
    core.submit(session, ticket=ticket)
    audit.record(
        session,
        actor=actor,
        action="ticket.create",
        entity="ticket",
        entity_id=ticket.id,
        department_id=dept.id,
        detail={"ticket_no": ticket.ticket_no, "type": type, "core": core.name},
    )
    session.flush()
    return ticket


def get(session: Session, *, ticket_no: str) -> Ticket:
    """The ticket, or `ticket_not_found`."""
    t = session.exec(select(Ticket).where(Ticket.ticket_no == ticket_no)).first()
    if t is None:
        raise NotFound("ticket_not_found", f"工单“{ticket_no}”不存在")
    return t


def _guard(session: Session, actor: Actor, ticket: Ticket) -> Department:
    dept = session.get(Department, ticket.department_id)
    assert dept is not None
    require_role(actor, Role.editor, Role.reviewer, Role.manager, Role.admin)
    require_department(actor, dept.id or 0, dept.code)
    return dept


def apply_event(
    session: Session,
    *,
    event_id: str,
    ticket_no: str,
    kind: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
    calendar: WorkCalendar | None = None,
    refresh_workdays: int = 2,
    related: Callable[[str, str], Sequence[int]] | None = None,
) -> bool:
    """Apply one event (from the embedded core or an inbound HTTP event); False if already seen.

    Idempotent by `event_id`; an event older in the lifecycle than the ticket's state is
    recorded but never moves the ticket back (events may arrive out of order).
    """
    if kind not in EVENT_KINDS or kind == "created":
        raise Invalid("event_kind_invalid", f"未知的工单事件类型“{kind}”")
    if at.tzinfo is None:
        raise Invalid("naive_datetime", "事件时间必须带时区")
    if session.exec(select(TicketEvent).where(TicketEvent.event_id == event_id)).first():
        return False
    ticket = session.exec(
        select(Ticket).where(Ticket.ticket_no == ticket_no).with_for_update()
    ).first()
    if ticket is None:
        raise NotFound("ticket_not_found", f"工单“{ticket_no}”不存在")
    detail = dict(detail or {})
    advance = {
        "accepted": TicketStatus.accepted,
        "returned": TicketStatus.returned,
        "closed": TicketStatus.closed,
    }
    if kind in advance and _RANK[advance[kind]] > _RANK[TicketStatus(ticket.status)]:
        ticket.status = advance[kind]
    if kind == "accepted":
        ticket.accepted_at = ticket.accepted_at or at
    elif kind == "returned":
        ticket.returned_at = at
        ticket.return_reason = str(detail.get("reason") or "")
    elif kind == "extended":
        days = int(detail.get("workdays", 0))
        limits = timelimits.TimeLimits()
        if not 1 <= days <= limits.extension:
            raise Invalid(
                "extension_invalid", f"延期应为 1 到 {limits.extension} 个工作日，收到 {days}"
            )
        base = ticket.due_at or at
        ticket.extended_to = add_workdays(base, days, calendar=calendar)
        detail["extended_to"] = ticket.extended_to.isoformat()
    elif kind == "closed":
        ticket.closed_at = ticket.closed_at or at
        ticket.result = str(detail.get("result") or ticket.result or "")
        ticket.callback_due = timelimits.due(
            timelimits.LimitKind.CALLBACK, ticket.closed_at, calendar=calendar
        )
        dept = session.get(Department, ticket.department_id)
        # Everything the freshness audit needs later, recorded with the event itself.
        detail.update(
            {
                "type": ticket.type,
                "department": dept.code if dept else None,
                "closed_at": ticket.closed_at.isoformat(),
                "text": ticket.text,
                "suggestions": ticket.suggestions,
                "query_id": ticket.query_id,
            }
        )
        from kb_service import freshness  # imports entries; keep tickets importable alone

        freshness.on_ticket_closed(
            session, ticket=ticket, calendar=calendar, workdays=refresh_workdays, related=related
        )
    elif kind == "callback":
        ticket.callback_at = at
        ticket.satisfaction = str(detail.get("satisfaction") or "")
    ticket.updated_at = utcnow()
    _event(session, ticket=ticket, kind=kind, at=at, detail=detail, event_id=event_id)
    session.flush()
    return True


def act(
    session: Session,
    *,
    actor: Actor,
    ticket_no: str,
    kind: str,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
    calendar: WorkCalendar | None = None,
    refresh_workdays: int = 2,
    related: Callable[[str, str], Sequence[int]] | None = None,
) -> Ticket:
    """A department handles an embedded-core ticket: accept, return, extend, close, callback."""
    ticket = get(session, ticket_no=ticket_no)
    _guard(session, actor, ticket)
    if ticket.core != "embedded":
        raise Conflict("ticket_core_external", "该工单由外部工单系统办理，请在工单系统中操作")
    status = TicketStatus(ticket.status)
    allowed = {
        "accepted": {TicketStatus.open},
        "returned": {TicketStatus.open, TicketStatus.accepted},
        "extended": {TicketStatus.open, TicketStatus.accepted},
        "closed": {TicketStatus.open, TicketStatus.accepted},
        "callback": {TicketStatus.closed},
    }
    if kind not in allowed:
        raise Invalid("event_kind_invalid", f"未知的操作“{kind}”")
    if status not in allowed[kind]:
        raise Conflict("invalid_transition", f"工单当前状态为{status}，不能执行该操作")
    if kind == "returned" and not (detail or {}).get("reason"):
        raise Invalid("reason_required", "退回工单必须说明依据和改派意见")
    if kind == "extended" and ticket.extended_to is not None:
        raise Conflict("already_extended", "该工单已申请过延期")
    apply_event(
        session,
        event_id=f"kb-{uuid.uuid4().hex}",
        ticket_no=ticket_no,
        kind=kind,
        at=at or utcnow(),
        detail=detail,
        calendar=calendar,
        refresh_workdays=refresh_workdays,
        related=related,
    )
    audit.record(
        session,
        actor=actor,
        action=f"ticket.{kind}",
        entity="ticket",
        entity_id=ticket.id,
        department_id=ticket.department_id,
        detail=detail or {},
    )
    return ticket


def list_tickets(
    session: Session,
    *,
    actor: Actor,
    department: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Ticket]:
    """Tickets, newest first; department-bound actors see only their own."""
    stmt = select(Ticket)
    if not actor.is_global and actor.role != Role.operator:
        stmt = stmt.where(Ticket.department_id == actor.department_id)
    if department:
        stmt = stmt.where(Ticket.department_id == get_by_code(session, code=department).id)
    if status:
        stmt = stmt.where(Ticket.status == status)
    return list(session.exec(stmt.order_by(col(Ticket.id).desc()).limit(limit)).all())


def to_public(session: Session, ticket: Ticket) -> dict[str, Any]:
    """The API shape of a ticket."""
    from kb_service.models.tickets import TICKET_STATUS_LABELS

    dept = session.get(Department, ticket.department_id)
    return {
        "ticket_no": ticket.ticket_no,
        "type": ticket.type,
        "type_label": TYPE_LABELS.get(timelimits.TicketType(ticket.type), ticket.type),
        "department": dept.code if dept else None,
        "department_name": dept.name if dept else None,
        "status": str(ticket.status),
        "status_label": TICKET_STATUS_LABELS[str(ticket.status)],
        "core": ticket.core,
        "text": ticket.text,
        "rule_id": ticket.rule_id,
        "received_at": ticket.received_at.isoformat(),
        "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        "extended_to": ticket.extended_to.isoformat() if ticket.extended_to else None,
        "closed_at": ticket.closed_at.isoformat() if ticket.closed_at else None,
        "callback_due": ticket.callback_due.isoformat() if ticket.callback_due else None,
        "return_reason": ticket.return_reason,
        "satisfaction": ticket.satisfaction,
    }


def returned_by_rule(session: Session) -> list[dict[str, Any]]:
    """Tickets returned as wrong-department, grouped by the routing rule that sent them."""
    rows = session.exec(select(Ticket).where(col(Ticket.returned_at).is_not(None))).all()
    counts: Counter[str] = Counter()
    reasons: dict[str, list[str]] = {}
    for t in rows:
        key = t.rule_id or "(服务目录/默认)"
        counts[key] += 1
        reasons.setdefault(key, []).append(t.return_reason or "")
    return [
        {"rule_id": k, "returned": n, "reasons": reasons[k][:10]} for k, n in counts.most_common()
    ]
