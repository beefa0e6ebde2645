"""Retrieval quality on ../shared/eval (reads shared data: evaluation only, never the product).

    .venv/bin/python bench/eval_retrieval.py [--quick] [--no-write]

For BM25 alone, dense alone and the hybrid: Recall@1, Recall@5, MRR@10 on gazette_questions
(after ingesting ../shared/corpus through the product's ingestion pipeline), ncp_policy document
and answer scores (after ingesting ncp docs.jsonl), LCQMC pair AUC for the encoder, and the
calibration of the "answerable" threshold. Vectors are cached under bench/data/ so a second run
embeds nothing. Writes the table into docs/benchmarks.md (between eval markers).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
EVAL = SHARED / "eval"
DATA = ROOT / "bench" / "data"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sqlmodel import Session, select  # noqa: E402

from ingestion.pipeline import ingest_paths  # noqa: E402
from kb_service import bootstrap  # noqa: E402
from kb_service.config import Settings  # noqa: E402
from kb_service.db import session_scope  # noqa: E402
from kb_service.models import Document, Passage  # noqa: E402
from kb_service.principals import SYSTEM  # noqa: E402
from kb_service.runtime import Runtime  # noqa: E402
from kb_service.search import PASSAGE_BASE, SearchService  # noqa: E402

Ranker = Callable[[str, int], list[int]]


def norm(text: str) -> str:
    """The scoring normalisation of shared/eval/README.md: NFKC, then no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def scores(ranks: list[int]) -> dict[str, float]:
    """Recall@1, Recall@5, MRR@10 from 1-based ranks (0 = not found)."""
    n = len(ranks) or 1
    return {
        "R@1": sum(1 for r in ranks if r == 1) / n,
        "R@5": sum(1 for r in ranks if 1 <= r <= 5) / n,
        "MRR@10": sum(1.0 / r for r in ranks if 1 <= r <= 10) / n,
    }


def first_rank(ids: list[int], is_gold: Callable[[int], bool]) -> int:
    """1-based position of the first gold id, 0 if none."""
    for pos, i in enumerate(ids, start=1):
        if is_gold(i):
            return pos
    return 0


class Corpus:
    """A temporary knowledge base built through the product's own ingestion and index."""

    def __init__(self, name: str, runtime: Runtime) -> None:
        self.name = name
        self.rt = runtime
        self.svc: SearchService | None = None
        self.text: dict[int, str] = {}
        self.doc: dict[int, str] = {}

    def ingest(self, paths: list[Path]) -> None:
        with session_scope(self.rt.engine) as s:
            bootstrap.seed_departments(s)
            report = ingest_paths(s, actor=SYSTEM, paths=paths, progress=True)
        print(f"[{self.name}] ingested {report.as_dict()['counts']}", flush=True)

    def open(self) -> SearchService:
        t0 = time.perf_counter()
        svc = SearchService(
            engine=self.rt.engine, encoder=self.rt.encoder, index_dir=self.rt.settings.index_dir
        )
        svc.cache_path = DATA / f"vectors-{self.rt.encoder.name.replace('/', '_')}.npz"
        svc.open(show_progress=True)
        svc.cache.save(svc.cache_path)
        print(
            f"[{self.name}] index ready: {len(svc.index)} items in "
            f"{time.perf_counter() - t0:.1f}s (cache hits {svc.cache.hits}, "
            f"misses {svc.cache.misses})",
            flush=True,
        )
        with Session(self.rt.engine) as s:
            for p, d in s.exec(
                select(Passage, Document).join(Document, Document.id == Passage.document_id)
            ).all():
                key = PASSAGE_BASE + (p.id or 0)
                self.text[key] = p.text
                self.doc[key] = d.doc_id
        self.svc = svc
        return svc

    def rankers(self) -> dict[str, Ranker]:
        svc = self.svc
        assert svc is not None
        index = svc.index
        enc = self.rt.encoder

        def bm25(q: str, k: int) -> list[int]:
            return [h.id for h in index._sparse.search(index.tokenizer.tokens(q), k=k)]

        def dense(q: str, k: int) -> list[int]:
            v = enc.encode_queries([q])[0]
            return [i for i, _ in index._dense.search(v, k=k)]

        def hybrid(q: str, k: int) -> list[int]:
            return [h.id for h in index.search(q, k=k)]

        return {"bm25": bm25, "dense": dense, "hybrid": hybrid}


