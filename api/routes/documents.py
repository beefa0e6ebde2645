"""Policy documents: upload (multipart), list, version diff, repeal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, ConfigDict

from api.deps import ActorDep, RuntimeDep, SessionDep
from ingestion.pipeline import ingest_upload
from kb_service import documents
from kb_service.errors import Forbidden, Invalid
from kb_service.models import Role
from kb_service.principals import require_role

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])


class RepealBody(BaseModel):
    """Repeal, or supersede by another document."""

    model_config = ConfigDict(extra="forbid")
    superseded_by: str | None = None
    reason: str | None = None


@router.post("", status_code=200)
async def upload_document(
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile, File(description="txt/md/docx/pdf/xlsx/csv/jsonl")],
    department: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    """Upload one policy file; the report lists documents stored and anything rejected."""
    require_role(actor, Role.editor, Role.reviewer, Role.manager, Role.admin)
    if actor.role in (Role.editor, Role.reviewer):
        if department and department != actor.department_code:
            raise Forbidden("department_forbidden", "只能以本单位名义上传文件")
        department = actor.department_code
    if not file.filename:
        raise Invalid("file_missing", "请选择要上传的文件")
    data = await file.read(runtime.settings.max_upload_bytes + 1)
    report = ingest_upload(
        session,
        actor=actor,
        data=data,
        filename=file.filename,
        department=department,
        max_bytes=runtime.settings.max_upload_bytes,
    )
    return report.as_dict()


@router.get("")
def list_documents(session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    """All documents with versions and status."""
    return documents.list_documents(session)


@router.get("/{doc_id}/versions/{version}/diff")
def version_diff(doc_id: str, version: int, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Passages added, removed and changed by one version."""
    return documents.diff(session, doc_id=doc_id, version=version)


@router.post("/{doc_id}/repeal")
def repeal_document(
    doc_id: str, body: RepealBody, session: SessionDep, actor: ActorDep
) -> dict[str, Any]:
    """Mark repealed/superseded: its passages stop being suggested, citing entries are flagged."""
    doc = documents.repeal(
        session, actor=actor, doc_id=doc_id, superseded_by=body.superseded_by, reason=body.reason
    )
    return {
        "doc_id": doc.doc_id,
        "status": str(doc.status),
        "status_label": documents.STATUS_LABELS[str(doc.status)],
    }
