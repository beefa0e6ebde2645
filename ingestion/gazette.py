"""Split gazette issues into documents and documents into citable passages (pure, no storage).

A gazette issue (公报) holds a cover, a table of contents, an editorial board and then several
documents.  Each document is anchored by its 文号 line (青政办〔2022〕57号) standing alone, with
the title block just above it (or just below it in some scans) and a signature + date line after
the notice text.  Attachments (the measures a notice 印发, a 附件 task list) belong to the notice.

Passages follow the outline: 章 / 第X条 / （一） items, 一、/（一）/1. outlines and table rows of
task lists (序号 工作内容 责任单位 完成时限).  Every passage keeps the exact source slice
(`original_text`, `span`) and a cleaned reading text (`text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from ingestion.docno import find_doc_nos, is_doc_no_line, normalize_doc_no, own_doc_no

if TYPE_CHECKING:
    from ingestion.departments import DepartmentResolver

# ---------------------------------------------------------------------------------------------
# character classes and cleaning

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65“”‘’《》〈〉—…·"
_WS = " \t\u00a0\u3000\u2002\u2003\u2009\u200b\ufeff"
_TAG_RE = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]{0,200})?/?>")
_SPACE_AROUND_CJK = re.compile(
    rf"(?<=[{_CJK}{_CJK_PUNCT}])[{_WS}]+(?=[{_CJK}{_CJK_PUNCT}0-9A-Za-z%(])"
    rf"|(?<=[{_CJK}{_CJK_PUNCT}0-9A-Za-z%)])[{_WS}]+(?=[{_CJK}{_CJK_PUNCT}])"
)
_MULTI_SPACE = re.compile(rf"[{_WS}]+")
_FULLWIDTH_ALNUM = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}
_FULLWIDTH_ALNUM.update({c: c - 0xFEE0 for c in range(0xFF21, 0xFF3B)})
_FULLWIDTH_ALNUM.update({c: c - 0xFEE0 for c in range(0xFF41, 0xFF5B)})
_FULLWIDTH_ALNUM.update({0xFF05: 0x25, 0xFF0E: 0x2E})  # ％ ．
_TRADITIONAL = {ord("門"): "门"}
_HALF_PARENS = re.compile(r"\(([^()\n]{0,80})\)")
_HALF_PUNCT = re.compile(rf"(?<=[{_CJK}）”》])[{_WS}]*([,:;?!])[{_WS}]*")
_HALF_TO_FULL = {",": "，", ":": "：", ";": "；", "?": "？", "!": "！"}
_END_PUNCT = "。！？；：…”」』）)!?;:"

_CN_NUM = "一二三四五六七八九十百零〇两"
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
_CN_DIGITS.update({"〇": 0, "两": 2})


def _cjk_or(c: str) -> bool:
    return bool(re.match(rf"[{_CJK}{_CJK_PUNCT}]", c))


def _fix_parens(match: re.Match[str]) -> str:
    inner = match.group(1)
    start = match.start()
    source = match.string
    before = source[start - 1] if start > 0 else ""
    if re.search(rf"[{_CJK}]", inner) or (before and _cjk_or(before)):
        return f"（{inner.strip()}）"
    return match.group(0)


def clean_line(line: str) -> str:
    """Clean one line for reading: tags, markdown, widths, CJK spacing, stray 門."""
    line = _TAG_RE.sub("", line).replace("**", "").replace("__", "")
    line = re.sub(r"^\s*#{1,6}\s*", "", line)
    line = re.sub(r"^\s*[-*+]\s+", "", line)
    line = line.translate(_FULLWIDTH_ALNUM).translate(_TRADITIONAL)
    line = _HALF_PARENS.sub(_fix_parens, line)
    line = _HALF_PUNCT.sub(lambda m: _HALF_TO_FULL[m.group(1)], line)
    line = _SPACE_AROUND_CJK.sub("", line)
    line = _MULTI_SPACE.sub(" ", line).strip()
    line = re.sub(rf"^(第[{_CN_NUM}\d]{{1,6}}[条章节])(?=[^\s，。、：:）)])", r"\1 ", line)
    return line


def _starts_with_marker(line: str) -> bool:
    return _match_marker(line) is not None


def clean_text(text: str) -> str:
    """Reading text: cleaned lines, lines broken mid-sentence joined, paragraphs on new lines."""
    out: list[str] = []
    prev_heading = False
    for raw in text.splitlines():
        line = clean_line(raw)
        if not line:
            continue
        heading = raw.lstrip().startswith("#") and not out
        if out:
            prev = out[-1]
            if (
                not prev_heading
                and prev[-1] not in _END_PUNCT
                and len(prev) >= 20
                and not _starts_with_marker(line)
                and not _DOC_TYPE_RE.search(prev)
                and not is_doc_no_line(prev)
                and not is_doc_no_line(line)
                and not _is_date_line(line)
            ):
                out[-1] = prev + line
                continue
        out.append(line)
        prev_heading = heading or (raw.lstrip().startswith("#") and _starts_with_marker(line))
    return "\n".join(_fix_lone_parens(line) for line in out)


_LONE_CLOSE = re.compile(rf"(?<=[{_CJK}{_CJK_PUNCT}])[{_WS}]*\)")
_LONE_OPEN = re.compile(rf"\([{_WS}]*(?=[{_CJK}])")


def _fix_lone_parens(line: str) -> str:
    """An unmatched half-width bracket next to Chinese text becomes full width."""
    if ")" in line and line.count("(") < line.count(")"):
        line = _LONE_CLOSE.sub("）", line)
    if "(" in line and line.count("(") > line.count(")"):
        line = _LONE_OPEN.sub("（", line)
    return line


def clean_title(text: str) -> str:
    """Title form: cleaned lines joined without separators, all CJK-adjacent spaces dropped."""
    parts = [clean_line(line) for line in text.splitlines()]
    joined = "".join(p for p in parts if p)
    return _SPACE_AROUND_CJK.sub("", joined).strip()


def cn_to_int(s: str) -> int | None:
    """Chinese or Arabic numeral (一, 十四, 二十三, 一百零五, 12) to int."""
    s = s.strip()
    if not s:
        return None
    if s.isdigit():
        try:
            return int(s)
        except ValueError:
            return None
    total = 0
    current = 0
    for ch in s:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


# ---------------------------------------------------------------------------------------------
# outline markers

_MARKER_KINDS: list[tuple[str, int, re.Pattern[str]]] = [
    ("chapter", 2, re.compile(rf"第[{_WS}]*([{_CN_NUM}]{{1,4}}|\d{{1,3}})[{_WS}]*章")),
    ("section", 3, re.compile(rf"第[{_WS}]*([{_CN_NUM}]{{1,4}}|\d{{1,3}})[{_WS}]*节")),
    ("article", 4, re.compile(rf"第[{_WS}]*([{_CN_NUM}]{{1,6}}|\d{{1,3}})[{_WS}]*条")),
    ("l1", 5, re.compile(rf"([{_CN_NUM}]{{1,3}})[{_WS}]*[、．]")),
    ("l2", 6, re.compile(rf"[（(][{_WS}]*([{_CN_NUM}]{{1,3}})[{_WS}]*[)）]")),
    ("l3", 7, re.compile(rf"(\d{{1,2}})[{_WS}]*[、．.](?![\d.．])")),
    ("l4", 8, re.compile(rf"[（(][{_WS}]*(\d{{1,2}})[{_WS}]*[)）]")),
    ("l5", 9, re.compile(r"([①-⑳])")),
]
_RANK = {kind: rank for kind, rank, _ in _MARKER_KINDS}
_LEADING_NOISE_RE = re.compile(rf"^(?:[{_WS}]|#|\*\*|</?b>|<br\s*/?>)+")


@dataclass(frozen=True)
class _Marker:
    kind: str
    number: int
    label: str  # canonical: 第十四条, 一、, （一）, 1., （1）, ①
    end: int  # offset just after the marker inside the matched string


def _canonical_label(kind: str, raw_num: str, number: int) -> str:
    if kind == "chapter":
        return f"第{raw_num}章"
    if kind == "section":
        return f"第{raw_num}节"
    if kind == "article":
        return f"第{raw_num}条"
    if kind == "l1":
        return f"{raw_num}、"
    if kind == "l2":
        return f"（{raw_num}）"
    if kind == "l3":
        return f"{number}."
    if kind == "l4":
        return f"（{number}）"
    return raw_num


def _match_marker(s: str, pos: int = 0) -> _Marker | None:
    noise = _LEADING_NOISE_RE.match(s, pos)
    if noise:
        pos = noise.end()
    for kind, _rank, pattern in _MARKER_KINDS:
        m = pattern.match(s, pos)
        if m is None:
            continue
        raw = re.sub(rf"[{_WS}]", "", m.group(1))
        if kind == "l5":
            number = ord(raw) - ord("①") + 1
        else:
            parsed = cn_to_int(raw)
            if parsed is None or parsed <= 0:
                continue
            number = parsed
        if kind == "l1" and number > 30:
            continue
        if kind == "l3":
            # "1." followed by text, not a decimal or a date like 2022.5
            rest = s[m.end() : m.end() + 1]
            if not rest or rest.isdigit():
                continue
        return _Marker(kind, number, _canonical_label(kind, raw, number), m.end())
    return None


# ---------------------------------------------------------------------------------------------
# lines


@dataclass(frozen=True)
class _Line:
    start: int
    end: int  # without the line break
    raw: str

    @property
    def plain(self) -> str:
        return _plain(self.raw)


def _plain(raw: str) -> str:
    s = _TAG_RE.sub("", raw).replace("**", "")
    s = re.sub(r"^\s*#{1,6}\s*", "", s)
    s = re.sub(r"^\s*[-*+]\s+", "", s)
    return s.strip()


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    pos = 0
    for chunk in text.splitlines(keepends=True):
        body = chunk.rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        out.append(_Line(pos, pos + len(body), body))
        pos += len(chunk)
    return out


def _is_heading_format(raw: str) -> bool:
    s = raw.strip()
    return s.startswith("#") or (s.startswith("**") and s.rstrip().endswith("**"))


_DOC_TYPE_WORDS = (
    "任务清单",
    "责任清单",
    "工作方案",
    "实施方案",
    "行动方案",
    "实施细则",
    "管理办法",
    "暂行办法",
    "实施意见",
    "指导意见",
    "工作要点",
    "若干措施",
    "管理规定",
    "暂行规定",
    "通知",
    "决定",
    "意见",
    "办法",
    "方案",
    "清单",
    "规定",
    "细则",
    "要点",
    "措施",
    "规则",
    "条例",
    "计划",
    "指南",
    "目录",
    "标准",
    "通报",
    "批复",
    "公告",
    "通告",
    "规划",
    "纪要",
    "函",
)
_DOC_TYPE_RE = re.compile("(?:" + "|".join(_DOC_TYPE_WORDS) + r")[)）]?$")
_ORG_SUFFIX_RE = re.compile(
    r"(?:人民政府|政府|办公厅|办公室|委员会|委|厅|局|署|院|部|中心|指挥部|领导小组|工作组)$"
)
_DATE_RE = re.compile(
    rf"(\d{{4}})[{_WS}]*年[{_WS}]*(\d{{1,2}})[{_WS}]*月[{_WS}]*(\d{{1,2}})[{_WS}]*日"
)
_CN_DATE_RE = re.compile(
    r"([〇零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日"
)
_SENTENCE_PUNCT = "。，；：,;:！？!?"


def _parse_date(s: str) -> date | None:
    m = _DATE_RE.search(s)
    try:
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m2 = _CN_DATE_RE.search(s)
        if m2:
            year = int("".join(str(_CN_DIGITS[c]) for c in m2.group(1)))
            month = cn_to_int(m2.group(2))
            day = cn_to_int(m2.group(3))
            if month and day:
                return date(year, month, day)
    except (ValueError, KeyError, OverflowError):
        return None
    return None


def _is_date_line(plain: str) -> bool:
    s = re.sub(rf"[{_WS}()（）]", "", plain)
    if not s or len(s) > 16:
        return False
    return bool(_DATE_RE.fullmatch(s) or _CN_DATE_RE.fullmatch(s))


def _is_title_like(line: _Line) -> bool:
    """A line that can belong to a document's title block (above or below its 文号)."""
    plain = line.plain
    if not plain or len(plain) > 90 or "....." in plain or "…" in plain:
        return False
    if any(p in plain for p in "。；;：:") or plain[-1] in _SENTENCE_PUNCT:
        return False
    if _is_date_line(plain) or is_doc_no_line(plain):
        return False
    squashed = re.sub(rf"[{_WS}]", "", plain)
    if "关于" in squashed or _DOC_TYPE_RE.search(squashed):
        return True
    if squashed.endswith("文件") and len(squashed) <= 30:
        return True
    if _ORG_SUFFIX_RE.search(squashed) and len(squashed) <= 30 and "，" not in squashed:
        return True
    return _is_heading_format(line.raw) and len(squashed) <= 40


