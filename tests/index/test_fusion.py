import pytest

from index.fusion import min_max, reciprocal_rank_fusion, weighted_fusion


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[2] == pytest.approx(1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert max(fused, key=fused.__getitem__) == 1


def test_rrf_weights_and_duplicates() -> None:
    fused = reciprocal_rank_fusion([[1, 1, 2], [2]], k=1, weights=[1.0, 3.0])
    assert fused[1] == pytest.approx(1 / 2)
    assert fused[2] == pytest.approx(1 / 4 + 3 / 2)


def test_rrf_rejects_mismatched_weights() -> None:
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([[1]], weights=[1.0, 2.0])


def test_min_max_scales_to_unit_interval_and_handles_constant_lists() -> None:
    assert min_max({1: 2.0, 2: 4.0, 3: 3.0}) == {1: 0.0, 2: 1.0, 3: 0.5}
    assert min_max({1: 7.0}) == {1: 1.0}
    assert min_max({}) == {}


def test_weighted_fusion_normalises_each_list_before_weighting() -> None:
    dense = {1: 0.91, 2: 0.90}  # narrow cosine band
    sparse = {2: 30.0, 3: 10.0}  # unbounded BM25
    fused = weighted_fusion([dense, sparse], weights=[0.5, 0.5])
    assert fused == pytest.approx({1: 0.5, 2: 0.5, 3: 0.0})
