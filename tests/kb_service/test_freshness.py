"""Refresh obligations: creation once per closed consultation, fulfilment, confirmations."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from kb_service import entries, freshness, tickets
from kb_service.db import freeze
from kb_service.errors import Conflict, Forbidden, Invalid
from kb_service.models import EntryContent, Obligation
from kb_service.principals import Actor
from kb_service.workdays import WorkCalendar
from tests.factories import content, wait_for

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.fixture(autouse=True)
def _unfreeze():
    yield
    freeze(None)


@pytest.fixture
def db(seeded) -> Session:
    with Session(seeded, expire_on_commit=False) as s:
        yield s


def _actor(session: Session, role: str, dept: str | None) -> Actor:
    from kb_service import auth

    user = auth.create_user(session, name=f"{role}-{dept}", role=role, department_code=dept)
    dept_row = None
    if dept:
        from kb_service.departments import get_by_code

        dept_row = get_by_code(session, code=dept)
    return Actor(
        user_id=user.id,
        name=user.name,
        role=user.role,
        department_id=dept_row.id if dept_row else None,
        department_code=dept,
    )


def _live_entry(session: Session, actor: Actor, dept: str, **over) -> int:
    e = entries.create(
        session,
        actor=actor,
        department_code=dept,
        content=EntryContent.model_validate(content(similar_questions=[], **over)),
    )
    entries.publish(session, actor=actor, entry_id=e.id, base_version=e.version)
    return e.id


def _ticket(session: Session, text: str, *, type: str = "consultation", dept: str = "hotline"):
    return tickets.create(
        session,
        core=tickets.EmbeddedCore(),
        type=type,
        department=dept,
        text=text,
        due_at=None,
        received_at=t("2026-10-12 09:00"),
    )


def _close(session: Session, ticket_no: str, event_id: str, at: str) -> bool:
    return tickets.apply_event(
        session, event_id=event_id, ticket_no=ticket_no, kind="closed", at=t(at), calendar=CAL
    )


def test_consultation_closed_on_friday_is_due_next_tuesday(db):
    freeze(t("2026-11-06 16:00"))
    tk = _ticket(db, "请问12345热线的知识库归谁管")
    _close(db, tk.ticket_no, "e1", "2026-11-06 16:00")
    ob = db.exec(select(Obligation)).one()
    assert ob.due_at == t("2026-11-10 23:59:59.999999")
    assert freshness.state_of(ob, now=t("2026-11-10 23:00")) == "open"
    assert freshness.state_of(ob, now=t("2026-11-11 08:00")) == "overdue"


def test_same_closed_event_twice_or_reordered_makes_one_obligation(db):
    freeze(t("2026-10-13 15:00"))
    tk = _ticket(db, "请问12345热线工单几天回访")
    assert _close(db, tk.ticket_no, "core-1", "2026-10-13 15:00")
    assert not _close(db, tk.ticket_no, "core-1", "2026-10-13 15:00")
    # The core retries with a new event id, and an older "accepted" arrives last.
    assert _close(db, tk.ticket_no, "core-2", "2026-10-14 09:00")
    tickets.apply_event(
        db, event_id="core-0", ticket_no=tk.ticket_no, kind="accepted", at=t("2026-10-12 10:00")
    )
    rows = db.exec(select(Obligation)).all()
    assert len(rows) == 1
    assert rows[0].closed_at == t("2026-10-13 15:00")
    assert rows[0].due_at == t("2026-10-15 23:59:59.999999")
    assert tk.status == "closed"


def test_complaint_closure_creates_no_obligation(db):
    tk = _ticket(db, "投诉小区物业", type="complaint")
    _close(db, tk.ticket_no, "c1", "2026-10-13 15:00")
    assert db.exec(select(Obligation)).all() == []


def test_publishing_a_related_entry_fulfils_and_unrelated_does_not(db):
    admin = _actor(db, "admin", None)
    freeze(t("2026-10-01 10:00"))
    related = _live_entry(db, admin, "hotline", question="12345热线的知识库由哪个部门负责建设")
    other = _live_entry(db, admin, "medical-insurance", question="医保异地就医备案怎么办理")
    tk = _ticket(db, "请问12345热线的知识库建设归哪个部门")
    freeze(t("2026-10-13 15:00"))
    _close(db, tk.ticket_no, "e1", "2026-10-13 15:00")
    ob = db.exec(select(Obligation)).one()
    assert ob.related_entries == [related]
    freeze(t("2026-10-14 10:00"))
    e = entries.get(db, entry_id=other)
    changed = content(question="医保异地就医备案怎么办理", answer="新的口径")
    e = entries.update(
        db,
        actor=admin,
        entry_id=other,
        content=EntryContent.model_validate(changed),
        base_version=e.version,
    )
    entries.publish(db, actor=admin, entry_id=other, base_version=e.version)
    assert ob.fulfilled_at is None
    e = entries.get(db, entry_id=related)
    entries.rollback(db, actor=admin, entry_id=related, to_version=1, base_version=e.version)
    assert ob.fulfilment == "update" and freshness.state_of(ob) == "fulfilled_on_time"


def test_confirmation_needs_a_reason_and_the_owning_department(db):
    freeze(t("2026-10-13 15:00"))
    tk = _ticket(db, "请问12345热线能发短信吗")
    _close(db, tk.ticket_no, "e1", "2026-10-13 15:00")
    ob = db.exec(select(Obligation)).one()
    mi_editor = _actor(db, "editor", "medical-insurance")
    hot_editor = _actor(db, "editor", "hotline")
    with pytest.raises(Forbidden):
        freshness.confirm(db, actor=mi_editor, obligation_id=ob.id, reason="仍然正确")
    with pytest.raises(Invalid) as exc:
        freshness.confirm(db, actor=hot_editor, obligation_id=ob.id, reason="  ")
    assert exc.value.code == "reason_required"
    freeze(t("2026-10-16 09:00"))
    freshness.confirm(db, actor=hot_editor, obligation_id=ob.id, reason="口径仍然有效")
    assert freshness.state_of(ob) == "fulfilled_late" and ob.fulfilment == "confirm"
    with pytest.raises(Conflict):
        freshness.confirm(db, actor=hot_editor, obligation_id=ob.id, reason="再次确认")


def test_changed_policy_document_flags_become_one_obligation_per_version(db):
    admin = _actor(db, "admin", None)
    freeze(t("2026-10-12 10:00"))
    eid = _live_entry(db, admin, "hotline")
    entry = entries.get(db, entry_id=eid)
    entries.flag_needs_review(db, entry=entry, reason="青政办〔2022〕57号 第十四条已修改")
    entries.flag_needs_review(db, entry=entry, reason="青政办〔2022〕57号 第十四条已修改")
    obs = db.exec(select(Obligation).where(Obligation.kind == "document_change")).all()
    assert len(obs) == 1 and obs[0].entry_id == eid
    assert obs[0].due_at == t("2026-10-14 23:59:59.999999")
    editor = _actor(db, "editor", "hotline")
    freshness.confirm(db, actor=editor, obligation_id=obs[0].id, reason="修改不涉及本条目")
    assert entry.needs_review is False and entry.last_reviewed_at == t("2026-10-12 10:00")


def test_review_interval_sweep_creates_each_obligation_once_and_publish_fulfils_it(db):
    admin = _actor(db, "admin", None)
    freeze(t("2026-09-01 10:00"))
    eid = _live_entry(db, admin, "hotline", review_interval_days=10)
    freeze(t("2026-09-05 10:00"))
    assert freshness.sweep_reviews(db) == 0
    freeze(t("2026-09-12 10:00"))
    assert freshness.sweep_reviews(db) == 1
    assert freshness.sweep_reviews(db) == 0
    ob = db.exec(select(Obligation).where(Obligation.kind == "review_interval")).one()
    assert ob.due_at == t("2026-10-11 23:59:59.999999")
    e = entries.get(db, entry_id=eid)
    entries.rollback(db, actor=admin, entry_id=eid, to_version=1, base_version=e.version)
    assert ob.fulfilment == "update"


def test_link_accepts_only_the_departments_own_entry(db):
    admin = _actor(db, "admin", None)
    freeze(t("2026-10-01 10:00"))
    foreign = _live_entry(db, admin, "medical-insurance", question="医保门诊报销比例")
    tk = _ticket(db, "请问12345热线夜间有人接吗")
    _close(db, tk.ticket_no, "e1", "2026-10-13 15:00")
    ob = db.exec(select(Obligation)).one()
    with pytest.raises(Invalid) as exc:
        freshness.link(db, actor=admin, obligation_id=ob.id, entry_id=foreign)
    assert exc.value.code == "entry_department_mismatch"


def test_flag_whose_deadline_needs_an_unknown_year_is_recorded_by_the_sweep(db):
    admin = _actor(db, "admin", None)
    freeze(t("2026-12-30 10:00"))
    eid = _live_entry(db, admin, "hotline")
    entry = entries.get(db, entry_id=eid)
    # The import flags the entry; chinese-calendar alone does not know 2027: nothing fails.
    entries.flag_needs_review(db, entry=entry, reason="文件已废止")
    assert entry.needs_review is True
    assert db.exec(select(Obligation)).all() == []
    cal = WorkCalendar.from_file("tests/data/calendar-2027.yaml")
    assert freshness.sweep(db, calendar=cal) == 1
    assert freshness.sweep(db, calendar=cal) == 0
    ob = db.exec(select(Obligation)).one()
    assert ob.kind == "document_change" and ob.due_at == t("2027-01-04 23:59:59.999999")


def _swept_once(sweeper: freshness.Sweeper, *, interval_s: float) -> freshness.Sweeper:
    """Start the background sweeper, wait for one successful sweep, stop it."""
    sweeper.start(interval_s=interval_s)
    try:
        wait_for(lambda: sweeper.runs >= 1, what="a successful sweep")
    finally:
        sweeper.close()
    return sweeper


def test_background_sweeper_records_due_reviews_without_anyone_reading(db, seeded):
    admin = _actor(db, "admin", None)
    freeze(t("2026-09-01 10:00"))
    _live_entry(db, admin, "hotline", review_interval_days=10)
    db.commit()
    freeze(t("2026-09-12 10:00"))
    sweeper = _swept_once(freshness.Sweeper(seeded), interval_s=3600)  # runs at start
    with Session(seeded) as s:
        obs = s.exec(select(Obligation)).all()
    assert [ob.kind for ob in obs] == ["review_interval"]
    assert sweeper.run_once() == 0  # idempotent


def test_a_failing_sweep_does_not_stop_the_sweeper(seeded, monkeypatch):
    calls = []

    def flaky(session, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return 0

    monkeypatch.setattr(freshness, "sweep", flaky)
    sweeper = _swept_once(freshness.Sweeper(seeded), interval_s=0.01)
    assert len(calls) >= 2 and sweeper._thread is None


def test_review_sweep_prefilter_keeps_the_first_minute_of_the_due_day(db):
    admin = _actor(db, "admin", None)
    freeze(t("2026-09-01 23:30"))  # published late on local day 09-01: due on 09-11
    _live_entry(db, admin, "hotline", review_interval_days=10)
    _live_entry(db, admin, "hotline", question="另一条，按默认复核期", review_interval_days=None)
    freeze(t("2026-09-10 23:59"))
    assert freshness.sweep_reviews(db) == 0
    freeze(t("2026-09-11 00:01"))
    assert freshness.sweep_reviews(db) == 1  # only the 10-day entry; the other has 180 days
