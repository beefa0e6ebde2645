"""文号 (document number) recognition and normalisation, e.g. 青政办〔2022〕57号."""

from __future__ import annotations

import re

_CJK = r"\u4e00-\u9fff"
_DIGIT = r"0-9\uff10-\uff19"
_OPEN = r"〔\[(（【［﹝〖{"
_CLOSE = r"〕\])）】］﹞〗}"

# issuer abbreviation (CJK, OCR may put spaces inside), bracketed year, serial number, 号
DOC_NO_PATTERN = re.compile(
    rf"(?P<issuer>[{_CJK}](?:[ \t\u3000]*[{_CJK}]){{0,7}})"
    rf"[ \t\u3000]*[{_OPEN}][ \t\u3000]*"
    rf"(?P<year>[{_DIGIT}](?:[ \t\u3000]*[{_DIGIT}]){{3}})"
    rf"[ \t\u3000]*[{_CLOSE}][ \t\u3000]*"
    rf"(?P<num>[{_DIGIT}](?:[ \t\u3000]*[{_DIGIT}]){{0,5}})"
    rf"[ \t\u3000]*号"
)

# words that often precede a 文号 in running text and are not part of the issuer code
_LEADING_NOISE = (
    "根据",
    "按照",
    "依据",
    "依照",
    "参照",
    "对照",
    "贯彻",
    "落实",
    "印发",
    "转发",
    "执行",
    "结合",
    "详见",
    "参见",
    "见",
    "的",
    "和",
    "及",
    "与",
    "或",
    "经",
    "据",
    "按",
    "对",
    "将",
    "是",
    "为",
    "在",
    "了",
    "以",
)

_FULL_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_SPACE_RE = re.compile(r"[ \t\u3000]+")


_SPLIT_WORDS = ("文件", "印发", "转发", "通知", "关于", "的")


def _strip_issuer(issuer: str) -> str:
    issuer = _SPACE_RE.sub("", issuer)
    for word in _SPLIT_WORDS:
        idx = issuer.rfind(word)
        if idx >= 0 and len(issuer) - idx - len(word) >= 2:
            issuer = issuer[idx + len(word) :]
    changed = True
    while changed and len(issuer) > 2:
        changed = False
        for word in _LEADING_NOISE:
            if issuer.startswith(word) and len(issuer) - len(word) >= 2:
                issuer = issuer[len(word) :]
                changed = True
                break
    return issuer


def _format(match: re.Match[str]) -> str:
    issuer = _strip_issuer(match.group("issuer"))
    year = _SPACE_RE.sub("", match.group("year")).translate(_FULL_DIGITS)
    num = _SPACE_RE.sub("", match.group("num")).translate(_FULL_DIGITS).lstrip("0") or "0"
    return f"{issuer}〔{year}〕{num}号"


def normalize_doc_no(s: str) -> str | None:
    """Return the canonical form (青政办〔2022〕57号) of the first 文号 in `s`, or None."""
    if not s:
        return None
    match = DOC_NO_PATTERN.search(s)
    if match is None:
        return None
    return _format(match)


def own_doc_no(text: str, head: int = 400) -> str | None:
    """The first 文号 near the top of a text that is not a parenthesised citation."""
    for match in DOC_NO_PATTERN.finditer(text[:head] if text else ""):
        before = text[: match.start()].rstrip(" \t\u3000\u00a0")
        if before.endswith(("（", "(", "《", "〈", "“")):
            continue
        return _format(match)
    return None


def find_doc_nos(text: str) -> list[str]:
    """Return every 文号 in `text`, normalised, in order of first appearance, without repeats."""
    seen: dict[str, None] = {}
    for match in DOC_NO_PATTERN.finditer(text or ""):
        seen.setdefault(_format(match), None)
    return list(seen)


def is_doc_no_line(line: str) -> bool:
    """True when a line consists of a 文号 and nothing else (markdown emphasis aside)."""
    stripped = re.sub(r"[#*\s]|</?b>", "", line)
    if not stripped or len(stripped) > 30:
        return False
    match = DOC_NO_PATTERN.fullmatch(stripped)
    return match is not None