# ---------------------------------------------------------------------------------------------
# documents


@dataclass
class ParsedDocument:
    """One document found in an issue (or the whole input for a single notice)."""

    title: str
    issuer: str | None
    doc_no: str | None
    issued: date | None
    text: str  # the original slice of the input
    span: tuple[int, int]
    ordinal: int = 0
    doc_nos_cited: list[str] = field(default_factory=list)


def _title_block_before(lines: list[_Line], anchor: int, floor: int) -> int | None:
    """Index of the first line of the title block just above line `anchor`, or None."""
    first: int | None = None
    j = anchor - 1
    taken = 0
    while j >= floor and taken < 6:
        line = lines[j]
        if not line.raw.strip():
            j -= 1
            continue
        if not _is_title_like(line):
            break
        first = j
        taken += 1
        j -= 1
    return first


def _title_block_after(lines: list[_Line], anchor: int, ceiling: int) -> list[int]:
    found: list[int] = []
    j = anchor + 1
    while j < ceiling and len(found) < 4:
        line = lines[j]
        if not line.raw.strip():
            j += 1
            continue
        if not _is_title_like(line):
            break
        found.append(j)
        j += 1
    return found


def _title_from_lines(raw_lines: list[str]) -> tuple[str, str | None]:
    """Return (title, masthead issuer) from title-block lines."""
    masthead: str | None = None
    kept: list[str] = []
    for raw in raw_lines:
        squashed = clean_title(raw)
        if squashed.endswith("文件") and len(squashed) <= 30 and "关于" not in squashed:
            masthead = squashed[: -len("文件")] or None
            continue
        kept.append(raw)
    return clean_title("\n".join(kept)), masthead


