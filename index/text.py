"""Text normalisation shared by indexing and querying, tuned for OCR'd government documents.

Both sides of every comparison must go through the same function, so any change here means the
sparse index (and the dense vectors' cache keys) must be rebuilt.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["compact", "normalize", "question_key"]

# Traditional characters that OCR (and callers typing on a traditional IME) leave in simplified
# text. Only one-to-one, unambiguous mappings: 乾/干, 後/后-style splits are deliberately absent
# because a wrong guess would break exact matches.
_TRADITIONAL = (
    "門们們來個這為與會對說時國實發學關經動開業務證號辦機電話線資權區縣鄉醫療險護戶際處圖書員單"
    "應廳網隊車場讓請認訊記議連體價傳裡設計費額稅補貼辦當項稱點顯職農變歲齡戶帳賬態氣聯繫診報銷遷營產"
)
_SIMPLIFIED = (
    "门们们来个这为与会对说时国实发学关经动开业务证号办机电话线资权区县乡医疗险护户际处图书员单"
    "应厅网队车场让请认讯记议连体价传里设计费额税补贴办当项称点显职农变岁龄户帐账态气联系诊报销迁营产"
)
assert len(_TRADITIONAL) == len(_SIMPLIFIED)

# One str.translate pass: traditional → simplified, ASCII upper → lower, whitespace-ish controls
# → space, other controls and invisible format characters → gone.
_TABLE: dict[int, str | None] = {ord(t): s for t, s in zip(_TRADITIONAL, _SIMPLIFIED, strict=True)}
_TABLE.update({c: chr(c + 32) for c in range(ord("A"), ord("Z") + 1)})
_TABLE.update({c: None for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]})
_TABLE.update({ord(c): " " for c in "\t\n\r\x0b\x0c\x85\u2028\u2029"})
_TABLE.update({c: None for c in [*range(0x200B, 0x2010), *range(0x202A, 0x202F), 0x2060, 0xFEFF]})

# HTML-ish tags only (a letter right after `<`), so "x<5" or "《办法》" survive.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")

# Characters between which OCR inserts spurious spaces: CJK ideographs and CJK punctuation.
_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
# ASCII punctuation NFKC produced from full-width forms (，→, （→( ...) also sticks to CJK.
_PUNCT = r"!-/:-@\[-`{-~"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}{_PUNCT}])|(?<=[{_CJK}{_PUNCT}])\s+(?=[{_CJK}])")
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Return the canonical search form of `text` (NFKC, no tags/controls, OCR spaces removed)."""
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    if "<" in text:
        text = _TAG.sub(" ", text)
    text = text.translate(_TABLE)
    text = _CJK_GAP.sub("", text)
    return _WS.sub(" ", text).strip()


def compact(text: str) -> str:
    """Return `normalize(text)` with all whitespace removed, for exact-match comparisons."""
    return _WS.sub("", normalize(text))


# Politeness that callers add in front of a standard question without changing it.
_LEADING = re.compile(r"^(?:请问|您好|你好|麻烦问一下|问一下)+")


def question_key(text: str) -> str:
    """Return the key two questions share when they are the same question "almost exactly"."""
    key = "".join(ch for ch in compact(text) if unicodedata.category(ch)[0] not in "PSZ")
    return _LEADING.sub("", key) or key
