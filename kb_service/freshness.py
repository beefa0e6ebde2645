"""Knowledge freshness: refresh obligations, knowledge questions, review intervals, feedback.

第二十三条 of the 12345 measures: once a department closes a consultation ticket it has two
working days to bring the related knowledge up to date. Every such duty is an `Obligation` row
keyed by the event that created it (`source_key`), so a ticket-closed event delivered twice, or
after a later event, never creates a second one. Obligations are fulfilled by hooks in the entry
lifecycle (a related entry going live) or explicitly (a "still correct" confirmation, a link to
a new entry, the answer to a knowledge question). Their state is derived, never stored.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from kb_service import audit, entries
from kb_service.db import utcnow
from kb_service.departments import get_by_code
from kb_service.errors import Conflict, Invalid, NotFound
from kb_service.models import (
    Department,
    Document,
    Entry,
    EntryContent,
    EntryStatus,
    EntryVersion,
    Passage,
    QueryLog,
    Role,
    Ticket,
)
from kb_service.models.freshness import (
    FULFILMENT_LABELS,
    KIND_LABELS,
    REASON_LABELS,
    STATE_LABELS,
    Feedback,
    FeedbackReason,
    FeedbackVerdict,
    Fulfilment,
    Obligation,
    ObligationKind,
    ObligationState,
)
from kb_service.principals import Actor, can_edit, require_department, require_role
from kb_service.privacy import mask
from kb_service.workdays import CalendarYearUnknown, WorkCalendar, add_workdays, end_of_day

log = logging.getLogger("kb.freshness")

DEFAULT_REFRESH_WORKDAYS = 2
DEFAULT_QUESTION_WORKDAYS = 2
# How many of the department's own entries closest to the ticket text are listed as related.
CLOSEST_ENTRIES = 3
# Kinds counted by 知识库更新率 (knowledge questions and review intervals are reported apart).
UPDATE_KINDS = (ObligationKind.ticket_refresh, ObligationKind.document_change)

# (ticket text, department code) -> ids of that department's entries closest in meaning.
RelatedFinder = Callable[[str, str], Sequence[int]]


# --- state ---------------------------------------------------------------------------------


def state_of(ob: Obligation, *, now: datetime | None = None) -> ObligationState:
    """open | fulfilled_on_time | fulfilled_late | overdue, as of `now`."""
    if ob.fulfilled_at is not None:
        if ob.fulfilled_at <= ob.due_at:
            return ObligationState.fulfilled_on_time
        return ObligationState.fulfilled_late
    return ObligationState.open if (now or utcnow()) <= ob.due_at else ObligationState.overdue


def _insert_once(session: Session, ob: Obligation) -> Obligation:
    """Insert unless an obligation with the same source key exists; return the one that counts."""
    existing = session.exec(
        select(Obligation).where(Obligation.source_key == ob.source_key)
    ).first()
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            session.add(ob)
            session.flush()
    except IntegrityError:
        # A concurrent transaction recorded the same event first: theirs is the obligation.
        found = session.exec(
            select(Obligation).where(Obligation.source_key == ob.source_key)
        ).first()
        if found is None:
            raise
        return found
    return ob


# --- creating obligations ------------------------------------------------------------------


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if not c.isspace()]
    return {a + b for a, b in pairwise(chars)} or set(chars)


def closest_entries(
    session: Session, *, department_id: int, text: str, limit: int = CLOSEST_ENTRIES
) -> list[int]:
    """The department's live entries sharing the most character bigrams with `text`."""
    want = _bigrams(text)
    scored: list[tuple[float, int]] = []
    for entry, version, _dept in entries.live_rows(session):
        if entry.department_id != department_id or entry.id is None:
            continue
        have = _bigrams(" ".join([version.question, *version.similar_questions]))
        overlap = len(want & have)
        if overlap:
            scored.append((overlap / len(want | have), entry.id))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [entry_id for _, entry_id in scored[:limit]]