def _issuer_from_title(title: str) -> str | None:
    idx = title.find("关于")
    if idx > 0:
        prefix = title[:idx].strip()
        if _ORG_SUFFIX_RE.search(prefix) or len(prefix) <= 30:
            return prefix
    return None


def _signature(lines: list[_Line], lo: int, hi: int) -> tuple[date | None, str | None]:
    """First standalone date line in lines[lo:hi] and the org line just above it."""
    for k in range(lo, hi):
        plain = lines[k].plain
        if _is_date_line(plain):
            issued = _parse_date(plain)
            signer: str | None = None
            m = k - 1
            while m >= lo and not lines[m].raw.strip():
                m -= 1
            if m >= lo:
                candidate = clean_title(lines[m].raw)
                if (
                    candidate
                    and len(candidate) <= 40
                    and not any(p in candidate for p in _SENTENCE_PUNCT)
                ):
                    signer = candidate
            return issued, signer
    return None, None


_INLINE_SIGNATURE_RE = re.compile(
    rf"(?:人民政府|政府|办公厅|办公室|委员会|局|厅|中心|指挥部)[{_WS}]*"
    rf"(\d{{4}}[{_WS}]*年[{_WS}]*\d{{1,2}}[{_WS}]*月[{_WS}]*\d{{1,2}}[{_WS}]*日)"
)


