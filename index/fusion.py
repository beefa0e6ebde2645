"""Fusion of dense and sparse result lists.

Two ways: reciprocal rank fusion (RRF, Cormack et al. 2009), which needs no score calibration,
and a weighted sum of min-max normalised scores. BM25 scores are unbounded and vary with the
query's length while cosines from e5-style models sit in a narrow band (0.8-0.95), so raw scores
must never be added; min-max normalising each list makes a list's spread, not its scale, decide
how much it moves the result. `index.hybrid` uses the weighted sum by default: with the bundled
model the dense half is the weaker one, and RRF gives its top ranks as much pull as BM25's
whatever the margins (see docs/benchmarks.md for the measurements).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["RRF_K", "reciprocal_rank_fusion", "weighted_fusion"]

# 60 is the constant from the original paper; larger values flatten the advantage of the top ranks.
RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]],
    *,
    k: int = RRF_K,
    weights: Sequence[float] | None = None,
) -> dict[int, float]:
    """Return id -> sum over rankings of weight / (k + rank), ranks starting at 1."""
    if weights is not None and len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    fused: dict[int, float] = {}
    for n, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[n]
        seen: set[int] = set()
        for rank, doc_id in enumerate(ranking, start=1):
            if doc_id in seen:  # a duplicate must not count twice
                continue
            seen.add(doc_id)
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (k + rank)
    return fused


def min_max(scores: Mapping[int, float]) -> dict[int, float]:
    """Scale scores to [0, 1]; a list whose scores are all equal maps to 1.0."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi == lo:
        return {doc_id: 1.0 for doc_id in scores}
    return {doc_id: (s - lo) / (hi - lo) for doc_id, s in scores.items()}


def weighted_fusion(
    score_lists: Sequence[Mapping[int, float]], *, weights: Sequence[float]
) -> dict[int, float]:
    """Return id -> sum of weight * min-max normalised score; absent from a list counts 0."""
    if len(weights) != len(score_lists):
        raise ValueError("one weight per score list")
    fused: dict[int, float] = {}
    for scores, weight in zip(score_lists, weights, strict=True):
        for doc_id, s in min_max(scores).items():
            fused[doc_id] = fused.get(doc_id, 0.0) + weight * s
    return fused