def make_runtime(tmp: Path, *, model: str | None) -> Runtime:
    settings = Settings(data_dir=tmp, load_demo=False, warm_up=True, embedding_model=model)
    return Runtime.create(settings)


def eval_gazette(rt: Runtime) -> tuple[dict[str, dict[str, float]], Corpus]:
    corpus = Corpus("gazette", rt)
    corpus.ingest(
        [
            SHARED / "corpus" / "qinghai-gazette-2022-15.md",
            SHARED / "corpus" / "qinghai-e-license-plan-2022-58.txt",
        ]
    )
    corpus.open()
    qs = [
        json.loads(x)
        for x in (EVAL / "gazette_questions.jsonl").read_text("utf-8").splitlines()
        if x.strip()
    ]
    out = {}
    for name, rank in corpus.rankers().items():
        ranks = []
        for q in qs:
            gold = [norm(g) for g in q["gold"]]
            ids = rank(q["query"], 10)
            ranks.append(
                first_rank(ids, lambda i, g=gold: any(x in norm(corpus.text.get(i, "")) for x in g))
            )
        out[name] = scores(ranks)
    return out, corpus


def eval_ncp(
    rt: Runtime, *, limit: int | None
) -> tuple[dict[str, dict[str, float]], Corpus, list[dict]]:
    corpus = Corpus("ncp", rt)
    docs_path = EVAL / "ncp_policy" / "docs.jsonl"
    qs = [
        json.loads(x)
        for x in (EVAL / "ncp_policy" / "questions.jsonl").read_text("utf-8").splitlines()
        if x.strip()
    ]
    if limit:
        keep = {q["doc_id"] for q in qs[:limit]}
        lines = [
            x
            for x in docs_path.read_text("utf-8").splitlines()
            if x.strip() and json.loads(x)["doc_id"] in keep
        ]
        docs_path = DATA / "ncp_subset.jsonl"
        docs_path.write_text("\n".join(lines) + "\n", "utf-8")
        qs = qs[:limit]
    corpus.ingest([docs_path])
    corpus.open()
    out = {}
    for name, rank in corpus.rankers().items():
        doc_ranks, ans_ranks = [], []
        for q in qs:
            ids = rank(q["question"], 10)
            doc_ranks.append(first_rank(ids, lambda i, d=q["doc_id"]: corpus.doc.get(i) == d))
            a = norm(q["answer"])
            a = a[:20]
            ans_ranks.append(first_rank(ids, lambda i, a=a: a in norm(corpus.text.get(i, ""))))
        out[f"{name}:doc"] = scores(doc_ranks)
        out[f"{name}:answer"] = scores(ans_ranks)
    return out, corpus, qs


