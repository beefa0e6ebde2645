"""Ingestion end to end on a real database: the gazette, versions, flags, repeal, bad files.

Reads the real corpus from ../shared/corpus (tests may; the product never does).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from index.encoders import FakeEncoder
from ingestion.pipeline import ingest_paths
from kb_service import bootstrap, documents, entries
from kb_service.db import session_scope
from kb_service.models import Document, DocumentVersion, Entry, EntryContent, Passage
from kb_service.principals import SYSTEM
from kb_service.search import SearchService
from tests.factories import bearer, content

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
GAZETTE = CORPUS / "qinghai-gazette-2022-15.md"
SECOND_58 = CORPUS / "qinghai-e-license-plan-2022-58.txt"
FILES = Path(__file__).resolve().parents[1] / "data" / "ingestion"
CN = "一二三四五六七八九十"

needs_corpus = pytest.mark.skipif(not GAZETTE.exists(), reason="../shared/corpus is not present")


def _num(n: int) -> str:
    if n <= 10:
        return CN[n - 1] if n < 10 else "十"
    tens, ones = divmod(n, 10)
    return (CN[tens - 1] if tens > 1 else "") + "十" + (CN[ones - 1] if ones else "")


def _ingest(engine, *paths, department=None):
    with session_scope(engine) as s:
        return ingest_paths(s, actor=SYSTEM, paths=list(paths), department=department)


@needs_corpus
def test_gazette_gives_exactly_its_documents_with_numbers_and_dates(seeded):
    report = _ingest(seeded, GAZETTE)
    assert not report.rejected
    with Session(seeded) as s:
        docs = {d.doc_no: d for d in s.exec(select(Document)).all()}
    assert set(docs) == {
        "青政〔2022〕37号",
        "青政办〔2022〕57号",
        "青政办〔2022〕58号",
        "青政办〔2022〕63号",
        "青政人〔2022〕13号",
    }
    assert str(docs["青政办〔2022〕57号"].issued) == "2022-08-02"
    assert str(docs["青政办〔2022〕58号"].issued) == "2022-07-25"
    assert str(docs["青政办〔2022〕63号"].issued) == "2022-07-31"
    assert str(docs["青政〔2022〕37号"].issued) == "2022-08-05"


@needs_corpus
def test_every_article_of_the_hotline_measures_is_its_own_passage(seeded):
    _ingest(seeded, GAZETTE)
    with Session(seeded) as s:
        doc = s.exec(select(Document).where(Document.doc_no == "青政办〔2022〕57号")).one()
        passages = s.exec(select(Passage).where(Passage.document_id == doc.id)).all()
    locators = {p.locator for p in passages}
    for n in range(1, 41):
        assert f"第{_num(n)}条" in locators, f"第{_num(n)}条 missing"
    item = next(p for p in passages if p.locator == "第十四条（四）")
    assert "2个工作日" in re.sub(r"\s", "", item.text)
    assert "第四章 运行要求" in " ".join(
        next(p for p in passages if p.locator == "第十四条").heading
    )


@needs_corpus
def test_second_ocr_copy_is_a_new_version_and_only_it_is_suggested(seeded, tmp_path):
    _ingest(seeded, GAZETTE, SECOND_58)
    with Session(seeded) as s:
        docs = s.exec(select(Document).where(Document.doc_no == "青政办〔2022〕58号")).all()
        assert len(docs) == 1 and docs[0].current_version == 2
        versions = s.exec(
            select(DocumentVersion).where(DocumentVersion.document_id == docs[0].id)
        ).all()
        assert len(versions) == 2
        active = s.exec(
            select(Passage).where(Passage.document_id == docs[0].id, col(Passage.active).is_(True))
        ).all()
        assert {p.version for p in active} == {2}
    svc = SearchService(engine=seeded, encoder=FakeEncoder(64), index_dir=tmp_path / "idx")
    svc.open(show_progress=False)
    hits = svc.index.search("电子证照互通互认", k=50)
    with Session(seeded) as s:
        ids = [h.id - (1 << 40) for h in hits if h.kind == "passage"]
        rows = s.exec(select(Passage).where(col(Passage.id).in_(ids))).all()
    assert rows and all(p.active for p in rows)
    # identical file again: a no-op
    again = _ingest(seeded, SECOND_58)
    assert [d["outcome"] for d in again.documents] == ["unchanged"]


def test_changed_passages_flag_the_entries_that_cite_them(seeded, tmp_path):
    v1 = tmp_path / "notice.txt"
    v1.write_text(
        "关于社保卡办理的通知\n青人社〔2026〕9号\n第一条 社保卡在银行网点办理。\n"
        "第二条 补卡收取工本费10元。\n青海省人力资源和社会保障厅\n2026年1月5日\n",
        "utf-8",
    )
    _ingest(seeded, v1, department="hrss")
    with session_scope(seeded) as s:
        for ext, loc in (("a", "第二条"), ("b", "第一条")):
            entries.push(
                s,
                actor=SYSTEM,
                department_code="hrss",
                external_id=ext,
                content=EntryContent.model_validate(
                    content(
                        question=f"社保卡问题{ext}",
                        sources=[{"doc_no": "青人社〔2026〕9号", "locator": loc}],
                    )
                ),
            )
    v1.write_text(v1.read_text("utf-8").replace("工本费10元", "免收工本费"), "utf-8")
    report = _ingest(seeded, v1, department="hrss")
    d = report.documents[0]
    assert d["outcome"] == "new_version" and d["summary"]["changed"] == ["第二条"]
    with Session(seeded) as s:
        flagged = {e.external_id: e.needs_review for e in s.exec(select(Entry)).all()}
        diff = documents.diff(s, doc_id="青人社〔2026〕9号", version=2)
    assert flagged == {"a": True, "b": False}
    assert diff["changed"][0]["locator"] == "第二条" and "免收" in diff["changed"][0]["after"]


def test_bad_files_are_reported_and_good_ones_in_the_same_call_still_land(seeded, tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    gb = tmp_path / "gb18030.txt"
    gb.write_bytes("关于医保报销的通知\n第一条 门诊费用按规定报销。\n".encode("gb18030"))
    truncated = tmp_path / "truncated.docx"
    truncated.write_bytes((FILES / "notice.docx").read_bytes()[:2000])
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(bytes(range(256)) * 40)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    odd = tmp_path / "photo.png"
    odd.write_bytes(b"\x89PNG\r\n")
    report = _ingest(seeded, big, gb, truncated, garbage, empty, odd, FILES / "notice.docx")
    errors = {Path(r["input"]).name: r["error"] for r in report.rejected}
    assert errors == {
        "big.txt": "too_large",
        "truncated.docx": "corrupt_file",
        "garbage.txt": "not_text",
        "empty.txt": "empty_file",
        "photo.png": "unsupported_format",
    }
    assert all(r["detail"] for r in report.rejected)
    stored = {d["input"] for d in report.documents}
    assert stored == {"gb18030.txt", "notice.docx"}


def test_repeal_stops_suggestions_and_flags_citing_entries(seeded, tmp_path):
    f = tmp_path / "n.txt"
    f.write_text(
        "关于停车收费的通知\n青发改〔2026〕3号\n第一条 路边停车每小时2元。\n"
        "青海省发展和改革委员会\n2026年2月1日\n",
        "utf-8",
    )
    _ingest(seeded, f, department="ndrc")
    with session_scope(seeded) as s:
        entries.push(
            s,
            actor=SYSTEM,
            department_code="ndrc",
            external_id="p",
            content=EntryContent.model_validate(
                content(question="停车费多少", sources=[{"doc_no": "青发改〔2026〕3号"}])
            ),
        )
    svc = SearchService(engine=seeded, encoder=FakeEncoder(64), index_dir=tmp_path / "idx")
    svc.open(show_progress=False)
    assert any(h.kind == "passage" for h in svc.index.search("路边停车每小时", k=5))
    with session_scope(seeded) as s:
        documents.repeal(s, actor=SYSTEM, doc_id="青发改〔2026〕3号", reason="已废止")
    svc.catch_up()
    assert not any(h.kind == "passage" for h in svc.index.search("路边停车每小时", k=5))
    with Session(seeded) as s:
        e = s.exec(select(Entry)).one()
    assert e.needs_review and "已废止" in e.needs_review_reason


def test_upload_over_http_is_scoped_to_the_editors_department(client, tokens):
    files = {"file": ("notice.md", (FILES / "notice.md").read_bytes(), "text/markdown")}
    r = client.post(
        "/api/v1/documents",
        files=files,
        data={"department": "hrss"},
        headers=bearer(tokens["editor"]),
    )
    assert r.status_code == 403 and r.json()["error"] == "department_forbidden"
    r = client.post("/api/v1/documents", files=files, headers=bearer(tokens["editor"]))
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["documents"] == 1
    listing = client.get("/api/v1/documents", headers=bearer(tokens["operator"])).json()
    assert len(listing) == 1
    r = client.post(
        "/api/v1/documents",
        files={"file": ("x.exe", b"MZ\x00", "a/b")},
        headers=bearer(tokens["editor"]),
    )
    assert r.json()["rejected"][0]["error"] == "unsupported_format"
    r = client.post("/api/v1/documents", files=files, headers=bearer(tokens["operator"]))
    assert r.status_code == 403 and r.json()["error"] == "role_forbidden"


def test_bootstrap_demo_is_loaded(seeded):
    with session_scope(seeded) as s:
        counts = bootstrap.load_demo(s)
    assert counts["created"] >= 40
