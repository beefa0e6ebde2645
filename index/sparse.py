"""BM25 over multi-field documents: a bm25s snapshot plus a small live delta and tombstones.

bm25s precomputes every (document, term) score into a sparse matrix, which makes queries fast
but any change a full rebuild (seconds at 100k documents). So changes go to an in-memory delta
instead and are visible to the next search at once:

* the main index is a bm25s index per field over a snapshot of the documents;
* documents added or changed since that snapshot live in the delta, with their own postings, and
  are scored with the same Lucene BM25 formula as bm25s;
* replaced or removed snapshot documents are tombstoned (their scores zeroed);
* every score uses the live statistics (document count, document frequencies of the snapshot
  minus tombstones plus delta): delta documents fully, snapshot documents by rescaling each
  query term's precomputed column by live idf / snapshot idf. Only the snapshot documents' length
  norm keeps the snapshot's average length, so results match a full rebuild's closely (and
  exactly when the snapshot is empty or unchanged);
* `compact()` rebuilds the snapshot (outside the lock) once the delta and tombstones pass a
  fraction of the index, which also removes that last drift.

Fields are scored separately and summed with weights (a question match counts more than the
same words deep in an answer), like a "most fields" query; each field has its own length norm.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np

from index._rwlock import RWLock

__all__ = ["DEFAULT_FIELDS", "SparseHit", "SparseIndex"]

logger = logging.getLogger(__name__)

# Weights per field: questions are what callers ask, bodies are long. "context" (the text of a
# passage's document) carries most of the evidence for a policy passage: ncp document MRR@10 of
# BM25 went 0.698 (no context) -> 0.767 (context 1.0, title 1.5) -> 0.810 (context 2.0, title
# 0.5); titles of notices are formulaic ("关于……的通知") and an entry's title is also its first
# question, so the title counts little (see docs/benchmarks.md). Gazette scores are unchanged.
DEFAULT_FIELDS: Mapping[str, float] = {"questions": 2.0, "title": 0.5, "text": 1.0, "context": 2.0}

Accept = Callable[[int], bool]


@dataclass(frozen=True, slots=True)
class SparseHit:
    """One BM25 result: document id, weighted BM25 score, query terms the document contains."""

    id: int
    score: float
    terms: tuple[str, ...]


@dataclass(frozen=True, eq=False, slots=True)
class _Doc:
    # eq=False: compaction tells "changed since the snapshot" by identity, not by value.
    fields: dict[str, tuple[str, ...]]
    terms: frozenset[str]


@dataclass(slots=True)
class _FieldMain:
    bm25: bm25s.BM25
    vocab: dict[str, int]
    indptr: np.ndarray
    total_len: int
    # What tombstoned documents contributed, subtracted to get live statistics.
    dead_df: Counter[str] = field(default_factory=Counter)
    dead_len: int = 0

    def df(self, token: str) -> int:
        col = self.vocab.get(token)
        if col is None or col + 1 >= len(self.indptr):
            return 0
        # Every stored entry has tf > 0, so a column's entry count is its document frequency.
        return int(self.indptr[col + 1] - self.indptr[col])


@dataclass(slots=True)
class _Main:
    ids: np.ndarray  # position -> document id
    pos: dict[int, int]
    alive: np.ndarray  # False once a position is tombstoned
    n_dead: int
    fields: dict[str, _FieldMain | None]

    @property
    def n_docs(self) -> int:
        return len(self.ids)

    def kill(self, pos: int, doc: _Doc) -> None:
        """Tombstone a position, removing its document from the live statistics."""
        if not self.alive[pos]:
            return
        self.alive[pos] = False
        self.n_dead += 1
        for name, fm in self.fields.items():
            if fm is not None:
                toks = doc.fields[name]
                fm.dead_len += len(toks)
                fm.dead_df.update(set(toks))


@dataclass(slots=True)
class _DeltaField:
    postings: dict[str, dict[int, int]] = field(default_factory=dict)  # token -> id -> tf
    lengths: dict[int, int] = field(default_factory=dict)
    total_len: int = 0


class SparseIndex:
    """Multi-field BM25 keyed by int ids; upsert/remove are visible to the next search."""

    def __init__(
        self,
        *,
        fields: Mapping[str, float] = DEFAULT_FIELDS,
        k1: float = 1.5,
        b: float = 0.75,
        compact_ratio: float = 0.05,
        compact_min: int = 256,
        auto_compact: bool = True,
        background: bool = True,
    ) -> None:
        if not fields or any(w <= 0 for w in fields.values()):
            raise ValueError("fields must map at least one name to a positive weight")
        self.fields = dict(fields)
        self.k1 = k1
        self.b = b
        self.compact_ratio = compact_ratio
        self.compact_min = compact_min
        self.auto_compact = auto_compact
        self.background = background
        self._lock = RWLock()
        self._compact_lock = threading.Lock()
        self._docs: dict[int, _Doc] = {}
        self._main: _Main | None = None
        self._delta: dict[int, _Doc] = {}
        self._delta_fields = {name: _DeltaField() for name in self.fields}
        # Ids written while a compaction builds its snapshot (None when none is running).
        self._changed: set[int] | None = None

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def ids(self) -> list[int]:
        """Return the ids of all live documents."""
        with self._lock.read():
            return list(self._docs)

    def tokens(self, doc_id: int) -> dict[str, tuple[str, ...]]:
        """Return the stored tokens of one document by field (KeyError if absent)."""
        return dict(self._docs[doc_id].fields)

    @property
    def delta_size(self) -> int:
        """Documents in the delta plus tombstones: the work a compaction would absorb."""
        main = self._main
        return len(self._delta) + (main.n_dead if main else 0)

    def search(
        self, query_tokens: Sequence[str], *, k: int = 10, accept: Accept | None = None
    ) -> list[SparseHit]:
        """Return up to k documents with a positive BM25 score, best first, passing `accept`."""
        query = list(dict.fromkeys(t for t in query_tokens if t))
        if not query or k <= 0:
            return []
        with self._lock.read():
            scored: list[tuple[float, int]] = []
            main = self._main
            if main is not None:
                scores = self._main_scores(main, query)
                if scores is not None:
                    scored.extend(_top(scores, main.ids, k, accept))
            scored.extend(self._delta_scores(query, accept))
            scored.sort(key=lambda pair: (-pair[0], pair[1]))
            return [
                SparseHit(doc_id, score, tuple(t for t in query if t in self._docs[doc_id].terms))
                for score, doc_id in scored[:k]
            ]

    def _live(self, name: str) -> tuple[int, float, Callable[[str], int]]:
        """Live (document count, average length, document frequency) of one field."""
        main, delta = self._main, self._delta_fields[name]
        fm = main.fields.get(name) if main else None
        n_docs = len(self._delta) + (main.n_docs - main.n_dead if main else 0)
        total = delta.total_len + (fm.total_len - fm.dead_len if fm else 0)

        def df(token: str) -> int:
            live = len(delta.postings.get(token, ()))
            if fm is not None:
                live += fm.df(token) - fm.dead_df.get(token, 0)
            return live

        return n_docs, (total / n_docs if n_docs else 0.0), df

    def _main_scores(self, main: _Main, query: list[str]) -> np.ndarray | None:
        total: np.ndarray | None = None
        stale = bool(self._delta) or main.n_dead > 0
        for name, fm in main.fields.items():
            if fm is None:
                continue
            cols = [(t, fm.vocab[t]) for t in query if t in fm.vocab]
            if not cols:
                continue
            weight = self.fields[name]
            if not stale:  # the snapshot is the whole index: bm25s scores as they are
                part = fm.bm25.get_scores_from_ids([c for _, c in cols]) * np.float32(weight)
            else:
                n_live, _, df_live = self._live(name)
                part = np.zeros(main.n_docs, dtype=np.float32)
                for token, col in cols:
                    live = _idf(df_live(token), n_live)
                    if live <= 0:
                        continue
                    factor = weight * live / _idf(fm.df(token), main.n_docs)
                    part += fm.bm25.get_scores_from_ids([col]) * np.float32(factor)
            total = part if total is None else total + part
        if total is not None and main.n_dead:
            total[~main.alive] = 0.0
        return total

    def _delta_scores(self, query: list[str], accept: Accept | None) -> list[tuple[float, int]]:
        if not self._delta:
            return []
        scores: dict[int, float] = {}
        for name, weight in self.fields.items():
            delta = self._delta_fields[name]
            n_docs, avg_len, df = self._live(name)
            if avg_len <= 0:
                continue
            for token in query:
                postings = delta.postings.get(token)
                if not postings:
                    continue
                idf = _idf(df(token), n_docs)
                for doc_id, tf in postings.items():
                    norm = self.k1 * (1 - self.b + self.b * delta.lengths[doc_id] / avg_len)
                    scores[doc_id] = scores.get(doc_id, 0.0) + weight * idf * tf / (norm + tf)
        return [
            (float(np.float32(s)), i)
            for i, s in scores.items()
            if s > 0 and (accept is None or accept(i))
        ]

    # -- writing -------------------------------------------------------------------------------

    def _make_doc(self, fields: Mapping[str, Sequence[str]]) -> _Doc:
        # Interned tokens: 100k documents repeat the same few thousand words many times over.
        kept = {
            name: tuple(map(sys.intern, map(str, filter(None, fields.get(name, ())))))
            for name in self.fields
        }
        return _Doc(kept, frozenset(t for toks in kept.values() for t in toks))

    def upsert(self, docs: Iterable[tuple[int, Mapping[str, Sequence[str]]]]) -> None:
        """Add or replace documents given as (id, {field: tokens}); visible to the next search."""
        prepared = [(int(doc_id), self._make_doc(fields)) for doc_id, fields in docs]
        with self._lock.write():
            for doc_id, doc in prepared:
                self._drop(doc_id)
                self._docs[doc_id] = doc
                self._delta_add(doc_id, doc)
        # A bulk load is expected to block; a single edit must not wait for a rebuild.
        self._maybe_compact(wait=len(prepared) > self._limit())

    def remove(self, ids: Iterable[int]) -> None:
        """Remove documents by id (unknown ids are ignored); visible to the next search."""
        with self._lock.write():
            for doc_id in ids:
                self._drop(int(doc_id))
        self._maybe_compact()

    def _drop(self, doc_id: int) -> None:
        if self._changed is not None:
            self._changed.add(doc_id)
        doc = self._docs.pop(doc_id, None)
        if doc is None:
            return
        if doc_id in self._delta:
            self._delta_remove(doc_id)
            return
        main = self._main
        if main is not None:
            pos = main.pos.get(doc_id)
            if pos is not None:
                main.kill(pos, doc)

    def _delta_add(self, doc_id: int, doc: _Doc) -> None:
        self._delta[doc_id] = doc
        for name, toks in doc.fields.items():
            df = self._delta_fields[name]
            df.lengths[doc_id] = len(toks)
            df.total_len += len(toks)
            for token, tf in Counter(toks).items():
                df.postings.setdefault(token, {})[doc_id] = tf

    def _delta_remove(self, doc_id: int) -> None:
        doc = self._delta.pop(doc_id)
        for name, toks in doc.fields.items():
            df = self._delta_fields[name]
            df.total_len -= df.lengths.pop(doc_id)
            for token in set(toks):
                postings = df.postings[token]
                del postings[doc_id]
                if not postings:
                    del df.postings[token]

    def _limit(self) -> float:
        main = self._main
        return max(self.compact_min, self.compact_ratio * (main.n_docs if main else 0))

    def _maybe_compact(self, *, wait: bool = False) -> None:
        if not self.auto_compact or self.delta_size <= self._limit():
            return
        if wait or not self.background:
            self.compact()
        elif not self._compact_lock.locked():
            # Seconds at 100k documents: rebuild off the caller's thread; the delta serves
            # searches meanwhile. A lost race here only starts a compaction that waits its turn.
            threading.Thread(target=self._compact_logged, name="bm25-compact", daemon=True).start()

    def _compact_logged(self) -> None:
        try:
            if self.delta_size > self._limit():  # another thread may have compacted already
                self.compact()
        except Exception:  # a background thread has nobody to raise to
            logger.exception("BM25 compaction failed; the delta keeps serving searches")

    # -- rebuilding ----------------------------------------------------------------------------

    def compact(self) -> None:
        """Rebuild the bm25s snapshot from all live documents, folding in delta and tombstones."""
        with self._compact_lock:
            with self._lock.write():
                snapshot = dict(self._docs)
                self._changed = set()
            try:
                # The expensive part runs unlocked: searches and writes carry on meanwhile.
                main = self._build(snapshot)
            except BaseException:
                with self._lock.write():
                    self._changed = None
                raise
            with self._lock.write():
                changed, self._changed = self._changed, None
                self._main = main
                self._delta = {}
                self._delta_fields = {name: _DeltaField() for name in self.fields}
                # Writes that raced the build: tombstone what the snapshot holds, redo as delta.
                for doc_id in changed:
                    doc = self._docs.get(doc_id)
                    pos = main.pos.get(doc_id) if main is not None else None
                    if pos is not None and doc is snapshot[doc_id]:
                        continue  # touched but unchanged (e.g. removing an unknown id)
                    if main is not None and pos is not None:
                        main.kill(pos, snapshot[doc_id])
                    if doc is not None:
                        self._delta_add(doc_id, doc)

    def _build(self, snapshot: Mapping[int, _Doc]) -> _Main | None:
        if not snapshot:
            return None
        ids = np.fromiter(snapshot.keys(), dtype=np.int64, count=len(snapshot))
        docs = list(snapshot.values())
        fields: dict[str, _FieldMain | None] = {}
        for name in self.fields:
            corpus = [list(doc.fields[name]) for doc in docs]
            total_len = sum(len(toks) for toks in corpus)
            if not total_len:
                fields[name] = None
                continue
            bm25 = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
            bm25.index(corpus, show_progress=False)
            fields[name] = _FieldMain(bm25, bm25.vocab_dict, bm25.scores["indptr"], total_len)
        return _Main(
            ids=ids,
            pos={int(doc_id): i for i, doc_id in enumerate(ids)},
            alive=np.ones(len(ids), dtype=bool),
            n_dead=0,
            fields=fields,
        )

    def replace_all(self, docs: Iterable[tuple[int, Mapping[str, Sequence[str]]]]) -> None:
        """Replace the whole contents with `docs` and build the snapshot directly (bulk load)."""
        prepared = {int(doc_id): self._make_doc(fields) for doc_id, fields in docs}
        main = self._build(prepared)
        with self._compact_lock, self._lock.write():
            self._docs = prepared
            self._main = main
            self._delta = {}
            self._delta_fields = {name: _DeltaField() for name in self.fields}


def _idf(df: int, n_docs: int) -> float:
    """Lucene idf, as bm25s computes it (always positive for 0 < df <= n_docs)."""
    if df <= 0 or n_docs <= 0:
        return 0.0
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


def _top(
    scores: np.ndarray, ids: np.ndarray, k: int, accept: Accept | None
) -> list[tuple[float, int]]:
    """Best k (score, id) pairs with a positive score, filtered by `accept`, over-fetching."""
    # bm25s scores every document; zeros are "no query term here", not weak matches.
    nz = np.flatnonzero(scores > 0)
    if not len(nz):
        return []
    fetch = k if accept is None else max(4 * k, 32)
    while True:
        m = min(fetch, len(nz))
        part = nz[np.argpartition(-scores[nz], m - 1)[:m]] if m < len(nz) else nz
        order = part[np.lexsort((ids[part], -scores[part]))]
        out = [
            (float(scores[p]), int(ids[p])) for p in order if accept is None or accept(int(ids[p]))
        ]
        if len(out) >= k or m == len(nz):
            return out[:k]
        fetch *= 4
