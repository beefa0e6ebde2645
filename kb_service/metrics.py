"""The measured indicators of 第二十七条/第三十二条, computed from recorded rows for any range.

Definitions are in docs/metrics.md; every figure here is recomputable from the obligation,
intake, query, feedback, document and entry-version rows, so a report for a past month gives the
same answer however often it is produced (late fulfilments aside, which only ever move an
obligation from "overdue" to "fulfilled late").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from kb_service.db import utcnow
from kb_service.departments import by_id, get_by_code
from kb_service.errors import Invalid
from kb_service.freshness import UPDATE_KINDS, state_of
from kb_service.models import (
    Department,
    Document,
    Entry,
    EntryStatus,
    EntryVersion,
    IntakeLog,
    QueryLog,
    Ticket,
)
from kb_service.models.freshness import (
    Feedback,
    FeedbackVerdict,
    Fulfilment,
    Obligation,
    ObligationKind,
    ObligationState,
)
from kb_service.workdays import SHANGHAI, WorkCalendar, add_workdays, end_of_day, workdays_between

REASONS = ("outdated", "wrong", "incomplete", "irrelevant")
# Greedy clustering: an item joins a cluster when its cosine to the centroid reaches this.
# Calibrated for the bundled e5 on LCQMC (query vectors): at 0.90, 99.9 % of same-meaning pairs
# reach it and 0.3 % of random question pairs do (0.85 let 8 % of random pairs merge; 0.5 % reach
# 0.892, 1 % reach 0.883). Callers' paraphrases of one need measured 0.92-0.97, unrelated
# hotline questions 0.82-0.86 (tests/kb_service/test_real_model.py). Another model: recalibrate.
GAP_SIMILARITY = 0.90
GAP_EXAMPLES = 3

Encode = Callable[[list[str]], np.ndarray]


def rate(num: int, den: int) -> float | None:
    """num/den rounded to 4 places; None when nothing was due (no denominator)."""
    return round(num / den, 4) if den else None


def start_of_day(day: date) -> datetime:
    """Midnight of ``day`` in Asia/Shanghai."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


@dataclass
class _Tally:
    """Raw counts for one department (or overall)."""

    due: int = 0
    fulfilled_on_time: int = 0
    fulfilled_late: int = 0
    confirmations: int = 0
    overdue: int = 0
    refresh_days: list[int] = field(default_factory=list)
    questions_due: int = 0
    questions_on_time: int = 0
    consultation_items: int = 0
    direct_answers: int = 0
    documents_issued: int = 0
    documents_pushed: int = 0
    live_entries: int = 0
    entries_overdue_review: int = 0
    adopted: int = 0
    not_helpful: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """The published figures."""
        feedback = self.adopted + sum(self.not_helpful.values())
        mean = (
            round(sum(self.refresh_days) / len(self.refresh_days), 2) if self.refresh_days else None
        )
        return {
            "update_rate": rate(self.fulfilled_on_time, self.due),
            "due": self.due,
            "fulfilled_on_time": self.fulfilled_on_time,
            "fulfilled_late": self.fulfilled_late,
            "confirmations": self.confirmations,
            "overdue_obligations": self.overdue,
            "mean_workdays_to_refresh": mean,
            "refreshes_measured": len(self.refresh_days),
            "knowledge_questions_due": self.questions_due,
            "knowledge_questions_answered_on_time": self.questions_on_time,
            "direct_answer_rate": rate(self.direct_answers, self.consultation_items),
            "consultation_items": self.consultation_items,
            "direct_answers": self.direct_answers,
            "policy_push_rate": rate(self.documents_pushed, self.documents_issued),
            "documents_issued": self.documents_issued,
            "documents_pushed_in_time": self.documents_pushed,
            "entries_overdue_review_share": rate(self.entries_overdue_review, self.live_entries),
            "live_entries": self.live_entries,
            "entries_overdue_review": self.entries_overdue_review,
            "adoption_rate": rate(self.adopted, feedback),
            "feedback": feedback,
            "adopted": self.adopted,
            "not_helpful_by_reason": {r: self.not_helpful.get(r, 0) for r in REASONS},
        }


