"""The retrieval index kept in step with the database through the change log.

The database is the truth; the index is a cache keyed by row id. It persists under
`KB_DATA_DIR/index` together with the change-log sequence it reflects; at start it loads that
snapshot and replays later changes, and a missing or corrupt snapshot is rebuilt from the
database (with a progress bar). A background thread replays new changes as they are committed,
so publishing or retiring an entry shows in suggestions within well under a second.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from index.encoders import Encoder
from index.hybrid import HybridIndex, IndexDoc, SnapshotError, passage_text
from kb_service import audit, entries
from kb_service.models import (
    ChangeKind,
    ChangeOp,
    Department,
    Document,
    DocumentStatus,
    Entry,
    Passage,
)

log = logging.getLogger("kb.search")

# Entries and passages share one int64 id space in the index.
PASSAGE_BASE = 1 << 40


def entry_key(entry_id: int) -> int:
    """Index id of an entry."""
    return entry_id


def passage_key(passage_id: int) -> int:
    """Index id of a passage."""
    return PASSAGE_BASE + passage_id


def split_key(key: int) -> tuple[str, int]:
    """(kind, row id) of an index id."""
    return ("passage", key - PASSAGE_BASE) if key >= PASSAGE_BASE else ("entry", key)


def entry_doc(entry: Entry, version: Any, dept: Department) -> IndexDoc:
    """The index document of an entry's live version."""
    return IndexDoc(
        id=entry_key(entry.id or 0),
        kind="entry",
        title=version.question,
        text=version.answer,
        questions=[version.question, *version.similar_questions],
        meta={
            "region": version.region or entries.DEFAULT_REGION,
            "department": dept.code,
            "category": version.category or "",
        },
    )


def passage_doc(
    passage: Passage, document: Document, dept_code: str | None, context: str = ""
) -> IndexDoc:
    """The index document of a policy passage (title carries the document and the locator)."""
    depts = list(passage.departments)
    return IndexDoc(
        id=passage_key(passage.id or 0),
        kind="passage",
        title=f"{document.title} {passage.locator}".strip(),
        text=passage.text,
        questions=[],
        meta={
            "region": entries.DEFAULT_REGION,
            "department": dept_code or (depts[0] if depts else ""),
            "category": "政策文件",
        },
        context=context,
        group=f"document:{passage.document_id}",
    )


# A passage's BM25 context: its document's text, capped (long gazettes would otherwise make
# every passage of a document match every query about it).
CONTEXT_MAX_CHARS = 3000


def _contexts(session: Session, passages: list[Passage]) -> dict[int, str]:
    """Each passage's document text (same version), capped at CONTEXT_MAX_CHARS."""
    keys = {(p.document_id, p.version) for p in passages}
    texts: dict[tuple[int, int], str] = {}
    for doc_id, version in keys:
        stmt = (
            select(Passage.text)
            .where(Passage.document_id == doc_id, Passage.version == version)
            .order_by(col(Passage.ordinal))
        )
        texts[(doc_id, version)] = " ".join(session.exec(stmt).all())[:CONTEXT_MAX_CHARS]
    return {p.id or 0: texts[(p.document_id, p.version)] for p in passages}


def servable_passages(
    session: Session, *, ids: list[int] | None
) -> list[tuple[Passage, Document, str | None]]:
    """Active passages of active (not repealed/superseded) documents, with the owner's code."""
    stmt = (
        select(Passage, Document, Department.code)
        .join(Document, col(Document.id) == col(Passage.document_id))
        .join(Department, col(Department.id) == col(Document.department_id), isouter=True)
        .where(col(Passage.active).is_(True), Document.status == DocumentStatus.active)
    )
    if ids is not None:
        if not ids:
            return []
        stmt = stmt.where(col(Passage.id).in_(ids))
    return [(p, d, code) for p, d, code in session.exec(stmt).all()]


