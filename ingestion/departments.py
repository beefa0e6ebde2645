"""Resolve department mentions (省公安厅, 省政府办公厅 …) to department codes."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

_WS_RE = re.compile(r"\s+")
_TRADITIONAL = str.maketrans({"門": "门", "廳": "厅", "總": "总", "務": "务", "機": "机"})


def normalize_name(s: str) -> str:
    """Canonical form for matching names: NFKC (full/half width), no whitespace, stray 門→门."""
    s = unicodedata.normalize("NFKC", s or "")
    s = s.translate(_TRADITIONAL)
    return _WS_RE.sub("", s)


class DepartmentResolver:
    """Maps department names and aliases to codes; the longest matching alias wins."""

    def __init__(self, departments: Iterable[Mapping[str, Any]]) -> None:
        self._alias_to_code: dict[str, str] = {}
        for record in departments:
            code = str(record.get("code") or "").strip()
            if not code:
                continue
            names = [record.get("name") or "", *(record.get("aliases") or [])]
            for name in names:
                key = normalize_name(str(name))
                # first record wins on a clash, so ordering in the source file decides
                if key and key not in self._alias_to_code:
                    self._alias_to_code[key] = code
        aliases = sorted(self._alias_to_code, key=len, reverse=True)
        self._pattern: re.Pattern[str] | None = (
            re.compile("|".join(re.escape(a) for a in aliases)) if aliases else None
        )

    @property
    def aliases(self) -> dict[str, str]:
        """Normalised alias → code."""
        return dict(self._alias_to_code)

    def resolve(self, mention: str) -> str | None:
        """Code for one mention (exact alias first, else the longest alias inside it), or None."""
        key = normalize_name(mention)
        if not key:
            return None
        exact = self._alias_to_code.get(key)
        if exact is not None:
            return exact
        best: tuple[int, str] | None = None
        for match in self._iter_matches(key):
            length = match.end() - match.start()
            if best is None or length > best[0]:
                best = (length, self._alias_to_code[match.group(0)])
        return best[1] if best else None

    def find_in_text(self, text: str) -> list[str]:
        """Codes of all departments mentioned in `text`, in order of first mention."""
        seen: dict[str, None] = {}
        for match in self._iter_matches(normalize_name(text)):
            seen.setdefault(self._alias_to_code[match.group(0)], None)
        return list(seen)

    def find_aliases(self, text: str) -> list[str]:
        """Matched alias strings (normalised) in `text`, in order, without repeats."""
        seen: dict[str, None] = {}
        for match in self._iter_matches(normalize_name(text)):
            seen.setdefault(match.group(0), None)
        return list(seen)

    def _iter_matches(self, normalized: str) -> Iterable[re.Match[str]]:
        if self._pattern is None:
            return []
        return self._pattern.finditer(normalized)
