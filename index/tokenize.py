"""Chinese tokenisation for BM25: a private jieba tokenizer with the hotline user dictionary."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import jieba

from index.text import normalize

__all__ = ["DEFAULT_USERDICT", "STOPWORDS", "Tokenizer"]

DEFAULT_USERDICT = Path(__file__).parent / "data" / "userdict.txt"

# Function words and question boilerplate that carry no topic. Kept short on purpose: BM25's idf
# already discounts frequent words, this only stops them from producing spurious matched terms.
_STOPWORD_TEXT = (
    "的 了 吗 呢 吧 啊 呀 嘛 么 哦 和 与 及 或 跟 同 是 在 有 就 都 也 "
    "还 又 把 被 给 让 对 向 从 我 你 您 他 她 它 我们 你们 他们 这 那 "
    "这个 那个 这些 那些 哪 哪些 哪个 哪里 如何 怎么 怎样 怎么样 什么 为什么 "
    "请问 请 问 一下 一个 可以 能否 能不能 是否 需要 要 想 应该 已经 之 其 "
    "等 "
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Mixed tokens such as "12345热线" also yield their ASCII run, so "12345" alone still matches.
_ASCII_RUN = re.compile(r"[0-9a-z]+")
_HAS_CJK = re.compile(r"[\u3400-\u9fff]")


def _is_word(token: str) -> bool:
    # A token is kept if it has at least one letter or digit; punctuation/space runs are dropped.
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


class Tokenizer:
    """jieba search-mode tokenizer on normalised text; thread-safe, loaded on first use."""

    def __init__(
        self,
        *,
        userdicts: Sequence[str | Path] = (),
        include_default: bool = True,
        stopwords: Iterable[str] = STOPWORDS,
    ) -> None:
        paths = [DEFAULT_USERDICT] if include_default else []
        self._paths = [*paths, *(Path(p) for p in userdicts)]
        self._stopwords = frozenset(stopwords)
        self._jieba: jieba.Tokenizer | None = None
        self._lock = threading.Lock()
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """Hash of everything that changes token output, to tell when stored tokens are stale."""
        if self._fingerprint is None:
            h = hashlib.sha256(f"jieba-{jieba.__version__}|v1".encode())
            for path in self._paths:
                h.update(path.read_bytes())
            h.update("\n".join(sorted(self._stopwords)).encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def _load(self) -> jieba.Tokenizer:
        with self._lock:
            if self._jieba is not None:
                return self._jieba
            # jieba logs "Building prefix dict..." at DEBUG to stderr on every initialise.
            logging.getLogger("jieba").setLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            for path in self._paths:
                for word, freq in _read_userdict(path):
                    tok.add_word(word, freq)
            # Publish only once fully loaded: other threads read self._jieba without the lock.
            self._jieba = tok
            return tok

    def tokens(self, text: str) -> list[str]:
        """Return the search tokens of `text`: normalised, search-mode cut, no stopwords."""
        tok = self._jieba or self._load()
        out: list[str] = []
        for raw in tok.cut_for_search(normalize(text)):
            word = raw.strip()
            if not word or word in self._stopwords or not _is_word(word):
                continue
            out.append(word)
            extra: list[str] = []
            if len(word) > 1 and _HAS_CJK.search(word):
                extra.extend(_ASCII_RUN.findall(word))
            if len(word) > 3:
                extra.extend(_inner_words(tok, word))
            out.extend(w for w in dict.fromkeys(extra) if w != word and w not in self._stopwords)
        return out


def _inner_words(tok: jieba.Tokenizer, word: str) -> list[str]:
    # jieba's search mode only adds 2- and 3-grams; a long alias such as "省12345热线" also
    # contains the dictionary term "12345热线", which a query for that term must still match.
    n = len(word)
    return [
        word[i : i + size]
        for size in range(4, n)
        for i in range(n - size + 1)
        if tok.FREQ.get(word[i : i + size])
    ]


def _read_userdict(path: Path) -> list[tuple[str, int | None]]:
    # jieba's own loader does not normalise, so a dictionary term in full width or upper case would
    # never match normalised text; parse here and normalise each term.
    entries: list[tuple[str, int | None]] = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        word = normalize(parts[0])
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        if word:
            entries.append((word, freq))
    return entries
