"""Files in, service calls out: read → split into documents → passages → kb_service.documents.

Every input gets a report entry; a bad file (or a bad document inside a good file) never stops
the others, and each document is stored in its own savepoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session

from ingestion.departments import DepartmentResolver
from ingestion.docno import normalize_doc_no
from ingestion.entries_io import HEADERS, import_item, sheet_item
from ingestion.gazette import ParsedDocument, split_documents, split_passages
from ingestion.readers import ReadResult, Rejected, read_bytes, read_file
from kb_service import departments, documents
from kb_service.documents import DocumentInput, PassageInput
from kb_service.errors import KBError
from kb_service.principals import Actor

DEFAULT_MAX_BYTES = 20 * 1024 * 1024


@dataclass
class IngestReport:
    """Documents stored and inputs rejected, with reasons."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready report."""
        return {
            "documents": self.documents,
            "entries": self.entries,
            "rejected": self.rejected,
            "counts": {
                "documents": len(self.documents),
                "passages": sum(d.get("passages", 0) for d in self.documents),
                "entries": len(self.entries),
                "rejected": len(self.rejected),
            },
        }


def resolver_for(session: Session) -> DepartmentResolver:
    """A department resolver over the database's department table."""
    records = [
        {"code": d.code, "name": d.name, "aliases": list(d.aliases)}
        for d in departments.list_all(session)
    ]
    return DepartmentResolver(records)


def to_inputs(
    parsed: ParsedDocument,
    *,
    resolver: DepartmentResolver,
    department: str | None,
    source_name: str | None,
    doc_id: str | None = None,
) -> DocumentInput:
    """A parsed document as the core's input, passages resolved to department codes."""
    passages = []
    for p in split_passages(parsed, resolver=resolver):
        if not p.text.strip():
            continue
        heading = [h for h in ([p.section_title] if p.section_title else []) + p.heading_path if h]
        passages.append(
            PassageInput(
                locator=p.locator,
                text=p.text,
                original_text=p.original_text,
                heading=heading,
                departments=list(p.department_codes),
            )
        )
    owner = department
    if owner is None and parsed.issuer:
        owner = resolver.resolve(parsed.issuer)
    return DocumentInput(
        title=parsed.title,
        text=parsed.text,
        passages=passages,
        doc_no=parsed.doc_no,
        doc_id=doc_id,
        issuer=parsed.issuer,
        issued=parsed.issued,
        department=owner,
        source_name=source_name,
    )


def _jsonl_inputs(
    result: ReadResult, *, resolver: DepartmentResolver, department: str | None, name: str
) -> Iterable[DocumentInput | KBError]:
    for raw in result.documents:
        text = str(raw.get("text") or "")
        title = str(raw.get("title") or "").strip()
        if not text.strip() or not title:
            yield KBError("document_incomplete", f"文档“{raw.get('doc_id')}”缺少标题或正文")
            continue
        issued = None
        if raw.get("issued"):
            try:
                issued = date.fromisoformat(str(raw["issued"])[:10])
            except ValueError:
                yield KBError("date_invalid", f"文档“{raw.get('doc_id')}”的发布日期无效")
                continue
        dept = department or (
            resolver.resolve(str(raw["department"])) if raw.get("department") else None
        )
        parsed = ParsedDocument(
            title=title,
            issuer=None,
            doc_no=normalize_doc_no(str(raw.get("doc_no") or "")) or None,
            issued=issued,
            text=text,
            span=(0, len(text)),
        )
        yield to_inputs(
            parsed,
            resolver=resolver,
            department=dept,
            source_name=name,
            doc_id=str(raw.get("doc_id")) if raw.get("doc_id") else None,
        )


def _is_faq(result: ReadResult) -> bool:
    mapped = {HEADERS.get(str(c).strip()) for c in result.columns}
    return {"question", "answer"} <= mapped


def ingest_result(
    session: Session,
    *,
    actor: Actor,
    result: ReadResult,
    name: str,
    department: str | None,
    report: IngestReport,
    resolver: DepartmentResolver,
) -> None:
    """Store what one readable file contained."""
    for issue in result.issues:
        report.rejected.append(
            {"input": name, "line": issue.line, "error": issue.code, "detail": issue.message}
        )
    if result.kind == "table" and _is_faq(result):
        _ingest_faq(
            session, actor=actor, result=result, name=name, department=department, report=report
        )
        return
    inputs: Iterable[DocumentInput | KBError]
    if result.kind == "jsonl":
        inputs = _jsonl_inputs(result, resolver=resolver, department=department, name=name)
    else:
        parsed = split_documents(result.text)
        if not parsed:
            report.rejected.append(
                {"input": name, "error": "no_document", "detail": "文件中没有可识别的正文"}
            )
            return
        if result.kind == "table" and len(parsed) == 1 and not parsed[0].doc_no:
            parsed[0].title = Path(name).stem
        inputs = [
            to_inputs(p, resolver=resolver, department=department, source_name=name) for p in parsed
        ]
    for item in inputs:
        if isinstance(item, KBError):
            report.rejected.append({"input": name, "error": item.code, "detail": item.message})
            continue
        try:
            with session.begin_nested():
                outcome = documents.ingest(session, actor=actor, doc=item)
            report.documents.append({"input": name, **outcome.as_dict()})
        except KBError as exc:
            report.rejected.append(
                {"input": name, "document": item.title, "error": exc.code, "detail": exc.message}
            )


def _ingest_faq(
    session: Session,
    *,
    actor: Actor,
    result: ReadResult,
    name: str,
    department: str | None,
    report: IngestReport,
) -> None:
    cache: dict[str, str] = {}
    for n, row in enumerate(result.rows, start=2):
        try:
            done = import_item(
                session, actor=actor, item=sheet_item(row), department=department, cache=cache
            )
            report.entries.append({"input": name, "row": n, **done})
        except KBError as exc:
            report.rejected.append(
                {"input": name, "row": n, "error": exc.code, "detail": exc.message}
            )


def ingest_paths(
    session: Session,
    *,
    actor: Actor,
    paths: list[Path],
    department: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: bool = False,
) -> IngestReport:
    """Ingest files (directories are walked); every input ends in the report."""
    report = IngestReport()
    resolver = resolver_for(session)
    if department:
        department = departments.resolve(session, name_or_code=department).code
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(x for x in p.rglob("*") if x.is_file()))
        else:
            files.append(p)
    iterator: Iterable[Path] = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc="导入文件", unit="个")
    for path in iterator:
        result = read_file(path, max_bytes=max_bytes)
        if isinstance(result, Rejected):
            report.rejected.append(
                {"input": str(path), "error": result.code, "detail": result.message}
            )
            continue
        ingest_result(
            session,
            actor=actor,
            result=result,
            name=path.name,
            department=department,
            report=report,
            resolver=resolver,
        )
    return report


def ingest_upload(
    session: Session,
    *,
    actor: Actor,
    data: bytes,
    filename: str,
    department: str | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> IngestReport:
    """Ingest one uploaded file held in memory."""
    report = IngestReport()
    result = read_bytes(data, filename, max_bytes=max_bytes)
    if isinstance(result, Rejected):
        report.rejected.append({"input": filename, "error": result.code, "detail": result.message})
        return report
    ingest_result(
        session,
        actor=actor,
        result=result,
        name=filename,
        department=department,
        report=report,
        resolver=resolver_for(session),
    )
    return report
