"""Entry lifecycle in the service layer: versions, rollback, stale writes, scoping, validity."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from kb_service import auth, entries
from kb_service.errors import Conflict, Forbidden, Invalid
from kb_service.models import ChangeLog, EntryContent, EntryStatus, EntryVersion
from kb_service.principals import Actor
from tests.factories import content


def _actor(session: Session, role: str, dept: str | None) -> Actor:
    user = auth.create_user(session, name=f"{role}-{dept}", role=role, department_code=dept)
    return auth.actor_for(session, user=user)


@pytest.fixture
def people(session: Session, seeded: object) -> dict[str, Actor]:
    return {
        "editor": _actor(session, "editor", "hotline"),
        "reviewer": _actor(session, "reviewer", "hotline"),
        "other_editor": _actor(session, "editor", "medical-insurance"),
        "other_reviewer": _actor(session, "reviewer", "medical-insurance"),
        "manager": _actor(session, "manager", None),
        "operator": _actor(session, "operator", None),
    }


def _c(**over: object) -> EntryContent:
    return EntryContent.model_validate(content(**over))


def test_draft_review_publish_edit_keeps_published_answer_live(session, people):
    e = entries.create(session, actor=people["editor"], department_code="hotline", content=_c())
    assert e.status == EntryStatus.draft and e.live_version is None
    e = entries.submit(session, actor=people["editor"], entry_id=e.id, base_version=e.version)
    e = entries.publish(session, actor=people["reviewer"], entry_id=e.id, base_version=e.version)
    assert e.status == EntryStatus.published and e.live_version == e.version == 3
    published_answer = e.answer

    e = entries.update(
        session,
        actor=people["editor"],
        entry_id=e.id,
        content=_c(answer="您好，新的答复口径。"),
        base_version=e.version,
    )
    assert e.status == EntryStatus.draft
    live = entries.live_version(session, entry=e)
    assert live is not None and live.answer == published_answer, "edit must not unpublish"

    e = entries.submit(session, actor=people["editor"], entry_id=e.id, base_version=e.version)
    e = entries.publish(session, actor=people["reviewer"], entry_id=e.id, base_version=e.version)
    assert entries.live_version(session, entry=e).answer == "您好，新的答复口径。"
    versions = entries.history(session, entry_id=e.id)
    assert [v.version for v in versions] == [6, 5, 4, 3, 2, 1]
    assert [v.action for v in versions][:2] == ["publish", "submit"]


def test_rollback_creates_a_new_published_version_with_old_content(session, people):
    r = people["reviewer"]
    e = entries.create(session, actor=r, department_code="hotline", content=_c(answer="第一版答复"))
    e = entries.publish(session, actor=r, entry_id=e.id, base_version=e.version)
    first = e.version
    e = entries.update(
        session, actor=r, entry_id=e.id, content=_c(answer="第二版答复"), base_version=e.version
    )
    e = entries.publish(session, actor=r, entry_id=e.id, base_version=e.version)
    e = entries.rollback(
        session,
        actor=r,
        entry_id=e.id,
        to_version=first,
        base_version=e.version,
        reason="新口径有误",
    )
    assert e.answer == "第一版答复" and e.version == first + 3
    assert e.live_version == e.version
    snap = session.exec(
        select(EntryVersion).where(EntryVersion.entry_id == e.id, EntryVersion.version == e.version)
    ).one()
    assert snap.action == "rollback" and snap.reason == "新口径有误"


def test_stale_version_is_refused_and_nothing_is_overwritten(session, people):
    ed = people["editor"]
    e = entries.create(session, actor=ed, department_code="hotline", content=_c())
    base = e.version
    entries.update(
        session, actor=ed, entry_id=e.id, content=_c(answer="甲的修改"), base_version=base
    )
    with pytest.raises(Conflict) as err:
        entries.update(
            session, actor=ed, entry_id=e.id, content=_c(answer="乙的修改"), base_version=base
        )
    assert err.value.code == "stale_version"
    assert entries.get(session, entry_id=e.id).answer == "甲的修改"


def test_editor_of_another_department_is_refused_in_the_service_layer(session, people):
    e = entries.create(session, actor=people["editor"], department_code="hotline", content=_c())
    with pytest.raises(Forbidden) as err:
        entries.update(
            session,
            actor=people["other_editor"],
            entry_id=e.id,
            content=_c(),
            base_version=e.version,
        )
    assert err.value.code == "department_forbidden"
    with pytest.raises(Forbidden):
        entries.create(
            session, actor=people["editor"], department_code="medical-insurance", content=_c()
        )
    with pytest.raises(Forbidden) as err:
        entries.publish(
            session, actor=people["other_reviewer"], entry_id=e.id, base_version=e.version
        )
    assert err.value.code == "department_forbidden"


def test_editor_cannot_publish_and_operator_cannot_edit(session, people):
    e = entries.create(session, actor=people["editor"], department_code="hotline", content=_c())
    with pytest.raises(Forbidden) as err:
        entries.publish(session, actor=people["editor"], entry_id=e.id, base_version=e.version)
    assert err.value.code == "role_forbidden"
    with pytest.raises(Forbidden):
        entries.create(session, actor=people["operator"], department_code="hotline", content=_c())
    # managers act across departments
    entries.publish(session, actor=people["manager"], entry_id=e.id, base_version=e.version)


def test_retired_or_out_of_window_entries_are_never_live(session, people):
    r = people["reviewer"]
    e = entries.create(
        session,
        actor=r,
        department_code="hotline",
        content=_c(valid_from="2026-01-01", valid_to="2026-06-30"),
    )
    e = entries.publish(session, actor=r, entry_id=e.id, base_version=e.version)
    v = entries.live_version(session, entry=e)
    assert entries.is_live(e, v, on=date(2026, 3, 1))
    assert not entries.is_live(e, v, on=date(2025, 12, 31))
    assert not entries.is_live(e, v, on=date(2026, 7, 1))
    e = entries.retire(session, actor=r, entry_id=e.id, reason="政策废止")
    assert entries.live_version(session, entry=e) is None
    assert not entries.is_live(e, v, on=date(2026, 3, 1))


def test_publish_and_retire_append_to_the_change_log_in_order(session, people):
    r = people["reviewer"]
    e = entries.create(session, actor=r, department_code="hotline", content=_c())
    assert session.exec(select(ChangeLog)).all() == []  # drafts are not served
    e = entries.publish(session, actor=r, entry_id=e.id, base_version=e.version)
    entries.retire(session, actor=r, entry_id=e.id)
    session.flush()
    log = session.exec(select(ChangeLog).order_by(ChangeLog.seq)).all()
    assert [(c.entity_id, c.op) for c in log] == [(e.id, "upsert"), (e.id, "delete")]
    assert log[0].seq < log[1].seq


def test_push_is_idempotent_and_one_push_is_one_version(session, people):
    r = people["reviewer"]
    first = entries.push(
        session, actor=r, department_code="hotline", external_id="faq-1", content=_c()
    )
    again = entries.push(
        session, actor=r, department_code="hotline", external_id="faq-1", content=_c()
    )
    assert (first.outcome, again.outcome) == ("created", "unchanged")
    assert again.version == first.version
    changed = entries.push(
        session,
        actor=r,
        department_code="hotline",
        external_id="faq-1",
        content=_c(answer="更新后的口径"),
    )
    assert changed.outcome == "updated" and changed.version == first.version + 1
    n = len(session.exec(select(EntryVersion).where(EntryVersion.entry_id == first.entry_id)).all())
    assert n == 2


def test_editor_push_waits_for_review(session, people):
    res = entries.push(
        session,
        actor=people["editor"],
        department_code="hotline",
        external_id="faq-2",
        content=_c(),
    )
    assert res.status == EntryStatus.in_review
    e = entries.get(session, entry_id=res.entry_id)
    assert e.live_version is None


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"answer": "  "}, "答复口径不能为空"),
        ({"question": ""}, "标准问题不能为空"),
        ({"valid_from": "2026-05-01", "valid_to": "2026-04-01"}, "不能早于"),
        ({"valid_from": "2026-13-01"}, "日期格式无效"),
        ({"sources": [{"locator": "第一条"}]}, "来源至少需要"),
    ],
)
def test_bad_content_is_invalid_with_a_chinese_reason(over, needle):
    with pytest.raises(Invalid) as err:
        entries.parse_content(content(**over))
    assert err.value.code == "validation_error"
    assert needle in err.value.message
