from pathlib import Path

import numpy as np
import pytest

from index.dense import DenseIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def vectors() -> np.ndarray:
    return unit(np.random.default_rng(0).standard_normal((50, 16)))


def test_search_returns_ids_and_cosines_best_first(vectors: np.ndarray) -> None:
    index = DenseIndex(16)
    index.upsert(list(range(100, 150)), vectors)
    hits = index.search(vectors[7], k=3)
    assert hits[0][0] == 107 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_int64_ids_round_trip() -> None:
    index = DenseIndex(4)
    big = 2**62 + 5
    index.upsert([big], unit(np.ones((1, 4))))
    assert index.search(unit(np.ones((1, 4)))[0], k=1)[0][0] == big


def test_remove_and_replace(vectors: np.ndarray) -> None:
    index = DenseIndex(16)
    index.upsert(list(range(50)), vectors)
    assert index.remove([3, 4, 999]) == 2
    assert len(index) == 48 and 3 not in index
    assert all(i != 3 for i, _ in index.search(vectors[3], k=48))
    index.upsert([10], vectors[20])  # replace: same id, new vector
    assert len(index) == 48
    top = index.search(vectors[20], k=2)
    assert {i for i, _ in top} == {10, 20}
    assert index.similarities(vectors[10], [10])[10] < 0.99


def test_filter_over_fetches_until_k_pass(vectors: np.ndarray) -> None:
    index = DenseIndex(16)
    index.upsert(list(range(50)), vectors)
    hits = index.search(vectors[0], k=5, accept=lambda i: i % 7 == 0)
    assert len(hits) == 5 and all(i % 7 == 0 for i, _ in hits)


def test_similarities_are_raw_cosines(vectors: np.ndarray) -> None:
    index = DenseIndex(16)
    index.upsert(list(range(50)), vectors)
    sims = index.similarities(vectors[1], [2, 3, 77])
    assert set(sims) == {2, 3}
    assert sims[2] == pytest.approx(float(vectors[1] @ vectors[2]), abs=1e-5)


def test_wrong_dimension_and_duplicate_ids_are_rejected(vectors: np.ndarray) -> None:
    index = DenseIndex(16)
    with pytest.raises(ValueError, match="dimension"):
        index.upsert([1], np.ones((1, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="duplicate"):
        index.upsert([1, 1], vectors[:2])


def test_save_and_load(tmp_path: Path, vectors: np.ndarray) -> None:
    index = DenseIndex(16)
    index.upsert(list(range(50)), vectors)
    index.remove([5])
    index.save(tmp_path / "dense.faiss")
    loaded = DenseIndex.load(tmp_path / "dense.faiss", dim=16)
    assert sorted(loaded.ids()) == sorted(index.ids())
    assert loaded.search(vectors[9], k=1)[0][0] == 9
    with pytest.raises(ValueError):
        DenseIndex.load(tmp_path / "dense.faiss", dim=8)


def test_empty_index_searches_empty() -> None:
    assert DenseIndex(8).search(np.ones(8, dtype=np.float32), k=3) == []