def on_ticket_closed(
    session: Session,
    *,
    ticket: Ticket,
    calendar: WorkCalendar | None = None,
    workdays: int = DEFAULT_REFRESH_WORKDAYS,
    related: RelatedFinder | None = None,
) -> Obligation | None:
    """Record the refresh obligation of a closed consultation ticket (once per ticket)."""
    if ticket.type != "consultation" or ticket.closed_at is None or ticket.id is None:
        return None
    key = f"ticket:{ticket.ticket_no}"
    existing = session.exec(select(Obligation).where(Obligation.source_key == key)).first()
    if existing is not None:
        return existing
    dept = session.get(Department, ticket.department_id)
    ids: list[int] = []
    for item in ticket.suggestions or []:
        if item.get("kind") == "entry" and isinstance(item.get("id"), int):
            ids.append(int(item["id"]))
    if dept is not None:
        closest = (
            list(related(ticket.text, dept.code))
            if related is not None
            else closest_entries(session, department_id=dept.id or 0, text=ticket.text)
        )
        ids.extend(closest)
    # Only the handling department's own entries: those are the ones it can bring up to date.
    owned = {
        e.id
        for e in session.exec(select(Entry).where(col(Entry.id).in_(ids or [-1]))).all()
        if e.id is not None and e.department_id == ticket.department_id
    }
    related_ids = [i for i in dict.fromkeys(ids) if i in owned]
    ob = Obligation(
        source_key=key,
        kind=ObligationKind.ticket_refresh,
        department_id=ticket.department_id,
        ticket_id=ticket.id,
        related_entries=related_ids,
        text=ticket.text,
        query_id=ticket.query_id,
        closed_at=ticket.closed_at,
        due_at=add_workdays(ticket.closed_at, workdays, calendar=calendar),
    )
    return _insert_once(session, ob)


def on_entry_flagged(
    session: Session,
    *,
    entry: Entry,
    reason: str,
    calendar: WorkCalendar | None = None,
    workdays: int = DEFAULT_REFRESH_WORKDAYS,
) -> Obligation | None:
    """A changed or repealed policy document flagged an entry: its department must re-check it.

    Returns None when the calendar does not know the year the deadline falls in: the import
    that flagged the entry must not fail for that, and `sweep` (run with the operator's
    calendar) records the obligation later.
    """
    try:
        due = add_workdays(utcnow(), workdays, calendar=calendar)
    except CalendarYearUnknown:
        log.warning("no calendar for the deadline of entry %s's re-check; deferred", entry.id)
        return None
    ob = Obligation(
        # One obligation per flagged version: flagging again before anyone acted adds nothing.
        source_key=f"document:{entry.id}:v{entry.version}",
        kind=ObligationKind.document_change,
        department_id=entry.department_id,
        entry_id=entry.id,
        related_entries=[entry.id or 0],
        text=reason,
        due_at=due,
    )
    return _insert_once(session, ob)


def sweep(
    session: Session,
    *,
    default_review_days: int = 180,
    calendar: WorkCalendar | None = None,
    workdays: int = DEFAULT_REFRESH_WORKDAYS,
    now: datetime | None = None,
) -> int:
    """Record review-interval obligations that fell due and deferred document re-checks."""
    created = sweep_reviews(session, default_review_days=default_review_days, now=now)
    flagged = session.exec(
        select(Entry).where(col(Entry.needs_review).is_(True), Entry.status != EntryStatus.retired)
    ).all()
    for entry in flagged:
        key = f"document:{entry.id}:v{entry.version}"
        if session.exec(select(Obligation).where(Obligation.source_key == key)).first():
            continue
        if on_entry_flagged(
            session,
            entry=entry,
            reason=entry.needs_review_reason or "",
            calendar=calendar,
            workdays=workdays,
        ):
            created += 1
    return created


