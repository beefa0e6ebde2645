"""Policy documents: versions, citable passages, supersession, and flags on citing entries.

The parser lives in `ingestion/`; this module takes already-parsed documents (plain data) so
the core never depends on file formats.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from index.text import compact
from kb_service import audit, entries
from kb_service.db import utcnow
from kb_service.departments import get_by_code
from kb_service.errors import Conflict, Invalid, NotFound
from kb_service.models import (
    ChangeKind,
    ChangeOp,
    Department,
    Document,
    DocumentStatus,
    DocumentVersion,
    Entry,
    EntryStatus,
    Passage,
)
from kb_service.models.users import Role
from kb_service.principals import Actor, can_edit, require_role

STATUS_LABELS = {"active": "现行有效", "repealed": "已废止", "superseded": "已被替代"}


@dataclass
class PassageInput:
    """One citable piece of a document, as the parser produced it."""

    locator: str
    text: str
    original_text: str = ""
    heading: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)


@dataclass
class DocumentInput:
    """One parsed document."""

    title: str
    text: str
    passages: list[PassageInput]
    doc_no: str | None = None
    doc_id: str | None = None
    issuer: str | None = None
    issued: date | None = None
    department: str | None = None
    source_name: str | None = None


@dataclass
class IngestOutcome:
    """What ingesting one document did."""

    doc_id: str
    doc_no: str | None
    title: str
    version: int
    outcome: str  # created | new_version | unchanged
    passages: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    flagged_entries: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "doc_id": self.doc_id,
            "doc_no": self.doc_no,
            "title": self.title,
            "version": self.version,
            "outcome": self.outcome,
            "passages": self.passages,
            "summary": {"added": self.added, "changed": self.changed, "removed": self.removed},
            "flagged_entries": self.flagged_entries,
        }


def _hash(text: str) -> str:
    return hashlib.sha256(compact(text).encode("utf-8")).hexdigest()


def _slug(doc: DocumentInput) -> str:
    if doc.doc_id:
        return doc.doc_id
    if doc.doc_no:
        return doc.doc_no
    basis = f"{compact(doc.title)}|{compact(doc.issuer or '')}"
    return "doc-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:12]


def find_existing(session: Session, doc: DocumentInput) -> Document | None:
    """The same document: same 文号, else same doc_id, else same title and issuer."""
    if doc.doc_no:
        found = session.exec(select(Document).where(Document.doc_no == doc.doc_no)).first()
        if found:
            return found
    if doc.doc_id:
        found = session.exec(select(Document).where(Document.doc_id == doc.doc_id)).first()
        if found:
            return found
    if not doc.doc_no:
        key = compact(doc.title)
        issuer = compact(doc.issuer or "")
        for cand in session.exec(select(Document).where(col(Document.doc_no).is_(None))).all():
            if compact(cand.title) == key and compact(cand.issuer or "") == issuer:
                return cand
    return None


def _unique_locators(passages: list[PassageInput]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for p in passages:
        n = seen.get(p.locator, 0) + 1
        seen[p.locator] = n
        out.append(p.locator if n == 1 else f"{p.locator}#{n}")
    return out


def ingest(session: Session, *, actor: Actor, doc: DocumentInput) -> IngestOutcome:
    """Store a parsed document: a new document, a new version of a known one, or a no-op."""
    if not doc.title.strip():
        raise Invalid("document_title_missing", "文件缺少标题")
    dept: Department | None = None
    if doc.department:
        dept = get_by_code(session, code=doc.department)
        can_edit(actor, dept.id or 0, dept.code)
    else:
        require_role(actor, Role.manager, Role.admin)
    digest = _hash(doc.text)
    existing = find_existing(session, doc)
    if existing is not None:
        if (
            dept is not None
            and existing.department_id not in (None, dept.id)
            and not actor.is_global
        ):
            raise Conflict("document_owned_elsewhere", "该文件已由其他单位维护，不能覆盖")
        current = session.exec(
            select(DocumentVersion).where(
                DocumentVersion.document_id == existing.id,
                DocumentVersion.version == existing.current_version,
            )
        ).first()
        if current is not None and current.content_hash == digest:
            n = len(_active_passages(session, existing.id or 0))
            return IngestOutcome(
                existing.doc_id,
                existing.doc_no,
                existing.title,
                existing.current_version,
                "unchanged",
                n,
            )
        return _new_version(
            session, actor=actor, document=existing, doc=doc, digest=digest, dept=dept
        )
    document = Document(
        doc_id=_slug(doc),
        doc_no=doc.doc_no,
        title=doc.title.strip(),
        issuer=doc.issuer,
        issued=doc.issued,
        department_id=dept.id if dept else None,
        current_version=1,
    )
    if session.exec(select(Document).where(Document.doc_id == document.doc_id)).first():
        raise Conflict("doc_id_taken", f"文档编号“{document.doc_id}”已被另一份文件使用")
    session.add(document)
    session.flush()
    session.add(
        DocumentVersion(
            document_id=document.id or 0,
            version=1,
            content_hash=digest,
            text=doc.text,
            source_name=doc.source_name,
            summary={"added": len(doc.passages), "changed": 0, "removed": 0},
            by_id=actor.user_id,
        )
    )
    locators = _unique_locators(doc.passages)
    _insert_passages(
        session, document=document, version=1, passages=doc.passages, locators=locators
    )
    audit.record(
        session,
        actor=actor,
        action="document.create",
        entity="document",
        entity_id=document.id,
        department_id=document.department_id,
        detail={"doc_id": document.doc_id, "passages": len(doc.passages)},
    )
    session.flush()
    return IngestOutcome(
        document.doc_id,
        document.doc_no,
        document.title,
        1,
        "created",
        len(doc.passages),
        added=locators,
    )


def _active_passages(session: Session, document_id: int) -> list[Passage]:
    stmt = select(Passage).where(Passage.document_id == document_id, col(Passage.active).is_(True))
    return list(session.exec(stmt.order_by(col(Passage.ordinal))).all())


def _insert_passages(
    session: Session,
    *,
    document: Document,
    version: int,
    passages: list[PassageInput],
    locators: list[str],
) -> None:
    rows = []
    for n, (p, loc) in enumerate(zip(passages, locators, strict=True)):
        row = Passage(
            document_id=document.id or 0,
            version=version,
            ordinal=n,
            locator=loc,
            heading=list(p.heading),
            text=p.text,
            original_text=p.original_text or p.text,
            departments=list(dict.fromkeys(p.departments)),
            content_hash=_hash(p.text),
            active=True,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    for row in rows:
        audit.change(session, kind=ChangeKind.passage, entity_id=row.id or 0, op=ChangeOp.upsert)


def _new_version(
    session: Session,
    *,
    actor: Actor,
    document: Document,
    doc: DocumentInput,
    digest: str,
    dept: Department | None,
) -> IngestOutcome:
    old = {p.locator: p for p in _active_passages(session, document.id or 0)}
    locators = _unique_locators(doc.passages)
    new = {loc: p for loc, p in zip(locators, doc.passages, strict=True)}
    added = [loc for loc in locators if loc not in old]
    removed = [loc for loc in old if loc not in new]
    changed = [
        loc for loc in locators if loc in old and old[loc].content_hash != _hash(new[loc].text)
    ]
    version = document.current_version + 1
    for p in old.values():
        p.active = False
        audit.change(session, kind=ChangeKind.passage, entity_id=p.id or 0, op=ChangeOp.delete)
    _insert_passages(
        session, document=document, version=version, passages=doc.passages, locators=locators
    )
    session.add(
        DocumentVersion(
            document_id=document.id or 0,
            version=version,
            content_hash=digest,
            text=doc.text,
            source_name=doc.source_name,
            summary={"added": added, "changed": changed, "removed": removed},
            by_id=actor.user_id,
        )
    )
    document.current_version = version
    document.updated_at = utcnow()
    if doc.issued and not document.issued:
        document.issued = doc.issued
    if dept is not None and document.department_id is None:
        document.department_id = dept.id
    flagged = flag_citing_entries(
        session,
        document=document,
        locators=set(changed) | set(removed),
        reason=f"来源文件《{document.title}》更新为第 {version} 版，所引条款有变化，请复核",
    )
    audit.record(
        session,
        actor=actor,
        action="document.version",
        entity="document",
        entity_id=document.id,
        department_id=document.department_id,
        detail={
            "version": version,
            "added": len(added),
            "changed": len(changed),
            "removed": len(removed),
        },
    )
    session.flush()
    return IngestOutcome(
        document.doc_id,
        document.doc_no,
        document.title,
        version,
        "new_version",
        len(doc.passages),
        added=added,
        changed=changed,
        removed=removed,
        flagged_entries=flagged,
    )


_SUFFIX = re.compile(r"#\d+$")


def _cites(locator: str | None, changed: set[str]) -> bool:
    if not locator:
        return True  # cites the whole document
    loc = compact(locator)
    for c in changed:
        base = compact(_SUFFIX.sub("", c))
        if loc == base or loc.startswith(base) or base.startswith(loc):
            return True
    return False


def flag_citing_entries(
    session: Session, *, document: Document, locators: set[str] | None, reason: str
) -> list[int]:
    """Flag `needs_review` on entries citing this document (at one of `locators`, or at all)."""
    keys = {k for k in (document.doc_no, document.doc_id, compact(document.title)) if k}
    flagged = []
    stmt = select(Entry).where(Entry.status != EntryStatus.retired)
    for entry in session.exec(stmt).all():
        for src in entry.sources:
            ref = {src.get("doc_no"), src.get("doc_id"), compact(src.get("title") or "")}
            if not (ref & keys):
                continue
            if locators is None or _cites(src.get("locator"), locators):
                entries.flag_needs_review(session, entry=entry, reason=reason)
                flagged.append(entry.id or 0)
                break
    return flagged


def repeal(
    session: Session,
    *,
    actor: Actor,
    doc_id: str,
    superseded_by: str | None = None,
    reason: str | None = None,
) -> Document:
    """Mark a document repealed (or superseded by another): its passages stop being suggested."""
    document = get(session, doc_id=doc_id)
    if document.department_id is not None:
        dept = session.get(Department, document.department_id)
        can_edit(actor, document.department_id, dept.code if dept else "")
    else:
        require_role(actor, Role.manager, Role.admin)
    replacement = get(session, doc_id=superseded_by) if superseded_by else None
    if replacement is not None and replacement.id == document.id:
        raise Invalid("superseded_by_self", "文件不能被自身替代")
    document.status = DocumentStatus.superseded if replacement else DocumentStatus.repealed
    document.superseded_by_id = replacement.id if replacement else None
    document.updated_at = utcnow()
    for p in _active_passages(session, document.id or 0):
        audit.change(session, kind=ChangeKind.passage, entity_id=p.id or 0, op=ChangeOp.delete)
    what = f"已被《{replacement.title}》替代" if replacement else "已废止"
    flagged = flag_citing_entries(
        session,
        document=document,
        locators=None,
        reason=f"来源文件《{document.title}》{what}，请复核本条目",
    )
    audit.record(
        session,
        actor=actor,
        action="document.repeal",
        entity="document",
        entity_id=document.id,
        department_id=document.department_id,
        detail={"superseded_by": superseded_by, "reason": reason, "flagged_entries": flagged},
    )
    session.flush()
    return document


def get(session: Session, *, doc_id: str) -> Document:
    """The document with this doc_id (or numeric id), or `document_not_found`."""
    found = session.exec(select(Document).where(Document.doc_id == doc_id)).first()
    if found is None and doc_id.isdigit():
        found = session.get(Document, int(doc_id))
    if found is None:
        raise NotFound("document_not_found", f"文件“{doc_id}”不存在")
    return found


def list_documents(session: Session) -> list[dict[str, Any]]:
    """All documents with their version count and status."""
    out = []
    for d in session.exec(select(Document).order_by(col(Document.id))).all():
        out.append(
            {
                "id": d.id,
                "doc_id": d.doc_id,
                "doc_no": d.doc_no,
                "title": d.title,
                "issuer": d.issuer,
                "issued": d.issued.isoformat() if d.issued else None,
                "versions": d.current_version,
                "status": str(d.status),
                "status_label": STATUS_LABELS[str(d.status)],
                "passages": len(_active_passages(session, d.id or 0)),
            }
        )
    return out


def diff(session: Session, *, doc_id: str, version: int) -> dict[str, Any]:
    """What version `version` changed against the one before it."""
    document = get(session, doc_id=doc_id)
    row = session.exec(
        select(DocumentVersion).where(
            DocumentVersion.document_id == document.id, DocumentVersion.version == version
        )
    ).first()
    if row is None:
        raise NotFound("version_not_found", f"文件“{doc_id}”没有第 {version} 版")

    def texts(v: int) -> dict[str, str]:
        stmt = select(Passage).where(Passage.document_id == document.id, Passage.version == v)
        return {p.locator: p.text for p in session.exec(stmt).all()}

    new, old = texts(version), texts(version - 1) if version > 1 else {}
    return {
        "doc_id": document.doc_id,
        "version": version,
        "at": row.at.isoformat(),
        "added": [{"locator": k, "text": new[k]} for k in new if k not in old],
        "removed": [{"locator": k, "text": old[k]} for k in old if k not in new],
        "changed": [
            {"locator": k, "before": old[k], "after": new[k]}
            for k in new
            if k in old and compact(old[k]) != compact(new[k])
        ],
    }