def _single_document(text: str) -> ParsedDocument:
    lines = _lines(text)
    title = ""
    title_idx: int | None = None
    for idx, line in enumerate(lines):
        plain = line.plain
        if plain:
            title_idx = idx
            title = plain
            break
    if title_idx is not None and _is_title_like(lines[title_idx]):
        # a multi-line title block (heading/bold lines) at the top
        block = [lines[title_idx].raw]
        for line in lines[title_idx + 1 : title_idx + 4]:
            if not line.raw.strip():
                break
            if not _is_title_like(line):
                break
            block.append(line.raw)
        title, masthead = _title_from_lines(block)
    else:
        masthead = None
        title = clean_line(re.split(rf"[{_WS}]{{1,}}|。", title, maxsplit=1)[0])[:80]
    issued, signer = _signature(lines, 0, len(lines))
    if issued is None:
        matches = list(_INLINE_SIGNATURE_RE.finditer(text))
        if matches:
            issued = _parse_date(matches[-1].group(1))
    cited = find_doc_nos(text)
    doc_no = None
    for line in lines[:12]:
        if is_doc_no_line(line.raw):
            doc_no = normalize_doc_no(line.raw)
            break
    if doc_no is None:
        doc_no = own_doc_no(text)
    issuer = _issuer_from_title(title) or masthead or signer
    return ParsedDocument(
        title=title,
        issuer=issuer,
        doc_no=doc_no,
        issued=issued,
        text=text,
        span=(0, len(text)),
        ordinal=0,
        doc_nos_cited=cited,
    )


def split_documents(text: str) -> list[ParsedDocument]:
    """Split a gazette issue (or a single notice) into its documents; cover/TOC are dropped."""
    if not text or not text.strip():
        return []
    lines = _lines(text)
    anchors = [i for i, line in enumerate(lines) if is_doc_no_line(line.raw)]
    if not anchors:
        return [_single_document(text)]

    starts: list[int] = []  # first line of each document
    titles: list[list[int]] = []
    floor = 0
    for n, anchor in enumerate(anchors):
        first = _title_block_before(lines, anchor, floor)
        block: list[int] = []
        after: list[int] = []
        if first is not None:
            block = [k for k in range(first, anchor) if lines[k].raw.strip()]
            starts.append(first)
        else:
            starts.append(anchor)
        if not _title_from_lines([lines[k].raw for k in block])[0]:
            ceiling = anchors[n + 1] if n + 1 < len(anchors) else len(lines)
            after = _title_block_after(lines, anchor, ceiling)
        titles.append(block + after)
        floor = anchor + 1

    # with a single 文号 and little before it, the whole input is the document
    if len(anchors) == 1:
        before = text[: lines[starts[0]].start]
        if len(re.sub(r"\s", "", before)) < 200:
            starts[0] = 0

    docs: list[ParsedDocument] = []
    for n, anchor in enumerate(anchors):
        start_off = lines[starts[n]].start if starts[n] > 0 else 0
        if n == 0 and starts[0] == 0:
            start_off = 0
        end_line = starts[n + 1] if n + 1 < len(anchors) else len(lines)
        end_off = lines[end_line].start if end_line < len(lines) else len(text)
        body = text[start_off:end_off]
        title, masthead = _title_from_lines([lines[k].raw for k in titles[n]])
        issued, signer = _signature(lines, anchor + 1, end_line)
        if issued is None:
            matches = list(_INLINE_SIGNATURE_RE.finditer(body))
            if matches:
                issued = _parse_date(matches[-1].group(1))
        issuer = _issuer_from_title(title) or masthead or signer
        if not title:
            title = clean_title(lines[anchor].raw)
        docs.append(
            ParsedDocument(
                title=title,
                issuer=issuer,
                doc_no=normalize_doc_no(lines[anchor].raw),
                issued=issued,
                text=body,
                span=(start_off, end_off),
                ordinal=n,
                doc_nos_cited=find_doc_nos(body),
            )
        )
    return docs


# ---------------------------------------------------------------------------------------------
# passages


@dataclass
class ParsedPassage:
    """A citable slice of a document: one article, item, outline section or table row."""

    ordinal: int
    locator: str
    heading_path: list[str]
    text: str
    original_text: str
    span: tuple[int, int]  # into the document body (ParsedDocument.text)
    kind: str  # preamble | chapter | article | item | outline | table_row | chunk
    section_title: str | None = None  # the attachment / embedded measure this passage is in
    fields: dict[str, str] = field(default_factory=dict)
    department_mentions: list[str] = field(default_factory=list)
    department_codes: list[str] = field(default_factory=list)