class Sweeper:
    """Runs `sweep` in the background, at start and then every `interval_s` seconds.

    Review intervals run out and deferred document re-checks pile up whether or not anybody
    opens an inbox; the manager's counts of open and overdue obligations must not wait for that.
    `kb sweep` does the same once, for sites that prefer cron.
    """

    def __init__(
        self,
        engine: Any,
        *,
        default_review_days: int = 180,
        calendar: WorkCalendar | None = None,
        workdays: int = DEFAULT_REFRESH_WORKDAYS,
    ) -> None:
        self.engine = engine
        self.default_review_days = default_review_days
        self.calendar = calendar
        self.workdays = workdays
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, *, now: datetime | None = None) -> int:
        """One sweep in its own transaction; returns how many obligations it created."""
        from kb_service.db import session_scope

        with session_scope(self.engine) as session:
            created = sweep(
                session,
                default_review_days=self.default_review_days,
                calendar=self.calendar,
                workdays=self.workdays,
                now=now,
            )
        self.runs += 1
        if created:
            log.info("freshness sweep: %d new obligation(s)", created)
        return created

    def start(self, interval_s: float) -> None:
        """Sweep now and then every interval_s seconds until close()."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval_s,), name="kb-freshness-sweep", daemon=True
        )
        self._thread.start()

    def _loop(self, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a bad row must not stop future sweeps; the next run retries
                log.exception("freshness sweep failed; retrying in %.0f s", interval_s)
            self._stop.wait(interval_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the background thread (a running sweep finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None


def sweep_reviews(
    session: Session, *, default_review_days: int = 180, now: datetime | None = None
) -> int:
    """Create a review obligation for every live entry whose review interval ran out."""
    from kb_service.suggestions import REVIEW_GRACE_DAYS, live_review_state

    now = now or utcnow()
    today = entries.today_local(now)
    # Only entries last reviewed longer ago than the shortest interval in use can be due: the
    # pre-filter keeps a sweep of 100k entries from loading all of them (15 s -> a query).
    shortest = min(
        default_review_days,
        session.exec(select(func.min(EntryVersion.review_interval_days))).one()
        or default_review_days,
        session.exec(select(func.min(Department.review_interval_days))).one()
        or default_review_days,
    )
    # Due dates are Shanghai calendar days: reviewed on local day D, due on D + interval; one
    # day less than the interval keeps every instant of local day D inside the cut.
    cutoff = now - timedelta(days=shortest - 1)
    created = 0
    for entry, version, dept in entries.live_rows(session, reviewed_before=cutoff):
        if not entries.is_live(entry, version, on=today):
            continue
        state, due = live_review_state(
            entry, version, dept, default_review_days=default_review_days, today=today
        )
        if state not in ("due", "overdue") or due is None:
            continue
        ob = Obligation(
            source_key=f"review:{entry.id}:{due.isoformat()}",
            kind=ObligationKind.review_interval,
            department_id=entry.department_id,
            entry_id=entry.id,
            related_entries=[entry.id or 0],
            text=f"条目“{version.question}”已到复核期（复核日 {due.isoformat()}）",
            due_at=end_of_day(due + timedelta(days=REVIEW_GRACE_DAYS)),
            created_at=now,
        )
        if _insert_once(session, ob) is ob:
            created += 1
    return created


# --- fulfilling obligations ----------------------------------------------------------------


def _fulfil(
    ob: Obligation,
    *,
    how: Fulfilment,
    actor: Actor | None,
    entry_id: int | None = None,
    reason: str | None = None,
) -> None:
    ob.fulfilled_at = utcnow()
    ob.fulfilment = how
    ob.fulfilled_entry_id = entry_id
    ob.confirm_reason = reason
    ob.fulfilled_by_id = actor.user_id if actor else None


def on_entry_live(session: Session, *, entry: Entry, actor: Actor | None) -> int:
    """An entry version went live: fulfil the open obligations it answers; returns how many."""
    if entry.id is None:
        return 0
    open_obs = session.exec(
        select(Obligation).where(
            Obligation.department_id == entry.department_id,
            col(Obligation.fulfilled_at).is_(None),
        )
    ).all()
    done = 0
    for ob in open_obs:
        if ob.entry_id == entry.id:
            how = {
                ObligationKind.knowledge_question: Fulfilment.answer,
                ObligationKind.ticket_refresh: Fulfilment.new_entry,
            }.get(ObligationKind(ob.kind), Fulfilment.update)
        elif entry.id in (ob.related_entries or []):
            how = Fulfilment.update
        else:
            continue
        if ob.kind == ObligationKind.knowledge_question and how != Fulfilment.answer:
            continue
        _fulfil(ob, how=how, actor=actor, entry_id=entry.id)
        done += 1
    return done


def get(session: Session, *, obligation_id: int) -> Obligation:
    """The obligation, or `obligation_not_found`."""
    ob = session.get(Obligation, obligation_id)
    if ob is None:
        raise NotFound("obligation_not_found", f"知识更新任务 {obligation_id} 不存在")
    return ob


def _department(session: Session, department_id: int) -> Department:
    dept = session.get(Department, department_id)
    assert dept is not None  # FK guarantees it
    return dept


def confirm(session: Session, *, actor: Actor, obligation_id: int, reason: str) -> Obligation:
    """The department confirms the related knowledge is still correct (a reason is required)."""
    ob = get(session, obligation_id=obligation_id)
    dept = _department(session, ob.department_id)
    can_edit(actor, dept.id or 0, dept.code)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("reason_required", "确认知识无需更新时必须说明理由")
    if ob.fulfilled_at is not None:
        raise Conflict("obligation_fulfilled", "该任务已完成，无需再次确认")
    if ob.kind == ObligationKind.knowledge_question:
        raise Conflict("question_needs_answer", "知识提问需要提交答复条目，不能仅确认")
    _fulfil(ob, how=Fulfilment.confirm, actor=actor, reason=reason)
    if ob.entry_id is not None:
        entry = session.get(Entry, ob.entry_id)
        if entry is not None:
            # A confirmation is a review: the entry is current again.
            entry.last_reviewed_at = ob.fulfilled_at
            if ob.kind == ObligationKind.document_change:
                entry.needs_review = False
                entry.needs_review_reason = None
    audit.record(
        session,
        actor=actor,
        action="obligation.confirm",
        entity="obligation",
        entity_id=ob.id,
        department_id=ob.department_id,
        detail={"reason": reason},
    )
    session.flush()
    return ob


def link(session: Session, *, actor: Actor, obligation_id: int, entry_id: int) -> Obligation:
    """Link a (new) entry to a ticket's obligation; it is fulfilled when that entry goes live."""
    ob = get(session, obligation_id=obligation_id)
    dept = _department(session, ob.department_id)
    can_edit(actor, dept.id or 0, dept.code)
    if ob.kind != ObligationKind.ticket_refresh:
        raise Invalid("link_not_allowed", "只有工单办结后的知识更新任务可以关联新条目")
    if ob.fulfilled_at is not None:
        raise Conflict("obligation_fulfilled", "该任务已完成")
    entry = entries.get(session, entry_id=entry_id)
    if entry.department_id != ob.department_id:
        raise Invalid("entry_department_mismatch", "只能关联本单位的知识条目")
    ob.entry_id = entry.id
    if (
        entry.live_version is not None
        and entry.status != EntryStatus.retired
        and entry.published_at is not None
        and entry.published_at >= ob.created_at
    ):
        _fulfil(ob, how=Fulfilment.new_entry, actor=actor, entry_id=entry.id)
    audit.record(
        session,
        actor=actor,
        action="obligation.link",
        entity="obligation",
        entity_id=ob.id,
        department_id=ob.department_id,
        detail={"entry_id": entry_id},
    )
    session.flush()
    return ob


