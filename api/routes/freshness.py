"""Freshness audit: obligations inbox, knowledge questions, feedback, metrics, gaps, reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ActorDep, RuntimeDep, SessionDep
from kb_service import freshness, metrics, reports
from kb_service.models import EntryContent, Role
from kb_service.principals import Actor, require_role
from kb_service.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["freshness"])


class FeedbackBody(BaseModel):
    """An operator's verdict on one suggestion of a query."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["entry", "passage"]
    id: int
    verdict: Literal["adopted", "not_helpful"]
    reason: Literal["outdated", "wrong", "incomplete", "irrelevant"] | None = None


class ConfirmBody(BaseModel):
    """Why the related knowledge is still correct."""

    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=2000)]


class LinkBody(BaseModel):
    """The entry that answers a ticket's obligation."""

    model_config = ConfigDict(extra="forbid")
    entry_id: int


class QuestionBody(BaseModel):
    """A knowledge question to a department, optionally about a logged query."""

    model_config = ConfigDict(extra="forbid")
    department: str
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    query_id: int | None = None


@router.post("/suggestions/{query_id}/feedback")
def suggestion_feedback(
    query_id: int, body: FeedbackBody, session: SessionDep, actor: ActorDep
) -> dict[str, Any]:
    """Adopted / not helpful (with a reason); adopted without a ticket counts as answered."""
    row = freshness.record_feedback(
        session,
        actor=actor,
        query_id=query_id,
        kind=body.kind,
        item_id=body.id,
        verdict=body.verdict,
        reason=body.reason,
    )
    return freshness.feedback_public(row)


def _sweep(session: Any, runtime: Runtime) -> None:
    """Reading the inbox also sweeps, so it is exact between two background sweeps."""
    freshness.sweep(
        session,
        default_review_days=runtime.settings.default_review_interval_days,
        calendar=runtime.calendar,
        workdays=runtime.settings.refresh_workdays,
    )


@router.get("/departments/{code}/obligations")
def department_obligations(
    code: str,
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
    state: str | None = None,
) -> list[dict[str, Any]]:
    """A department's inbox: open obligations first, by due date."""
    _sweep(session, runtime)
    rows = freshness.list_obligations(session, actor=actor, department=code, state=state)
    return [freshness.to_public(session, ob) for ob in rows]


@router.get("/obligations")
def all_obligations(
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
    state: str | None = None,
    department: str | None = None,
) -> list[dict[str, Any]]:
    """Every department's obligations (managers and admins)."""
    require_role(actor, Role.manager, Role.admin)
    _sweep(session, runtime)
    rows = freshness.list_obligations(session, actor=actor, department=department, state=state)
    return [freshness.to_public(session, ob) for ob in rows]


@router.post("/obligations/{obligation_id}/confirm")
def confirm_obligation(
    obligation_id: int, body: ConfirmBody, session: SessionDep, actor: ActorDep
) -> dict[str, Any]:
    """The related knowledge is still correct (counted separately from an update)."""
    ob = freshness.confirm(session, actor=actor, obligation_id=obligation_id, reason=body.reason)
    return freshness.to_public(session, ob)


@router.post("/obligations/{obligation_id}/link")
def link_obligation(
    obligation_id: int, body: LinkBody, session: SessionDep, actor: ActorDep
) -> dict[str, Any]:
    """Link a new entry; the obligation is fulfilled when that entry is published."""
    ob = freshness.link(session, actor=actor, obligation_id=obligation_id, entry_id=body.entry_id)
    return freshness.to_public(session, ob)


@router.post("/knowledge-questions", status_code=201)
def ask_question(
    body: QuestionBody, session: SessionDep, actor: ActorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """An operator puts a knowledge question (知识提问) to a department."""
    ob = freshness.ask(
        session,
        actor=actor,
        department=body.department,
        text=body.text,
        query_id=body.query_id,
        calendar=runtime.calendar,
        workdays=runtime.settings.knowledge_question_workdays,
    )
    return freshness.question_public(session, ob)


@router.get("/knowledge-questions")
def list_questions(session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    """An operator's own questions; a department's questions; all for managers."""
    return [
        freshness.question_public(session, ob)
        for ob in freshness.list_questions(session, actor=actor)
    ]


@router.post("/knowledge-questions/{question_id}/answer", status_code=201)
def answer_question(
    question_id: int, body: EntryContent, session: SessionDep, actor: ActorDep
) -> dict[str, Any]:
    """Answer with an entry (sent to review); publishing it fulfils the question."""
    ob, _entry = freshness.answer(session, actor=actor, question_id=question_id, content=body)
    return freshness.question_public(session, ob)


def _metrics_scope(actor: Actor, department: str | None) -> str | None:
    """Managers see everything; a department's editors and reviewers only their own."""
    if actor.is_global:
        return department
    require_role(actor, Role.editor, Role.reviewer)
    return actor.department_code


@router.get("/metrics")
def get_metrics(
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
    start: date,
    end: date,
    department: str | None = None,
) -> dict[str, Any]:
    """Every indicator for the range, overall and per department (null rate: nothing due)."""
    scope = _metrics_scope(actor, department)
    out = metrics.compute(
        session,
        start=start,
        end=end,
        department=scope,
        calendar=runtime.calendar,
        policy_push_workdays=runtime.settings.policy_push_workdays,
        default_review_days=runtime.settings.default_review_interval_days,
    )
    if not actor.is_global:
        out.pop("overall")
    return out


@router.get("/metrics/monthly")
def get_monthly(
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
    year: Annotated[int, Query(ge=2000, le=2100)],
) -> dict[str, Any]:
    """知识库更新率 per month and department (for charts)."""
    require_role(actor, Role.manager, Role.admin)
    return metrics.monthly(session, year=year, calendar=runtime.calendar)


@router.get("/gaps")
def get_gaps(
    session: SessionDep, actor: ActorDep, runtime: RuntimeDep, start: date, end: date
) -> list[dict[str, Any]]:
    """Items nothing could answer, clustered by meaning, with counts and masked examples."""
    require_role(actor, Role.manager, Role.admin)
    return metrics.gaps(
        session, start=start, end=end, encode=lambda texts: runtime.encoder.encode_queries(texts)
    )


@router.get("/reports/{period}")
def get_report(
    period: str,
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
    format: Literal["json", "xlsx", "html"] = "json",
) -> Response:
    """The monthly (2026-10), quarterly (2026-Q4) or annual (2026) report."""
    require_role(actor, Role.manager, Role.admin)
    report = build_report(session, runtime=runtime, period=period)
    body, media = reports.render(report, format)
    headers = {}
    if format != "json":
        headers["Content-Disposition"] = f'attachment; filename="report-{period}.{format}"'
    return Response(content=body, media_type=media, headers=headers)


def build_report(session: Any, *, runtime: Runtime, period: str) -> dict[str, Any]:
    """A report with the runtime's calendar, settings and encoder."""
    p = reports.parse_period(period, calendar=runtime.calendar)
    return reports.build(
        session,
        period=p,
        calendar=runtime.calendar,
        # Lazy: the model loads only when there are unanswered items to cluster.
        encode=lambda texts: runtime.encoder.encode_queries(texts),
        policy_push_workdays=runtime.settings.policy_push_workdays,
        default_review_days=runtime.settings.default_review_interval_days,
    )
