"""Read uploaded policy files (txt/md, docx, pdf, xlsx, csv, jsonl) into text, rows or documents.

`read_file` never raises on bad input: it returns a `Rejected` with a stable code and a Chinese
reason the operator can act on.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

DEFAULT_MAX_BYTES = 20 * 1024 * 1024

Kind = Literal["text", "table", "jsonl"]

TEXT_EXTENSIONS = {".txt", ".md", ".markdown"}
SUPPORTED_EXTENSIONS = TEXT_EXTENSIONS | {".docx", ".pdf", ".xlsx", ".xlsm", ".csv", ".jsonl"}

MESSAGES: dict[str, str] = {
    "not_found": "文件不存在或无法打开",
    "empty_file": "文件为空，没有可导入的内容",
    "too_large": "文件超过大小上限（{limit}），请拆分后再上传",
    "unsupported_format": (
        "不支持的文件格式（{ext}），请上传 txt、md、docx、pdf、xlsx、csv 或 jsonl 文件"
    ),
    "legacy_office": "不支持旧版 Office 格式（{ext}），请另存为 .docx 或 .xlsx 后再上传",
    "not_text": "文件不是可识别的文本（可能是二进制文件或编码无法识别），请检查文件内容",
    "corrupt_file": "文件已损坏或格式不正确，无法读取，请重新导出后上传",
    "scanned_pdf": "扫描件无文字层，请提供文字版或先OCR",
    "encrypted_pdf": "PDF 文件已加密，请解除密码保护后再上传",
    "no_rows": "表格中没有可读取的数据行",
    "invalid_jsonl": "JSONL 文件中没有任何一行有效记录",
    "read_failed": "读取文件时发生错误，请检查文件后重试",
}


@dataclass(frozen=True)
class LineIssue:
    """A problem with one line of a .jsonl (or a row of a sheet); the good lines are kept."""

    line: int
    code: str
    message: str


@dataclass
class ReadResult:
    """What a file contained: `text` for documents, `rows` for sheets, `documents` for jsonl."""

    kind: Kind
    source_format: str  # txt | md | docx | pdf | xlsx | csv | jsonl
    text: str = ""
    rows: list[dict[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    encoding: str | None = None
    issues: list[LineIssue] = field(default_factory=list)
    pages: int | None = None
    sheets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rejected:
    """A file that cannot be imported: stable `code`, Chinese `message`."""

    code: str
    message: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Always False (ReadResult has no `ok`; use isinstance)."""
        return False


class ReadError(Exception):
    """Raised inside the readers; `read_file` turns it into `Rejected`."""

    def __init__(self, code: str, message: str | None = None, detail: str = "", **fmt: str) -> None:
        self.code = code
        self.message = message or MESSAGES.get(code, code).format(**fmt)
        self.detail = detail
        super().__init__(f"{code}: {self.message}")


def _human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.0f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} 字节"


# ------------------------------------------------------------------------------------------------
# text decoding

_BOMS: list[tuple[bytes, str]] = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]
_PLAUSIBLE_MIN = 0.9


def _plausible_char(ch: str) -> bool:
    o = ord(ch)
    if ch in "\t\n\r\f":
        return True
    if 0x20 <= o < 0x7F:
        return True
    if o < 0x20 or 0x7F <= o < 0xA0:
        return False
    if (
        0xA0 <= o <= 0x52F  # Latin, Greek, Cyrillic
        or 0x2000 <= o <= 0x206F  # general punctuation
        or 0x2100 <= o <= 0x27BF  # letterlike, arrows, math, box, symbols, dingbats
        or 0x2E80 <= o <= 0x2FDF  # CJK radicals
        or 0x3000 <= o <= 0x30FF  # CJK punctuation, kana
        or 0x3100 <= o <= 0x33FF  # bopomofo, enclosed CJK, compatibility
        or 0x3400 <= o <= 0x4DBF  # CJK ext A
        or 0x4E00 <= o <= 0x9FFF  # CJK unified
        or 0xF900 <= o <= 0xFAFF  # CJK compatibility
        or 0xFE30 <= o <= 0xFE4F  # CJK compatibility forms
        or 0xFF00 <= o <= 0xFFEF  # full/half width forms
        or 0x20000 <= o <= 0x3134F  # CJK ext B..G
        or 0x1F300 <= o <= 0x1FAFF  # emoji
        or o == 0xFEFF
    ):
        return unicodedata.category(ch) not in ("Cn", "Co", "Cs")
    return False


def plausibility(text: str, sample: int = 20000) -> float:
    """Share of characters that look like real (Chinese/Latin) text, 0..1."""
    chunk = text[:sample]
    chars = [c for c in chunk if not c.isspace() or c in "\t\n\r\f"]
    if not chars:
        return 1.0
    good = sum(1 for c in chars if _plausible_char(c))
    return good / len(chars)


