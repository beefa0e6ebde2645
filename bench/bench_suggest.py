"""Suggestion latency, encoder share, bulk indexing, memory, start-up — ratios from one run.

    .venv/bin/python bench/bench_suggest.py [--sizes 10000 100000] [--queries 200] [--fake]

Reads ../shared/eval (zhongshan service items, ncp documents and questions) to synthesise a
realistic knowledge base: benchmark only, never the product. Real-model vectors are cached in
bench/data/ and reused. Embedding 100k synthetic entries takes hours on this 2-core CPU, so the
100k set reuses the real vectors of the first 10k, each perturbed with small Gaussian noise and
renormalised (same distribution shape; it measures the index, not the model) — see
docs/benchmarks.md. Every figure is printed next to a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "eval"
DATA = ROOT / "bench" / "data"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import faiss  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from index.hybrid import HybridIndex, IndexDoc, passage_text  # noqa: E402
from kb_service import bootstrap, suggestions  # noqa: E402
from kb_service.config import Settings  # noqa: E402
from kb_service.db import session_scope, utcnow  # noqa: E402
from kb_service.entries import hash_content  # noqa: E402
from kb_service.models import ChangeLog, Entry, EntryVersion  # noqa: E402
from kb_service.models.entries import CONTENT_FIELDS  # noqa: E402
from kb_service.runtime import Runtime  # noqa: E402
from kb_service.search import SearchService  # noqa: E402

REGIONS = ["", "西宁市", "海东市", "城中区"]
ASKS = ["怎么办理", "需要什么材料", "在哪里办", "多久能办好", "可以网上办吗"]


def rss_mb() -> float:
    """Peak resident set size of this process, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Current resident set size, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def synth_entries(n: int) -> list[dict]:
    """n realistic entries from the service catalogue (and ncp titles), deterministic."""
    items = [
        json.loads(x) for x in (SHARED / "zhongshan_service_items.jsonl").open(encoding="utf-8")
    ]
    rng = random.Random(7)
    out = []
    i = 0
    while len(out) < n:
        it = items[i % len(items)]
        variant = i // len(items)
        region = REGIONS[variant % len(REGIONS)]
        name = it["TASK_NAME"]
        ask = ASKS[(i + variant) % len(ASKS)]
        q = f"{region}{name}{ask}"
        mats = "、".join(it.get("material_intro") or [])[:120]
        answer = (
            f"您好，{name}由{it['DEPT_NAME']}办理，法定时限{it.get('handle_time', '')}，"
            f"承诺时限{it.get('handle_time_limit', '')}。需要材料：{mats or '请咨询窗口'}。"
            f"{(it.get('handle_location') or '')[:60]}"
        )
        out.append(
            {
                "question": q,
                "similar": [f"{name}{rng.choice(ASKS)}"],
                "answer": answer,
                "region": region or "青海省",
                "category": it.get("TASK_TYPE_TEXT") or "",
            }
        )
        i += 1
    return out


def queries(n: int) -> list[str]:
    """Caller-style queries: ncp citizen questions plus colloquial service questions."""
    qs = [
        json.loads(x)["question"]
        for x in (SHARED / "ncp_policy" / "questions.jsonl").open(encoding="utf-8")
    ]
    items = [
        json.loads(x) for x in (SHARED / "zhongshan_service_items.jsonl").open(encoding="utf-8")
    ]
    rng = random.Random(3)
    mixed = [
        rng.choice(qs) if k % 2 else f"请问{rng.choice(items)['TASK_NAME']}要带什么"
        for k in range(n)
    ]
    return mixed


def pct(values: list[float], p: float) -> float:
    """Percentile (ms)."""
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] * 1000