_COLUMN_ROLES: list[tuple[str, tuple[str, ...]]] = [
    ("序号", ("序号", "编号")),
    (
        "工作内容",
        (
            "工作内容",
            "任务内容",
            "重点任务",
            "具体任务",
            "主要任务",
            "工作任务",
            "任务举措",
            "工作措施",
            "具体措施",
            "内容",
            "事项",
            "任务",
        ),
    ),
    (
        "责任单位",
        (
            "责任单位",
            "牵头单位",
            "责任部门",
            "主责单位",
            "牵头部门",
            "实施单位",
            "责任主体",
        ),
    ),
    ("配合单位", ("配合单位", "配合部门")),
    ("完成时限", ("完成时限", "完成时间", "时间节点", "时限要求", "进度安排", "时限")),
    ("备注", ("备注",)),
]
_COLUMN_NAME_RE = re.compile(
    "|".join(
        sorted({re.escape(n) for _, names in _COLUMN_ROLES for n in names}, key=len, reverse=True)
    )
)
_DEADLINE_RE = re.compile(
    rf"(?:\d{{4}}[{_WS}]*年[{_WS}]*(?:\d{{1,2}}[{_WS}]*月)?[^{_WS}]{{0,24}}"
    rf"|长期坚持|长期推进|持续推进|持续开展|[^{_WS}]{{0,8}}持续[^{_WS}]{{0,6}})$"
)
_DEPT_HINT_RE = re.compile(r"牵头|负责|配合|厅|局|委|办|政府|部门|单位|中心|小组")


def _column_role(name: str) -> str:
    for role, names in _COLUMN_ROLES:
        if name in names:
            return role
    return name


def _table_header(plain: str) -> list[str] | None:
    squashed = re.sub(rf"[{_WS}]", "", plain)
    if not squashed.startswith("序号"):
        return None
    if "\t" in plain:
        cols = [re.sub(rf"[{_WS}]", "", c) for c in plain.split("\t")]
        cols = [c for c in cols if c]
    else:
        cols = _COLUMN_NAME_RE.findall(squashed)
    if len(cols) < 3:
        return None
    return [_column_role(c) for c in cols]


_ROW_START_RE = re.compile(rf"^[{_WS}]*(\d{{1,3}})(?:[{_WS}]*\t|[{_WS}]+)(?=\S)")


def _split_row(raw: str, columns: list[str]) -> tuple[int, dict[str, str]] | None:
    plain = _TAG_RE.sub("", raw).replace("**", "")
    m = _ROW_START_RE.match(plain)
    if m is None:
        return None
    number = int(m.group(1))
    fields: dict[str, str] = {}
    data_cols = [c for c in columns if c != "序号"] or ["工作内容"]
    if "\t" in plain:
        cells = [c.strip() for c in plain.split("\t")]
        cells = cells[1:] if cells and cells[0].strip().isdigit() else cells
        for idx, cell in enumerate(cells):
            if idx < len(data_cols):
                fields[data_cols[idx]] = cell
            elif cell:
                last = data_cols[-1]
                fields[last] = (fields.get(last, "") + " " + cell).strip()
    else:
        rest = plain[m.end() :].strip()
        tokens = re.split(rf"[{_WS}]{{2,}}", rest)
        if len(tokens) < 2:
            tokens = re.split(rf"[{_WS}]+", rest)
        deadline = ""
        dept = ""
        if len(tokens) >= 2 and _DEADLINE_RE.search(tokens[-1]):
            deadline = tokens.pop()
        if len(tokens) >= 2 and _DEPT_HINT_RE.search(tokens[-1]):
            dept = tokens.pop()
        fields["工作内容"] = " ".join(tokens)
        if dept:
            fields["责任单位"] = dept
        if deadline:
            fields["完成时限"] = deadline
    return number, fields


@dataclass
class _Node:
    kind: str  # root | chapter | section | article | l1.. | row
    rank: int
    label: str
    heading: str
    start: int
    end: int = -1
    children: list[_Node] = field(default_factory=list)
    number: int = 0
    fields: dict[str, str] = field(default_factory=dict)
    group_path: list[str] = field(default_factory=list)
    section_title: str | None = None
    prefix: str = ""  # locator prefix, e.g. "附件 任务清单"
    raw_row: str = ""


@dataclass
class _Part:
    start: int
    title: str | None
    prefix: str
    is_attachment: bool
    root: _Node


def _short_name(title: str) -> str:
    for word in _DOC_TYPE_WORDS:
        if title.endswith(word):
            return word
    return title[-10:] if len(title) > 10 else title


def _heading_text(line_clean: str, marker: _Marker) -> str:
    """Short heading for the path: 第四章 运行要求, 一、总体要求, （四）限时办结, 第十四条."""
    if marker.kind == "article":
        return marker.label
    body = line_clean
    m = _match_marker(body)
    rest = body[m.end :].strip() if m else body
    if marker.kind in ("chapter", "section"):
        squeezed = re.sub(r"\s+", "", rest)
        return f"{marker.label} {squeezed}".strip()
    first = re.split(r"[。；;：:，,]", rest, maxsplit=1)[0].strip()
    if first and len(first) <= 24:
        return f"{marker.label}{first}"
    return marker.label


def _inline_candidates(line: str) -> Iterator[int]:
    """Offsets inside a line where an outline marker may start (after a space or 。；：)."""
    for m in re.finditer(rf"(?<=[{_WS}。；;：:！？])(?=[第（(一二三四五六七八九十\d①-⑳])", line):
        yield m.start()