class VectorCache:
    """Vectors by content hash, so unchanged (or duplicate) text is never embedded twice."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def key(self, text: str) -> str:
        """Content hash of a text for this encoder."""
        raw = f"{self.encoder.name}\x00{text}".encode()
        return hashlib.blake2b(raw, digest_size=16).hexdigest()

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Vectors for `texts`, embedding only the distinct ones not cached yet."""
        keys = [self.key(t) for t in texts]
        todo: dict[str, str] = {}
        with self._lock:
            for k, t in zip(keys, texts, strict=True):
                if k not in self._vectors and k not in todo:
                    todo[k] = t
        self.misses += len(todo)
        self.hits += len(texts) - len(todo)
        if todo:
            vecs = self.encoder.encode_passages(list(todo.values()), show_progress=show_progress)
            with self._lock:
                for k, v in zip(todo, vecs, strict=True):
                    self._vectors[k] = np.asarray(v, dtype=np.float32)
        with self._lock:
            if not keys:
                return np.zeros((0, self.encoder.dim), dtype=np.float32)
            return np.vstack([self._vectors[k] for k in keys])

    def save(self, path: Path) -> None:
        """Persist the cache (one .npz, written atomically)."""
        with self._lock:
            keys = list(self._vectors)
            mat = (
                np.vstack([self._vectors[k] for k in keys])
                if keys
                else np.zeros((0, self.encoder.dim), dtype=np.float32)
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys, dtype="U32"), vectors=mat)
        tmp.replace(path)

    def load(self, path: Path) -> None:
        """Load a persisted cache if it is there and readable (a bad one is ignored)."""
        try:
            with np.load(path) as data:
                keys, mat = list(data["keys"]), data["vectors"]
        except (OSError, ValueError, KeyError):
            return
        if mat.ndim != 2 or mat.shape[1] != self.encoder.dim:
            return
        with self._lock:
            for k, v in zip(keys, mat, strict=True):
                self._vectors[str(k)] = v


@dataclass
class DoctorReport:
    """Disagreements between the index and the database."""

    index_seq: int
    db_seq: int
    missing: list[int]
    extra: list[int]
    stale: list[int]

    @property
    def ok(self) -> bool:
        """True when the index serves exactly what the database says is live."""
        return not (self.missing or self.extra or self.stale) and self.index_seq == self.db_seq