def load_db(rt: Runtime, entries: list[dict]) -> None:
    """Bulk insert published entries (plus their change log) straight into the database."""
    with session_scope(rt.engine) as s:
        bootstrap.seed_departments(s)
        dept_id = 1
    now = utcnow()
    batch = 5000
    with rt.engine.begin() as conn:
        for start in range(0, len(entries), batch):
            chunk = entries[start : start + batch]
            rows = []
            for k, e in enumerate(chunk, start=start + 1):
                data = {
                    "question": e["question"],
                    "similar_questions": e["similar"],
                    "answer": e["answer"],
                    "region": e["region"],
                    "category": e["category"],
                    "tags": [],
                    "sources": [],
                    "valid_from": None,
                    "valid_to": None,
                    "review_interval_days": None,
                }
                rows.append(
                    {
                        "id": k,
                        "department_id": dept_id,
                        "external_id": f"b{k}",
                        "status": "published",
                        "version": 1,
                        "live_version": 1,
                        "content_hash": hash_content(data),
                        "needs_review": False,
                        "created_at": now,
                        "updated_at": now,
                        "published_at": now,
                        "last_reviewed_at": now,
                        **data,
                    }
                )
            conn.execute(insert(Entry), rows)
            conn.execute(
                insert(EntryVersion),
                [
                    {
                        "entry_id": r["id"],
                        "version": 1,
                        "status": "published",
                        "action": "push",
                        "content_hash": r["content_hash"],
                        "at": now,
                        **{f: r[f] for f in CONTENT_FIELDS},
                    }
                    for r in rows
                ],
            )
            conn.execute(
                insert(ChangeLog),
                [{"kind": "entry", "entity_id": r["id"], "op": "upsert", "at": now} for r in rows],
            )


def real_vectors(rt: Runtime, texts: list[str], name: str) -> tuple[np.ndarray, dict]:
    """Vectors for texts (cached on disk), and the bulk-indexing vs raw-encode comparison."""
    path = DATA / f"synth-{name}-{len(texts)}-{rt.encoder.name.replace('/', '_')}.npy"
    if path.exists():
        return np.load(path), {}
    sample = texts[:512]
    t0 = time.perf_counter()
    rt.encoder.encode_passages(sample)
    raw = time.perf_counter() - t0
    # Our bulk path on the same texts: VectorCache (hash, dedupe) + HybridIndex.upsert.
    svc_cache = SearchService(engine=rt.engine, encoder=rt.encoder, index_dir=DATA / "x").cache
    docs = [IndexDoc(id=i, kind="passage", title="", text=t) for i, t in enumerate(sample)]
    idx = HybridIndex(rt.encoder)
    t0 = time.perf_counter()
    vecs = svc_cache.encode([passage_text(d) for d in docs])
    idx.upsert(docs, vectors=vecs)
    ours = time.perf_counter() - t0
    print(
        f"bulk indexing {len(sample)} texts: ours {len(sample) / ours:.1f}/s vs raw "
        f"model.encode {len(sample) / raw:.1f}/s → ratio {raw / ours:.3f}",
        flush=True,
    )
    t0 = time.perf_counter()
    all_vecs = rt.encoder.encode_passages(texts, show_progress=True)
    enc_s = time.perf_counter() - t0
    np.save(path, all_vecs)
    return all_vecs, {
        "bulk_ratio": raw / ours,
        "raw_per_s": len(sample) / raw,
        "ours_per_s": len(sample) / ours,
        "encode_all_s": enc_s,
    }


def serve(rt: Runtime, port: int) -> threading.Thread:
    """Serve the app on 127.0.0.1:port in a thread."""
    import uvicorn

    from api.app import create_app

    app = create_app(rt.settings, runtime=rt)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    th.server = server  # type: ignore[attr-defined]
    return th


