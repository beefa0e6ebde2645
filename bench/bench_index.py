"""Index latency bench: upsert into and search over 10k/100k synthetic docs, encoder excluded.

Run: .venv/bin/python bench/bench_index.py [--dim 384] [--sizes 10000 100000] [--threads N]
Vectors are random unit rows and documents are Zipf-distributed words (whitespace tokenizer), so
the numbers measure the index, not jieba or the model. Ratios compare against baselines measured
in the same run: a full BM25 rebuild (what an upsert would cost without the delta) and a bare
FAISS search (the floor for any exact hybrid search).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import faiss
import numpy as np

from index.encoders import FakeEncoder
from index.hybrid import HybridIndex, IndexDoc
from index.tokenize import Tokenizer


class SplitTokenizer:
    """Whitespace tokenizer: keeps jieba's cost out of index timings."""

    fingerprint = "split"

    def tokens(self, text: str) -> list[str]:
        return text.split()


def median_ms(fn: Callable[[int], object], runs: int) -> float:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def make_docs(n: int, rng: np.random.Generator, start: int = 0) -> list[IndexDoc]:
    vocab = np.array([f"w{i}" for i in range(20_000)])
    ranks = np.minimum(rng.zipf(1.3, size=(n, 60)), 20_000) - 1
    return [
        IndexDoc(
            id=start + i,
            kind="entry",
            title=" ".join(vocab[row[:6]]),
            text=" ".join(vocab[row[6:]]),
            questions=[" ".join(vocab[row[:8]])],
            meta={"region": ["西宁市", "海东市", "青海省"][i % 3]},
        )
        for i, row in enumerate(ranks)
    ]


def unit_rows(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    rows = rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def bench(n: int, dim: int, rng: np.random.Generator) -> None:
    docs = make_docs(n, rng)
    vectors = unit_rows(n, dim, rng)
    index = HybridIndex(FakeEncoder(dim), tokenizer=SplitTokenizer())
    start = time.perf_counter()
    index.upsert(docs, vectors=vectors)
    build_s = time.perf_counter() - start

    queries = [d.questions[0].split()[:4] for d in docs[:: max(1, n // 100)][:100]]
    qvecs = unit_rows(len(queries), dim, rng)
    search = median_ms(
        lambda i: index.search(" ".join(queries[i]), k=5, query_vector=qvecs[i]), 100
    )
    filtered = median_ms(
        lambda i: index.search(
            " ".join(queries[i]), k=5, query_vector=qvecs[i], filters={"region": {"海东市"}}
        ),
        100,
    )
    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    faiss_ms = median_ms(lambda i: flat.search(qvecs[i : i + 1], 5), 100)

    new_docs = make_docs(50, rng, start=n)
    new_vecs = unit_rows(50, dim, rng)
    insert = median_ms(lambda i: index.upsert([new_docs[i]], vectors=new_vecs[i : i + 1]), 50)
    replace = median_ms(
        lambda i: index.upsert(
            [IndexDoc(id=i * 7, kind="entry", title="改", text="改 写", questions=["改"])],
            vectors=new_vecs[i : i + 1],
        ),
        50,
    )
    visible = index.search("改 写", k=1, query_vector=new_vecs[49])[0].id == 49 * 7
    with_delta = median_ms(
        lambda i: index.search(" ".join(queries[i]), k=5, query_vector=qvecs[i]), 100
    )
    start = time.perf_counter()
    index.compact()
    rebuild_ms = (time.perf_counter() - start) * 1000

    print(f"\n{n:,} docs, dim {dim}: bulk upsert {build_s:.1f} s")
    print(f"  search k=5 (no encoder)      {search:8.2f} ms   x{search / faiss_ms:.1f} bare FAISS")
    print(f"  search k=5, filter 1/3       {filtered:8.2f} ms   x{filtered / faiss_ms:.1f}")
    print(f"  search k=5 after 100 edits   {with_delta:8.2f} ms   x{with_delta / faiss_ms:.1f}")
    print(f"  bare FAISS flat search       {faiss_ms:8.2f} ms   (baseline)")
    print(f"  upsert 1 new doc             {insert:8.2f} ms   x{insert / rebuild_ms:.4f} rebuild")
    print(f"  upsert 1 replacing doc       {replace:8.2f} ms   x{replace / rebuild_ms:.4f} rebuild")
    print(f"  BM25 full rebuild (compact)  {rebuild_ms:8.1f} ms   (baseline)")
    print(f"  replaced doc visible at once: {visible}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--threads", type=int, default=0, help="FAISS OpenMP threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    print(f"FAISS OpenMP threads: {faiss.omp_get_max_threads()}")
    tok = Tokenizer()
    tok.tokens("预热")
    jieba_ms = median_ms(lambda i: tok.tokens("请问医保电子凭证怎么激活？"), 200)
    print(f"jieba query tokenisation: {jieba_ms:.3f} ms (not included below)")
    rng = np.random.default_rng(0)
    for n in args.sizes:
        bench(n, args.dim, rng)


if __name__ == "__main__":
    main()