def auc(scores_: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties averaged)."""
    order = scores_.argsort(kind="mergesort")
    ranks = np.empty(len(scores_), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores_) + 1)
    _, inv, counts = np.unique(scores_, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / counts)[inv]
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def eval_lcqmc(rt: Runtime, *, limit: int | None) -> tuple[float, float, list[str]]:
    from index.tokenize import Tokenizer

    rows = [
        line.split("\t")
        for line in (EVAL / "lcqmc_dev.tsv").read_text("utf-8").splitlines()
        if line.count("\t") == 2
    ]
    if limit:
        rows = rows[:limit]
    q1 = [r[0] for r in rows]
    q2 = [r[1] for r in rows]
    labels = np.array([int(r[2]) for r in rows])
    cache = DATA / f"lcqmc-{rt.encoder.name.replace('/', '_')}-{len(rows)}.npz"
    if cache.exists():
        with np.load(cache) as data:
            v1, v2 = data["v1"], data["v2"]
    else:
        t0 = time.perf_counter()
        v1 = rt.encoder.encode_queries(q1)
        v2 = rt.encoder.encode_queries(q2)
        print(f"[lcqmc] encoded {2 * len(rows)} questions in {time.perf_counter() - t0:.1f}s")
        np.savez(cache, v1=v1, v2=v2)
    cos = (v1 * v2).sum(axis=1)
    tok = Tokenizer()
    jac = []
    for a, b in zip(q1, q2, strict=True):
        sa, sb = set(tok.tokens(a)), set(tok.tokens(b))
        jac.append(len(sa & sb) / len(sa | sb) if sa | sb else 0.0)
    return auc(cos, labels), auc(np.array(jac), labels), q1


def calibrate(rt: Runtime, corpus: Corpus, positives: list[str], negatives: list[str]) -> dict:
    """Best answerable threshold on the top dense cosine (positives: real in-domain questions)."""
    assert corpus.svc is not None
    index = corpus.svc.index

    def top(q: str) -> float:
        hits = index.search(q, k=1)
        return hits[0].dense if hits else 0.0

    pos = np.array([top(q) for q in positives])
    neg = np.array([top(q) for q in negatives])
    best = {"threshold": 0.0, "f1": -1.0}
    for t in np.arange(0.70, 0.96, 0.0025):
        tp = float((pos >= t).sum())
        fp = float((neg >= t).sum())
        fn = float((pos < t).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best["f1"]:
            best = {
                "threshold": round(float(t), 4),
                "f1": round(f1, 4),
                "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
                "recall": round(tp / (tp + fn), 4),
            }
    best["positives"] = len(positives)
    best["negatives"] = len(negatives)
    best["pos_median"] = round(float(np.median(pos)), 4)
    best["neg_median"] = round(float(np.median(neg)), 4)
    return best


def table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| set | method | R@1 | R@5 | MRR@10 |", "| --- | --- | --- | --- | --- |"]
    for key, s in results.items():
        dataset, method = key.split("|")
        lines.append(
            f"| {dataset} | {method} | {s['R@1']:.3f} | {s['R@5']:.3f} | {s['MRR@10']:.3f} |"
        )
    return "\n".join(lines)


def write_doc(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    start, end = "<!-- eval:start -->", "<!-- eval:end -->"
    body = path.read_text("utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{text}\n{end}"
    if start in body:
        body = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, body, flags=re.S)
    else:
        body = body.rstrip() + "\n\n" + block + "\n"
    path.write_text(body, "utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="subsets (100 ncp q, 1,000 pairs)")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--model", default=None, help="a sentence-transformers folder")
    args = ap.parse_args()
    if not EVAL.exists():
        sys.exit("../shared/eval is not present: nothing to evaluate")
    DATA.mkdir(parents=True, exist_ok=True)
    import tempfile

    started = time.perf_counter()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rt_g = make_runtime(Path(tmp) / "gazette", model=args.model)
        gz, _ = eval_gazette(rt_g)
        for m, s in gz.items():
            results[f"gazette|{m}"] = s
        rt_n = make_runtime(Path(tmp) / "ncp", model=args.model)
        rt_n._encoder = rt_g.encoder  # one model for the whole run
        ncp, ncp_corpus, ncp_qs = eval_ncp(rt_n, limit=100 if args.quick else None)
        for m, s in ncp.items():
            method, kind = m.split(":")
            results[f"ncp {kind}|{method}"] = s
        lc_auc, jac_auc, lc_q = eval_lcqmc(rt_g, limit=1000 if args.quick else None)
        negatives = lc_q[:300]
        cal = calibrate(rt_n, ncp_corpus, [q["question"] for q in ncp_qs[:300]], negatives)
        rt_g.close_search()
        rt_n.close_search()
        model_name = rt_g.encoder.name
    elapsed = time.perf_counter() - started
    text = [
        f"Command: `.venv/bin/python bench/eval_retrieval.py{' --quick' if args.quick else ''}`"
        f" — model `{model_name}`, {elapsed / 60:.1f} min on this machine.",
        "",
        table(results),
        "",
        f"LCQMC pair AUC: encoder cosine **{lc_auc:.3f}**, jieba token Jaccard {jac_auc:.3f}.",
        "",
        "Answerable threshold (top dense cosine; positives: ncp questions over the ncp corpus, "
        f"negatives: LCQMC questions): {json.dumps(cal, ensure_ascii=False)}",
    ]
    out = "\n".join(text)
    print(out)
    if not args.no_write:
        write_doc(out)


if __name__ == "__main__":
    main()
