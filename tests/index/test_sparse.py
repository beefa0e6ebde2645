import itertools
import random

import bm25s
import numpy as np
import pytest

from index.sparse import SparseIndex

TEXT = {"text": 1.0}


def corpus(n: int = 120, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(200)]
    return [
        [rng.choice(vocab[:30] if rng.random() < 0.5 else vocab) for _ in range(rng.randint(3, 25))]
        for _ in range(n)
    ]


def reference(docs: list[list[str]], query: list[str], k: int) -> list[tuple[int, float]]:
    bm25 = bm25s.BM25(method="lucene")
    bm25.index(docs, show_progress=False)
    ids, scores = bm25.retrieve([query], k=k, show_progress=False)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]


def ranking(index: SparseIndex, query: list[str], k: int = 10) -> list[tuple[int, float]]:
    return [(h.id, h.score) for h in index.search(query, k=k)]


def assert_same_ranking(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    """Equal scores rank for rank; ids may differ only where the reference has a tie."""
    assert len(got) == len(want)
    assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-5)
    ref = dict(want)
    for doc_id, score in got:
        if doc_id in ref:
            assert ref[doc_id] == pytest.approx(score, rel=1e-5)
        else:  # only acceptable as a tie with the last reference score
            assert score == pytest.approx(want[-1][1], rel=1e-5)


def assert_consistent_order(got: list[int], rebuilt: SparseIndex, query: list[str]) -> None:
    """`got` is what a full rebuild ranks first, allowing swaps of scores within 2%."""
    full = dict(ranking(rebuilt, query, k=1000))
    cutoff = sorted(full.values(), reverse=True)[len(got) - 1]
    assert all(full[i] >= cutoff * 0.98 for i in got)
    assert all(full[a] >= full[b] * 0.98 for a, b in itertools.pairwise(got))


QUERIES = [["w1", "w7", "w120"], ["w3"], ["w150", "w199", "w2"]]


@pytest.mark.parametrize("query", QUERIES)
def test_snapshot_scores_equal_bm25s(query: list[str]) -> None:
    docs = corpus()
    index = SparseIndex(fields=TEXT)
    index.replace_all((i, {"text": d}) for i, d in enumerate(docs))
    assert_same_ranking(ranking(index, query), reference(docs, query, 10))


@pytest.mark.parametrize("query", QUERIES)
def test_delta_scores_use_the_same_formula_as_bm25s(query: list[str]) -> None:
    docs = corpus()
    index = SparseIndex(fields=TEXT, auto_compact=False)
    index.upsert((i, {"text": d}) for i, d in enumerate(docs))
    assert index.delta_size == len(docs)
    assert_same_ranking(ranking(index, query), reference(docs, query, 10))


def test_zero_scores_are_never_returned() -> None:
    index = SparseIndex(fields=TEXT)
    index.replace_all([(1, {"text": ["a", "b"]}), (2, {"text": ["c"]}), (3, {"text": ["d"]})])
    assert [h.id for h in index.search(["a"], k=10)] == [1]
    assert index.search(["zzz"], k=10) == []


def test_matched_terms_are_reported() -> None:
    index = SparseIndex(fields=TEXT)
    index.replace_all([(1, {"text": ["社保卡", "补办", "流程"]})])
    (hit,) = index.search(["社保卡", "补办", "激活"])
    assert hit.terms == ("社保卡", "补办")


