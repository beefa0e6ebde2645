"""The department push API and the editor workflow over HTTP, and every bad-input case."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, func, select

from kb_service.models import AuditLog, Entry, EntryVersion
from tests.factories import bearer, content

PUSH = "/api/v1/departments/{code}/entries/{ext}"


def _count(engine, model=Entry) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def test_put_is_an_idempotent_upsert(client, tokens, engine):
    url = PUSH.format(code="hotline", ext="faq-001")
    r1 = client.put(url, json=content(), headers=bearer(tokens["reviewer"]))
    assert r1.status_code == 201, r1.text
    assert r1.json()["outcome"] == "created"
    assert r1.json()["entry"]["status"] == "published"
    r2 = client.put(url, json=content(), headers=bearer(tokens["reviewer"]))
    assert r2.status_code == 200 and r2.json()["outcome"] == "unchanged"
    assert r2.json()["entry"]["version"] == r1.json()["entry"]["version"]
    assert _count(engine, EntryVersion) == 1
    r3 = client.put(
        url, json=content(answer="您好，更新后的口径。"), headers=bearer(tokens["reviewer"])
    )
    assert r3.json()["outcome"] == "updated"
    assert _count(engine, EntryVersion) == 2


def test_batch_reports_each_item_and_bad_items_block_nothing(client, tokens, engine):
    items = [
        {"external_id": "b-1", **content(question="问题一")},
        {"external_id": "b-2", **content(answer="")},
        {"external_id": "b-3", **content(valid_from="2026-02-30")},
        {"external_id": "b-4", **content(question="问题四")},
        {"external_id": "b-1", **content(question="重复")},
        {**content(question="没有编号")},
        "not an object",
        {"external_id": "b-5", **content(question="问题五"), "unknown_field": 1},
    ]
    r = client.post(
        "/api/v1/departments/hotline/entries/batch",
        json={"items": items},
        headers=bearer(tokens["reviewer"]),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    outcomes = [x["outcome"] for x in body["results"]]
    assert outcomes == [
        "created",
        "rejected",
        "rejected",
        "created",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    errors = [x["error"] for x in body["results"] if x["outcome"] == "rejected"]
    assert errors == [
        "validation_error",
        "validation_error",
        "duplicate_item",
        "external_id_invalid",
        "item_invalid",
        "validation_error",
    ]
    assert all(x["detail"] for x in body["results"] if x["outcome"] == "rejected")
    assert body["counts"] == {"created": 2, "rejected": 6}
    assert _count(engine) == 2
    # the same batch again: the good ones are unchanged
    r = client.post(
        "/api/v1/departments/hotline/entries/batch",
        json={"items": items[:1]},
        headers=bearer(tokens["reviewer"]),
    )
    assert r.json()["results"][0]["outcome"] == "unchanged"


def test_batch_over_the_limit_is_refused_whole(client, tokens, engine):
    items = [{"external_id": f"x-{i}", "question": "问", "answer": "答"} for i in range(1001)]
    r = client.post(
        "/api/v1/departments/hotline/entries/batch",
        json={"items": items},
        headers=bearer(tokens["reviewer"]),
    )
    # 1,001 small items still fit the 64 kB test body limit? if not, 413 is also a refusal
    assert r.status_code in (413, 422)
    assert r.json()["error"] in ("batch_too_large", "body_too_large")
    assert _count(engine) == 0


def test_editor_of_a_department_cannot_touch_another_department(client, tokens, engine):
    h = bearer(tokens["editor_mi"])
    r = client.put(PUSH.format(code="hotline", ext="x"), json=content(), headers=h)
    assert r.status_code == 403 and r.json()["error"] == "department_forbidden"
    assert "无权" in r.json()["detail"]
    created = client.put(
        PUSH.format(code="hotline", ext="y"), json=content(), headers=bearer(tokens["reviewer"])
    ).json()["entry"]
    r = client.put(
        f"/api/v1/entries/{created['id']}",
        json={**content(answer="篡改"), "base_version": created["version"]},
        headers=h,
    )
    assert r.status_code == 403 and r.json()["error"] == "department_forbidden"
    r = client.delete(PUSH.format(code="hotline", ext="y"), headers=h)
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/entries/{created['id']}/retire", json={}, headers=bearer(tokens["reviewer_mi"])
    )
    assert r.status_code == 403 and r.json()["error"] == "department_forbidden"
    assert _count(engine) == 1
    # its own department works
    r = client.put(PUSH.format(code="medical-insurance", ext="z"), json=content(), headers=h)
    assert r.status_code == 201 and r.json()["entry"]["status"] == "in_review"


def test_stale_version_gets_409_and_nothing_is_overwritten(client, tokens):
    h = bearer(tokens["editor"])
    e = client.post(
        "/api/v1/entries", json={**content(), "department": "hotline"}, headers=h
    ).json()
    ok = client.put(
        f"/api/v1/entries/{e['id']}",
        json={**content(answer="第一人修改"), "base_version": e["version"]},
        headers=h,
    )
    assert ok.status_code == 200
    stale = client.put(
        f"/api/v1/entries/{e['id']}",
        json={**content(answer="第二人修改"), "base_version": e["version"]},
        headers=h,
    )
    assert stale.status_code == 409
    assert stale.json()["error"] == "stale_version"
    assert stale.json()["current_version"] == ok.json()["version"]
    assert client.get(f"/api/v1/entries/{e['id']}", headers=h).json()["answer"] == "第一人修改"


def test_full_workflow_over_http_with_history_and_rollback(client, tokens):
    ed, rv = bearer(tokens["editor"]), bearer(tokens["reviewer"])
    e = client.post(
        "/api/v1/entries", json={**content(), "department": "hotline", "submit": True}, headers=ed
    ).json()
    assert e["status"] == "in_review"
    rej = client.post(
        f"/api/v1/entries/{e['id']}/reject",
        json={"base_version": e["version"], "comment": "请补充来源条款"},
        headers=rv,
    )
    assert rej.json()["status"] == "draft" and rej.json()["review_comment"] == "请补充来源条款"
    sub = client.post(
        f"/api/v1/entries/{e['id']}/submit",
        json={"base_version": rej.json()["version"]},
        headers=ed,
    ).json()
    pub = client.post(
        f"/api/v1/entries/{e['id']}/publish", json={"base_version": sub["version"]}, headers=rv
    ).json()
    assert pub["status"] == "published" and pub["live_version"] == pub["version"]
    upd = client.put(
        f"/api/v1/entries/{e['id']}",
        json={**content(answer="新口径"), "base_version": pub["version"], "submit": True},
        headers=ed,
    ).json()
    pub2 = client.post(
        f"/api/v1/entries/{e['id']}/publish", json={"base_version": upd["version"]}, headers=rv
    ).json()
    back = client.post(
        f"/api/v1/entries/{e['id']}/rollback",
        json={"to_version": pub["version"], "base_version": pub2["version"]},
        headers=rv,
    )
    assert back.status_code == 200 and back.json()["answer"] == content()["answer"]
    hist = client.get(f"/api/v1/entries/{e['id']}/versions", headers=ed).json()
    assert hist[0]["action"] == "rollback" and hist[0]["by"] == "reviewer"
    listing = client.get(
        "/api/v1/departments/hotline/entries?status=published", headers=bearer(tokens["operator"])
    ).json()
    assert listing["total"] == 1
    gone = client.delete(PUSH.format(code="hotline", ext="nope"), headers=rv)
    assert gone.status_code == 404 and gone.json()["error"] == "entry_not_found"


def test_every_write_is_audited(client, tokens, engine):
    client.put(
        PUSH.format(code="hotline", ext="a"), json=content(), headers=bearer(tokens["reviewer"])
    )
    client.delete(PUSH.format(code="hotline", ext="a"), headers=bearer(tokens["reviewer"]))
    with Session(engine) as s:
        actions = [a.action for a in s.exec(select(AuditLog)).all()]
    assert "entry.push.created" in actions and "entry.retire" in actions


# --- bad input: a clear JSON error with a stable code, and nothing changes ----------------


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("oversized_body", 413, "body_too_large"),
        ("invalid_json", 400, "invalid_json"),
        ("unknown_department", 404, "department_not_found"),
        ("malformed_date", 422, "validation_error"),
        ("empty_answer", 422, "validation_error"),
        ("valid_to_before_valid_from", 422, "validation_error"),
        ("unknown_token", 401, "token_invalid"),
        ("missing_token", 401, "token_missing"),
        ("wrong_role", 403, "role_forbidden"),
        ("not_an_object", 422, "validation_error"),
    ],
)
def test_bad_input_gets_a_json_error_and_changes_nothing(
    client, tokens, engine, name, status, code
):
    h = {**bearer(tokens["reviewer"]), "Content-Type": "application/json"}
    url = PUSH.format(code="hotline", ext="bad-1")
    body: bytes = json.dumps(content()).encode()
    if name == "oversized_body":
        body = json.dumps(content(answer="很长的答复" * 20_000)).encode()
    elif name == "invalid_json":
        body = b'{"question": "\xe9\x97\xae", "answer": '
    elif name == "unknown_department":
        url = PUSH.format(code="no-such-dept", ext="bad-1")
    elif name == "malformed_date":
        body = json.dumps(content(valid_from="2026/10/01")).encode()
    elif name == "empty_answer":
        body = json.dumps(content(answer="")).encode()
    elif name == "valid_to_before_valid_from":
        body = json.dumps(content(valid_from="2026-10-01", valid_to="2026-09-01")).encode()
    elif name == "unknown_token":
        h = {**bearer("kb_not-a-real-token"), "Content-Type": "application/json"}
    elif name == "missing_token":
        h = {"Content-Type": "application/json"}
    elif name == "wrong_role":
        h = {**bearer(tokens["operator"]), "Content-Type": "application/json"}
    elif name == "not_an_object":
        body = b"[1, 2, 3]"
    before = (_count(engine), _count(engine, EntryVersion))
    r = client.put(url, content=body, headers=h)
    assert r.status_code == status, r.text
    data = r.json()
    assert data["error"] == code
    assert isinstance(data["detail"], str) and any(
        "\u4e00" <= ch <= "\u9fff" for ch in data["detail"]
    )
    assert (_count(engine), _count(engine, EntryVersion)) == before


def test_chunked_oversized_body_is_refused_too(client, tokens):
    def gen():
        for _ in range(100):
            yield b"x" * 1000

    r = client.put(
        PUSH.format(code="hotline", ext="c"),
        content=gen(),
        headers={**bearer(tokens["reviewer"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"


def test_unknown_route_and_method_are_json_errors(client):
    r = client.get("/api/v1/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