# --- knowledge questions -------------------------------------------------------------------


def ask(
    session: Session,
    *,
    actor: Actor,
    department: str,
    text: str,
    query_id: int | None = None,
    calendar: WorkCalendar | None = None,
    workdays: int = DEFAULT_QUESTION_WORKDAYS,
) -> Obligation:
    """An operator puts a knowledge question (知识提问) to a department."""
    require_role(actor, Role.operator, Role.manager, Role.admin)
    text = (text or "").strip()
    if not text:
        raise Invalid("text_required", "知识提问内容不能为空")
    dept = get_by_code(session, code=department)
    if query_id is not None and session.get(QueryLog, query_id) is None:
        raise NotFound("query_not_found", f"查询记录 {query_id} 不存在")
    now = utcnow()
    ob = Obligation(
        source_key=f"question:{uuid.uuid4().hex}",
        kind=ObligationKind.knowledge_question,
        department_id=dept.id or 0,
        text=mask(text),
        asked_by_id=actor.user_id,
        query_id=query_id,
        due_at=add_workdays(now, workdays, calendar=calendar),
        created_at=now,
    )
    session.add(ob)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="question.ask",
        entity="obligation",
        entity_id=ob.id,
        department_id=dept.id,
        detail={"query_id": query_id},
    )
    return ob