class _Builder:
    def __init__(self, body: str, max_chars: int) -> None:
        self.body = body
        self.max_chars = max_chars
        self.parts: list[_Part] = []
        self.stack: list[_Node] = []
        self.last_number: dict[str, int] = {}

    # -- structure --------------------------------------------------------------------------
    def new_part(self, start: int, title: str | None, is_attachment: bool, prefix: str) -> None:
        self.close_to(0, start)
        root = _Node("root", 0, "", title or "", start, section_title=title, prefix=prefix)
        if self.parts:
            self.parts[-1].root.end = start
        self.parts.append(_Part(start, title, prefix, is_attachment, root))
        self.stack = [root]
        self.last_number = {}

    def close_to(self, rank: int, offset: int) -> None:
        while len(self.stack) > 1 and self.stack[-1].rank >= rank:
            node = self.stack.pop()
            node.end = offset

    def push(self, node: _Node) -> None:
        self.close_to(node.rank, node.start)
        parent = self.stack[-1]
        node.section_title = parent.section_title
        node.prefix = parent.prefix
        parent.children.append(node)
        self.stack.append(node)
        self.last_number[node.kind] = node.number
        deeper = [k for k, r in _RANK.items() if r > node.rank]
        for k in deeper:
            self.last_number.pop(k, None)

    def finish(self) -> None:
        end = len(self.body)
        self.close_to(0, end)
        for part in self.parts:
            if part.root.end < 0:
                part.root.end = end

    def in_sequence(self, marker: _Marker) -> bool:
        last = self.last_number.get(marker.kind)
        if last is None:
            return marker.number == 1 or marker.kind in ("article", "chapter")
        return marker.number == last + 1


_COLOPHON_RE = re.compile(r"^(?:抄送|抄报|主送|印送)[:：]|^.{0,20}\d{4}年\d{1,2}月\d{1,2}日印发$")


def _build(body: str, max_chars: int) -> _Builder:
    b = _Builder(body, max_chars)
    b.new_part(0, None, False, "")
    lines = _lines(body)
    seen_body_text = False
    attachment_pending: tuple[int, str] | None = None  # (start, label like 附件 / 附件1)
    table_cols: list[str] | None = None
    table_pending: int | None = None
    group_path: list[str] = []
    idx = 0
    while idx < len(lines):
        line = lines[idx]
        plain = line.plain
        idx += 1
        if not plain:
            continue
        squashed = re.sub(rf"[{_WS}]", "", plain)

        # 附件 / 附件1 standing alone opens an attachment part
        att = re.fullmatch(r"附件(\d{0,2})", squashed)
        if att:
            attachment_pending = (line.start, f"附件{att.group(1)}")
            table_cols = None
            b.new_part(line.start, None, True, attachment_pending[1])
            continue

        if (
            attachment_pending is not None
            and _is_title_like(line)
            and not _starts_with_marker(plain)
        ):
            title = clean_title(line.raw)
            part = b.parts[-1]
            part.title = title
            part.root.section_title = title
            part.root.heading = f"{attachment_pending[1]} {title}"
            part.prefix = part.root.prefix = f"{attachment_pending[1]} {_short_name(title)}"
            attachment_pending = None
            continue
        attachment_pending = None

        header = _table_header(plain)
        if header is not None:
            table_cols = header
            if table_pending is None:
                table_pending = line.start
            continue

        if table_cols is not None and squashed.isdigit() and len(squashed) <= 4:
            continue  # a page number between table pages
        if _COLOPHON_RE.match(squashed):
            table_cols = None
            table_pending = None
            b.new_part(line.start, None, False, "版记")
            continue

        if table_cols is not None:
            row = _split_row(line.raw, table_cols)
            if row is not None:
                number, fields = row
                start = table_pending if table_pending is not None else line.start
                table_pending = None
                b.close_to(1, start)
                node = _Node(
                    "row",
                    50,
                    f"第{number}项",
                    f"第{number}项",
                    start,
                    number=number,
                    fields=fields,
                    group_path=list(group_path),
                    raw_row=line.raw,
                )
                b.push(node)
                continue
            marker = _match_marker(plain)
            is_group = (
                marker is not None
                and marker.kind in ("l1", "l2", "l3")
                and ("\t" in line.raw or "<b>" in line.raw or len(plain) < 120)
            )
            if is_group and marker is not None:
                heading = _heading_text(clean_line(line.raw), marker)
                group_path = [heading] if marker.kind == "l1" else [*group_path[:1], heading]
                if table_pending is None:
                    table_pending = line.start
                continue
            if _is_title_like(line) and _is_heading_format(line.raw):
                table_cols = None
                table_pending = None
                group_path = []
            else:
                # continuation of the current row (OCR wrapped it)
                current = b.stack[-1]
                if current.kind == "row" and "\t" not in current.raw_row:
                    # space-separated OCR row wrapped over lines: re-split the whole row
                    current.raw_row = f"{current.raw_row} {line.raw.strip()}"
                    reparsed = _split_row(current.raw_row, table_cols)
                    if reparsed is not None:
                        current.fields = reparsed[1]
                elif current.kind == "row":
                    extra = clean_line(line.raw)
                    key = "工作内容"
                    current.fields[key] = (current.fields.get(key, "") + extra).strip()
                continue

        marker = _match_marker(line.raw)
        if marker is not None:
            b.push(_node_for(marker, line.start, clean_line(line.raw)))
            seen_body_text = True
            _inline_markers(b, line)
            continue

        # a title line after body text starts an embedded document (the measures a notice
        # 印发, the work plan) — consecutive heading lines form one title
        if (
            seen_body_text
            and _is_title_like(line)
            and _DOC_TYPE_RE.search(squashed)
            and ("关于" not in squashed or _is_heading_format(line.raw))
        ):
            first = idx - 1
            k = first - 1
            while (
                k >= 0
                and lines[k].raw.strip()
                and _is_heading_format(lines[k].raw)
                and (_is_title_like(lines[k]))
            ):
                k -= 1
            first = k + 1
            title = clean_title("\n".join(lines[j].raw for j in range(first, idx)))
            b.new_part(lines[first].start, title, False, "")
            continue

        if any(p in plain for p in "。；，"):
            seen_body_text = True
        _inline_markers(b, line)
    b.finish()
    return b


