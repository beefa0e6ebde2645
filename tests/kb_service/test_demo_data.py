"""The bundled demo knowledge base: well-formed, varied, and not copied from the corpus."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "kb_service" / "data" / "demo_entries.jsonl"
DEPARTMENTS = REPO / "kb_service" / "data" / "departments.json"
CORPUS = REPO.parent / "shared" / "corpus"

KEYS = {
    "external_id",
    "department",
    "question",
    "similar_questions",
    "answer",
    "category",
    "tags",
    "region",
    "sources",
    "valid_from",
    "valid_to",
    "review_interval_days",
}
CATEGORIES = {
    "热线受理",
    "办理时限",
    "不予受理",
    "紧急求助",
    "知识库",
    "电子证照",
    "政务服务",
    "基础设施",
    "数据统计",
}
DOCS = {
    "青政办〔2022〕57号": "青海12345政务服务便民热线管理暂行办法",
    "青政办〔2022〕58号": "青海省加快推进电子证照扩大应用领域和全国互通互认工作方案",
    "青政办〔2022〕63号": "青海省全面加强基础设施建设构建现代化基础设施体系工作方案",
}
COPY_RUN = 25
_STRIP = re.compile(r"[\s*#]")


def _entries() -> list[dict[str, Any]]:
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _department_codes() -> set[str]:
    return {d["code"] for d in json.loads(DEPARTMENTS.read_text(encoding="utf-8"))}


def test_every_line_is_a_json_object() -> None:
    for number, line in enumerate(DEMO.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"blank line {number}"
        assert isinstance(json.loads(line), dict), f"line {number} is not an object"


def test_keys_and_field_shapes() -> None:
    for entry in _entries():
        eid = entry.get("external_id")
        assert set(entry) == KEYS, eid
        assert re.fullmatch(r"demo-[a-z]+-\d{3}", eid), eid
        assert entry["category"] in CATEGORIES, eid
        assert entry["region"] == "青海省", eid
        assert entry["question"].strip(), eid
        assert 3 <= len(entry["similar_questions"]) <= 6, eid
        assert len(set(entry["similar_questions"])) == len(entry["similar_questions"]), eid
        assert entry["question"] not in entry["similar_questions"], eid
        assert 60 <= len(entry["answer"]) <= 300, (eid, len(entry["answer"]))
        assert entry["answer"].startswith("您好"), eid
        assert entry["tags"] and all(isinstance(t, str) and t for t in entry["tags"]), eid
        date.fromisoformat(entry["valid_from"])
        assert entry["valid_to"] is None, eid
        assert isinstance(entry["review_interval_days"], int), eid
        assert entry["review_interval_days"] > 0, eid


def test_sources_name_real_documents() -> None:
    for entry in _entries():
        eid = entry["external_id"]
        assert entry["sources"], eid
        for source in entry["sources"]:
            assert set(source) == {"doc_no", "title", "locator"}, eid
            assert DOCS.get(source["doc_no"]) == source["title"], eid
            assert source["locator"].strip(), eid
            item = re.fullmatch(r"附件 任务清单 第(\d+)项", source["locator"])
            if item:
                assert 1 <= int(item.group(1)) <= 69, eid


def test_at_least_48_entries_with_unique_ids() -> None:
    entries = _entries()
    assert len(entries) >= 48
    ids = [e["external_id"] for e in entries]
    assert len(ids) == len(set(ids))


def test_departments_known_and_varied() -> None:
    codes = _department_codes()
    used = {e["department"] for e in _entries()}
    assert used <= codes, used - codes
    assert len(used) >= 10


def _corpus_text() -> str:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus directory {CORPUS} (../shared/corpus) is absent; cannot check copying")
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    if not files:
        pytest.skip(f"corpus directory {CORPUS} is empty; cannot check copying")
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


def test_article_locators_exist_in_corpus() -> None:
    corpus = _STRIP.sub("", _corpus_text())
    for entry in _entries():
        for source in entry["sources"]:
            article = re.match(r"第[一二三四五六七八九十]+条", source["locator"])
            if source["doc_no"].endswith("57号") and article:
                assert article.group(0) in corpus, (entry["external_id"], source["locator"])


def test_answers_are_not_copied_from_corpus() -> None:
    corpus = _STRIP.sub("", _corpus_text())
    runs = {corpus[i : i + COPY_RUN] for i in range(len(corpus) - COPY_RUN + 1)}
    for entry in _entries():
        answer = _STRIP.sub("", entry["answer"])
        for i in range(len(answer) - COPY_RUN + 1):
            chunk = answer[i : i + COPY_RUN]
            assert chunk not in runs, f"{entry['external_id']} copies corpus text: {chunk}"