def answer(
    session: Session, *, actor: Actor, question_id: int, content: EntryContent
) -> tuple[Obligation, Entry]:
    """Answer with a new entry sent to review; publishing it fulfils the question."""
    ob = get(session, obligation_id=question_id)
    if ob.kind != ObligationKind.knowledge_question:
        raise NotFound("question_not_found", f"知识提问 {question_id} 不存在")
    dept = _department(session, ob.department_id)
    can_edit(actor, dept.id or 0, dept.code)
    if ob.fulfilled_at is not None:
        raise Conflict("question_answered", "该知识提问已答复")
    if ob.entry_id is not None:
        current = session.get(Entry, ob.entry_id)
        if current is not None and current.status != EntryStatus.retired:
            raise Conflict(
                "question_answer_pending", f"该提问已有答复条目 {ob.entry_id}，请在该条目上修改"
            )
    entry = entries.create(
        session, actor=actor, department_code=dept.code, content=content, submit=True
    )
    ob.entry_id = entry.id
    session.flush()
    return ob, entry


def list_questions(session: Session, *, actor: Actor) -> list[Obligation]:
    """Knowledge questions: an operator's own, a department's addressed to it, or all."""
    stmt = select(Obligation).where(Obligation.kind == ObligationKind.knowledge_question)
    if actor.role == Role.operator:
        stmt = stmt.where(Obligation.asked_by_id == actor.user_id)
    elif not actor.is_global:
        stmt = stmt.where(Obligation.department_id == actor.department_id)
    return list(session.exec(stmt.order_by(col(Obligation.created_at).desc())).all())


def question_public(
    session: Session, ob: Obligation, *, now: datetime | None = None
) -> dict[str, Any]:
    """A knowledge question with its answer once the answer entry is published."""
    out = to_public(session, ob, now=now)
    out["query_id"] = ob.query_id
    out["answer"] = None
    if ob.entry_id is not None:
        entry = session.get(Entry, ob.entry_id)
        if entry is not None:
            live = entries.live_version(session, entry=entry)
            out["answer"] = {
                "entry_id": entry.id,
                "status": str(entry.status),
                "published": live is not None,
                "question": live.question if live else entry.question,
                "answer": live.answer if live else None,
            }
    return out


# --- listing -------------------------------------------------------------------------------


def _sort_key(ob: Obligation) -> tuple[bool, datetime]:
    return (ob.fulfilled_at is not None, ob.due_at)


def list_obligations(
    session: Session,
    *,
    actor: Actor,
    department: str | None = None,
    state: str | None = None,
    now: datetime | None = None,
) -> list[Obligation]:
    """Obligations, open ones first by due date; department roles see only their own."""
    require_role(actor, Role.editor, Role.reviewer, Role.manager, Role.admin)
    stmt = select(Obligation)
    if department:
        dept = get_by_code(session, code=department)
        require_department(actor, dept.id or 0, dept.code)
        stmt = stmt.where(Obligation.department_id == dept.id)
    elif not actor.is_global:
        stmt = stmt.where(Obligation.department_id == actor.department_id)
    if state is not None:
        try:
            wanted = ObligationState(state)
        except ValueError as exc:
            raise Invalid("state_invalid", f"未知的任务状态“{state}”") from exc
    rows = list(session.exec(stmt).all())
    now = now or utcnow()
    if state is not None:
        rows = [ob for ob in rows if state_of(ob, now=now) == wanted]
    return sorted(rows, key=_sort_key)