def _node_for(marker: _Marker, start: int, line_clean: str) -> _Node:
    return _Node(
        marker.kind,
        _RANK[marker.kind],
        marker.label,
        _heading_text(line_clean, marker),
        start,
        number=marker.number,
    )


def _inline_markers(b: _Builder, line: _Line) -> None:
    raw = line.raw
    for off in _inline_candidates(raw):
        if off == 0:
            continue
        marker = _match_marker(raw, off)
        if marker is None or marker.kind in ("chapter", "section", "l5"):
            continue
        if not b.in_sequence(marker):
            continue
        if marker.kind == "article" and not re.match(rf"[{_WS}]", raw[off - 1]):
            continue
        rest = re.split(r"\u00a0|\u3000|[ \t]{2,}", raw[off : off + 120])[0]
        b.push(_node_for(marker, line.start + off, clean_line(rest)))


# -- emission -----------------------------------------------------------------------------------


def _nonspace_len(s: str) -> int:
    return len(s) - sum(1 for c in s if c.isspace())


def _trim(body: str, start: int, end: int) -> tuple[int, int]:
    while start < end and body[start].isspace():
        start += 1
    while end > start and body[end - 1].isspace():
        end -= 1
    return start, end


def _chunk_spans(body: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Split a long span at paragraph (or sentence) boundaries into pieces of about `limit`."""
    if _nonspace_len(body[start:end]) <= limit * 2:
        return [(start, end)]
    cuts: list[int] = []
    for m in re.finditer(r"\n+|(?<=[。；！？])", body[start:end]):
        cuts.append(start + m.end())
    spans: list[tuple[int, int]] = []
    cur = start
    for cut in cuts:
        if cut <= cur or cut >= end:
            continue
        if _nonspace_len(body[cur:cut]) >= limit:
            spans.append((cur, cut))
            cur = cut
    spans.append((cur, end))
    # hard split anything still huge (no punctuation at all)
    out: list[tuple[int, int]] = []
    for s, e in spans:
        while e - s > limit * 3:
            out.append((s, s + limit * 2))
            s += limit * 2
        out.append((s, e))
    return out


_MENTION_PATTERNS = [
    re.compile(r"责任单位[:：]\s*([^；;。）)\n]{2,200})"),
    re.compile(r"[（(]([^（）()\n]{2,400}?)[)）]"),
    re.compile(r"由([^，。；、\n]{2,40}?)(?:牵头|负责)"),
    re.compile(rf"(?:^|[，。；、\n{_WS}])([^，。；、\n{_WS}]{{2,30}}?)牵头"),
]
_MENTION_SUFFIX_RE = re.compile(
    r"(?:等?(?:相关)?(?:职能)?部[门門](?:单位)?)?[，,]?"
    r"(?:按职责分工负责|分工负责|牵头负责|共同负责|牵头|配合|负责)$"
)
_ORG_END_RE = re.compile(
    r"(?:人民政府|政府|办公厅|办公室|委员会|委|厅|局|署|院|部|部门|中心|支行|海关|公司|单位|工作组|"
    r"小组|编办|残联|总队|监局|专卖局)$"
)


def _split_mentions(s: str) -> list[str]:
    out: list[str] = []
    for piece in re.split(r"[、，,；;\n]", s):
        piece = clean_line(piece)
        piece = re.sub(r"^(?:责任单位|牵头单位)[:：]", "", piece)
        for _ in range(2):
            piece = _MENTION_SUFFIX_RE.sub("", piece).strip()
            piece = re.sub(r"等(?:相关)?(?:职能)?部[门門](?:单位)?$", "", piece).strip()
        if 2 <= len(piece) <= 30 and _ORG_END_RE.search(piece):
            out.append(piece)
    return out


def _mentions_in(text: str) -> list[str]:
    found: dict[str, None] = {}
    for pattern in _MENTION_PATTERNS:
        for m in pattern.finditer(text):
            chunk = m.group(1)
            if pattern.pattern.startswith("[（(]") and not re.search(
                r"(?:负责|牵头|配合)$", chunk.strip()
            ):
                continue
            for name in _split_mentions(chunk):
                found.setdefault(name, None)
    return list(found)


def _row_text(node: _Node) -> str:
    f = node.fields
    lines = [f"第{node.number}项：{clean_text(f.get('工作内容', ''))}".rstrip("：")]
    for key in ("责任单位", "配合单位", "完成时限", "备注"):
        value = clean_line(f.get(key, ""))
        if value:
            lines.append(f"{key}：{value}")
    for key, value in f.items():
        if key not in ("工作内容", "责任单位", "配合单位", "完成时限", "备注", "序号") and value:
            lines.append(f"{key}：{clean_line(value)}")
    return "\n".join(lines)


class _Emitter:
    def __init__(self, body: str, max_chars: int, resolver: DepartmentResolver | None) -> None:
        self.body = body
        self.max_chars = max_chars
        self.resolver = resolver
        self.out: list[ParsedPassage] = []

    def add(
        self, start: int, end: int, node: _Node, locator: str, path: list[str], kind: str
    ) -> None:
        s, e = _trim(self.body, start, end)
        if s >= e:
            return
        for cs, ce in (
            _chunk_spans(self.body, s, e, self.max_chars) if kind != "table_row" else [(s, e)]
        ):
            cs, ce = _trim(self.body, cs, ce)
            if cs >= ce:
                continue
            original = self.body[cs:ce]
            if kind == "table_row":
                text = _row_text(node)
                mentions = _split_mentions(node.fields.get("责任单位", "")) + _split_mentions(
                    node.fields.get("配合单位", "")
                )
                fields = {k: clean_line(v) for k, v in node.fields.items()}
                if node.fields.get("工作内容"):
                    fields["工作内容"] = clean_text(node.fields["工作内容"])
            else:
                text = clean_text(original)
                mentions = _mentions_in(text)
                fields = {}
            codes: list[str] = []
            if self.resolver is not None:
                source = "\n".join(mentions) if kind == "table_row" else text
                codes = self.resolver.find_in_text(source)
                if kind != "table_row":
                    for alias in self.resolver.find_aliases(text):
                        if alias not in mentions:
                            mentions.append(alias)
            self.out.append(
                ParsedPassage(
                    ordinal=len(self.out),
                    locator=locator,
                    heading_path=list(path),
                    text=text,
                    original_text=original,
                    span=(cs, ce),
                    kind=kind,
                    section_title=node.section_title,
                    fields=fields,
                    department_mentions=list(dict.fromkeys(mentions)),
                    department_codes=codes,
                )
            )

    def emit(self, node: _Node, path: list[str], loc: list[str], carry: int | None) -> None:
        start = carry if carry is not None else node.start
        kind = _passage_kind(node)
        locator = _locator(node.prefix, loc, "序言" if node.section_title else "正文")
        if node.kind == "row":
            self.add(start, node.end, node, locator, path, "table_row")
            return
        size = _nonspace_len(self.body[node.start : node.end])
        structural = any(c.kind in _ALWAYS_SPLIT for c in node.children)
        if not node.children or (node.kind != "root" and size <= self.max_chars and not structural):
            self.add(start, node.end, node, locator, path, kind)
            return
        lead_end = node.children[0].start
        lead = self.body[node.start : lead_end]
        next_carry: int | None = None
        if _nonspace_len(lead) > 0:
            heading_only = node.kind != "article" and _is_heading_only(lead)
            if heading_only:
                next_carry = start
            else:
                self.add(start, lead_end, node, locator, path, kind)
        elif carry is not None:
            next_carry = carry
        for child in node.children:
            child_loc = _child_locator(loc, child)
            child_path = (
                [*path, child.heading]
                if child.kind != "row"
                else [*path, *child.group_path, child.heading]
            )
            self.emit(child, child_path, child_loc, next_carry)
            next_carry = None


_ALWAYS_SPLIT = frozenset({"row", "article", "chapter", "section"})


def _is_heading_only(lead: str) -> bool:
    cleaned = clean_text(lead)
    return len(cleaned) <= 40 and "。" not in cleaned.rstrip("。")


def _passage_kind(node: _Node) -> str:
    if node.kind == "root":
        return "preamble"
    if node.kind in ("chapter", "section"):
        return "chapter"
    if node.kind == "article":
        return "article"
    return "item" if node.kind.startswith("l") else node.kind


def _child_locator(loc: list[str], child: _Node) -> list[str]:
    if child.kind == "row":
        return [child.label]
    if child.kind == "article":
        return [child.label]
    if child.kind in ("chapter", "section"):
        return [child.label]
    return [*loc, child.label]


def _locator(prefix: str, loc: list[str], root_label: str = "正文") -> str:
    core = "".join(loc)
    if prefix and core:
        return f"{prefix} {core}"
    return prefix or core or root_label


def _split_passages_strict(
    text: str, resolver: DepartmentResolver | None, max_chars: int
) -> list[ParsedPassage]:
    if not text or not text.strip():
        return []
    builder = _build(text, max_chars)
    emitter = _Emitter(text, max_chars, resolver)
    for part in builder.parts:
        root = part.root
        if root.end <= root.start:
            continue
        emitter.emit(root, [], [], None)
    for i, passage in enumerate(emitter.out):
        passage.ordinal = i
    return emitter.out


def split_passages(
    doc: ParsedDocument | str,
    *,
    resolver: DepartmentResolver | None = None,
    max_chars: int = 600,
) -> list[ParsedPassage]:
    """Split a document body into outline passages; spans partition the body (never raises)."""
    text = doc.text if isinstance(doc, ParsedDocument) else doc
    try:
        return _split_passages_strict(text, resolver, max_chars)
    except Exception:  # defensive: a parser bug must not lose the document
        out: list[ParsedPassage] = []
        for s, e in _chunk_spans(text, 0, len(text), max_chars):
            s, e = _trim(text, s, e)
            if s < e:
                out.append(
                    ParsedPassage(
                        ordinal=len(out),
                        locator=f"第{len(out) + 1}段",
                        heading_path=[],
                        text=clean_text(text[s:e]),
                        original_text=text[s:e],
                        span=(s, e),
                        kind="chunk",
                    )
                )
        return out