def _try_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 / GB18030 / UTF-16 (BOM or not); raise ReadError('not_text')."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _try_decode(data[len(bom) :], encoding)
            if text is not None and plausibility(text) >= _PLAUSIBLE_MIN:
                return text, encoding + ("-sig" if encoding == "utf-8" else "")
            raise ReadError("not_text", detail=f"BOM {encoding} but undecodable")
    candidates: list[tuple[float, int, str, str]] = []
    utf8 = _try_decode(data, "utf-8")
    if utf8 is not None:
        score = plausibility(utf8)
        if score >= _PLAUSIBLE_MIN:
            return utf8, "utf-8"
        candidates.append((score, 0, utf8, "utf-8"))
    trials = ["gb18030"]
    if len(data) % 2 == 0:
        # NUL bytes on one side betray BOM-less UTF-16 with ASCII content
        even_nul = data[0::2].count(0)
        odd_nul = data[1::2].count(0)
        trials = (
            ["utf-16-le", "utf-16-be", "gb18030"]
            if odd_nul > even_nul
            else ["utf-16-be", "utf-16-le", "gb18030"]
            if even_nul > odd_nul
            else ["gb18030", "utf-16-le", "utf-16-be"]
        )
    for rank, encoding in enumerate(trials, start=1):
        text = _try_decode(data, encoding)
        if text is None:
            continue
        candidates.append((plausibility(text), -rank, text, encoding))
    if candidates:
        score, _, text, encoding = max(candidates, key=lambda c: (c[0], c[1]))
        if score >= _PLAUSIBLE_MIN and "\x00" not in text:
            return text, encoding
    # last resort: let charset-normalizer try other legacy encodings (Big5, cp1252 …)
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200000]).best()
    except Exception:  # charset-normalizer must never break reading
        best = None
    if best is not None and best.encoding:
        text = _try_decode(data, best.encoding)
        if text is not None and "\x00" not in text and plausibility(text) >= _PLAUSIBLE_MIN:
            return text, best.encoding
    raise ReadError("not_text")


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


# ------------------------------------------------------------------------------------------------
# formats


def _read_text(data: bytes, fmt: str) -> ReadResult:
    text, encoding = decode_text(data)
    text = _normalise_newlines(text)
    if not text.strip():
        raise ReadError("empty_file")
    return ReadResult(kind="text", source_format=fmt, text=text, encoding=encoding)


def _read_docx(data: bytes) -> ReadResult:
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
    except ImportError as exc:  # pragma: no cover - dependency is declared
        raise ReadError("read_failed", detail=str(exc)) from exc
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise ReadError("corrupt_file", detail=type(exc).__name__) from exc
    lines: list[str] = []
    try:
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                lines.append(block.text)
            elif isinstance(block, Table):
                lines.extend(_docx_table_lines(block))
                lines.append("")
    except Exception as exc:
        raise ReadError("corrupt_file", detail=type(exc).__name__) from exc
    text = "\n".join(lines).strip("\n")
    if not text.strip():
        raise ReadError("empty_file")
    return ReadResult(kind="text", source_format="docx", text=text)


def _docx_table_lines(table: Any) -> list[str]:
    out: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous: Any = None
        for cell in row.cells:
            # merged cells repeat the same object; keep it once
            if previous is not None and cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        out.append("\t".join(cells))
    return out


def _read_pdf(data: bytes) -> ReadResult:
    try:
        from pypdf import PdfReader
        from pypdf.errors import FileNotDecryptedError, PdfReadError
    except ImportError as exc:  # pragma: no cover
        raise ReadError("read_failed", detail=str(exc)) from exc
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise ReadError("encrypted_pdf")
            except ReadError:
                raise
            except Exception as exc:
                raise ReadError("encrypted_pdf", detail=type(exc).__name__) from exc
        pages = []
        for page in reader.pages:
            pages.append(page.extract_text() or "")
    except ReadError:
        raise
    except FileNotDecryptedError as exc:
        raise ReadError("encrypted_pdf") from exc
    except (PdfReadError, Exception) as exc:
        raise ReadError("corrupt_file", detail=type(exc).__name__) from exc
    text = _normalise_newlines("\n\n".join(p.strip("\n") for p in pages))
    visible = sum(1 for c in text if not c.isspace())
    if visible < max(5, len(pages)):
        raise ReadError("scanned_pdf")
    return ReadResult(kind="text", source_format="pdf", text=text, pages=len(pages))


def _cell_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


_HEADER_HINTS = (
    "序号",
    "标题",
    "问题",
    "答案",
    "内容",
    "事项",
    "单位",
    "部门",
    "时限",
    "时间",
    "名称",
    "备注",
    "文号",
    "日期",
    "类别",
    "分类",
    "条件",
    "材料",
    "流程",
    "依据",
    "电话",
    "地址",
)


