"""A simulated October 2026 – January 2027 driven through the public API, every indicator
checked against figures worked out by hand below.

Calendar facts used (chinese-calendar for 2026, tests/data/calendar-2027.yaml for 2027):
National Day 2026-10-01..07 off, Saturday 2026-10-10 a make-up working day; 2027-01-01..03 off.
Refresh limit 2 working days, knowledge questions 2, policy push 3.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from kb_service.db import freeze
from kb_service.models import Obligation
from kb_service.models.entries import CONTENT_FIELDS
from tests.factories import bearer, content

SH = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
CALENDAR = ROOT / "tests" / "data" / "calendar-2027.yaml"
SECRET = "scenario-secret"
CONTENT_KEYS = CONTENT_FIELDS  # the editable entry fields, in one place


@pytest.fixture
def settings(settings):
    """The conftest settings plus the 2027 calendar file and an inbound-event secret."""
    settings.calendar_file = CALENDAR
    settings.ticket_core_secret = SECRET
    return settings


@pytest.fixture(autouse=True)
def _unfreeze():
    yield
    freeze(None)


def t(text: str) -> datetime:
    """'2026-10-09 10:00' in Beijing time."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


class World:
    """The scenario's helpers around one TestClient."""

    def __init__(self, client, tokens, runtime):
        self.c = client
        self.tok = tokens
        self.runtime = runtime

    def h(self, who: str) -> dict[str, str]:
        return bearer(self.tok[who])

    def at(self, when: str) -> None:
        freeze(t(when))

    def ok(self, r, status: int = 200):
        assert r.status_code == status, r.text
        return r.json()

    def sync(self) -> None:
        self.runtime.search().catch_up()

    def new_entry(self, editor: str, reviewer: str, dept: str, **over) -> int:
        body = {**content(similar_questions=[], **over), "department": dept, "submit": True}
        e = self.ok(self.c.post("/api/v1/entries", json=body, headers=self.h(editor)), 201)
        self.publish(reviewer, e["id"], e["version"])
        return int(e["id"])

    def publish(self, reviewer: str, entry_id: int, version: int) -> None:
        self.ok(
            self.c.post(
                f"/api/v1/entries/{entry_id}/publish",
                json={"base_version": version},
                headers=self.h(reviewer),
            )
        )
        self.sync()

    def refresh(self, editor: str, reviewer: str, entry_id: int, answer: str) -> None:
        e = self.ok(self.c.get(f"/api/v1/entries/{entry_id}", headers=self.h(editor)))
        body = {k: e[k] for k in CONTENT_KEYS}
        body.update(answer=answer, base_version=e["version"], submit=True)
        e = self.ok(self.c.put(f"/api/v1/entries/{entry_id}", json=body, headers=self.h(editor)))
        self.publish(reviewer, entry_id, e["version"])

    def intake(self, when: str, text: str, **kw):
        self.at(when)
        body = {"text": text, "at": t(when).isoformat(), **kw}
        return self.ok(self.c.post("/api/v1/intake", json=body, headers=self.h("operator")))

    def ticket(self, when: str, text: str, dept: str) -> tuple[str, int]:
        out = self.intake(when, text)
        assert out["action"] == "ticket", out
        assert out["ticket"]["type"] == "consultation"
        assert out["ticket"]["department"] == dept, out["ticket"]
        return out["ticket"]["ticket_no"], out["query_id"]

    def close(self, when: str, who: str, ticket_no: str) -> None:
        self.at(when)
        self.ok(
            self.c.post(
                f"/api/v1/tickets/{ticket_no}/close",
                json={"result": "已电话答复"},
                headers=self.h(who),
            )
        )

    def answered(self, when: str, entry_id: int, question: str) -> int:
        out = self.intake(when, question)
        assert out["action"] == "answer", out
        assert any(r["kind"] == "entry" and r["id"] == entry_id for r in out["suggestions"])
        return int(out["query_id"])

    def feedback(self, query_id: int, kind: str, item_id: int, verdict: str, reason=None):
        body = {"kind": kind, "id": item_id, "verdict": verdict, "reason": reason}
        return self.ok(
            self.c.post(
                f"/api/v1/suggestions/{query_id}/feedback", json=body, headers=self.h("operator")
            )
        )

    def obligation_of(self, ticket_no: str, who: str = "manager"):
        rows = self.ok(self.c.get("/api/v1/obligations", headers=self.h(who)))
        found = [o for o in rows if o["ticket_no"] == ticket_no]
        assert len(found) == 1, found
        return found[0]

    def upload(self, when: str, who: str, doc_id: str, issued: str) -> None:
        self.at(when)
        line = {
            "doc_id": doc_id,
            "title": f"关于{doc_id}的通知",
            "doc_no": None,
            "issued": issued,
            "text": f"第一条 {doc_id} 的适用范围。\n第二条 {doc_id} 自发布之日起施行。",
        }
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
        r = self.c.post(
            "/api/v1/documents",
            files={"file": (f"{doc_id}.jsonl", data, "application/json")},
            headers=self.h(who),
        )
        assert r.status_code == 200, r.text

    def event(self, when: str, event_id: str, ticket_no: str, kind: str, at: str, **detail):
        from kb_service import outbox

        self.at(when)
        body = outbox.encode_payload(
            {
                "event_id": event_id,
                "ticket_no": ticket_no,
                "kind": kind,
                "at": t(at).isoformat(),
                "detail": detail,
            }
        )
        ts = int(t(when).timestamp())
        headers = {
            "content-type": "application/json",
            "x-kb-timestamp": str(ts),
            "x-kb-signature": outbox.sign(body, secret=SECRET, timestamp=ts),
        }
        return self.ok(self.c.post("/api/v1/ticket-events", content=body, headers=headers))

    def metrics(self, start: str, end: str):
        return self.ok(
            self.c.get(
                "/api/v1/metrics", params={"start": start, "end": end}, headers=self.h("manager")
            )
        )