def bench_size(
    n: int,
    base_vecs: np.ndarray,
    entries_all: list[dict],
    qs: list[str],
    rt_model: Runtime,
    report: dict,
    port: int,
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"kb-bench-{n}-"))
    settings = Settings(data_dir=tmp, load_demo=False, warm_up=False)
    rt = Runtime.create(settings)
    rt._encoder = rt_model.encoder
    entries = entries_all[:n]
    if len(base_vecs) >= n:
        vecs = base_vecs[:n]
    else:  # see the module docstring: perturbed copies of the real vectors
        rng = np.random.default_rng(11)
        reps = [base_vecs] + [
            base_vecs + rng.normal(0, 0.02, base_vecs.shape).astype(np.float32)
            for _ in range(n // len(base_vecs))
        ]
        vecs = np.vstack(reps)[:n]
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    t0 = time.perf_counter()
    load_db(rt, entries)
    print(f"[{n}] database loaded in {time.perf_counter() - t0:.1f}s", flush=True)
    faiss.omp_set_num_threads(1)
    gc.collect()
    before = current_rss_mb()
    svc = SearchService(engine=rt.engine, encoder=rt.encoder, index_dir=settings.index_dir)
    # Seed the vector cache so the rebuild embeds nothing (vectors were computed once).
    docs = svc._entry_docs(session_scope(rt.engine).__enter__(), None)
    for d, v in zip(docs, vecs, strict=True):
        svc.cache._vectors[svc.cache.key(passage_text(d))] = v
    t0 = time.perf_counter()
    svc.rebuild(show_progress=False)
    rebuild_s = time.perf_counter() - t0
    gc.collect()
    mem = (current_rss_mb() - before) * 2**20 / n
    t0 = time.perf_counter()
    loaded = SearchService(engine=rt.engine, encoder=rt.encoder, index_dir=settings.index_dir)
    loaded.open(show_progress=False)
    load_s = time.perf_counter() - t0
    del loaded
    gc.collect()
    rt._search = svc
    cal = rt.calibration
    enc_t, full_t = [], []
    for q in qs:
        t0 = time.perf_counter()
        qv = rt.encoder.encode_queries([q])[0]
        enc = time.perf_counter() - t0
        with session_scope(rt.engine) as s:
            suggestions.suggest(s, search=svc, calibration=cal, text=q, k=5, query_vector=qv)
        full_t.append(time.perf_counter() - t0)
        enc_t.append(enc)
    th = serve(rt, port)
    http_t = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        with session_scope(rt.engine) as s:
            from kb_service import auth

            _, token = auth.create_token(s, name="bench", role="operator")
        h = {"Authorization": f"Bearer {token}"}
        for q in qs:
            t0 = time.perf_counter()
            r = c.post("/api/v1/suggest", json={"text": q, "k": 5}, headers=h, timeout=30)
            r.raise_for_status()
            http_t.append(time.perf_counter() - t0)
    th.server.should_exit = True  # type: ignore[attr-defined]
    th.join(timeout=10)
    rest = [f - e for f, e in zip(full_t, enc_t, strict=True)]
    row = {
        "n": n,
        "encoder_ms_p50": pct(enc_t, 50),
        "in_process_ms": [pct(full_t, 50), pct(full_t, 95), pct(full_t, 99)],
        "http_ms": [pct(http_t, 50), pct(http_t, 95), pct(http_t, 99)],
        "rest_over_encoder_p50": statistics.median(rest) / statistics.median(enc_t),
        "memory_kib_per_item": mem / 1024,
        "rebuild_s_no_encoding": rebuild_s,
        "snapshot_load_s": load_s,
        "load_over_rebuild": load_s / rebuild_s,
    }
    report[str(n)] = row
    print(json.dumps(row, ensure_ascii=False), flush=True)
    svc.close()
    rt.engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--real", type=int, default=10_000, help="how many entries get real vectors")
    ap.add_argument("--fake", action="store_true", help="fake encoder (smoke test)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-model-"))
    rt_model = Runtime.create(Settings(data_dir=tmp, load_demo=False, warm_up=True))
    if args.fake:
        from index.encoders import FakeEncoder

        rt_model._encoder = FakeEncoder(384)
    enc = rt_model.encoder
    entries = synth_entries(max(args.sizes))
    n_real = min(args.real, max(args.sizes))
    texts = [
        passage_text(
            IndexDoc(
                id=i,
                kind="entry",
                title=e["question"],
                text=e["answer"],
                questions=[e["question"], *e["similar"]],
            )
        )
        for i, e in enumerate(entries[:n_real])
    ]
    base, bulk = real_vectors(rt_model, texts, "entries")
    qs = queries(args.queries)
    # Encoder throughput on ~300-char passages → GFLOP/s vs the CPU's fp32 peak (157 GFLOP/s).
    ncp = [
        json.loads(x)["text"][:300]
        for x in (SHARED / "ncp_policy" / "docs.jsonl").open(encoding="utf-8")
    ][:128]
    enc.encode_passages(ncp[:8])
    t0 = time.perf_counter()
    enc.encode_passages(ncp)
    per_s = len(ncp) / (time.perf_counter() - t0)
    gflops = per_s * 8.4
    report: dict = {
        "encoder": enc.name,
        "chunks_per_s_300chars": per_s,
        "gflops": gflops,
        "share_of_peak": gflops / 157,
        **bulk,
    }
    print(json.dumps(report, ensure_ascii=False), flush=True)
    for k, n in enumerate(args.sizes):
        bench_size(n, base, entries, qs, rt_model, report, 18600 + k)
    report["peak_rss_mb"] = rss_mb()
    out = json.dumps(report, ensure_ascii=False, indent=1)
    print(out)
    if not args.no_write and not args.fake:
        (DATA / "bench_suggest.json").write_text(out, "utf-8")


if __name__ == "__main__":
    main()