def test_upsert_and_remove_are_visible_immediately_and_match_a_rebuild() -> None:
    docs = corpus(200)
    index = SparseIndex(fields=TEXT, auto_compact=False)
    index.replace_all((i, {"text": d}) for i, d in enumerate(docs))
    target = ["w150", "w151", "w152"]
    index.upsert([(1000, {"text": target * 3}), (5, {"text": target})])
    index.remove([7, 8, 9999])
    live = {i: d for i, d in enumerate(docs) if i not in (7, 8)}
    live[1000], live[5] = target * 3, target
    assert index.delta_size > 0
    top = [h.id for h in index.search(target, k=3)]
    assert top[:2] == [1000, 5]
    assert all(h.id not in (7, 8) for h in index.search(docs[7] + docs[8], k=300))

    rebuilt = SparseIndex(fields=TEXT)
    rebuilt.replace_all((i, {"text": d}) for i, d in live.items())
    for query in [target, *QUERIES]:
        assert_consistent_order([h.id for h in index.search(query, k=5)], rebuilt, query)
        full = dict(ranking(rebuilt, query, k=1000))
        # Live idf leaves only the snapshot's average length as drift: well under 1%.
        assert all(s == pytest.approx(full[i], rel=0.01) for i, s in ranking(index, query))
    index.compact()
    assert index.delta_size == 0
    for query in [target, *QUERIES]:
        assert_same_ranking(ranking(index, query), ranking(rebuilt, query))


def test_auto_compaction_keeps_results() -> None:
    index = SparseIndex(fields=TEXT, compact_min=4, compact_ratio=0.0, background=False)
    for i in range(20):
        index.upsert([(i, {"text": [f"t{i}", "common"]})])
    assert index.delta_size <= 4
    assert [h.id for h in index.search(["t13"], k=3)] == [13]
    assert len(index.search(["common"], k=100)) == 20


def test_replaced_document_is_found_by_new_text_only() -> None:
    index = SparseIndex(fields=TEXT)
    index.replace_all([(1, {"text": ["old"]}), (2, {"text": ["other"]})])
    index.upsert([(1, {"text": ["new"]})])
    assert index.search(["old"]) == []
    assert [h.id for h in index.search(["new"])] == [1]
    index.upsert([(1, {"text": ["newer"]})])
    assert index.search(["new"]) == []
    assert len(index) == 2


def test_fields_are_weighted() -> None:
    index = SparseIndex(fields={"questions": 3.0, "text": 1.0})
    index.replace_all(
        [
            (1, {"questions": ["公积金"], "text": ["其他"]}),
            (2, {"questions": ["其他"], "text": ["公积金"]}),
        ]
    )
    assert [h.id for h in index.search(["公积金"])] == [1, 2]


def test_accept_filter_applies_before_the_cut() -> None:
    index = SparseIndex(fields=TEXT)
    index.replace_all((i, {"text": ["x"] * (i + 1) + ["pad"] * 5}) for i in range(100))
    hits = index.search(["x"], k=3, accept=lambda i: i % 10 == 0)
    assert [h.id for h in hits] == [90, 80, 70]


def test_writes_during_compaction_are_not_lost() -> None:
    index = SparseIndex(fields=TEXT, auto_compact=False)
    index.replace_all((i, {"text": [f"d{i}"]}) for i in range(10))
    original_build = index._build

    def racing_build(snapshot):  # type: ignore[no-untyped-def]
        index.upsert([(3, {"text": ["moved"]}), (50, {"text": ["fresh"]})])
        index.remove([4])
        return original_build(snapshot)

    index._build = racing_build  # type: ignore[method-assign]
    index.compact()
    assert [h.id for h in index.search(["moved"])] == [3]
    assert [h.id for h in index.search(["fresh"])] == [50]
    assert index.search(["d3"]) == [] and index.search(["d4"]) == []
    assert [h.id for h in index.search(["d5"])] == [5]


def test_background_compaction_absorbs_the_delta() -> None:
    index = SparseIndex(fields=TEXT, compact_min=4, compact_ratio=0.0)
    for i in range(6):
        index.upsert([(i, {"text": [f"t{i}", "common"]})])
        assert [h.id for h in index.search([f"t{i}"])] == [i]  # visible before any rebuild
    with index._compact_lock:  # wait for the thread the last upsert started
        pass
    index.compact()
    assert index.delta_size == 0
    assert len(index.search(["common"], k=100)) == 6
