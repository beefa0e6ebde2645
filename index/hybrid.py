"""Hybrid retrieval: dense (FAISS) + sparse (BM25) + exact question matches, fused, filtered.

The index is a cache of the database keyed by caller-chosen int64 ids; the caller re-checks every
hit against the database and persists snapshots with the change-log sequence they reflect.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from index.dense import DenseIndex
from index.encoders import Encoder
from index.fusion import RRF_K, reciprocal_rank_fusion, weighted_fusion
from index.sparse import DEFAULT_FIELDS, SparseIndex
from index.text import normalize, question_key
from index.tokenize import Tokenizer

__all__ = [
    "ANSWER_HEAD_CHARS",
    "Hit",
    "HybridIndex",
    "IndexDoc",
    "SnapshotError",
    "passage_text",
]

# How much of an entry's answer goes into its vector: the questions carry the meaning, the first
# sentences of the answer disambiguate them; more would dilute the embedding.
ANSWER_HEAD_CHARS = 200
# Exact question matches go first whatever the fusion says: the boost is added on top of the
# largest score fusion can give (the sum of the two weights).
EXACT_BOOST = 1.0
# Weighted fusion of min-max normalised scores, BM25 counting 0.6 and the cosine 0.4: with this
# bundled model the dense half is the weaker one (ncp document MRR@10 0.708 vs 0.810), and rank
# fusion (RRF) lets a weak list pull good BM25 hits down; score fusion keeps how *sure* each side
# is. Measured in bench/eval_retrieval.py (docs/benchmarks.md): RRF 0.785, weighted 0.824.
DENSE_WEIGHT = 0.4
SPARSE_WEIGHT = 0.6
# The n-th passage of one document scores x GROUP_DECAY**(n-1): the sidebar shows the best passage
# of several documents before the third passage of one (ncp document MRR@10 0.824 -> 0.831,
# gazette unchanged). 1.0 turns it off.
GROUP_DECAY = 0.7
SNAPSHOT_FORMAT = 3
_CURRENT = "CURRENT"


class SnapshotError(Exception):
    """A snapshot is missing, corrupt or incompatible; the caller should rebuild the index."""


class TokenizerLike(Protocol):
    """What the index needs from a tokenizer (index.tokenize.Tokenizer, or a fake in benches)."""

    @property
    def fingerprint(self) -> str: ...

    def tokens(self, text: str) -> list[str]: ...


@dataclass(slots=True)
class IndexDoc:
    """One retrievable unit: an entry (questions + answer) or a passage (title + text)."""

    id: int
    kind: str
    title: str
    text: str
    questions: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    # Text of a passage's document: searched by BM25 so a passage keeps its document's
    # vocabulary; never embedded or shown.
    context: str = ""
    # Documents sharing a non-empty group (a passage's document) are diversified in results.
    group: str = ""


@dataclass(slots=True)
class Hit:
    """A search result; `dense` is the raw cosine, which callers calibrate "answerable" on."""

    id: int
    kind: str
    score: float
    dense: float
    sparse: float
    exact: bool
    terms: list[str]


def passage_text(doc: IndexDoc) -> str:
    """Return the text whose embedding represents `doc` (hash it to cache vectors).

    Entries: the title (unless it is already a question), every question, then the first
    ANSWER_HEAD_CHARS characters of the answer. Anything else: title then text.
    """
    if doc.kind == "entry":
        lines = list(doc.questions)
        if doc.title and doc.title not in lines:
            lines.insert(0, doc.title)
        lines.append(doc.text[:ANSWER_HEAD_CHARS])
        return "\n".join(line for line in lines if line)
    return "\n".join(part for part in (doc.title, doc.text) if part)


def _sparse_fields(
    tokenizer: TokenizerLike, doc: IndexDoc, memo: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    def tok(text: str) -> list[str]:
        # Titles, questions and contexts repeat across docs: tokenise each distinct text once.
        if memo is None:
            return tokenizer.tokens(text)
        if text not in memo:
            memo[text] = tokenizer.tokens(text)
        return memo[text]

    return {
        "questions": [t for q in doc.questions for t in tok(q)],
        "title": tok(doc.title),
        "text": tok(doc.text),
        "context": tok(doc.context) if doc.context else [],
    }


def _doc_value(doc: IndexDoc, key: str) -> str | None:
    if key in doc.meta:
        return doc.meta[key]
    return doc.kind if key == "kind" else None


class HybridIndex:
    """Dense + BM25 + exact-question index over IndexDocs; safe for concurrent searches."""

    def __init__(
        self,
        encoder: Encoder,
        *,
        tokenizer: TokenizerLike | None = None,
        fusion: Literal["rrf", "weighted"] = "weighted",
        dense_weight: float = DENSE_WEIGHT,
        sparse_weight: float = SPARSE_WEIGHT,
        group_decay: float = GROUP_DECAY,
        candidates: int = 50,
        sparse_fields: Mapping[str, float] = DEFAULT_FIELDS,
    ) -> None:
        self.encoder = encoder
        self.tokenizer: TokenizerLike = tokenizer if tokenizer is not None else Tokenizer()
        self.fusion = fusion
        self.dense_weight = dense_weight
        self.sparse_weight = sparse_weight
        if not 0.0 < group_decay <= 1.0:
            raise ValueError("group_decay must be in (0, 1]")
        self.group_decay = group_decay
        self.candidates = candidates
        self._dense = DenseIndex(encoder.dim)
        self._sparse = SparseIndex(fields=sparse_fields)
        self._docs: dict[int, IndexDoc] = {}
        # question key -> ids; values are replaced, never mutated, so readers need no lock.
        self._by_question: dict[str, frozenset[int]] = {}
        self._write = threading.Lock()  # serialises writers across the three structures

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def ids(self) -> list[int]:
        """Return the ids of every indexed document."""
        with self._write:
            return list(self._docs)

    def get(self, doc_id: int) -> IndexDoc | None:
        """Return the indexed document with this id, if any."""
        return self._docs.get(doc_id)

    # -- writing -------------------------------------------------------------------------------

    def upsert(self, docs: Sequence[IndexDoc], *, vectors: np.ndarray | None = None) -> None:
        """Add or replace documents; `vectors` (rows of passage_text embeddings) skip encoding."""
        if not docs:
            return
        ids = [int(d.id) for d in docs]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in one upsert")
        # Encoding and tokenising are the slow parts: done before any lock is taken.
        if vectors is None:
            vectors = self.encoder.encode_passages([passage_text(d) for d in docs])
        rows = np.asarray(vectors, dtype=np.float32)
        if rows.shape != (len(docs), self.encoder.dim):
            raise ValueError(f"vectors shape {rows.shape} != {(len(docs), self.encoder.dim)}")
        memo: dict[str, list[str]] = {}
        tokens = [(d.id, _sparse_fields(self.tokenizer, d, memo)) for d in docs]
        with self._write:
            self._dense.upsert(ids, rows)
            self._sparse.upsert(tokens)
            for doc in docs:
                self._unlink_questions(doc.id)
                self._docs[doc.id] = doc
                self._link_questions(doc)

    def remove(self, ids: Iterable[int]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        wanted = [int(i) for i in ids]
        with self._write:
            # Drop from the doc map first: searches skip ids they cannot resolve.
            for doc_id in wanted:
                self._unlink_questions(doc_id)
                self._docs.pop(doc_id, None)
            self._dense.remove(wanted)
            self._sparse.remove(wanted)

    def compact(self) -> None:
        """Fold the BM25 delta into its snapshot now (normally done automatically)."""
        self._sparse.compact()

    def _link_questions(self, doc: IndexDoc) -> None:
        for key in {question_key(q) for q in doc.questions} - {""}:
            self._by_question[key] = self._by_question.get(key, frozenset()) | {doc.id}

    def _unlink_questions(self, doc_id: int) -> None:
        old = self._docs.get(doc_id)
        if old is None:
            return
        for key in {question_key(q) for q in old.questions} - {""}:
            rest = self._by_question.get(key, frozenset()) - {doc_id}
            if rest:
                self._by_question[key] = rest
            else:
                self._by_question.pop(key, None)

    # -- searching -----------------------------------------------------------------------------

    def _acceptor(self, filters: Mapping[str, set[str]] | None) -> Callable[[int], bool]:
        docs = self._docs
        active = {k: v for k, v in (filters or {}).items() if v is not None}

        def accept(doc_id: int) -> bool:
            doc = docs.get(doc_id)
            if doc is None:
                return False
            return all(_doc_value(doc, key) in allowed for key, allowed in active.items())

        return accept

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        filters: Mapping[str, set[str]] | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """Return the k best documents for `query` among those matching every filter.

        `filters` maps a meta key (or "kind") to its allowed values. Filters apply before the
        cut to k, with over-fetching, so a narrow filter still yields k hits if they exist.
        """
        if k <= 0 or not normalize(query):
            return []
        if query_vector is None:
            query_vector = self.encoder.encode_queries([query])[0]
        qvec = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        accept = self._acceptor(filters)
        n = max(self.candidates, 4 * k)

        dense = dict(self._dense.search(qvec, k=n, accept=accept))
        sparse_hits = self._sparse.search(self.tokenizer.tokens(query), k=n, accept=accept)
        sparse = {h.id: h.score for h in sparse_hits}
        terms = {h.id: list(h.terms) for h in sparse_hits}
        exact = {i for i in self._by_question.get(question_key(query), frozenset()) if accept(i)}

        if self.fusion == "rrf":
            fused = reciprocal_rank_fusion(
                [list(dense), list(sparse)], weights=[self.dense_weight, self.sparse_weight]
            )
        else:
            fused = weighted_fusion(
                [dense, sparse], weights=[self.dense_weight, self.sparse_weight]
            )
        top = (
            max(self.dense_weight, self.sparse_weight) / (1 + RRF_K)
            if self.fusion == "rrf"
            else self.dense_weight + self.sparse_weight
        )
        for doc_id in exact:
            fused[doc_id] = fused.get(doc_id, 0.0) + top + EXACT_BOOST
        ranked = self._diversify(sorted(fused.items(), key=lambda item: (-item[1], item[0])))

        hits: list[Hit] = []
        for doc_id, score in ranked:
            doc = self._docs.get(doc_id)
            if doc is None:  # removed while we were searching
                continue
            hits.append(
                Hit(
                    id=doc_id,
                    kind=doc.kind,
                    score=score,
                    dense=dense.get(doc_id, float("nan")),
                    sparse=sparse.get(doc_id, 0.0),
                    exact=doc_id in exact,
                    terms=terms.get(doc_id, []),
                )
            )
            if len(hits) == k:
                break
        # Hits found only by BM25 or the exact map still need their raw cosine.
        missing = [h.id for h in hits if np.isnan(h.dense)]
        if missing:
            sims = self._dense.similarities(qvec, missing)
            for hit in hits:
                if np.isnan(hit.dense):
                    hit.dense = sims.get(hit.id, 0.0)
        return hits

    def _diversify(self, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Decay the n-th hit of a group by group_decay**(n-1), then re-sort (stable)."""
        if self.group_decay >= 1.0:
            return ranked
        seen: dict[str, int] = {}
        out: list[tuple[int, float]] = []
        for doc_id, score in ranked:
            doc = self._docs.get(doc_id)
            group = doc.group if doc is not None else ""
            if group:
                n = seen.get(group, 0)
                seen[group] = n + 1
                score *= self.group_decay**n
            out.append((doc_id, score))
        out.sort(key=lambda item: (-item[1], item[0]))
        return out

    # -- persistence ---------------------------------------------------------------------------

    def save(self, directory: str | Path, *, seq: int) -> Path:
        """Write a snapshot reflecting change-log `seq` under `directory`, atomically.

        Each snapshot is a fresh subdirectory; the `CURRENT` file naming it is swapped in with
        os.replace, so a crash leaves the previous snapshot readable. Returns the snapshot path.
        """
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        name = f"snapshot-{seq:012d}-{uuid.uuid4().hex[:8]}"
        tmp = root / f".{name}.tmp"
        tmp.mkdir()
        try:
            with self._write:  # a consistent view: no writer may run between the parts
                self._dense.save(tmp / "dense.faiss")
                with (tmp / "docs.jsonl").open("w", encoding="utf-8") as fh:
                    for doc in self._docs.values():
                        record = {**asdict(doc), "tokens": self._sparse.tokens(doc.id)}
                        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                count = len(self._docs)
            manifest = {
                "format": SNAPSHOT_FORMAT,
                "seq": seq,
                "count": count,
                "encoder": self.encoder.name,
                "dim": self.encoder.dim,
                "tokenizer": self.tokenizer.fingerprint,
                "files": {p.name: _sha256(p) for p in sorted(tmp.iterdir())},
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            _fsync_dir(tmp)
            final = root / name
            os.replace(tmp, final)
            pointer = root / f".{_CURRENT}.{uuid.uuid4().hex[:8]}.tmp"
            pointer.write_text(name + "\n", encoding="utf-8")
            os.replace(pointer, root / _CURRENT)
            _fsync_dir(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        # Older snapshots are only garbage now; a failure to delete them is harmless.
        for old in root.glob("snapshot-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        return final

    @classmethod
    def load(
        cls, directory: str | Path, encoder: Encoder, *, tokenizer: TokenizerLike | None = None
    ) -> tuple[HybridIndex, int]:
        """Load the current snapshot under `directory`; returns (index, seq) or SnapshotError."""
        root = Path(directory)
        try:
            name = (root / _CURRENT).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SnapshotError(f"no index snapshot in {root}") from exc
        snap = root / name
        try:
            manifest = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
            if manifest.get("format") != SNAPSHOT_FORMAT:
                raise SnapshotError(f"snapshot format {manifest.get('format')!r} not supported")
            if (manifest["encoder"], manifest["dim"]) != (encoder.name, encoder.dim):
                raise SnapshotError(
                    f"snapshot built with {manifest['encoder']}/{manifest['dim']}, "
                    f"not {encoder.name}/{encoder.dim}"
                )
            for fname, digest in manifest["files"].items():
                if _sha256(snap / fname) != digest:
                    raise SnapshotError(f"{fname} in {snap} is corrupt (checksum mismatch)")
            index = cls(encoder, tokenizer=tokenizer)
            docs: list[IndexDoc] = []
            tokens: list[tuple[int, dict[str, list[str]]]] = []
            with (snap / "docs.jsonl").open(encoding="utf-8") as fh:
                for line in fh:
                    record = json.loads(line)
                    toks = record.pop("tokens")
                    doc = IndexDoc(**record)
                    docs.append(doc)
                    tokens.append((doc.id, toks))
            if len(docs) != manifest["count"]:
                raise SnapshotError(
                    f"{snap} holds {len(docs)} docs, manifest says {manifest['count']}"
                )
            # Stored tokens are only reusable with the same dictionaries and rules.
            if manifest["tokenizer"] != index.tokenizer.fingerprint:
                memo: dict[str, list[str]] = {}
                tokens = [(d.id, _sparse_fields(index.tokenizer, d, memo)) for d in docs]
            dense = DenseIndex.load(snap / "dense.faiss", dim=encoder.dim)
            if len(dense) != len(docs) or set(dense.ids()) != {d.id for d in docs}:
                raise SnapshotError(f"{snap}: vectors and documents disagree")
            seq = int(manifest["seq"])
        except SnapshotError:
            raise
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise SnapshotError(f"cannot read index snapshot {snap}: {exc}") from exc
        index._dense = dense
        index._sparse.replace_all(tokens)
        for doc in docs:
            index._docs[doc.id] = doc
            index._link_questions(doc)
        return index, seq


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    # Durability of the renames themselves; not every platform lets a directory be opened.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
