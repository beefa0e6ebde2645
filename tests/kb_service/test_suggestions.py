"""Suggestions: freshness within a second, DB re-check, filters, masking, answerable."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from sqlmodel import Session, select

from kb_service import suggestions
from kb_service.models import QueryLog
from tests.factories import bearer, content

PUSH = "/api/v1/departments/{code}/entries/{ext}"


def _suggest(client, token, text, **kw):
    r = client.post("/api/v1/suggest", json={"text": text, **kw}, headers=bearer(token))
    assert r.status_code == 200, r.text
    return r.json()


def _wait_for(predicate, timeout=1.0):
    """Poll until predicate() is true; returns the elapsed seconds (or fails after timeout)."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not visible within {timeout}s")
        time.sleep(0.02)


def test_publish_edit_and_retire_show_in_suggest_within_one_second(client, tokens):
    op, rv = tokens["operator"], tokens["reviewer"]
    q = "公积金贷款额度怎么算"
    assert all(r["title"] != q for r in _suggest(client, op, q)["results"])
    client.put(
        PUSH.format(code="hotline", ext="gjj"),
        json=content(question=q, answer="您好，额度按缴存余额倍数计算。"),
        headers=bearer(rv),
    )
    _wait_for(lambda: any(r["title"] == q for r in _suggest(client, op, q)["results"]))
    client.put(
        PUSH.format(code="hotline", ext="gjj"),
        json=content(question=q, answer="您好，新规定：额度上限调整。"),
        headers=bearer(rv),
    )
    _wait_for(lambda: any("新规定" in r["text"] for r in _suggest(client, op, q)["results"]))
    client.delete(PUSH.format(code="hotline", ext="gjj"), headers=bearer(rv))
    _wait_for(lambda: all(r["title"] != q for r in _suggest(client, op, q)["results"]))


def test_exact_similar_question_is_answerable_with_source_and_freshness(client, tokens):
    client.put(
        PUSH.format(code="hotline", ext="t1"), json=content(), headers=bearer(tokens["reviewer"])
    )
    _wait_for(lambda: _suggest(client, tokens["operator"], "问个事要等多久")["results"])
    out = _suggest(client, tokens["operator"], "问个事要等多久")
    top = out["results"][0]
    assert out["answerable"] is True and top["confidence"] >= 0.95
    assert top["kind"] == "entry" and top["department"] == "hotline"
    assert top["source"]["doc_no"] == "青政办〔2022〕57号"
    assert top["source"]["locator"] == "第十四条（四）"
    assert top["freshness"]["status"] == "fresh"
    assert out["query_id"] is not None


def test_region_scoped_entries_reach_only_callers_of_that_region(client, tokens):
    client.put(
        PUSH.format(code="hotline", ext="xn"),
        json=content(question="西宁市供暖时间", region="西宁市"),
        headers=bearer(tokens["reviewer"]),
    )
    time.sleep(0.05)
    _wait_for(
        lambda: _suggest(client, tokens["operator"], "西宁市供暖时间", region="西宁市")["results"]
    )
    other = _suggest(client, tokens["operator"], "西宁市供暖时间", region="海东市")
    assert all(r["title"] != "西宁市供暖时间" for r in other["results"])


def test_expired_entry_is_dropped_even_though_the_index_holds_it(client, tokens):
    client.put(
        PUSH.format(code="hotline", ext="old"),
        json=content(question="过期政策问题", valid_from="2020-01-01", valid_to="2021-01-01"),
        headers=bearer(tokens["reviewer"]),
    )
    time.sleep(0.6)
    out = _suggest(client, tokens["operator"], "过期政策问题")
    assert all(r["title"] != "过期政策问题" for r in out["results"])


def test_query_log_stores_the_text_only_after_masking(client, tokens, engine):
    _suggest(
        client,
        tokens["operator"],
        "我手机13912345678，身份证630102199001011234，银行卡6222021234567890123，医保怎么报销",
    )
    with Session(engine) as s:
        row = s.exec(select(QueryLog)).one()
    assert "13912345678" not in row.text and "139****5678" in row.text
    assert "199001011234" not in row.text and "630102********1234" in row.text
    assert "6222021234567890123" not in row.text


def test_empty_or_oversized_query_is_a_clear_error(client, tokens):
    r = client.post("/api/v1/suggest", json={"text": "  "}, headers=bearer(tokens["operator"]))
    assert r.status_code == 422 and r.json()["error"] == "empty_query"
    r = client.post(
        "/api/v1/suggest", json={"text": "x", "k": 0}, headers=bearer(tokens["operator"])
    )
    assert r.status_code == 422 and r.json()["error"] == "validation_error"


def test_review_state_moves_from_fresh_to_due_to_overdue():
    last = datetime(2026, 1, 1, 2, tzinfo=UTC)
    st = suggestions.review_state
    assert (
        st(last_reviewed=last, interval_days=180, valid_to=None, today=date(2026, 6, 1))[0]
        == "fresh"
    )
    assert (
        st(last_reviewed=last, interval_days=180, valid_to=None, today=date(2026, 7, 10))[0]
        == "due"
    )
    assert (
        st(last_reviewed=last, interval_days=180, valid_to=None, today=date(2026, 9, 1))[0]
        == "overdue"
    )
    assert (
        st(
            last_reviewed=last, interval_days=180, valid_to=date(2026, 2, 1), today=date(2026, 3, 1)
        )[0]
        == "expired"
    )