def detect_header(rows: Sequence[Sequence[str]], scan: int = 15) -> int:
    """Index of the header row among the first rows (skips title/blank rows)."""
    head = [list(r) for r in rows[:scan]]
    if not head:
        return 0
    widest = max(sum(1 for c in r if c.strip()) for r in head)
    best_idx = 0
    best_score = -1.0
    for idx, row in enumerate(head):
        filled = [c for c in row if c.strip()]
        if len(filled) < max(2, (widest + 1) // 2):
            continue
        numeric = sum(1 for c in filled if _looks_numeric(c))
        hints = sum(1 for c in filled if any(h in c for h in _HEADER_HINTS))
        distinct = len(set(filled)) == len(filled)
        score: float = len(filled) - 2 * numeric + 2 * hints + (1 if distinct else -2)
        score -= idx * 0.1
        if score > best_score:
            best_idx, best_score = idx, score
    return best_idx


def _looks_numeric(s: str) -> bool:
    s = s.strip().replace(",", "")
    try:
        float(s)
    except ValueError:
        return False
    return True


def _header_names(row: Sequence[str]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(row):
        name = "".join(cell.split()) or f"列{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        names.append(name)
    return names


def rows_to_records(
    raw_rows: Sequence[Sequence[str]],
) -> tuple[list[str], list[dict[str, str]]]:
    """Header detection + rows as dicts keyed by header; empty rows dropped."""
    rows: list[list[str]] = [list(r) for r in raw_rows]
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        return [], []
    header_idx = detect_header(rows)
    width = max(len(r) for r in rows)
    header = rows[header_idx] + [""] * (width - len(rows[header_idx]))
    columns = _header_names(header)
    # drop trailing unnamed empty columns
    while (
        columns
        and columns[-1].startswith("列")
        and not any(
            len(r) >= len(columns) and r[len(columns) - 1].strip() for r in rows[header_idx + 1 :]
        )
    ):
        columns.pop()
    records: list[dict[str, str]] = []
    for row in rows[header_idx + 1 :]:
        if not any(c.strip() for c in row):
            continue
        cells = row + [""] * (len(columns) - len(row))
        record = {col: cells[i].strip() for i, col in enumerate(columns)}
        for extra in cells[len(columns) :]:
            if extra.strip():
                record[f"列{len(record) + 1}"] = extra.strip()
        records.append(record)
    return columns, records


def _table_text(columns: list[str], rows: Iterable[dict[str, str]]) -> str:
    lines = ["\t".join(columns)]
    for row in rows:
        lines.append("\t".join(" ".join(row.get(c, "").split()) for c in columns))
    return "\n".join(lines)


def _read_xlsx(data: bytes, all_sheets: bool) -> ReadResult:
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover
        raise ReadError("read_failed", detail=str(exc)) from exc
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ReadError("corrupt_file", detail=type(exc).__name__) from exc
    try:
        sheets = workbook.worksheets if all_sheets else workbook.worksheets[:1]
        all_rows: list[dict[str, str]] = []
        all_columns: list[str] = []
        names: list[str] = []
        for sheet in sheets:
            raw = [[_cell_str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            columns, records = rows_to_records(raw)
            if not records:
                continue
            names.append(sheet.title)
            for col in columns:
                if col not in all_columns:
                    all_columns.append(col)
            for record in records:
                if all_sheets:
                    record["_sheet"] = sheet.title
                all_rows.append(record)
    except Exception as exc:
        raise ReadError("corrupt_file", detail=type(exc).__name__) from exc
    finally:
        with contextlib.suppress(Exception):
            workbook.close()
    if not all_rows:
        raise ReadError("no_rows")
    return ReadResult(
        kind="table",
        source_format="xlsx",
        rows=all_rows,
        columns=all_columns,
        text=_table_text(all_columns, all_rows),
        sheets=names,
    )


def _read_csv(data: bytes) -> ReadResult:
    text, encoding = decode_text(data)
    text = _normalise_newlines(text)
    if not text.strip():
        raise ReadError("empty_file")
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|，")
    except csv.Error:
        dialect = csv.excel_tab if sample.count("\t") > sample.count(",") else csv.excel
    try:
        raw = [list(r) for r in csv.reader(io.StringIO(text), dialect)]
    except csv.Error as exc:
        raise ReadError("corrupt_file", detail=str(exc)) from exc
    columns, records = rows_to_records(raw)
    if not records:
        raise ReadError("no_rows")
    return ReadResult(
        kind="table",
        source_format="csv",
        rows=records,
        columns=columns,
        encoding=encoding,
        text=_table_text(columns, records),
    )


_JSONL_REQUIRED = ("doc_id", "title", "text")
_JSONL_OPTIONAL = ("doc_no", "department", "issued")


def _read_jsonl(data: bytes) -> ReadResult:
    text, encoding = decode_text(data)
    text = _normalise_newlines(text)
    if not text.strip():
        raise ReadError("empty_file")
    documents: list[dict[str, Any]] = []
    issues: list[LineIssue] = []
    seen_ids: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            issues.append(LineIssue(number, "invalid_json", f"第{number}行不是合法的 JSON"))
            continue
        if not isinstance(obj, dict):
            issues.append(LineIssue(number, "not_object", f"第{number}行不是 JSON 对象"))
            continue
        missing = [
            k for k in _JSONL_REQUIRED if not isinstance(obj.get(k), str) or not obj[k].strip()
        ]
        if missing:
            issues.append(
                LineIssue(
                    number, "missing_field", f"第{number}行缺少字段或字段为空：{'、'.join(missing)}"
                )
            )
            continue
        doc_id = obj["doc_id"].strip()
        if doc_id in seen_ids:
            issues.append(LineIssue(number, "duplicate_id", f"第{number}行 doc_id 重复：{doc_id}"))
            continue
        bad_optional = [
            k for k in _JSONL_OPTIONAL if obj.get(k) is not None and not isinstance(obj[k], str)
        ]
        if bad_optional:
            issues.append(
                LineIssue(
                    number, "bad_field", f"第{number}行字段类型错误：{'、'.join(bad_optional)}"
                )
            )
            continue
        seen_ids.add(doc_id)
        doc: dict[str, Any] = {"doc_id": doc_id, "title": obj["title"], "text": obj["text"]}
        for key in _JSONL_OPTIONAL:
            doc[key] = obj.get(key) or None
        doc["line"] = number
        documents.append(doc)
    if not documents:
        raise ReadError("invalid_jsonl", detail=f"{len(issues)} bad lines")
    return ReadResult(
        kind="jsonl", source_format="jsonl", documents=documents, issues=issues, encoding=encoding
    )


# ------------------------------------------------------------------------------------------------
# entry points


def _dispatch(data: bytes, ext: str, all_sheets: bool) -> ReadResult:
    if ext in TEXT_EXTENSIONS:
        return _read_text(data, "md" if ext in (".md", ".markdown") else "txt")
    if ext == ".docx":
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise ReadError("corrupt_file")
        return _read_docx(data)
    if ext == ".pdf":
        if b"%PDF" not in data[:1024]:
            raise ReadError("corrupt_file")
        return _read_pdf(data)
    if ext in (".xlsx", ".xlsm"):
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise ReadError("corrupt_file")
        return _read_xlsx(data, all_sheets)
    if ext == ".csv":
        return _read_csv(data)
    if ext == ".jsonl":
        return _read_jsonl(data)
    raise ReadError("unsupported_format", ext=ext or "无扩展名")


def _check_ext(ext: str) -> None:
    if ext in (".doc", ".xls", ".wps", ".et"):
        raise ReadError("legacy_office", ext=ext)
    if ext not in SUPPORTED_EXTENSIONS:
        raise ReadError("unsupported_format", ext=ext or "无扩展名")


def read_bytes(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    all_sheets: bool = False,
) -> ReadResult | Rejected:
    """Read an upload held in memory; `filename` decides the format by its extension."""
    ext = Path(filename or "").suffix.lower()
    try:
        _check_ext(ext)
        if len(data) > max_bytes:
            raise ReadError("too_large", limit=_human_size(max_bytes))
        if not data:
            raise ReadError("empty_file")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _dispatch(data, ext, all_sheets)
    except ReadError as err:
        return Rejected(err.code, err.message, err.detail)
    except (MemoryError, RecursionError) as exc:
        return Rejected("read_failed", MESSAGES["read_failed"], type(exc).__name__)
    except Exception as exc:  # never crash on any input
        return Rejected("read_failed", MESSAGES["read_failed"], type(exc).__name__)


def read_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    all_sheets: bool = False,
) -> ReadResult | Rejected:
    """Read a file from disk; oversize files are rejected from their size without reading."""
    p = Path(path)
    ext = p.suffix.lower()
    try:
        _check_ext(ext)
        try:
            size = p.stat().st_size
        except OSError as exc:
            raise ReadError("not_found", detail=type(exc).__name__) from exc
        if not p.is_file():
            raise ReadError("not_found")
        if size > max_bytes:
            raise ReadError("too_large", limit=_human_size(max_bytes))
        if size == 0:
            raise ReadError("empty_file")
        try:
            with p.open("rb") as fh:
                data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise ReadError("not_found", detail=type(exc).__name__) from exc
        if len(data) > max_bytes:
            raise ReadError("too_large", limit=_human_size(max_bytes))
    except ReadError as err:
        return Rejected(err.code, err.message, err.detail)
    return read_bytes(data, p.name, max_bytes=max_bytes, all_sheets=all_sheets)
