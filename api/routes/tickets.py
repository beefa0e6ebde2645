"""Intake routing, tickets (embedded core), inbound ticket-core events, routing rules admin."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ActorDep, RuntimeDep, SessionDep
from kb_service import intake, suggestions, tickets
from kb_service.db import utcnow
from kb_service.errors import Invalid, Unavailable
from kb_service.models import Role
from kb_service.principals import require_role
from kb_service.privacy import mask

router = APIRouter(prefix="/api/v1", tags=["intake"])


class IntakeBody(BaseModel):
    """One item the caller raised."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=suggestions.MAX_QUERY_CHARS)]
    channel: str = "phone"
    region: str | None = None
    at: datetime | None = None
    complex: bool = False
    create_ticket: bool = True


class TicketBody(BaseModel):
    """An operator confirms (or changes) the proposed ticket of an intake item."""

    model_config = ConfigDict(extra="forbid")
    intake_id: int | None = None
    text: Annotated[str, Field(min_length=1, max_length=suggestions.MAX_QUERY_CHARS)]
    type: str
    department: str
    complex: bool = False
    region: str | None = None
    channel: str = "phone"


class ActionBody(BaseModel):
    """A department's action on an embedded-core ticket."""

    model_config = ConfigDict(extra="forbid")
    reason: str | None = None
    workdays: int | None = None
    result: str | None = None
    satisfaction: str | None = None


class RulesBody(BaseModel):
    """A new routing rules file (YAML)."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1)]
    comment: str | None = None


@router.post("/intake")
def intake_item(
    body: IntakeBody, session: SessionDep, actor: ActorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Route one item: answer, divert (110/119/120/122), reject (with where to go) or ticket."""
    require_role(actor, Role.operator, Role.manager, Role.admin)
    return intake.route(
        session,
        search=runtime.search(),
        calibration=runtime.calibration,
        rules_cache=runtime.rules_cache,
        core=runtime.ticket_core(),
        text=body.text,
        channel=body.channel,
        region=body.region,
        at=body.at,
        complex=body.complex,
        create_ticket=body.create_ticket,
        calendar=runtime.calendar,
        similarity=runtime.similarity(),
        tokenize=runtime.tokenize,
        user_id=actor.user_id,
    )


@router.post("/tickets", status_code=201)
def create_ticket(
    body: TicketBody, session: SessionDep, actor: ActorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Create a ticket as confirmed (or changed) by the operator."""
    require_role(actor, Role.operator, Role.manager, Role.admin)
    from kb_service import timelimits

    now = utcnow()
    due = timelimits.due(body.type, now, complex=body.complex, calendar=runtime.calendar)
    t = tickets.create(
        session,
        core=runtime.ticket_core(),
        type=body.type,
        department=body.department,
        text=mask(body.text),
        due_at=due,
        channel=body.channel,
        region=body.region,
        complex=body.complex,
        received_at=now,
        actor=actor,
    )
    return tickets.to_public(session, t)


@router.get("/tickets")
def list_tickets(
    session: SessionDep, actor: ActorDep, department: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Tickets, newest first (departments see their own)."""
    rows = tickets.list_tickets(session, actor=actor, department=department, status=status)
    return [tickets.to_public(session, t) for t in rows]


@router.get("/tickets/{ticket_no}")
def get_ticket(ticket_no: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """One ticket."""
    return tickets.to_public(session, tickets.get(session, ticket_no=ticket_no))


@router.post("/tickets/{ticket_no}/{action}")
def ticket_action(
    ticket_no: str,
    action: str,
    body: ActionBody,
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """accept | return | extend | close | callback (embedded core)."""
    kind = tickets.event_kind(action)
    t = tickets.act(
        session,
        refresh_workdays=runtime.settings.refresh_workdays,
        related=runtime.related_entries,
        actor=actor,
        ticket_no=ticket_no,
        kind=kind,
        detail=body.model_dump(exclude_none=True),
        calendar=runtime.calendar,
    )
    return tickets.to_public(session, t)


@router.post("/ticket-events")
async def ticket_event(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Signed events from the external ticket core; unsigned or replayed ones are refused."""
    from kb_service import outbox

    secret = runtime.settings.ticket_core_secret
    if not secret:
        raise Unavailable("ticket_core_not_configured", "未配置工单系统密钥，无法接收事件")
    body = await request.body()
    ts = request.headers.get("x-kb-timestamp", "")
    outbox.verify(
        body,
        secret=secret,
        timestamp=int(ts) if ts.isdigit() else 0,
        signature=request.headers.get("x-kb-signature", ""),
        now=int(utcnow().timestamp()),
    )
    try:
        ev = json.loads(body)
        applied = tickets.apply_event(
            session,
            refresh_workdays=runtime.settings.refresh_workdays,
            related=runtime.related_entries,
            event_id=str(ev["event_id"]),
            ticket_no=str(ev["ticket_no"]),
            kind=str(ev["kind"]),
            at=datetime.fromisoformat(str(ev["at"])),
            detail=dict(ev.get("detail") or {}),
            calendar=runtime.calendar,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise Invalid("event_invalid", f"事件格式无效：{exc}") from exc
    return {"applied": applied, "duplicate": not applied}


@router.get("/routing/rules")
def get_rules(session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> dict[str, Any]:
    """The rules version in force (None = bundled defaults)."""
    require_role(actor, Role.admin, Role.manager)
    from sqlmodel import col, select

    from kb_service.models import RuleSetVersion

    row = session.exec(
        select(RuleSetVersion).order_by(col(RuleSetVersion.version).desc()).limit(1)
    ).first()
    if row is None:
        from importlib import resources

        text = resources.files("kb_service").joinpath("data/routing_rules.yaml").read_text("utf-8")
        return {"version": None, "text": text}
    return {
        "version": row.version,
        "text": row.text,
        "comment": row.comment,
        "at": row.at.isoformat(),
    }


@router.post("/routing/rules/dry-run")
def dry_run_rules(
    body: RulesBody, session: SessionDep, actor: ActorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Validate candidate rules and show which recent items they would decide differently."""
    return intake.rules_dry_run(
        session,
        actor=actor,
        text=body.text,
        rules_cache=runtime.rules_cache,
        calendar=runtime.calendar,
    )


@router.put("/routing/rules")
def put_rules(
    body: RulesBody, session: SessionDep, actor: ActorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Save a new rules version (validated; admin only)."""
    row = intake.save_rules(
        session, actor=actor, text=body.text, comment=body.comment, rules_cache=runtime.rules_cache
    )
    return {"version": row.version}


@router.get("/routing/returns")
def routing_returns(session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    """Tickets sent back as wrong-department, by the rule that routed them."""
    require_role(actor, Role.admin, Role.manager)
    return tickets.returned_by_rule(session)


@router.get("/outbox")
def outbox_status(session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Deliveries waiting and the dead-letter list (admins)."""
    require_role(actor, Role.admin)
    from kb_service import outbox

    dead = outbox.dead_letters(session)
    return {
        "pending": outbox.pending_count(session),
        "dead": [
            {
                "id": d.id,
                "idempotency_key": d.idempotency_key,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "created_at": d.created_at.isoformat(),
            }
            for d in dead
        ],
    }


@router.post("/outbox/{outbox_id}/resend")
def outbox_resend(outbox_id: int, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Put a dead letter back in the queue (admins)."""
    require_role(actor, Role.admin)
    from kb_service import outbox

    row = outbox.resend(session, outbox_id=outbox_id)
    return {"id": row.id, "status": str(row.status)}
