"""Freshness API: feedback rules, who sees which inbox, knowledge questions, metrics scope."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli_app
from tests.factories import bearer, content, wait_for


def _query(client, tokens, text="请问12345热线的知识库由哪个部门负责建设"):
    r = client.post("/api/v1/suggest", json={"text": text}, headers=bearer(tokens["operator"]))
    assert r.status_code == 200, r.text
    return r.json()


def _live(client, tokens, **over):
    body = {**content(similar_questions=[], **over), "department": "hotline", "submit": True}
    e = client.post("/api/v1/entries", json=body, headers=bearer(tokens["editor"])).json()
    r = client.post(
        f"/api/v1/entries/{e['id']}/publish",
        json={"base_version": e["version"]},
        headers=bearer(tokens["reviewer"]),
    )
    assert r.status_code == 200, r.text
    return e["id"]


def test_feedback_needs_a_reason_when_not_helpful_and_a_shown_suggestion(client, tokens, runtime):
    eid = _live(client, tokens, question="12345热线的知识库由哪个部门负责建设")
    runtime.search().catch_up()
    q = _query(client, tokens)
    assert any(r["id"] == eid for r in q["results"])
    url = f"/api/v1/suggestions/{q['query_id']}/feedback"
    op = bearer(tokens["operator"])
    r = client.post(url, json={"kind": "entry", "id": eid, "verdict": "not_helpful"}, headers=op)
    assert r.status_code == 422 and r.json()["error"] == "reason_required"
    r = client.post(url, json={"kind": "entry", "id": 999, "verdict": "adopted"}, headers=op)
    assert r.status_code == 422 and r.json()["error"] == "suggestion_not_shown"
    r = client.post(
        url,
        json={"kind": "entry", "id": eid, "verdict": "not_helpful", "reason": "stale"},
        headers=op,
    )
    assert r.status_code == 422
    r = client.post(
        url,
        json={"kind": "entry", "id": eid, "verdict": "not_helpful", "reason": "wrong"},
        headers=op,
    )
    assert r.status_code == 200 and r.json()["reason_label"] == "错误"
    r = client.post(
        url,
        json={"kind": "entry", "id": eid, "verdict": "adopted"},
        headers=bearer(tokens["editor"]),
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/suggestions/99999/feedback",
        json={"kind": "entry", "id": eid, "verdict": "adopted"},
        headers=op,
    )
    assert r.status_code == 404 and r.json()["error"] == "query_not_found"


def test_obligation_lists_are_scoped_by_role(client, tokens):
    assert (
        client.get(
            "/api/v1/departments/hotline/obligations", headers=bearer(tokens["editor"])
        ).status_code
        == 200
    )
    assert (
        client.get(
            "/api/v1/departments/hotline/obligations", headers=bearer(tokens["editor_mi"])
        ).status_code
        == 403
    )
    assert (
        client.get(
            "/api/v1/departments/hotline/obligations", headers=bearer(tokens["operator"])
        ).status_code
        == 403
    )
    assert client.get("/api/v1/obligations", headers=bearer(tokens["reviewer"])).status_code == 403
    r = client.get(
        "/api/v1/obligations", params={"state": "late"}, headers=bearer(tokens["manager"])
    )
    assert r.status_code == 422 and r.json()["error"] == "state_invalid"


def test_knowledge_question_is_answered_through_review_and_seen_by_the_asker(client, tokens):
    op = bearer(tokens["operator"])
    r = client.post(
        "/api/v1/knowledge-questions",
        json={"department": "hotline", "text": "热线能否受理外省来电？"},
        headers=op,
    )
    assert r.status_code == 201, r.text
    kq = r.json()
    assert kq["kind"] == "knowledge_question" and kq["kind_label"] == "知识提问"
    assert kq["state"] == "open" and kq["answer"] is None
    other = bearer(tokens["editor_mi"])
    assert client.get("/api/v1/knowledge-questions", headers=other).json() == []
    r = client.post(
        f"/api/v1/knowledge-questions/{kq['id']}/answer",
        json=content(question="外省来电能否受理", similar_questions=[]),
        headers=other,
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/knowledge-questions/{kq['id']}/answer",
        json=content(question="外省来电能否受理", similar_questions=[]),
        headers=bearer(tokens["editor"]),
    )
    assert r.status_code == 201, r.text
    answer = r.json()["answer"]
    assert answer["status"] == "in_review" and answer["published"] is False
    again = client.post(
        f"/api/v1/knowledge-questions/{kq['id']}/answer",
        json=content(question="再答一次", similar_questions=[]),
        headers=bearer(tokens["editor"]),
    )
    assert again.status_code == 409
    r = client.post(
        f"/api/v1/obligations/{kq['id']}/confirm",
        json={"reason": "无需答复"},
        headers=bearer(tokens["editor"]),
    )
    assert r.status_code == 409 and r.json()["error"] == "question_needs_answer"
    e = client.get(f"/api/v1/entries/{answer['entry_id']}", headers=bearer(tokens["reviewer"]))
    client.post(
        f"/api/v1/entries/{answer['entry_id']}/publish",
        json={"base_version": e.json()["version"]},
        headers=bearer(tokens["reviewer"]),
    )
    mine = client.get("/api/v1/knowledge-questions", headers=op).json()
    assert mine[0]["state"] == "fulfilled_on_time" and mine[0]["answer"]["published"] is True
    assert mine[0]["fulfilment"] == "answer"


def test_metrics_are_for_managers_and_departments_see_only_their_own(client, tokens):
    params = {"start": "2026-10-01", "end": "2026-10-31"}
    r = client.get("/api/v1/metrics", params=params, headers=bearer(tokens["manager"]))
    assert r.status_code == 200 and r.json()["overall"]["update_rate"] is None
    r = client.get(
        "/api/v1/metrics",
        params={**params, "department": "medical-insurance"},
        headers=bearer(tokens["editor"]),
    )
    assert r.status_code == 200 and "overall" not in r.json()
    assert (
        client.get("/api/v1/metrics", params=params, headers=bearer(tokens["operator"])).status_code
        == 403
    )
    bad = client.get(
        "/api/v1/metrics",
        params={"start": "2026-10-31", "end": "2026-10-01"},
        headers=bearer(tokens["manager"]),
    )
    assert bad.status_code == 422 and bad.json()["error"] == "range_invalid"
    assert (
        client.get("/api/v1/reports/2026-10", headers=bearer(tokens["editor"])).status_code == 403
    )
    r = client.get("/api/v1/reports/2026-13", headers=bearer(tokens["manager"]))
    assert r.status_code == 422 and r.json()["error"] == "period_invalid"


@pytest.mark.parametrize("fmt", ["json", "html", "xlsx"])
def test_cli_writes_a_monthly_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / f"r.{fmt}"
    result = CliRunner().invoke(
        cli_app, ["report", "--month", "2026-10", "--format", fmt, "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    if fmt == "json":
        assert json.loads(data)["due_date"] == "2026-11-06"
    elif fmt == "html":
        assert "<svg" in data.decode()
    else:
        assert data[:2] == b"PK"
    both = CliRunner().invoke(cli_app, ["report", "--month", "2026-10", "--year", "2026"])
    assert both.exit_code == 2


def test_the_served_app_sweeps_in_the_background(runtime, seeded) -> None:
    """Review obligations appear without anybody opening an inbox."""
    from fastapi.testclient import TestClient
    from sqlmodel import Session, select

    from api.app import create_app
    from kb_service.models import Obligation

    sweeps: list[int] = []
    real = runtime.sweeper

    def counted():  # type: ignore[no-untyped-def]
        sw = real()
        original = sw.run_once

        def run_once(**kw):  # type: ignore[no-untyped-def]
            sweeps.append(original(**kw))
            return sweeps[-1]

        sw.run_once = run_once
        return sw

    runtime.sweeper = counted  # type: ignore[method-assign]
    runtime.settings.sweep_interval_s = 3600
    with TestClient(create_app(runtime.settings, runtime=runtime, with_search=False)):
        wait_for(lambda: sweeps, what="the sweep at start")
    assert sweeps == [0]  # ran once at start, on an empty knowledge base
    with Session(seeded) as s:
        assert s.exec(select(Obligation)).all() == []
