"""Intake routing over HTTP and the embedded ticket core."""

from __future__ import annotations

from sqlmodel import Session, select

from kb_service.models import IntakeLog, Ticket, TicketEvent
from tests.factories import bearer

AT = "2026-09-30T10:00:00+08:00"


def _intake(client, token, text, **kw):
    r = client.post("/api/v1/intake", json={"text": text, **kw}, headers=bearer(token))
    assert r.status_code == 200, r.text
    return r.json()


def test_emergency_is_diverted_with_the_number_and_a_sentence(client, tokens):
    out = _intake(client, tokens["operator"], "楼下着火了，烟很大，快来人", at=AT)
    assert out["action"] == "divert" and out["divert_to"] == "119"
    assert out["say"] and out["ticket"] is None


def test_matter_in_litigation_is_refused_with_where_to_go(client, tokens):
    text = "我和公司的劳动纠纷已经在法院起诉了，你们帮我催一下判决"
    out = _intake(client, tokens["operator"], text, at=AT)
    assert out["action"] == "reject"
    assert out["reason"] and out["channel"]


def test_consultation_closed_before_national_day_is_due_on_october_ninth(client, tokens, engine):
    out = _intake(
        client,
        tokens["operator"],
        "我想咨询一下我们小区的物业费收费标准是怎么定的",
        at=AT,
        region="西宁市",
    )
    assert out["action"] == "ticket", out
    t = out["ticket"]
    assert t["type"] == "consultation" and t["limit_workdays"] == 2
    assert t["due"].startswith("2026-10-09T23:59:59")
    assert t["ticket_no"].startswith("GD20260930-") and t["status"] == "open"
    with Session(engine) as s:
        log = s.exec(select(IntakeLog)).one()
        assert log.action == "ticket" and log.ticket_id is not None


def test_caller_phone_number_is_masked_in_ticket_and_intake_log(client, tokens, engine):
    out = _intake(
        client, tokens["operator"], "我要投诉小区门口餐馆油烟扰民好几个月了，电话13912345678", at=AT
    )
    assert out["action"] == "ticket"
    with Session(engine) as s:
        assert "13912345678" not in s.exec(select(Ticket)).one().text
        assert "13912345678" not in s.exec(select(IntakeLog)).one().text


def test_embedded_core_lifecycle_and_closed_event_for_freshness(client, tokens, engine):
    out = _intake(
        client,
        tokens["operator"],
        "请问12345热线的知识库由哪个部门负责建设",
        at=AT,
        create_ticket=False,
    )
    r = client.post(
        "/api/v1/tickets",
        json={"text": "请问医保异地备案怎么办理", "type": "consultation", "department": "hotline"},
        headers=bearer(tokens["operator"]),
    )
    assert r.status_code == 201, r.text
    no = r.json()["ticket_no"]
    h = bearer(tokens["editor"])
    other = bearer(tokens["editor_mi"])
    assert client.post(f"/api/v1/tickets/{no}/accept", json={}, headers=other).status_code == 403
    assert (
        client.post(f"/api/v1/tickets/{no}/accept", json={}, headers=h).json()["status"]
        == "accepted"
    )
    ext = client.post(f"/api/v1/tickets/{no}/extend", json={"workdays": 11}, headers=h)
    assert ext.status_code == 422 and ext.json()["error"] == "extension_invalid"
    closed = client.post(f"/api/v1/tickets/{no}/close", json={"result": "已电话答复"}, headers=h)
    assert closed.json()["status"] == "closed" and closed.json()["callback_due"]
    again = client.post(f"/api/v1/tickets/{no}/close", json={}, headers=h)
    assert again.status_code == 409
    with Session(engine) as s:
        ev = s.exec(select(TicketEvent).where(TicketEvent.kind == "closed")).one()
    assert ev.detail["type"] == "consultation" and ev.detail["department"] == "hotline"
    assert ev.detail["text"] == "请问医保异地备案怎么办理" and "closed_at" in ev.detail
    assert out["action"] in ("answer", "ticket")


def test_wrong_department_return_is_reported_by_rule(client, tokens):
    out = _intake(client, tokens["operator"], "我要投诉小区门口餐馆油烟扰民好几个月了", at=AT)
    t = out["ticket"]
    code = t["department"]
    tok = {"hotline": tokens["editor"], "medical-insurance": tokens["editor_mi"]}.get(code)
    h = bearer(tok) if tok else bearer(tokens["admin"])
    r = client.post(f"/api/v1/tickets/{t['ticket_no']}/return", json={}, headers=h)
    assert r.status_code == 422 and r.json()["error"] == "reason_required"
    r = client.post(
        f"/api/v1/tickets/{t['ticket_no']}/return",
        json={"reason": "油烟扰民属生态环境部门职责"},
        headers=h,
    )
    assert r.json()["status"] == "returned"
    report = client.get("/api/v1/routing/returns", headers=bearer(tokens["manager"])).json()
    assert report[0]["returned"] == 1 and "生态环境" in report[0]["reasons"][0]


def test_rules_are_validated_dry_run_and_versioned(client, tokens):
    h = bearer(tokens["admin"])
    bad = client.put(
        "/api/v1/routing/rules",
        json={"text": "version: 1\nrules:\n  - id: x\n    action: teleport\n"},
        headers=h,
    )
    assert bad.status_code == 422 and bad.json()["error"] == "rules_invalid"
    _intake(client, tokens["operator"], "楼下着火了", at=AT)
    current = client.get("/api/v1/routing/rules", headers=h).json()
    assert current["version"] is None
    dry = client.post(
        "/api/v1/routing/rules/dry-run", json={"text": current["text"]}, headers=h
    ).json()
    assert dry["items"] == 1 and dry["changed"] == 0
    saved = client.put(
        "/api/v1/routing/rules", json={"text": current["text"], "comment": "首版"}, headers=h
    )
    assert saved.json() == {"version": 1}
    assert (
        client.put(
            "/api/v1/routing/rules",
            json={"text": current["text"]},
            headers=bearer(tokens["manager"]),
        ).status_code
        == 403
    )


def test_an_unknown_ticket_action_is_a_clear_error(client, tokens):
    r = client.post(
        "/api/v1/tickets",
        json={"text": "请问医保异地备案怎么办理", "type": "consultation", "department": "hotline"},
        headers=bearer(tokens["operator"]),
    )
    no = r.json()["ticket_no"]
    r = client.post(f"/api/v1/tickets/{no}/reopen", json={}, headers=bearer(tokens["editor"]))
    assert r.status_code == 422 and r.json()["error"] == "action_invalid"
