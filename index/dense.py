"""Dense vectors in FAISS, keyed by int64 ids: exact inner product over L2-normalised rows.

`IndexIDMap2(IndexFlatIP)` is exact and supports remove/reconstruct by id; it stays until a
benchmark shows it too slow for the latency budget (see bench/bench_index.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import faiss
import numpy as np

from index._rwlock import RWLock

__all__ = ["DenseIndex"]

Accept = Callable[[int], bool]


def _as_rows(vectors: np.ndarray, dim: int) -> np.ndarray:
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    if rows.ndim != 2 or rows.shape[1] != dim:
        raise ValueError(f"expected vectors of dimension {dim}, got shape {vectors.shape}")
    return rows


class DenseIndex:
    """Exact cosine search over normalised vectors; one writer at a time, concurrent readers."""

    def __init__(self, dim: int, *, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if self._index.d != dim:
            raise ValueError(f"index dimension {self._index.d} != {dim}")
        # The SWIG base type hides IndexIDMap2's id_map from the type checker.
        id_map = cast(Any, self._index).id_map
        self._ids: set[int] = {int(i) for i in faiss.vector_to_array(id_map).tolist()}
        self._lock = RWLock()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._ids

    def ids(self) -> list[int]:
        """Return every stored id."""
        with self._lock.read():
            return list(self._ids)

    def upsert(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add vectors under `ids`, replacing any vector already stored under the same id."""
        rows = _as_rows(vectors, self.dim)
        keys = np.asarray(ids, dtype=np.int64)
        if len(keys) != len(rows):
            raise ValueError(f"{len(keys)} ids for {len(rows)} vectors")
        if len(set(keys.tolist())) != len(keys):
            raise ValueError("duplicate ids in one upsert")
        with self._lock.write():
            stale = [int(i) for i in keys if int(i) in self._ids]
            if stale:
                self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(stale, dtype=np.int64)))
            self._index.add_with_ids(rows, keys)
            self._ids.update(int(i) for i in keys)

    def remove(self, ids: Iterable[int]) -> int:
        """Remove vectors by id; returns how many were present."""
        with self._lock.write():
            present = [int(i) for i in ids if int(i) in self._ids]
            if present:
                self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(present, dtype=np.int64)))
                self._ids.difference_update(present)
            return len(present)

    def search(
        self, vector: np.ndarray, *, k: int = 10, accept: Accept | None = None
    ) -> list[tuple[int, float]]:
        """Return up to k (id, cosine) pairs, best first, among ids passing `accept`."""
        query = _as_rows(vector, self.dim)
        with self._lock.read():
            total = self._index.ntotal
            if not total or k <= 0:
                return []
            # A filter can reject most neighbours; fetch more until k pass or all were seen.
            fetch = min(total, k if accept is None else max(4 * k, 32))
            while True:
                scores, keys = self._index.search(query, fetch)
                out = [
                    (int(i), float(s))
                    for i, s in zip(keys[0], scores[0], strict=True)
                    if i >= 0 and (accept is None or accept(int(i)))
                ]
                if len(out) >= k or fetch >= total:
                    return out[:k]
                fetch = min(total, fetch * 4)

    def similarities(self, vector: np.ndarray, ids: Iterable[int]) -> dict[int, float]:
        """Return the cosine between `vector` and each stored id (absent ids are left out)."""
        query = _as_rows(vector, self.dim)[0]
        with self._lock.read():
            present = [int(i) for i in ids if int(i) in self._ids]
            if not present:
                return {}
            rows = np.vstack([self._index.reconstruct(i) for i in present])
        return {i: float(s) for i, s in zip(present, rows @ query, strict=True)}

    def save(self, path: str | Path) -> None:
        """Write the FAISS index to `path` atomically (temp file + rename)."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        os.close(fd)
        try:
            with self._lock.read():
                faiss.write_index(self._index, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path, *, dim: int) -> DenseIndex:
        """Read an index written by `save`; raises ValueError if its dimension is not `dim`."""
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIDMap2):
            index = faiss.downcast_index(index)
        return cls(dim, index=index)