class SearchService:
    """Owns the HybridIndex and keeps it in step with the change log."""

    def __init__(
        self,
        *,
        engine: Engine,
        encoder: Encoder,
        index_dir: Path,
        save_every: int = 500,
        poll_seconds: float = 0.5,
    ) -> None:
        self.engine = engine
        self.encoder = encoder
        self.index_dir = index_dir
        self.save_every = save_every
        self.poll_seconds = poll_seconds
        self.cache = VectorCache(encoder)
        self.index = HybridIndex(encoder)
        self.seq = 0
        self._since_save = 0
        self._apply_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cache_path = index_dir / f"vectors-{_safe(encoder.name)}.npz"

    # -- start-up ---------------------------------------------------------------------------

    def open(self, *, show_progress: bool = True) -> str:
        """Load the snapshot and replay later changes, or rebuild; returns what happened."""
        self.cache.load(self.cache_path)
        try:
            self.index, self.seq = HybridIndex.load(self.index_dir, self.encoder)
            how = "snapshot"
        except SnapshotError as exc:
            log.warning("index snapshot unusable (%s): rebuilding from the database", exc)
            self.rebuild(show_progress=show_progress)
            how = "rebuilt"
        else:
            self.catch_up()
        # First calls load jieba's dictionary and trace the encoder: pay that before serving.
        self.index.search("12345热线咨询工单几个工作日答复", k=1)
        return how

    def rebuild(self, *, show_progress: bool = True) -> int:
        """Index every live entry and active passage from scratch; returns the count."""
        with Session(self.engine) as session:
            seq = audit.last_seq(session)
            docs = self._entry_docs(session, None) + self._passage_docs(session, None)
        index = HybridIndex(self.encoder)
        vectors = self._vectors(docs, show_progress=show_progress)
        if docs:
            index.upsert(docs, vectors=vectors)
        with self._apply_lock:
            self.index, self.seq = index, seq
        self.catch_up()
        self.save()
        return len(docs)

    def _vectors(self, docs: Sequence[IndexDoc], *, show_progress: bool = False) -> np.ndarray:
        texts = [passage_text(d) for d in docs]
        batch = 256
        if not show_progress or len(texts) <= batch:
            return self.cache.encode(texts)
        from tqdm import tqdm

        parts = []
        with tqdm(total=len(texts), desc="建立索引", unit="条") as bar:
            for start in range(0, len(texts), batch):
                parts.append(self.cache.encode(texts[start : start + batch]))
                bar.update(min(batch, len(texts) - start))
        return np.vstack(parts)

    # -- replay -----------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Apply every change after the index's seq; returns how many were applied."""
        applied = 0
        while True:
            with Session(self.engine) as session:
                changes = audit.changes_after(session, seq=self.seq, limit=2000)
                if not changes:
                    break
                last: dict[tuple[str, int], str] = {}
                for ch in changes:
                    last[(str(ch.kind), ch.entity_id)] = str(ch.op)
                entry_ids = [
                    i
                    for (k, i), op in last.items()
                    if k == ChangeKind.entry and op == ChangeOp.upsert
                ]
                passage_ids = [
                    i
                    for (k, i), op in last.items()
                    if k == ChangeKind.passage and op == ChangeOp.upsert
                ]
                docs = self._entry_docs(session, entry_ids) + self._passage_docs(
                    session, passage_ids
                )
                present = {d.id for d in docs}
                gone = [
                    entry_key(i) if k == ChangeKind.entry else passage_key(i) for (k, i) in last
                ]
                gone = [g for g in gone if g not in present]
                new_seq = changes[-1].seq or self.seq
            vectors = self._vectors(docs)  # encode outside the lock
            with self._apply_lock:
                if gone:
                    self.index.remove(gone)
                if docs:
                    self.index.upsert(docs, vectors=vectors)
                self.seq = new_seq
            applied += len(changes)
            self._since_save += len(changes)
        if self._since_save >= self.save_every:
            self.save()
        return applied

    def _entry_docs(self, session: Session, ids: list[int] | None) -> list[IndexDoc]:
        return [entry_doc(e, v, d) for e, v, d in entries.live_rows(session, ids=ids)]

    def _passage_docs(self, session: Session, ids: list[int] | None) -> list[IndexDoc]:
        rows = servable_passages(session, ids=ids)
        contexts = _contexts(session, [p for p, _, _ in rows])
        return [passage_doc(p, d, code, contexts.get(p.id or 0, "")) for p, d, code in rows]

    # -- persistence and background ---------------------------------------------------------

    def save(self) -> None:
        """Write a snapshot (atomically) and the vector cache."""
        with self._apply_lock:
            self.index.save(self.index_dir, seq=self.seq)
            self._since_save = 0
        self.cache.save(self.cache_path)

    def start(self) -> None:
        """Start the background replayer (wakes on notify() or every poll interval)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="kb-index-sync", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Something was committed: replay soon."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                self.catch_up()
            except Exception:  # keep serving; the next round retries from the same seq
                log.exception("index catch-up failed")

    def close(self) -> None:
        """Stop the replayer and save a snapshot."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self.catch_up()
            self.save()
        except Exception:
            log.exception("could not save the index snapshot on close")

    # -- checks -----------------------------------------------------------------------------

    def doctor(self) -> DoctorReport:
        """Compare the index with what the database says should be served."""
        with Session(self.engine) as session:
            db_seq = audit.last_seq(session)
            want = {
                d.id: d for d in self._entry_docs(session, None) + self._passage_docs(session, None)
            }
        have = set(self.index.ids())
        stale = []
        for key in have & set(want):
            doc = self.index.get(key)
            if doc is not None and passage_text(doc) != passage_text(want[key]):
                stale.append(key)
        return DoctorReport(
            index_seq=self.seq,
            db_seq=db_seq,
            missing=sorted(set(want) - have),
            extra=sorted(have - set(want)),
            stale=sorted(stale),
        )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
