"""Entry routes: the editor/reviewer workflow and the department push API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ActorDep, RuntimeDep, SessionDep
from kb_service import departments, entries
from kb_service.models import EntryContent, EntryStatus
from kb_service.models.entries import EntryPublic, EntryVersionPublic

router = APIRouter(prefix="/api/v1", tags=["entries"])


class EntryCreate(EntryContent):
    """A new entry: its content, its department, optionally its own id and 'submit now'."""

    department: str
    external_id: str | None = Field(default=None, max_length=128)
    submit: bool = False


class EntryUpdate(EntryContent):
    """An edit: the full content and the version it was based on."""

    base_version: int
    reason: str | None = None
    submit: bool = False


class PushBody(EntryContent):
    """A department's push of one entry by its own id."""

    base_version: int | None = None


class VersionBody(BaseModel):
    """A state change, with the version it was based on."""

    model_config = ConfigDict(extra="forbid")
    base_version: int
    reason: str | None = None


class RejectBody(BaseModel):
    """A reviewer's rejection with comment."""

    model_config = ConfigDict(extra="forbid")
    base_version: int
    comment: str


class RetireBody(BaseModel):
    """Retire, optionally guarded by a version."""

    model_config = ConfigDict(extra="forbid")
    base_version: int | None = None
    reason: str | None = None


class RollbackBody(BaseModel):
    """Publish an earlier version's content as a new version."""

    model_config = ConfigDict(extra="forbid")
    to_version: int
    base_version: int
    reason: str | None = None


class EntryPage(BaseModel):
    """A page of entries."""

    items: list[EntryPublic]
    total: int
    page: int
    page_size: int


class PushResponse(BaseModel):
    """What a push did, with the entry as it now stands."""

    external_id: str
    outcome: str
    entry: EntryPublic


class BatchBody(BaseModel):
    """Up to the configured maximum of items (raw: each one is validated on its own)."""

    model_config = ConfigDict(extra="forbid")
    items: list[Any]


class BatchItemResult(BaseModel):
    """One item's outcome in a batch."""

    index: int
    external_id: str | None
    outcome: str
    entry_id: int | None = None
    version: int | None = None
    status: str | None = None
    error: str | None = None
    detail: str | None = None


class BatchResponse(BaseModel):
    """Per-item results and counts by outcome."""

    results: list[BatchItemResult]
    counts: dict[str, int]


def _content(body: EntryContent) -> EntryContent:
    return EntryContent.model_validate(body.model_dump(include=set(EntryContent.model_fields)))


