import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest

from index.encoders import FakeEncoder
from index.hybrid import HybridIndex, IndexDoc, SnapshotError, passage_text
from index.tokenize import Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


def entry(
    doc_id: int,
    question: str,
    answer: str,
    *,
    region: str = "西宁市",
    similar: tuple[str, ...] = (),
) -> IndexDoc:
    return IndexDoc(
        id=doc_id,
        kind="entry",
        title=question,
        text=answer,
        questions=[question, *similar],
        meta={"region": region, "department": "hrss"},
    )


DOCS = [
    entry(1, "社保卡丢了怎么补办？", "携带身份证到社保经办机构或合作银行网点办理社保卡补办。"),
    entry(
        2,
        "医保电子凭证如何激活",
        "打开国家医保服务平台app，按提示激活医保电子凭证。",
        region="海东市",
    ),
    entry(3, "公积金怎么提取", "职工购房、租房可申请提取住房公积金，工作日到公积金中心办理。"),
    entry(
        4, "居住证办理需要什么材料", "身份证、居住地址证明，到派出所申请居住证。", region="海东市"
    ),
    IndexDoc(
        id=10,
        kind="passage",
        title="青海12345政务服务便民热线管理暂行办法 第二条",
        text="本办法所称的12345热线，是省政府、各市（州）政府设立的非紧急类政务服务便民热线电话平台。",
        meta={"region": "青海省"},
    ),
]


@pytest.fixture
def index(tokenizer: Tokenizer) -> HybridIndex:
    idx = HybridIndex(FakeEncoder(64), tokenizer=tokenizer)
    idx.upsert(DOCS)
    return idx


def test_passage_text_for_entries_and_passages() -> None:
    e = entry(1, "问题", "答" * 500, similar=("相似问",))
    assert passage_text(e) == "问题\n相似问\n" + "答" * 200
    p = DOCS[-1]
    assert passage_text(p) == f"{p.title}\n{p.text}"


def test_search_finds_the_matching_entry_with_scores(index: HybridIndex) -> None:
    hits = index.search("公积金提取", k=3)
    assert hits[0].id == 3
    assert "公积金" in hits[0].terms
    assert hits[0].sparse > 0 and -1.0 <= hits[0].dense <= 1.0001
    assert all(not math.isnan(h.dense) for h in hits)


def test_exact_question_match_is_boosted_and_flagged(index: HybridIndex) -> None:
    hits = index.search("请问，居住证办理需要什么材料？", k=5)
    assert hits[0].id == 4 and hits[0].exact
    assert not any(h.exact for h in hits[1:])


def test_exact_match_found_through_a_similar_question(tokenizer: Tokenizer) -> None:
    idx = HybridIndex(FakeEncoder(64), tokenizer=tokenizer)
    idx.upsert([entry(7, "养老金何时发放", "每月10日前发放。", similar=("退休金几号到账",))])
    assert idx.search("退休金几号到账", k=1)[0].exact


def test_filters_apply_before_the_cut(index: HybridIndex) -> None:
    hits = index.search("社保卡补办", k=2, filters={"region": {"海东市"}})
    assert hits and all(index.get(h.id).meta["region"] == "海东市" for h in hits)  # type: ignore[union-attr]
    assert {h.id for h in hits} <= {2, 4}
    kinds = index.search("12345热线", k=5, filters={"kind": {"passage"}})
    assert [h.id for h in kinds] == [10] and kinds[0].kind == "passage"
    assert index.search("社保卡", filters={"region": {"果洛州"}}) == []


def test_upsert_replaces_and_remove_hides_immediately(index: HybridIndex) -> None:
    index.upsert([entry(1, "驾驶证到期怎么换证", "到车管所或交管12123办理换证。")])
    assert len(index) == 5
    assert index.search("驾驶证换证", k=1)[0].id == 1
    assert all(h.id != 1 or not h.exact for h in index.search("社保卡丢了怎么补办", k=5))
    index.remove([3])
    assert 3 not in index
    assert all(h.id != 3 for h in index.search("公积金怎么提取", k=5))


def test_precomputed_vectors_are_used_as_given(tokenizer: Tokenizer) -> None:
    enc = FakeEncoder(32)
    idx = HybridIndex(enc, tokenizer=tokenizer)
    vec = np.zeros((1, 32), dtype=np.float32)
    vec[0, 3] = 1.0
    idx.upsert([entry(5, "毫不相关的问题", "答复")], vectors=vec)
    query = np.zeros(32, dtype=np.float32)
    query[3] = 1.0
    (hit,) = idx.search("完全不同", k=1, query_vector=query)
    assert hit.id == 5 and hit.dense == pytest.approx(1.0)
    with pytest.raises(ValueError):
        idx.upsert([entry(6, "q", "a")], vectors=np.zeros((2, 32), dtype=np.float32))


def test_save_load_roundtrip(index: HybridIndex, tmp_path: Path, tokenizer: Tokenizer) -> None:
    index.save(tmp_path, seq=41)
    index.upsert([entry(9, "新问题", "新答复")])
    index.save(tmp_path, seq=42)
    assert len(list(tmp_path.glob("snapshot-*"))) == 1
    loaded, seq = HybridIndex.load(tmp_path, FakeEncoder(64), tokenizer=tokenizer)
    assert seq == 42
    assert sorted(loaded.ids()) == sorted(index.ids())
    for query in ["公积金提取", "医保电子凭证", "居住证办理需要什么材料"]:
        assert [(h.id, h.exact) for h in loaded.search(query)] == [
            (h.id, h.exact) for h in index.search(query)
        ]
    assert loaded.get(10) == index.get(10)