def to_public(session: Session, ob: Obligation, *, now: datetime | None = None) -> dict[str, Any]:
    """The API shape of an obligation."""
    dept = session.get(Department, ob.department_id)
    ticket = session.get(Ticket, ob.ticket_id) if ob.ticket_id else None
    ids = list(
        dict.fromkeys([*(ob.related_entries or []), *([ob.entry_id] if ob.entry_id else [])])
    )
    rows = session.exec(select(Entry).where(col(Entry.id).in_(ids or [-1]))).all()
    questions = {e.id: e.question for e in rows}
    state = state_of(ob, now=now)
    return {
        "id": ob.id,
        "kind": str(ob.kind),
        "kind_label": KIND_LABELS[str(ob.kind)],
        "department": dept.code if dept else None,
        "department_name": dept.name if dept else None,
        "state": str(state),
        "state_label": STATE_LABELS[str(state)],
        "due_at": ob.due_at.isoformat(),
        "created_at": ob.created_at.isoformat(),
        "closed_at": ob.closed_at.isoformat() if ob.closed_at else None,
        "fulfilled_at": ob.fulfilled_at.isoformat() if ob.fulfilled_at else None,
        "ticket_no": ticket.ticket_no if ticket else None,
        "text": ob.text,
        "entry_id": ob.entry_id,
        "related_entries": [
            {"id": i, "question": questions[i]} for i in ob.related_entries or [] if i in questions
        ],
        "fulfilment": str(ob.fulfilment) if ob.fulfilment else None,
        "fulfilment_label": FULFILMENT_LABELS[str(ob.fulfilment)] if ob.fulfilment else None,
        "confirm_reason": ob.confirm_reason,
    }


# --- operators' feedback -------------------------------------------------------------------


def _item_department(session: Session, kind: str, item_id: int) -> int | None:
    if kind == "entry":
        entry = session.get(Entry, item_id)
        return entry.department_id if entry else None
    passage = session.get(Passage, item_id)
    if passage is None:
        return None
    doc = session.get(Document, passage.document_id)
    return doc.department_id if doc else None


def record_feedback(
    session: Session,
    *,
    actor: Actor,
    query_id: int,
    kind: str,
    item_id: int,
    verdict: str,
    reason: str | None = None,
) -> Feedback:
    """An operator adopts a suggestion or marks it not helpful (the latest verdict counts)."""
    require_role(actor, Role.operator, Role.manager, Role.admin)
    query = session.get(QueryLog, query_id)
    if query is None:
        raise NotFound("query_not_found", f"查询记录 {query_id} 不存在")
    if kind not in ("entry", "passage"):
        raise Invalid("kind_invalid", "kind 只能是 entry 或 passage")
    if not any(r.get("kind") == kind and r.get("id") == item_id for r in query.results):
        raise Invalid("suggestion_not_shown", "该条建议不在这次查询的结果中")
    try:
        verdict_v = FeedbackVerdict(verdict)
    except ValueError as exc:
        raise Invalid("verdict_invalid", "verdict 只能是 adopted 或 not_helpful") from exc
    reason_v: FeedbackReason | None = None
    if verdict_v == FeedbackVerdict.not_helpful:
        if reason not in REASON_LABELS:
            raise Invalid("reason_required", "标记无帮助时必须选择原因：过时、错误、不完整或不相关")
        reason_v = FeedbackReason(reason)
    row = session.exec(
        select(Feedback).where(
            Feedback.query_id == query_id, Feedback.item_kind == kind, Feedback.item_id == item_id
        )
    ).first()
    if row is None:
        row = Feedback(query_id=query_id, item_kind=kind, item_id=item_id, verdict=verdict_v)
        session.add(row)
    row.verdict = verdict_v
    row.reason = reason_v
    row.user_id = actor.user_id
    row.department_id = _item_department(session, kind, item_id)
    row.at = utcnow()
    session.flush()
    return row


def feedback_public(row: Feedback) -> dict[str, Any]:
    """The API shape of one feedback."""
    return {
        "query_id": row.query_id,
        "kind": row.item_kind,
        "id": row.item_id,
        "verdict": str(row.verdict),
        "reason": str(row.reason) if row.reason else None,
        "reason_label": REASON_LABELS[str(row.reason)] if row.reason else None,
        "at": row.at.isoformat(),
    }