def _page(session: Any, page: entries.Page) -> EntryPage:
    depts = departments.by_id(session)
    return EntryPage(
        items=[entries.to_public(session, e, depts.get(e.department_id)) for e in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
    )


@router.get("/entries", response_model=EntryPage)
def list_entries(
    session: SessionDep,
    actor: ActorDep,
    department: str | None = None,
    status: EntryStatus | None = None,
    category: str | None = None,
    q: str | None = None,
    needs_review: bool | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EntryPage:
    """List entries with filters and paging."""
    result = entries.list_entries(
        session,
        actor=actor,
        department_code=department,
        status=status,
        category=category,
        q=q,
        needs_review=needs_review,
        page=page,
        page_size=page_size,
    )
    return _page(session, result)


@router.post("/entries", response_model=EntryPublic, status_code=201)
def create_entry(body: EntryCreate, session: SessionDep, actor: ActorDep) -> EntryPublic:
    """Create a draft entry (or submit it for review at once)."""
    entry = entries.create(
        session,
        actor=actor,
        department_code=body.department,
        content=_content(body),
        external_id=body.external_id,
        submit=body.submit,
    )
    return entries.to_public(session, entry)


@router.get("/entries/{entry_id}", response_model=EntryPublic)
def get_entry(entry_id: int, session: SessionDep, actor: ActorDep) -> EntryPublic:
    """One entry (its working copy)."""
    entries.require_reader(actor)
    return entries.to_public(session, entries.get(session, entry_id=entry_id))


@router.put("/entries/{entry_id}", response_model=EntryPublic)
def update_entry(
    entry_id: int, body: EntryUpdate, session: SessionDep, actor: ActorDep
) -> EntryPublic:
    """Edit an entry; 409 stale_version if it changed since base_version."""
    entry = entries.update(
        session,
        actor=actor,
        entry_id=entry_id,
        content=_content(body),
        base_version=body.base_version,
        reason=body.reason,
        submit=body.submit,
    )
    return entries.to_public(session, entry)


@router.post("/entries/{entry_id}/submit", response_model=EntryPublic)
def submit_entry(
    entry_id: int, body: VersionBody, session: SessionDep, actor: ActorDep
) -> EntryPublic:
    """Send a draft for review."""
    entry = entries.submit(session, actor=actor, entry_id=entry_id, base_version=body.base_version)
    return entries.to_public(session, entry)


@router.post("/entries/{entry_id}/publish", response_model=EntryPublic)
def publish_entry(
    entry_id: int, body: VersionBody, session: SessionDep, actor: ActorDep
) -> EntryPublic:
    """Approve and publish."""
    entry = entries.publish(
        session, actor=actor, entry_id=entry_id, base_version=body.base_version, reason=body.reason
    )
    return entries.to_public(session, entry)


@router.post("/entries/{entry_id}/reject", response_model=EntryPublic)
def reject_entry(
    entry_id: int, body: RejectBody, session: SessionDep, actor: ActorDep
) -> EntryPublic:
    """Send back to draft with a comment."""
    entry = entries.reject(
        session,
        actor=actor,
        entry_id=entry_id,
        base_version=body.base_version,
        comment=body.comment,
    )
    return entries.to_public(session, entry)


@router.post("/entries/{entry_id}/retire", response_model=EntryPublic)
def retire_entry(
    entry_id: int,
    session: SessionDep,
    actor: ActorDep,
    body: Annotated[RetireBody | None, Body()] = None,
) -> EntryPublic:
    """Take an entry out of service."""
    body = body or RetireBody()
    entry = entries.retire(
        session, actor=actor, entry_id=entry_id, base_version=body.base_version, reason=body.reason
    )
    return entries.to_public(session, entry)


@router.post("/entries/{entry_id}/rollback", response_model=EntryPublic)
def rollback_entry(
    entry_id: int, body: RollbackBody, session: SessionDep, actor: ActorDep
) -> EntryPublic:
    """Publish an earlier version's content as a new version."""
    entry = entries.rollback(
        session,
        actor=actor,
        entry_id=entry_id,
        to_version=body.to_version,
        base_version=body.base_version,
        reason=body.reason,
    )
    return entries.to_public(session, entry)


@router.get("/entries/{entry_id}/versions", response_model=list[EntryVersionPublic])
def entry_versions(entry_id: int, session: SessionDep, actor: ActorDep) -> Any:
    """The version history, newest first."""
    entries.require_reader(actor)
    return entries.history(session, entry_id=entry_id)


# --- department push API -----------------------------------------------------------------


@router.get("/departments/{code}/entries", response_model=EntryPage, tags=["push"])
def list_department_entries(
    code: str,
    session: SessionDep,
    actor: ActorDep,
    status: EntryStatus | None = None,
    q: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EntryPage:
    """A department's entries."""
    result = entries.list_entries(
        session,
        actor=actor,
        department_code=code,
        status=status,
        q=q,
        page=page,
        page_size=page_size,
    )
    return _page(session, result)


@router.put("/departments/{code}/entries/{external_id}", response_model=PushResponse, tags=["push"])
def push_entry(
    code: str,
    external_id: str,
    body: PushBody,
    session: SessionDep,
    actor: ActorDep,
    response: Response,
) -> PushResponse:
    """Idempotent upsert by the department's own id (same payload twice: one version)."""
    result = entries.push(
        session,
        actor=actor,
        department_code=code,
        external_id=external_id,
        content=_content(body),
        base_version=body.base_version,
    )
    if result.outcome == "created":
        response.status_code = 201
    entry = entries.get(session, entry_id=result.entry_id or 0)
    return PushResponse(
        external_id=external_id, outcome=result.outcome, entry=entries.to_public(session, entry)
    )


@router.post("/departments/{code}/entries/batch", response_model=BatchResponse, tags=["push"])
def push_batch(
    code: str, body: BatchBody, session: SessionDep, actor: ActorDep, runtime: RuntimeDep
) -> BatchResponse:
    """Push up to 1,000 items; each gets its own result, one bad item never blocks the rest."""
    results = entries.push_batch(
        session,
        actor=actor,
        department_code=code,
        items=body.items,
        max_items=runtime.settings.batch_max_items,
    )
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return BatchResponse(
        results=[
            BatchItemResult(
                index=i,
                external_id=r.external_id,
                outcome=r.outcome,
                entry_id=r.entry_id,
                version=r.version,
                status=str(r.status) if r.status else None,
                error=r.error,
                detail=r.detail,
            )
            for i, r in enumerate(results)
        ],
        counts=counts,
    )


@router.delete(
    "/departments/{code}/entries/{external_id}", response_model=EntryPublic, tags=["push"]
)
def retire_department_entry(
    code: str,
    external_id: str,
    session: SessionDep,
    actor: ActorDep,
    reason: str | None = None,
) -> EntryPublic:
    """Retire the department's entry with its own id."""
    entry = entries.retire_external(
        session, actor=actor, department_code=code, external_id=external_id, reason=reason
    )
    return entries.to_public(session, entry)
