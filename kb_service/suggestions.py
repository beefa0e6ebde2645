"""suggest(): index hits → re-checked against the database → answer scripts with freshness.

Nothing reaches an operator that the database does not say is live right now: retired,
not-yet-valid, expired, repealed or out-of-region items are dropped even if the index (a cache)
still holds them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from index.hybrid import Hit
from index.text import normalize
from kb_service import entries
from kb_service.db import utcnow
from kb_service.errors import Invalid
from kb_service.models import Department, Entry, EntryVersion, QueryLog
from kb_service.privacy import mask
from kb_service.search import SearchService, servable_passages, split_key

FRESHNESS_LABELS = {"fresh": "有效", "due": "待复核", "overdue": "逾期未复核", "expired": "已过期"}
# After the review date an entry is "due"; this many days later it is "overdue".
REVIEW_GRACE_DAYS = 30
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class Calibration:
    """How the encoder's cosine maps to 'answerable' and to a 0–1 confidence."""

    threshold: float
    # Width of the logistic around the threshold (e5 cosines live in a narrow band).
    spread: float = 0.015

    def confidence(self, hit: Hit) -> float:
        """Probability-like confidence from the raw cosine (an exact question match is ≥0.95)."""
        z = (hit.dense - self.threshold) / self.spread
        conf = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
        return round(max(conf, 0.95) if hit.exact else conf, 4)

    def answerable(self, hit: Hit) -> bool:
        """Whether this hit is good enough to read out."""
        return hit.exact or hit.dense >= self.threshold


def review_state(
    *, last_reviewed: datetime | None, interval_days: int, valid_to: date | None, today: date
) -> tuple[str, date | None]:
    """(fresh | due | overdue | expired, review due date) of an entry."""
    if valid_to and today > valid_to:
        return "expired", None
    if last_reviewed is None:
        return "due", None
    due = last_reviewed.astimezone(entries.SHANGHAI).date() + timedelta(days=interval_days)
    if today < due:
        return "fresh", due
    if today <= due + timedelta(days=REVIEW_GRACE_DAYS):
        return "due", due
    return "overdue", due


def live_review_state(
    entry: Entry, version: EntryVersion, dept: Department, *, default_review_days: int, today: date
) -> tuple[str, date | None]:
    """`review_state` of an entry's live version, as the sidebar and the review sweep see it.

    Last reviewed: when last confirmed, else when published. Interval: the version's own, else
    its department's, else the default.
    """
    interval = version.review_interval_days or dept.review_interval_days or default_review_days
    return review_state(
        last_reviewed=entry.last_reviewed_at or entry.published_at,
        interval_days=interval,
        valid_to=version.valid_to,
        today=today,
    )


def _highlights(text: str, terms: list[str]) -> list[str]:
    norm = normalize(text)
    return [t for t in dict.fromkeys(terms) if len(t) > 1 or not t.isascii() if t in norm]


def suggest(
    session: Session,
    *,
    search: SearchService,
    calibration: Calibration,
    text: str,
    region: str | None = None,
    k: int = 5,
    department: str | None = None,
    category: str | None = None,
    user_id: int | None = None,
    channel: str | None = None,
    default_review_days: int = 180,
    now: datetime | None = None,
    record: bool = True,
    query_vector: Any = None,
) -> dict[str, Any]:
    """The best answer scripts and policy passages for what the caller said."""
    if not text or not text.strip():
        raise Invalid("empty_query", "查询内容不能为空")
    if len(text) > MAX_QUERY_CHARS:
        raise Invalid("query_too_long", f"查询内容不能超过 {MAX_QUERY_CHARS} 字")
    if not 1 <= k <= 50:
        raise Invalid("k_invalid", "k 应在 1 到 50 之间")
    now = now or utcnow()
    today = entries.today_local(now)
    filters: dict[str, set[str]] = {}
    if region:
        filters["region"] = {entries.DEFAULT_REGION, region}
    if department:
        filters["department"] = {department}
    if category:
        filters["category"] = {category}
    hits = search.index.search(text, k=k * 3, filters=filters or None, query_vector=query_vector)
    results = _recheck(
        session, hits, today=today, region=region, default_review_days=default_review_days
    )[:k]
    for r, hit in results:
        r["confidence"] = calibration.confidence(hit)
        r["score"] = round(hit.score, 6)
        r["dense"] = round(hit.dense, 4)
        r["highlights"] = _highlights(r["title"] + " " + r["text"], hit.terms)
    answerable = bool(results) and calibration.answerable(results[0][1])
    out: dict[str, Any] = {
        "query_id": None,
        "answerable": answerable,
        "results": [r for r, _ in results],
    }
    if record:
        row = QueryLog(
            user_id=user_id,
            channel=channel,
            region=region,
            text=mask(text),
            answerable=answerable,
            results=[{"kind": r["kind"], "id": r["id"], "score": r["score"]} for r, _ in results],
        )
        session.add(row)
        session.flush()
        out["query_id"] = row.id
    return out