def test_missing_snapshot_raises(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no index snapshot"):
        HybridIndex.load(tmp_path / "nowhere", FakeEncoder(64))


def test_corrupt_snapshot_raises(index: HybridIndex, tmp_path: Path) -> None:
    snap = index.save(tmp_path, seq=1)
    docs = snap / "docs.jsonl"
    docs.write_text(docs.read_text(encoding="utf-8")[:-20], encoding="utf-8")
    with pytest.raises(SnapshotError, match="corrupt"):
        HybridIndex.load(tmp_path, FakeEncoder(64))


def test_unparseable_manifest_raises(index: HybridIndex, tmp_path: Path) -> None:
    snap = index.save(tmp_path, seq=1)
    (snap / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SnapshotError):
        HybridIndex.load(tmp_path, FakeEncoder(64))


def test_snapshot_from_another_encoder_raises(index: HybridIndex, tmp_path: Path) -> None:
    index.save(tmp_path, seq=1)
    with pytest.raises(SnapshotError, match="fake-64"):
        HybridIndex.load(tmp_path, FakeEncoder(32))


def test_stale_tokens_are_recomputed_on_load(
    index: HybridIndex, tmp_path: Path, tokenizer: Tokenizer
) -> None:
    snap = index.save(tmp_path, seq=3)
    manifest = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
    manifest["tokenizer"] = "older"
    (snap / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    loaded, _ = HybridIndex.load(tmp_path, FakeEncoder(64), tokenizer=tokenizer)
    assert loaded.search("公积金提取", k=1)[0].id == 3


def test_rrf_fusion_mode(tokenizer: Tokenizer) -> None:
    idx = HybridIndex(FakeEncoder(64), tokenizer=tokenizer, fusion="rrf")
    idx.upsert(DOCS)
    assert idx.search("公积金提取", k=1)[0].id == 3
    assert idx.search("社保卡丢了怎么补办", k=1)[0].exact  # the exact boost works in RRF too


def _passages(group: str, first_id: int, n: int, text: str) -> list[IndexDoc]:
    return [
        IndexDoc(
            id=first_id + i, kind="passage", title="", text=f"{text}（第{i + 1}段）", group=group
        )
        for i in range(n)
    ]


def test_passages_of_one_document_are_diversified(tokenizer: Tokenizer) -> None:
    # Four passages of document A (cosine 1.0) and one of document B (cosine 0.9), same words.
    docs = [
        *_passages("document:A", 100, 4, "公积金提取需要身份证和购房合同"),
        *_passages("document:B", 200, 1, "公积金提取需要身份证和购房合同"),
        *_passages("document:C", 300, 3, "居住证到派出所申请"),  # neither words nor meaning
    ]
    basis = np.eye(64, dtype=np.float32)
    b_vec = 0.9 * basis[0] + math.sqrt(1 - 0.81) * basis[1]
    vectors = np.stack([basis[0]] * 4 + [b_vec] + [basis[2]] * 3)
    query = "公积金提取 购房合同"

    flat = HybridIndex(FakeEncoder(64), tokenizer=tokenizer, group_decay=1.0)
    flat.upsert(docs, vectors=vectors)
    flat_ids = [h.id for h in flat.search(query, k=5, query_vector=basis[0])]
    assert set(flat_ids[:4]) == {100, 101, 102, 103} and flat_ids[4] == 200

    diverse = HybridIndex(FakeEncoder(64), tokenizer=tokenizer)
    diverse.upsert(docs, vectors=vectors)
    ids = [h.id for h in diverse.search(query, k=5, query_vector=basis[0])]
    assert ids[1] == 200  # B's best passage right after A's best, before A's second
    assert sorted(ids) == [100, 101, 102, 103, 200]  # nothing is dropped, only reordered


def test_group_decay_is_validated(tokenizer: Tokenizer) -> None:
    with pytest.raises(ValueError):
        HybridIndex(FakeEncoder(64), tokenizer=tokenizer, group_decay=0.0)


def test_exact_question_beats_any_fused_score(tokenizer: Tokenizer) -> None:
    idx = HybridIndex(FakeEncoder(64), tokenizer=tokenizer)
    idx.upsert(DOCS)
    hits = idx.search("公积金怎么提取", k=3)
    assert hits[0].id == 3 and hits[0].exact
    assert hits[0].score > idx.dense_weight + idx.sparse_weight >= max(h.score for h in hits[1:])


def test_concurrent_searches_and_writes(index: HybridIndex) -> None:
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(30):
                index.search("社保卡补办", k=3, filters={"region": {"西宁市", "海东市"}})
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    def writer() -> None:
        try:
            for i in range(30):
                index.upsert([entry(100 + i, f"问题{i}社保卡", "答复")])
                index.remove([100 + i - 1])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)] + [
        threading.Thread(target=writer)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert 129 in index and 128 not in index
