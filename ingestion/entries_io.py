"""Entry import (JSONL, CSV/XLSX FAQ sheets) and export (JSONL that re-imports to one state)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from kb_service import departments, entries
from kb_service.errors import KBError
from kb_service.models import Department, Entry, EntryStatus
from kb_service.principals import Actor

# Column names a department's FAQ sheet may use, mapped to entry fields.
HEADERS: dict[str, str] = {
    "external_id": "external_id",
    "外部编号": "external_id",
    "编号": "external_id",
    "department": "department",
    "单位": "department",
    "部门": "department",
    "承办单位": "department",
    "责任单位": "department",
    "question": "question",
    "标准问题": "question",
    "问题": "question",
    "similar_questions": "similar_questions",
    "相似问法": "similar_questions",
    "相似问题": "similar_questions",
    "answer": "answer",
    "答复口径": "answer",
    "答案": "answer",
    "答复": "answer",
    "category": "category",
    "分类": "category",
    "tags": "tags",
    "标签": "tags",
    "region": "region",
    "适用地区": "region",
    "地区": "region",
    "doc_no": "doc_no",
    "文号": "doc_no",
    "来源文号": "doc_no",
    "source_title": "source_title",
    "来源文件": "source_title",
    "文件名称": "source_title",
    "locator": "locator",
    "条款": "locator",
    "来源条款": "locator",
    "valid_from": "valid_from",
    "生效日期": "valid_from",
    "valid_to": "valid_to",
    "失效日期": "valid_to",
    "review_interval_days": "review_interval_days",
    "复核周期": "review_interval_days",
    "status": "status",
    "状态": "status",
}
KEEP_STATUS = {"draft", "in_review", "published"}
LIST_SPLIT = re.compile(r"[;；|\n]+")


@dataclass
class ImportReport:
    """Accepted and rejected rows with reasons."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready report."""
        counts: dict[str, int] = {}
        for row in self.accepted:
            counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
        counts["rejected"] = len(self.rejected)
        return {"counts": counts, "accepted": self.accepted, "rejected": self.rejected}


def _rows_from_sheet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".csv":
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise KBError("file_encoding", "无法识别 CSV 文件编码（支持 UTF-8 与 GB18030）")
        reader = csv.DictReader(io.StringIO(text))
        for n, row in enumerate(reader, start=2):
            yield n, dict(row)
        return
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise KBError("corrupt_file", f"无法打开表格文件：{exc}") from exc
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
    for n, values in enumerate(rows, start=2):
        if values is None or all(v is None or str(v).strip() == "" for v in values):
            continue
        yield n, {h: v for h, v in zip(header, values, strict=False) if h}
    wb.close()


def sheet_item(row: dict[str, Any]) -> dict[str, Any]:
    """One FAQ-sheet row as an entry payload (Chinese headers mapped, lists split)."""
    item: dict[str, Any] = {}
    for key, value in row.items():
        name = HEADERS.get(str(key).strip())
        if name is None or value is None or str(value).strip() == "":
            continue
        item[name] = value.isoformat()[:10] if hasattr(value, "isoformat") else str(value).strip()
    for name in ("similar_questions", "tags"):
        if name in item:
            item[name] = [p.strip() for p in LIST_SPLIT.split(item[name]) if p.strip()]
    source: dict[str, Any] = {
        k: item.pop(k) for k in ("doc_no", "source_title", "locator") if k in item
    }
    if source:
        if "source_title" in source:
            source["title"] = source.pop("source_title")
        item["sources"] = [source]
    if "review_interval_days" in item:
        with contextlib.suppress(ValueError):
            item["review_interval_days"] = int(float(item["review_interval_days"]))
    return item


def read_items(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(row number, item or None, reason if unreadable) for every row of a file."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for n, line in enumerate(path.read_text("utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, None, f"不是合法的 JSON：{exc.msg}"
                continue
            if not isinstance(obj, dict):
                yield n, None, "每行应为一个 JSON 对象"
                continue
            yield n, obj, None
        return
    if suffix in (".csv", ".xlsx"):
        for n, row in _rows_from_sheet(path):
            yield n, sheet_item(row), None
        return
    raise KBError("unsupported_format", f"不支持的文件格式“{suffix}”：请使用 JSONL、CSV 或 XLSX")


def _resolve_department(session: Session, name: str, cache: dict[str, str]) -> str:
    if name not in cache:
        cache[name] = departments.resolve(session, name_or_code=name).code
    return cache[name]


def import_item(
    session: Session,
    *,
    actor: Actor,
    item: dict[str, Any],
    department: str | None,
    cache: dict[str, str],
) -> dict[str, Any]:
    """Push one imported row (a dict of entry fields); raises KBError with the reason."""
    dept_name = department or item.pop("department", None)
    item.pop("department", None)
    status = item.pop("status", None)
    item.pop("id", None)
    item.pop("version", None)
    ext = item.pop("external_id", None) or None
    if not dept_name:
        raise KBError("department_required", "缺少所属单位（单位/部门列或 --department）")
    code = _resolve_department(session, str(dept_name), cache)
    if ext is None:
        raise KBError("external_id_required", "缺少外部编号（外部编号/编号列）")
    content = entries.parse_content(item)
    target = EntryStatus(status) if status in KEEP_STATUS else None
    with session.begin_nested():
        result = entries.push(
            session,
            actor=actor,
            department_code=code,
            external_id=str(ext),
            content=content,
            target=target,
        )
        if status == EntryStatus.retired and result.entry_id:
            entries.retire(session, actor=actor, entry_id=result.entry_id, reason="导入：已下线")
    return {
        "external_id": ext,
        "department": code,
        "outcome": result.outcome,
        "entry_id": result.entry_id,
    }


def import_file(
    session: Session, *, actor: Actor, path: Path, department: str | None = None
) -> ImportReport:
    """Import entries from a file; every row succeeds or is reported, none blocks the others."""
    report = ImportReport()
    cache: dict[str, str] = {}
    for row_no, item, reason in read_items(path):
        if item is None:
            report.rejected.append({"row": row_no, "error": "row_invalid", "detail": reason})
            continue
        ext = item.get("external_id")
        try:
            done = import_item(session, actor=actor, item=item, department=department, cache=cache)
            report.accepted.append({"row": row_no, **done})
        except KBError as exc:
            report.rejected.append(
                {"row": row_no, "external_id": ext, "error": exc.code, "detail": exc.message}
            )
    return report


def export_entries(session: Session) -> Iterator[dict[str, Any]]:
    """Every entry as one JSON object (re-importable: department, external_id, content, status).

    Entries created without a department id get `kb-<id>` so a re-import keys them stably.
    """
    depts = {d.id: d.code for d in session.exec(select(Department)).all()}
    for entry in session.exec(select(Entry).order_by(col(Entry.id))).all():
        data = entries.content_of(entry)
        data["valid_from"] = entry.valid_from.isoformat() if entry.valid_from else None
        data["valid_to"] = entry.valid_to.isoformat() if entry.valid_to else None
        yield {
            "external_id": entry.external_id or f"kb-{entry.id}",
            "department": depts[entry.department_id],
            **data,
            "status": str(entry.status),
        }