def _recheck(
    session: Session,
    hits: list[Hit],
    *,
    today: date,
    region: str | None,
    default_review_days: int,
) -> list[tuple[dict[str, Any], Hit]]:
    entry_ids = [split_key(h.id)[1] for h in hits if split_key(h.id)[0] == "entry"]
    passage_ids = [split_key(h.id)[1] for h in hits if split_key(h.id)[0] == "passage"]
    live = {e.id: (e, v, d) for e, v, d in entries.live_rows(session, ids=entry_ids)}
    passages = {
        p.id: (p, d, code) for p, d, code in servable_passages(session, ids=passage_ids) if p.id
    }
    out: list[tuple[dict[str, Any], Hit]] = []
    for hit in hits:
        kind, row_id = split_key(hit.id)
        if kind == "entry" and row_id in live:
            e, v, d = live[row_id]
            if not entries.is_live(e, v, on=today):
                continue
            if region and v.region not in (entries.DEFAULT_REGION, region):
                continue
            state, due = live_review_state(
                e, v, d, default_review_days=default_review_days, today=today
            )
            src = v.sources[0] if v.sources else {}
            out.append(
                (
                    {
                        "id": row_id,
                        "kind": "entry",
                        "title": v.question,
                        "text": v.answer,
                        "department": d.code,
                        "department_name": d.name,
                        "category": v.category,
                        "version": v.version,
                        "source": {
                            "doc_id": src.get("doc_id"),
                            "doc_no": src.get("doc_no"),
                            "title": src.get("title"),
                            "locator": src.get("locator"),
                        },
                        "sources": list(v.sources),
                        "freshness": {
                            "status": state,
                            "label": FRESHNESS_LABELS[state],
                            "published_at": e.published_at.isoformat() if e.published_at else None,
                            "last_reviewed_at": (
                                e.last_reviewed_at.isoformat() if e.last_reviewed_at else None
                            ),
                            "review_due": due.isoformat() if due else None,
                            "valid_from": v.valid_from.isoformat() if v.valid_from else None,
                            "valid_to": v.valid_to.isoformat() if v.valid_to else None,
                        },
                    },
                    hit,
                )
            )
        elif kind == "passage" and row_id in passages:
            p, doc, code = passages[row_id]
            out.append(
                (
                    {
                        "id": row_id,
                        "kind": "passage",
                        "title": f"{doc.title} {p.locator}".strip(),
                        "text": p.text,
                        "department": code or (p.departments[0] if p.departments else None),
                        "department_name": None,
                        "category": "政策文件",
                        "version": p.version,
                        "source": {
                            "doc_id": doc.doc_id,
                            "doc_no": doc.doc_no,
                            "title": doc.title,
                            "locator": p.locator,
                        },
                        "sources": [],
                        "freshness": {
                            "status": "fresh",
                            "label": "现行有效",
                            "issued": doc.issued.isoformat() if doc.issued else None,
                            "document_version": doc.current_version,
                        },
                    },
                    hit,
                )
            )
    return out