class _Tallies:
    """One tally per department id plus the overall one."""

    def __init__(self) -> None:
        self.overall = _Tally()
        self.by_dept: dict[int, _Tally] = defaultdict(_Tally)

    def each(self, department_id: int | None) -> Iterable[_Tally]:
        yield self.overall
        if department_id is not None:
            yield self.by_dept[department_id]


def _range(start: date, end: date) -> tuple[datetime, datetime]:
    if end < start:
        raise Invalid("range_invalid", "结束日期不能早于开始日期")
    return start_of_day(start), end_of_day(end)


def compute(
    session: Session,
    *,
    start: date,
    end: date,
    department: str | None = None,
    calendar: WorkCalendar | None = None,
    policy_push_workdays: int = 3,
    default_review_days: int = 180,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Every indicator for [start, end] (Asia/Shanghai days), overall and per department."""
    lo, hi = _range(start, end)
    now = now or utcnow()
    t = _Tallies()
    _obligations(session, t, lo=lo, hi=hi, now=now, calendar=calendar)
    _intake(session, t, lo=lo, hi=hi)
    _documents(session, t, start=start, end=end, workdays=policy_push_workdays, calendar=calendar)
    _review(session, t, on=min(hi, now), default_review_days=default_review_days)
    _feedback(session, t, lo=lo, hi=hi)
    depts = by_id(session)
    only: int | None = None
    if department:
        only = get_by_code(session, code=department).id
    rows = []
    for dept_id, tally in t.by_dept.items():
        if only is not None and dept_id != only:
            continue
        dept = depts.get(dept_id)
        if dept is None:
            continue
        rows.append({"code": dept.code, "name": dept.name, **tally.as_dict()})
    rows.sort(key=lambda r: r["code"])
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "as_of": now.isoformat(),
        "policy_push_workdays": policy_push_workdays,
        "overall": t.overall.as_dict(),
        "departments": rows,
    }


def _obligations(
    session: Session,
    t: _Tallies,
    *,
    lo: datetime,
    hi: datetime,
    now: datetime,
    calendar: WorkCalendar | None,
) -> None:
    """Obligations that fell due in the range (and by now)."""
    stmt = select(Obligation).where(
        col(Obligation.due_at) >= lo, col(Obligation.due_at) <= min(hi, now)
    )
    for ob in session.exec(stmt).all():
        state = state_of(ob, now=now)
        for tally in t.each(ob.department_id):
            if ob.kind == ObligationKind.knowledge_question:
                tally.questions_due += 1
                tally.questions_on_time += state == ObligationState.fulfilled_on_time
                continue
            if ob.kind not in UPDATE_KINDS:
                continue
            tally.due += 1
            if state == ObligationState.fulfilled_on_time:
                tally.fulfilled_on_time += 1
                tally.confirmations += ob.fulfilment == Fulfilment.confirm
            elif state == ObligationState.fulfilled_late:
                tally.fulfilled_late += 1
            else:
                tally.overdue += 1
            if (
                ob.kind == ObligationKind.ticket_refresh
                and ob.closed_at is not None
                and ob.fulfilled_at is not None
                and ob.fulfilment in (Fulfilment.update, Fulfilment.new_entry)
            ):
                tally.refresh_days.append(
                    workdays_between(ob.closed_at, ob.fulfilled_at, calendar=calendar)
                )


def _is_consultation(log: IntakeLog) -> bool:
    if log.action == "answer":
        return True
    plan = (log.decision or {}).get("ticket") or {}
    return log.action == "ticket" and plan.get("type") == "consultation"


def _ticket_departments(session: Session, logs: Sequence[IntakeLog]) -> dict[int, int]:
    """Ticket id -> department id, for the tickets these intake items became."""
    ids = [log.ticket_id for log in logs if log.ticket_id]
    return {
        tk.id: tk.department_id
        for tk in session.exec(select(Ticket).where(col(Ticket.id).in_(ids or [-1]))).all()
        if tk.id is not None
    }


def _intake(session: Session, t: _Tallies, *, lo: datetime, hi: datetime) -> None:
    """直接解答率: consultation items answered by an adopted suggestion without a ticket."""
    logs = session.exec(
        select(IntakeLog).where(col(IntakeLog.at) >= lo, col(IntakeLog.at) <= hi)
    ).all()
    items = [log for log in logs if _is_consultation(log)]
    query_ids = [log.query_id for log in items if log.query_id is not None]
    adopted: dict[int, int | None] = {}
    judged: dict[int, int | None] = {}
    for fb in session.exec(
        select(Feedback)
        .where(col(Feedback.query_id).in_(query_ids or [-1]))
        .order_by(col(Feedback.id))
    ).all():
        if fb.verdict == FeedbackVerdict.adopted:
            adopted.setdefault(fb.query_id, fb.department_id)
        judged.setdefault(fb.query_id, fb.department_id)
    ticket_depts = _ticket_departments(session, items)
    codes = {d.code: d.id for d in session.exec(select(Department)).all()}
    for log in items:
        direct = log.ticket_id is None and log.query_id in adopted
        if log.ticket_id is not None:
            dept_id: int | None = ticket_depts.get(log.ticket_id)
        elif log.query_id in adopted:
            dept_id = adopted[log.query_id]
        else:
            plan = (log.decision or {}).get("ticket") or {}
            dept_id = codes.get(str(plan.get("department")))
            if dept_id is None and log.query_id is not None:
                dept_id = judged.get(log.query_id)
        for tally in t.each(dept_id):
            tally.consultation_items += 1
            tally.direct_answers += direct


def _documents(
    session: Session,
    t: _Tallies,
    *,
    start: date,
    end: date,
    workdays: int,
    calendar: WorkCalendar | None,
) -> None:
    """最新政策推送率: documents in the KB within N working days of their issue date."""
    docs = session.exec(
        select(Document).where(col(Document.issued) >= start, col(Document.issued) <= end)
    ).all()
    for doc in docs:
        assert doc.issued is not None
        deadline = add_workdays(start_of_day(doc.issued), workdays, calendar=calendar)
        for tally in t.each(doc.department_id):
            tally.documents_issued += 1
            tally.documents_pushed += doc.created_at <= deadline


def _review(session: Session, t: _Tallies, *, on: datetime, default_review_days: int) -> None:
    """Share of live entries overdue for review at the end of the range, from version history."""
    from kb_service.suggestions import review_state

    day = on.astimezone(SHANGHAI).date()
    intervals = {d.id: d.review_interval_days for d in session.exec(select(Department)).all()}
    owners = {e.id: e.department_id for e in session.exec(select(Entry)).all()}
    live: dict[int, EntryVersion] = {}
    reviewed: dict[int, datetime] = {}
    versions = session.exec(
        select(EntryVersion)
        .where(col(EntryVersion.at) <= on)
        .order_by(col(EntryVersion.at), col(EntryVersion.id))
    ).all()
    for v in versions:
        if v.status == EntryStatus.published:
            live[v.entry_id] = v
            reviewed[v.entry_id] = v.at
        elif v.status == EntryStatus.retired:
            live.pop(v.entry_id, None)
    confirms = session.exec(
        select(Obligation).where(
            Obligation.fulfilment == Fulfilment.confirm,
            col(Obligation.entry_id).is_not(None),
            col(Obligation.fulfilled_at) <= on,
        )
    ).all()
    for ob in confirms:
        if ob.entry_id in reviewed and ob.fulfilled_at and ob.fulfilled_at > reviewed[ob.entry_id]:
            reviewed[ob.entry_id] = ob.fulfilled_at
    for entry_id, v in live.items():
        if (v.valid_from and day < v.valid_from) or (v.valid_to and day > v.valid_to):
            continue
        dept_id = owners.get(entry_id)
        interval = v.review_interval_days or intervals.get(dept_id or -1) or default_review_days
        state, _ = review_state(
            last_reviewed=reviewed[entry_id], interval_days=interval, valid_to=v.valid_to, today=day
        )
        for tally in t.each(dept_id):
            tally.live_entries += 1
            tally.entries_overdue_review += state == "overdue"


def _feedback(session: Session, t: _Tallies, *, lo: datetime, hi: datetime) -> None:
    """Adoption and 'not helpful' reasons for suggestions shown in the range."""
    rows = session.exec(
        select(Feedback)
        .join(QueryLog, col(QueryLog.id) == col(Feedback.query_id))
        .where(col(QueryLog.at) >= lo, col(QueryLog.at) <= hi)
    ).all()
    for fb in rows:
        for tally in t.each(fb.department_id):
            if fb.verdict == FeedbackVerdict.adopted:
                tally.adopted += 1
            elif fb.reason:
                tally.not_helpful[str(fb.reason)] += 1


def monthly(
    session: Session,
    *,
    year: int,
    calendar: WorkCalendar | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """知识库更新率 per month and department for one year (for charts)."""
    from calendar import monthrange

    months = []
    for month in range(1, 13):
        last = monthrange(year, month)[1]
        m = compute(
            session,
            start=date(year, month, 1),
            end=date(year, month, last),
            calendar=calendar,
            now=now,
        )
        months.append(
            {
                "month": f"{year}-{month:02d}",
                "overall": m["overall"]["update_rate"],
                "due": m["overall"]["due"],
                "departments": {
                    d["code"]: {"name": d["name"], "update_rate": d["update_rate"], "due": d["due"]}
                    for d in m["departments"]
                    if d["due"]
                },
            }
        )
    return {"year": year, "months": months}


def gaps(
    session: Session,
    *,
    start: date,
    end: date,
    encode: Encode | None,
    threshold: float = GAP_SIMILARITY,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """知识缺口: intake items nothing could answer, clustered by meaning, biggest first."""
    from kb_service.privacy import mask

    lo, hi = _range(start, end)
    logs = [
        log
        for log in session.exec(
            select(IntakeLog)
            .where(col(IntakeLog.at) >= lo, col(IntakeLog.at) <= hi)
            .order_by(col(IntakeLog.at), col(IntakeLog.id))
        ).all()
        if not (log.decision or {}).get("answerable") and log.action in ("ticket", "answer")
    ]
    if not logs:
        return []
    texts = [mask(log.text) for log in logs]
    depts = _gap_departments(session, logs)
    vectors = encode(texts) if encode is not None else None
    clusters: list[dict[str, Any]] = []
    centroids: list[np.ndarray] = []
    for i, text in enumerate(texts):
        target = None
        if vectors is not None and centroids:
            sims = np.vstack(centroids) @ vectors[i]
            best = int(np.argmax(sims))
            if float(sims[best]) >= threshold:
                target = best
        elif vectors is None:
            target = next((n for n, c in enumerate(clusters) if c["key"] == text), None)
        if target is None:
            clusters.append({"key": text, "members": [], "sum": None})
            centroids.append(vectors[i] if vectors is not None else np.zeros(1))
            target = len(clusters) - 1
        c = clusters[target]
        c["members"].append(i)
        if vectors is not None:
            c["sum"] = vectors[i] if c["sum"] is None else c["sum"] + vectors[i]
            norm = float(np.linalg.norm(c["sum"])) or 1.0
            centroids[target] = c["sum"] / norm
    out: list[dict[str, Any]] = []
    for c in clusters:
        examples = list(dict.fromkeys(texts[i] for i in c["members"]))[:GAP_EXAMPLES]
        counts = Counter(depts[i] for i in c["members"] if depts[i] is not None)
        out.append(
            {
                "size": len(c["members"]),
                "examples": examples,
                "departments": [
                    {"code": code, "name": name, "count": n}
                    for (code, name), n in counts.most_common()
                ],
            }
        )
    out.sort(key=lambda c: -c["size"])
    return out[:limit]


def _gap_departments(session: Session, logs: Sequence[IntakeLog]) -> list[tuple[str, str] | None]:
    """Where each item was routed: its ticket's department, else the planned one."""
    depts = by_id(session)
    names = {d.code: d.name for d in depts.values()}
    tickets = _ticket_departments(session, logs)
    out: list[tuple[str, str] | None] = []
    for log in logs:
        code: str | None = None
        if log.ticket_id is not None and tickets.get(log.ticket_id) in depts:
            code = depts[tickets[log.ticket_id]].code
        else:
            plan = (log.decision or {}).get("ticket") or {}
            code = plan.get("department")
        out.append((code, names.get(code, code)) if code else None)
    return out