def _dept(m, code):
    return next(d for d in m["departments"] if d["code"] == code)


def test_october_to_january_indicators_match_hand_computation(client, tokens, runtime, engine):
    w = World(client, tokens, runtime)
    hot, mi = ("editor", "reviewer"), ("editor_mi", "reviewer_mi")

    # --- the knowledge base on 1 September ---------------------------------------------------
    w.at("2026-09-01 10:00")
    h1 = w.new_entry(*hot, "hotline", question="12345热线的知识库由哪个部门负责建设")
    h2 = w.new_entry(*hot, "hotline", question="12345热线工单办结后多久回访")
    m1 = w.new_entry(*mi, "medical-insurance", question="医保异地就医备案怎么办理")
    # A 10-day review interval: due 09-11, overdue (30-day grace) from 10-12.
    m2 = w.new_entry(
        *mi, "medical-insurance", question="医保门诊报销比例是多少", review_interval_days=10
    )

    # --- hotline T1: opened before, closed on the eve of National Day ---------------------------
    t1, _ = w.ticket("2026-09-29 10:00", "请问12345热线的知识库建设归哪个部门管", "hotline")
    w.close("2026-09-30 16:00", "editor", t1)
    ob1 = w.obligation_of(t1)
    assert _due(ob1) == t("2026-10-09 23:59:59.999999")  # 10-08, 10-09
    assert h1 in [e["id"] for e in ob1["related_entries"]]

    # A document issued in September and pushed in October: not an October document.
    w.upload("2026-10-09 09:00", "reviewer_mi", "doc-sep", "2026-09-28")
    # H1 refreshed on the due day: on time (closure → refresh: 2 working days).
    w.at("2026-10-09 10:00")
    w.refresh(*hot, h1, "12345热线知识库由省政务服务监督管理局牵头建设，各承办单位共同维护。")

    # --- medical insurance MT1: closed on Friday 10-09, due Monday 10-12 (Saturday 10-10 works)
    mt1, _ = w.ticket("2026-10-08 09:00", "请问医保异地就医备案需要带什么材料", "medical-insurance")
    w.close("2026-10-09 17:00", "editor_mi", mt1)
    assert _due(w.obligation_of(mt1)) == t("2026-10-12 23:59:59.999999")
    w.at("2026-10-12 09:00")
    w.refresh(*mi, m1, "异地就医备案可通过国家医保服务平台App办理，需身份证和参保地信息。")

    # --- hotline T2: closed 10-13, due 10-15, refreshed 10-16 (late, 3 working days) -------------
    t2, q_t2 = w.ticket("2026-10-12 09:00", "请问12345热线工单办结后什么时候回访", "hotline")
    out_t2 = w.c.get(f"/api/v1/tickets/{t2}", headers=w.h("editor")).json()
    assert out_t2["department"] == "hotline"
    w.close("2026-10-13 15:00", "editor", t2)
    assert h2 in [e["id"] for e in w.obligation_of(t2)["related_entries"]]

    # Documents: D1 issued Fri 10-09, pushed Tue 10-13 (3rd working day: 10-10, 10-12, 10-13).
    w.upload("2026-10-13 10:00", "reviewer_mi", "doc-d1", "2026-10-09")

    # --- answered directly from the KB and adopted; one not helpful -----------------------------
    qa = w.answered("2026-10-14 10:00", h1, "12345热线的知识库由哪个部门负责建设")
    w.feedback(qa, "entry", h1, "adopted")
    qb = w.answered("2026-10-15 10:00", m1, "医保异地就医备案怎么办理")
    w.feedback(qb, "entry", m1, "adopted")
    w.at("2026-10-16 10:00")
    w.refresh(*hot, h2, "工单办结后5个工作日内进行满意度回访。")
    qc = w.answered("2026-10-16 11:00", m2, "医保门诊报销比例是多少")
    w.feedback(qc, "entry", m2, "not_helpful", "outdated")
    # The operator first adopted, then changed their mind: the latest verdict counts.
    w.feedback(qc, "entry", m2, "adopted")
    w.feedback(qc, "entry", m2, "not_helpful", "outdated")
    # T2's item: a hotline suggestion was shown and was not relevant.
    logs_t2 = w.c.get("/api/v1/tickets", headers=w.h("manager")).json()
    assert any(x["ticket_no"] == t2 for x in logs_t2)
    shown_t2 = _shown(engine, q_t2)
    w.feedback(q_t2, "entry", _first_of(engine, shown_t2, "hotline"), "not_helpful", "irrelevant")

    # --- hotline T3: confirmed still correct on time -------------------------------------------
    t3, _ = w.ticket("2026-10-19 09:00", "请问12345热线的知识库多久更新一次", "hotline")
    w.close("2026-10-20 11:00", "editor", t3)
    w.at("2026-10-21 10:00")
    ob3 = w.obligation_of(t3)
    w.ok(
        w.c.post(
            f"/api/v1/obligations/{ob3['id']}/confirm",
            json={"reason": "现有口径已写明更新要求，无需修改"},
            headers=w.h("editor"),
        )
    )

    # --- knowledge question to medical insurance: answered and published on time ---------------
    w.at("2026-10-20 10:00")
    kq = w.ok(
        w.c.post(
            "/api/v1/knowledge-questions",
            json={
                "department": "medical-insurance",
                "text": "参保人在外省住院，回青海后多久内可以申请医保报销？来电人电话13812345678",
            },
            headers=w.h("operator"),
        ),
        201,
    )
    assert "13812345678" not in kq["text"]
    assert _due(kq) == t("2026-10-22 23:59:59.999999")
    w.at("2026-10-21 10:00")
    answered = w.ok(
        w.c.post(
            f"/api/v1/knowledge-questions/{kq['id']}/answer",
            json=content(
                question="外省住院后回青海多久内申请医保报销",
                similar_questions=[],
                answer="应在出院之日起一年内向参保地医保经办机构申请报销。",
            ),
            headers=w.h("editor_mi"),
        ),
        201,
    )
    m4 = answered["answer"]["entry_id"]
    assert answered["answer"]["published"] is False
    w.at("2026-10-22 09:00")
    e4 = w.ok(w.c.get(f"/api/v1/entries/{m4}", headers=w.h("reviewer_mi")))
    w.publish("reviewer_mi", m4, e4["version"])
    mine = w.ok(w.c.get("/api/v1/knowledge-questions", headers=w.h("operator")))
    assert mine[0]["state"] == "fulfilled_on_time" and mine[0]["fulfilment"] == "answer"
    assert mine[0]["answer"]["answer"].startswith("应在出院之日起一年内")

    # Documents: D2 (MI) issued 10-20, pushed 10-26 (late: deadline 10-23); D3 (hotline) on time.
    w.upload("2026-10-23 10:00", "reviewer", "doc-d3", "2026-10-22")
    w.upload("2026-10-26 15:00", "reviewer_mi", "doc-d2", "2026-10-20")

    # --- MT2: a new entry linked to the ticket and published on the due day ---------------------
    mt2, q_mt2 = w.ticket("2026-10-23 09:00", "请问医保生育津贴怎么申领", "medical-insurance")
    shown = _shown(engine, q_mt2)
    w.feedback(
        q_mt2, "entry", _first_of(engine, shown, "medical-insurance"), "not_helpful", "incomplete"
    )
    w.close("2026-10-26 10:00", "editor_mi", mt2)
    w.at("2026-10-27 10:00")
    e3 = w.ok(
        w.c.post(
            "/api/v1/entries",
            json={
                **content(question="医保生育津贴申领流程", similar_questions=[]),
                "department": "medical-insurance",
                "submit": True,
            },
            headers=w.h("editor_mi"),
        ),
        201,
    )
    m3 = e3["id"]
    ob_mt2 = w.obligation_of(mt2)
    linked = w.ok(
        w.c.post(
            f"/api/v1/obligations/{ob_mt2['id']}/link",
            json={"entry_id": m3},
            headers=w.h("editor_mi"),
        )
    )
    assert linked["state"] == "open"
    w.at("2026-10-28 09:00")
    w.publish("reviewer_mi", m3, e3["version"])
    assert w.obligation_of(mt2)["fulfilment"] == "new_entry"

    # --- T4: never refreshed (phone number in the item: masked everywhere) ----------------------
    t4, _ = w.ticket(
        "2026-10-27 09:00", "请问打12345热线电话能查询工单进度吗，我电话13912345678", "hotline"
    )
    w.close("2026-10-28 10:00", "editor", t4)

    # --- MT3: closed Thursday 10-29, due Monday 11-02, refreshed 11-03 (late) -------------------
    mt3, _ = w.ticket("2026-10-28 14:00", "请问医保门诊报销需要什么手续", "medical-insurance")
    w.close("2026-10-29 15:00", "editor_mi", mt3)
    ob_mt3 = w.obligation_of(mt3)
    assert _due(ob_mt3) == t("2026-11-02 23:59:59.999999")
    assert m2 in [e["id"] for e in ob_mt3["related_entries"]]

    # The hotline inbox on 10-29: the open T4 first, then the fulfilled ones.
    w.at("2026-10-29 16:00")
    inbox = w.ok(w.c.get("/api/v1/departments/hotline/obligations", headers=w.h("editor")))
    assert inbox[0]["ticket_no"] == t4 and inbox[0]["state"] == "open"
    assert {o["state"] for o in inbox[1:]} == {"fulfilled_on_time", "fulfilled_late"}
    assert "13912345678" not in inbox[0]["text"]
    assert (
        w.c.get("/api/v1/departments/hotline/obligations", headers=w.h("editor_mi")).status_code
        == 403
    )

    w.at("2026-11-03 10:00")
    w.refresh(*mi, m2, "门诊费用按参保类别分别报销，职工医保报销比例为70%。")

    # --- December: hotline T5 handled by the external core; events twice and out of order -------
    t5, _ = w.ticket("2026-12-07 09:00", "请问12345热线可以通过微信反映问题吗", "hotline")
    first = w.event(
        "2026-12-09 10:05", "core-t5-closed", t5, "closed", "2026-12-09 10:00", result="已答复"
    )
    assert first == {"applied": True, "duplicate": False}
    again = w.event("2026-12-09 10:06", "core-t5-closed", t5, "closed", "2026-12-09 10:00")
    assert again == {"applied": False, "duplicate": True}
    late_accept = w.event(
        "2026-12-09 10:07", "core-t5-accepted", t5, "accepted", "2026-12-08 09:00"
    )
    assert late_accept["applied"] is True
    resent = w.event("2026-12-09 10:30", "core-t5-closed-retry", t5, "closed", "2026-12-09 10:25")
    assert resent["applied"] is True
    ob5 = w.obligation_of(t5)
    assert _due(ob5) == t("2026-12-11 23:59:59.999999")
    assert w.c.get(f"/api/v1/tickets/{t5}", headers=w.h("editor")).json()["status"] == "closed"
    w.at("2026-12-10 10:00")
    w.ok(
        w.c.post(
            f"/api/v1/obligations/{ob5['id']}/confirm",
            json={"reason": "微信渠道口径仍然有效"},
            headers=w.h("reviewer"),
        )
    )

    # --- MT4: closed 12-30, due over New Year 2027 on 01-04 (calendar file), refreshed 01-05 ----
    mt4, _ = w.ticket(
        "2026-12-29 09:00", "请问医保异地就医备案后可以直接结算吗", "medical-insurance"
    )
    w.close("2026-12-30 16:00", "editor_mi", mt4)
    assert _due(w.obligation_of(mt4)) == t("2027-01-04 23:59:59.999999")
    w.at("2027-01-05 10:00")
    w.refresh(*mi, m1, "备案后在定点医疗机构可直接结算。")

    # --- never lost, never duplicated -----------------------------------------------------------
    w.at("2027-01-08 10:00")
    with Session(engine) as s:
        refresh_obs = s.exec(select(Obligation).where(Obligation.kind == "ticket_refresh")).all()
    assert len(refresh_obs) == 9
    assert len({o.ticket_id for o in refresh_obs}) == 9

    # --- October, by hand ------------------------------------------------------------------------
    octo = w.metrics("2026-10-01", "2026-10-31")
    h, m, o = _dept(octo, "hotline"), _dept(octo, "medical-insurance"), octo["overall"]
    # Hotline: T1 on time (update), T2 late, T3 on time (confirmation), T4 never.
    assert (h["due"], h["fulfilled_on_time"], h["fulfilled_late"], h["overdue_obligations"]) == (
        4,
        2,
        1,
        1,
    )
    assert h["update_rate"] == 0.5 and h["confirmations"] == 1
    assert h["mean_workdays_to_refresh"] == 2.5  # (2 + 3) / 2
    # Medical insurance: MT1 on time (update), MT2 on time (new entry); MT3 falls due in Nov.
    assert (m["due"], m["fulfilled_on_time"], m["confirmations"]) == (2, 2, 0)
    assert m["update_rate"] == 1.0 and m["mean_workdays_to_refresh"] == 2.0
    assert (m["knowledge_questions_due"], m["knowledge_questions_answered_on_time"]) == (1, 1)
    assert o["due"] == 6 and o["update_rate"] == round(4 / 6, 4)
    assert o["mean_workdays_to_refresh"] == 2.25
    # Direct answers: hotline items T2, a, T3, T4 (T1's item was in September); MI items MT1,
    # b, c, MT2, MT3.
    assert (h["consultation_items"], h["direct_answers"]) == (4, 1)
    assert h["direct_answer_rate"] == 0.25
    assert (m["consultation_items"], m["direct_answers"]) == (5, 1)
    assert m["direct_answer_rate"] == 0.2
    assert o["direct_answer_rate"] == round(2 / 9, 4)
    # Policy push: MI D1 in time, D2 late; hotline D3 in time; doc-sep issued in September.
    assert (m["documents_issued"], m["policy_push_rate"]) == (2, 0.5)
    assert (h["documents_issued"], h["policy_push_rate"]) == (1, 1.0)
    assert o["policy_push_rate"] == round(2 / 3, 4)
    # Review: on 10-31 M2 (10-day interval, last published 09-01) is overdue; H1, H2, M1, M3, M4
    # are fresh.
    assert (h["live_entries"], h["entries_overdue_review_share"]) == (2, 0.0)
    assert (m["live_entries"], m["entries_overdue_review_share"]) == (4, 0.25)
    assert o["entries_overdue_review_share"] == round(1 / 6, 4)
    # Feedback: hotline a adopted, T2 irrelevant; MI b adopted, c outdated, MT2 incomplete.
    assert h["adoption_rate"] == 0.5
    assert h["not_helpful_by_reason"] == {
        "outdated": 0,
        "wrong": 0,
        "incomplete": 0,
        "irrelevant": 1,
    }
    assert m["adoption_rate"] == round(1 / 3, 4)
    assert m["not_helpful_by_reason"] == {
        "outdated": 1,
        "wrong": 0,
        "incomplete": 1,
        "irrelevant": 0,
    }
    assert o["adoption_rate"] == 0.4

    # --- November, December, January -------------------------------------------------------------
    nov = w.metrics("2026-11-01", "2026-11-30")
    m_nov = _dept(nov, "medical-insurance")
    assert (m_nov["due"], m_nov["fulfilled_late"], m_nov["update_rate"]) == (1, 1, 0.0)
    assert m_nov["mean_workdays_to_refresh"] == 3.0  # 10-30, 11-02, 11-03
    dec = w.metrics("2026-12-01", "2026-12-31")
    h_dec = _dept(dec, "hotline")
    assert (h_dec["due"], h_dec["update_rate"], h_dec["confirmations"]) == (1, 1.0, 1)
    assert dec["overall"]["due"] == 1
    jan = w.metrics("2027-01-01", "2027-01-31")
    m_jan = _dept(jan, "medical-insurance")
    assert (m_jan["due"], m_jan["update_rate"], m_jan["mean_workdays_to_refresh"]) == (1, 0.0, 3.0)

    monthly = w.ok(
        w.c.get("/api/v1/metrics/monthly", params={"year": 2026}, headers=w.h("manager"))
    )
    by_month = {x["month"]: x for x in monthly["months"]}
    assert by_month["2026-10"]["departments"]["hotline"]["update_rate"] == 0.5
    assert by_month["2026-11"]["departments"]["medical-insurance"]["update_rate"] == 0.0
    assert by_month["2026-09"]["overall"] is None

    # --- gaps: every ticketed item was unanswerable; examples are masked -------------------------
    gaps = w.ok(
        w.c.get(
            "/api/v1/gaps",
            params={"start": "2026-10-01", "end": "2026-10-31"},
            headers=w.h("manager"),
        )
    )
    assert sum(g["size"] for g in gaps) == 6  # T2, T3, T4, MT1, MT2, MT3
    examples = [e for g in gaps for e in g["examples"]]
    assert all("13912345678" not in e for e in examples)
    assert any("139****5678" in e for e in examples)

    # --- the October report --------------------------------------------------------------------
    rep = w.ok(w.c.get("/api/v1/reports/2026-10", headers=w.h("manager")))
    assert rep["due_date"] == "2026-11-06"  # 5th working day of November 2026
    assert rep["indicators"]["departments"] == octo["departments"]
    assert _dept(rep["indicators"], "hotline")["update_rate"] == 0.5
    html = w.c.get("/api/v1/reports/2026-10", params={"format": "html"}, headers=w.h("manager"))
    assert html.status_code == 200 and "<svg" in html.text and "知识库更新率" in html.text
    assert "<script" not in html.text and "http://cdn" not in html.text
    xlsx = w.c.get("/api/v1/reports/2026-10", params={"format": "xlsx"}, headers=w.h("manager"))
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    q4 = w.ok(w.c.get("/api/v1/reports/2026-Q4", headers=w.h("manager")))
    assert q4["due_date"] == "2027-01-08"  # 01-04, 05, 06, 07, 08
    year = w.ok(w.c.get("/api/v1/reports/2026", headers=w.h("manager")))
    assert year["due_date"] == "2027-01-15"

    out_dir = os.environ.get("KB_SCENARIO_REPORT_DIR")
    if out_dir:
        # `make`-free way to refresh docs/reports: KB_SCENARIO_REPORT_DIR=docs/reports pytest …
        target = Path(out_dir)
        target.mkdir(parents=True, exist_ok=True)
        (target / "report-2026-10.json").write_text(
            json.dumps(rep, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        (target / "report-2026-10.html").write_text(html.text, encoding="utf-8")


def _shown(engine, query_id: int) -> list[dict]:
    from kb_service.models import QueryLog

    with Session(engine) as s:
        row = s.get(QueryLog, query_id)
        assert row is not None
        return list(row.results)


def _first_of(engine, shown: list[dict], dept: str) -> int:
    from kb_service.models import Department, Entry

    with Session(engine) as s:
        for r in shown:
            if r["kind"] != "entry":
                continue
            e = s.get(Entry, r["id"])
            d = s.get(Department, e.department_id) if e else None
            if d is not None and d.code == dept:
                return int(r["id"])
    raise AssertionError(f"no {dept} entry among the suggestions {shown}")


def _due(obligation: dict) -> datetime:
    return datetime.fromisoformat(obligation["due_at"])
