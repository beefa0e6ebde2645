"""Entry lifecycle: draft → in_review → published → retired, versions, validity, pushes.

The working copy lives in `Entry`; what operators are served is the snapshot
`EntryVersion(version=entry.live_version)`. Editing a published entry therefore never takes
the published answer away while the change waits for review.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlmodel import Session, and_, col, func, or_, select

from kb_service import audit
from kb_service.db import utcnow
from kb_service.departments import get_by_code
from kb_service.errors import Conflict, Invalid, KBError, NotFound
from kb_service.models import (
    ChangeKind,
    ChangeOp,
    Department,
    Entry,
    EntryContent,
    EntryStatus,
    EntryVersion,
    Role,
    User,
)
from kb_service.models.entries import CONTENT_FIELDS, EntryPublic, EntryVersionPublic
from kb_service.principals import Actor, can_edit, can_review, require_role

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_REGION = "青海省"


def today_local(now: datetime | None = None) -> date:
    """Today's date in Asia/Shanghai (validity windows are local calendar dates)."""
    return (now or utcnow()).astimezone(SHANGHAI).date()


# --- content -----------------------------------------------------------------------------


def content_dict(content: EntryContent) -> dict[str, Any]:
    """The content as stored on the row (region defaulted, sources as plain dicts)."""
    data = content.model_dump(mode="python")
    data["region"] = data.get("region") or DEFAULT_REGION
    data["sources"] = [
        {k: v for k, v in s.model_dump().items() if v is not None} for s in content.sources
    ]
    return data


def content_of(row: Entry | EntryVersion) -> dict[str, Any]:
    """The content fields of an entry or a version row."""
    return {name: getattr(row, name) for name in CONTENT_FIELDS}


def hash_content(data: dict[str, Any]) -> str:
    """A stable hash of the content fields (what makes two pushes 'the same')."""
    canon = {k: data.get(k) for k in CONTENT_FIELDS}
    raw = json.dumps(canon, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def parse_content(payload: dict[str, Any]) -> EntryContent:
    """Validate a raw payload into EntryContent, with a Chinese message on failure."""
    try:
        return EntryContent.model_validate(payload)
    except ValidationError as exc:
        raise Invalid("validation_error", describe_validation(exc), errors=_errors(exc)) from exc


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


FIELD_LABELS = {
    "question": "标准问题",
    "similar_questions": "相似问法",
    "answer": "答复口径",
    "region": "适用地区",
    "category": "分类",
    "tags": "标签",
    "sources": "来源",
    "valid_from": "生效日期",
    "valid_to": "失效日期",
    "review_interval_days": "复核周期",
    "external_id": "外部编号",
    "base_version": "基准版本号",
}


def describe_validation(exc: ValidationError) -> str:
    """One Chinese sentence per validation problem."""
    parts = []
    for e in exc.errors(include_url=False):
        loc = [str(p) for p in e["loc"]]
        label = FIELD_LABELS.get(loc[0], loc[0]) if loc else "请求"
        msg = e["msg"].removeprefix("Value error, ")
        kind = e["type"]
        if kind == "missing":
            msg = "必填"
        elif kind in ("date_from_datetime_parsing", "date_parsing", "date_type"):
            msg = "日期格式无效，应为 YYYY-MM-DD"
        elif kind == "extra_forbidden":
            msg = "不支持的字段"
        elif kind.startswith("string_type") or kind.startswith("list_type"):
            msg = "类型错误"
        parts.append(f"{label}（{'.'.join(loc)}）：{msg}" if loc else msg)
    return "；".join(parts) or "请求内容无效"


# --- reading -----------------------------------------------------------------------------


def get(session: Session, *, entry_id: int, for_update: bool = False) -> Entry:
    """The entry, or `entry_not_found`."""
    stmt = select(Entry).where(Entry.id == entry_id)
    if for_update:
        stmt = stmt.with_for_update()
    entry = session.exec(stmt).first()
    if entry is None:
        raise NotFound("entry_not_found", f"知识条目 {entry_id} 不存在")
    return entry


def get_by_external(session: Session, *, department_id: int, external_id: str) -> Entry | None:
    """The department's entry with its own id, if any."""
    stmt = select(Entry).where(
        Entry.department_id == department_id, Entry.external_id == external_id
    )
    return session.exec(stmt.with_for_update()).first()


def live_version(session: Session, *, entry: Entry) -> EntryVersion | None:
    """The snapshot operators are served, or None."""
    if entry.live_version is None or entry.status == EntryStatus.retired:
        return None
    stmt = select(EntryVersion).where(
        EntryVersion.entry_id == entry.id, EntryVersion.version == entry.live_version
    )
    return session.exec(stmt).first()


def is_live(entry: Entry, version: EntryVersion | None, *, on: date) -> bool:
    """Published (or still serving a published version), not retired, inside its validity."""
    if version is None or entry.status == EntryStatus.retired or entry.live_version is None:
        return False
    if version.valid_from and on < version.valid_from:
        return False
    return not (version.valid_to and on > version.valid_to)


def live_rows(
    session: Session, *, ids: list[int] | None = None, reviewed_before: datetime | None = None
) -> list[tuple[Entry, EntryVersion, Department]]:
    """Entries that have a live version, with that version and their department.

    Validity windows are not applied here (they depend on the day); callers check `is_live`.
    `reviewed_before` keeps only entries last reviewed (else published) before that instant, or
    never: the review sweep's pre-filter, so it does not load every entry.
    """
    stmt = (
        select(Entry, EntryVersion, Department)
        .join(
            EntryVersion,
            and_(
                col(EntryVersion.entry_id) == col(Entry.id),
                col(EntryVersion.version) == col(Entry.live_version),
            ),
        )
        .join(Department, col(Department.id) == col(Entry.department_id))
        .where(Entry.status != EntryStatus.retired)
    )
    if ids is not None:
        if not ids:
            return []
        stmt = stmt.where(col(Entry.id).in_(ids))
    if reviewed_before is not None:
        reviewed = col(Entry.last_reviewed_at)
        published = col(Entry.published_at)
        stmt = stmt.where(
            or_(
                reviewed < reviewed_before,
                and_(reviewed.is_(None), or_(published.is_(None), published < reviewed_before)),
            )
        )
    return [(e, v, d) for e, v, d in session.exec(stmt).all()]


def to_public(session: Session, entry: Entry, dept: Department | None = None) -> EntryPublic:
    """The API shape of an entry."""
    dept = dept or session.get(Department, entry.department_id)
    return EntryPublic(
        id=entry.id or 0,
        department=dept.code if dept else "",
        external_id=entry.external_id,
        question=entry.question,
        similar_questions=list(entry.similar_questions),
        answer=entry.answer,
        region=entry.region,
        category=entry.category,
        tags=list(entry.tags),
        sources=list(entry.sources),
        valid_from=entry.valid_from,
        valid_to=entry.valid_to,
        review_interval_days=entry.review_interval_days,
        status=EntryStatus(entry.status),
        version=entry.version,
        live_version=entry.live_version,
        needs_review=entry.needs_review,
        needs_review_reason=entry.needs_review_reason,
        review_comment=entry.review_comment,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        published_at=entry.published_at,
        last_reviewed_at=entry.last_reviewed_at,
    )


@dataclass
class Page:
    """One page of a listing."""

    items: list[Entry]
    total: int
    page: int
    page_size: int


def list_entries(
    session: Session,
    *,
    actor: Actor,
    department_code: str | None = None,
    status: EntryStatus | None = None,
    category: str | None = None,
    q: str | None = None,
    needs_review: bool | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page:
    """Entries filtered and paged; operators see only published ones."""
    if page < 1 or not 1 <= page_size <= 500:
        raise Invalid("paging_invalid", "分页参数无效：page ≥ 1，page_size 在 1 到 500 之间")
    stmt = select(Entry)
    if department_code:
        dept = get_by_code(session, code=department_code)
        stmt = stmt.where(Entry.department_id == dept.id)
    if actor.role == Role.operator:
        stmt = stmt.where(col(Entry.live_version).is_not(None), Entry.status != EntryStatus.retired)
    if status:
        stmt = stmt.where(Entry.status == status)
    if category:
        stmt = stmt.where(Entry.category == category)
    if needs_review is not None:
        stmt = stmt.where(Entry.needs_review == needs_review)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(col(Entry.question).like(like), col(Entry.answer).like(like)))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(
        stmt.order_by(col(Entry.updated_at).desc(), col(Entry.id).desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return Page(items=list(rows), total=int(total), page=page, page_size=page_size)


def history(session: Session, *, entry_id: int) -> list[EntryVersionPublic]:
    """Every version of an entry, newest first."""
    get(session, entry_id=entry_id)
    stmt = (
        select(EntryVersion, User)
        .join(User, col(User.id) == col(EntryVersion.by_id), isouter=True)
        .where(EntryVersion.entry_id == entry_id)
        .order_by(col(EntryVersion.version).desc())
    )
    return [
        EntryVersionPublic(
            version=v.version,
            status=EntryStatus(v.status),
            action=v.action,
            reason=v.reason,
            question=v.question,
            similar_questions=list(v.similar_questions),
            answer=v.answer,
            sources=list(v.sources),
            valid_from=v.valid_from,
            valid_to=v.valid_to,
            by=u.name if u else None,
            at=v.at,
        )
        for v, u in session.exec(stmt).all()
    ]


# --- writing -----------------------------------------------------------------------------


def _department(session: Session, entry: Entry) -> Department:
    dept = session.get(Department, entry.department_id)
    assert dept is not None  # FK guarantees it
    return dept


def _check_version(entry: Entry, base_version: int | None) -> None:
    if base_version is not None and base_version != entry.version:
        raise Conflict(
            "stale_version",
            f"条目已被他人修改：您基于第 {base_version} 版，当前为第 {entry.version} 版，"
            "请刷新后重新编辑",
            current_version=entry.version,
        )


def _apply(entry: Entry, data: dict[str, Any]) -> None:
    for name in CONTENT_FIELDS:
        setattr(entry, name, data[name])
    entry.content_hash = hash_content(data)


def _snapshot(
    session: Session, *, entry: Entry, action: str, actor: Actor, reason: str | None
) -> EntryVersion:
    snap = EntryVersion(
        entry_id=entry.id or 0,
        version=entry.version,
        status=entry.status,
        action=action,
        reason=reason,
        content_hash=entry.content_hash,
        by_id=actor.user_id,
        **content_of(entry),
    )
    session.add(snap)
    return snap


def _touch(entry: Entry, actor: Actor, *, bump: bool = True) -> None:
    if bump:
        entry.version += 1
    entry.updated_at = utcnow()
    entry.updated_by_id = actor.user_id


def _go_live(session: Session, *, entry: Entry, actor: Actor) -> None:
    entry.status = EntryStatus.published
    entry.live_version = entry.version
    entry.published_at = utcnow()
    entry.last_reviewed_at = entry.published_at
    entry.needs_review = False
    entry.needs_review_reason = None
    entry.review_comment = None
    audit.change(session, kind=ChangeKind.entry, entity_id=entry.id or 0, op=ChangeOp.upsert)
    from kb_service import freshness  # imports entries: a module-level import would be a cycle

    freshness.on_entry_live(session, entry=entry, actor=actor)


def _log(session: Session, actor: Actor, action: str, entry: Entry, **detail: Any) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"entry.{action}",
        entity="entry",
        entity_id=entry.id,
        department_id=entry.department_id,
        detail={"version": entry.version, **detail},
    )


def create(
    session: Session,
    *,
    actor: Actor,
    department_code: str,
    content: EntryContent,
    external_id: str | None = None,
    submit: bool = False,
) -> Entry:
    """Create a draft (or submit it for review at once)."""
    dept = get_by_code(session, code=department_code)
    can_edit(actor, dept.id or 0, dept.code)
    if external_id is not None and get_by_external(
        session, department_id=dept.id or 0, external_id=external_id
    ):
        raise Conflict("external_id_taken", f"本单位已存在外部编号为“{external_id}”的条目")
    data = content_dict(content)
    entry = Entry(
        department_id=dept.id or 0,
        external_id=external_id,
        status=EntryStatus.in_review if submit else EntryStatus.draft,
        content_hash=hash_content(data),
        created_by_id=actor.user_id,
        updated_by_id=actor.user_id,
        **data,
    )
    session.add(entry)
    session.flush()
    _snapshot(session, entry=entry, action="create", actor=actor, reason=None)
    _log(session, actor, "create", entry, status=entry.status)
    session.flush()
    return entry


def update(
    session: Session,
    *,
    actor: Actor,
    entry_id: int,
    content: EntryContent,
    base_version: int,
    reason: str | None = None,
    submit: bool = False,
) -> Entry:
    """Edit the working copy; the published version stays live until the edit is approved."""
    entry = get(session, entry_id=entry_id, for_update=True)
    dept = _department(session, entry)
    can_edit(actor, dept.id or 0, dept.code)
    _check_version(entry, base_version)
    data = content_dict(content)
    new_status = EntryStatus.in_review if submit else EntryStatus.draft
    if hash_content(data) == entry.content_hash and entry.status == new_status:
        return entry
    _apply(entry, data)
    entry.status = new_status
    _touch(entry, actor)
    _snapshot(session, entry=entry, action="edit", actor=actor, reason=reason)
    _log(session, actor, "update", entry, reason=reason, status=entry.status)
    session.flush()
    return entry


def submit(session: Session, *, actor: Actor, entry_id: int, base_version: int) -> Entry:
    """Send a draft for review."""
    entry = get(session, entry_id=entry_id, for_update=True)
    dept = _department(session, entry)
    can_edit(actor, dept.id or 0, dept.code)
    _check_version(entry, base_version)
    if entry.status != EntryStatus.draft:
        raise Conflict("invalid_transition", f"只有草稿可以提交审核（当前状态：{entry.status}）")
    entry.status = EntryStatus.in_review
    _touch(entry, actor)
    _snapshot(session, entry=entry, action="submit", actor=actor, reason=None)
    _log(session, actor, "submit", entry)
    session.flush()
    return entry


def publish(
    session: Session,
    *,
    actor: Actor,
    entry_id: int,
    base_version: int,
    reason: str | None = None,
) -> Entry:
    """Approve and publish (reviewer of the owning department, manager or admin)."""
    entry = get(session, entry_id=entry_id, for_update=True)
    dept = _department(session, entry)
    can_review(actor, dept.id or 0, dept.code)
    _check_version(entry, base_version)
    if entry.status not in (EntryStatus.in_review, EntryStatus.draft):
        raise Conflict(
            "invalid_transition", f"只有草稿或待审核的条目可以发布（当前状态：{entry.status}）"
        )
    _touch(entry, actor)
    _go_live(session, entry=entry, actor=actor)
    _snapshot(session, entry=entry, action="publish", actor=actor, reason=reason)
    _log(session, actor, "publish", entry, reason=reason)
    session.flush()
    return entry


def reject(
    session: Session, *, actor: Actor, entry_id: int, base_version: int, comment: str
) -> Entry:
    """Send an entry under review back to draft with the reviewer's comment."""
    if not comment.strip():
        raise Invalid("comment_required", "退回修改时必须填写审核意见")
    entry = get(session, entry_id=entry_id, for_update=True)
    dept = _department(session, entry)
    can_review(actor, dept.id or 0, dept.code)
    _check_version(entry, base_version)
    if entry.status != EntryStatus.in_review:
        raise Conflict("invalid_transition", "只有待审核的条目可以退回")
    entry.status = EntryStatus.draft
    entry.review_comment = comment.strip()
    _touch(entry, actor)
    _snapshot(session, entry=entry, action="reject", actor=actor, reason=comment)
    _log(session, actor, "reject", entry, comment=comment)
    session.flush()
    return entry


def retire(
    session: Session,
    *,
    actor: Actor,
    entry_id: int,
    base_version: int | None = None,
    reason: str | None = None,
) -> Entry:
    """Take an entry out of service; it is never suggested again until republished."""
    entry = get(session, entry_id=entry_id, for_update=True)
    dept = _department(session, entry)
    can_review(actor, dept.id or 0, dept.code)
    _check_version(entry, base_version)
    if entry.status == EntryStatus.retired:
        return entry
    entry.status = EntryStatus.retired
    entry.live_version = None
    _touch(entry, actor)
    _snapshot(session, entry=entry, action="retire", actor=actor, reason=reason)
    audit.change(session, kind=ChangeKind.entry, entity_id=entry.id or 0, op=ChangeOp.delete)
    _log(session, actor, "retire", entry, reason=reason)
    session.flush()
    return entry


def rollback(
    session: Session,
    *,
    actor: Actor,
    entry_id: int,
    to_version: int,
    base_version: int,
    reason: str | None = None,
) -> Entry:
    """Publish the content of an earlier version as a new version."""
    entry = get(session, entry_id=entry_id, for_update=True)
    dept = _department(session, entry)
    can_review(actor, dept.id or 0, dept.code)
    _check_version(entry, base_version)
    old = session.exec(
        select(EntryVersion).where(
            EntryVersion.entry_id == entry_id, EntryVersion.version == to_version
        )
    ).first()
    if old is None:
        raise NotFound("version_not_found", f"条目 {entry_id} 没有第 {to_version} 版")
    _apply(entry, content_of(old))
    _touch(entry, actor)
    _go_live(session, entry=entry, actor=actor)
    why = reason or f"回滚到第 {to_version} 版"
    _snapshot(session, entry=entry, action="rollback", actor=actor, reason=why)
    _log(session, actor, "rollback", entry, to_version=to_version, reason=why)
    session.flush()
    return entry


def flag_needs_review(session: Session, *, entry: Entry, reason: str) -> None:
    """Mark an entry for its department to re-check (e.g. its source document changed)."""
    entry.needs_review = True
    entry.needs_review_reason = reason
    audit.record(
        session,
        actor=None,
        action="entry.flag",
        entity="entry",
        entity_id=entry.id,
        department_id=entry.department_id,
        detail={"reason": reason},
    )
    from kb_service import freshness  # imports entries: a module-level import would be a cycle

    freshness.on_entry_flagged(session, entry=entry, reason=reason)


# --- department pushes -------------------------------------------------------------------


@dataclass
class PushResult:
    """What one pushed item did."""

    external_id: str | None
    outcome: str  # created | updated | unchanged | rejected
    entry_id: int | None = None
    version: int | None = None
    status: str | None = None
    error: str | None = None
    detail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def push(
    session: Session,
    *,
    actor: Actor,
    department_code: str,
    external_id: str,
    content: EntryContent,
    base_version: int | None = None,
    target: EntryStatus | None = None,
) -> PushResult:
    """Idempotent upsert by the department's own id.

    A reviewer's (or manager's) push publishes; an editor's push goes to review. The same
    payload twice is `unchanged` and makes no new version.
    """
    external_id = external_id.strip()
    if not external_id or len(external_id) > 128:
        raise Invalid("external_id_invalid", "外部编号不能为空且不能超过128个字符")
    dept = get_by_code(session, code=department_code)
    can_edit(actor, dept.id or 0, dept.code)
    may_publish = actor.role in (Role.reviewer, Role.manager, Role.admin)
    if target is None:
        target = EntryStatus.published if may_publish else EntryStatus.in_review
    elif target == EntryStatus.published and not may_publish:
        target = EntryStatus.in_review
    elif target == EntryStatus.retired:
        raise Invalid("status_invalid", "推送不能直接下线条目，请使用删除接口")
    publishes = target == EntryStatus.published
    data = content_dict(content)
    digest = hash_content(data)
    entry = get_by_external(session, department_id=dept.id or 0, external_id=external_id)
    if entry is None:
        outcome = "created"
        entry = Entry(
            department_id=dept.id or 0,
            external_id=external_id,
            content_hash=digest,
            created_by_id=actor.user_id,
            updated_by_id=actor.user_id,
            **data,
        )
        session.add(entry)
        session.flush()
    else:
        _check_version(entry, base_version)
        same_status = entry.status == target or (
            target == EntryStatus.in_review and entry.status == EntryStatus.published
        )
        if digest == entry.content_hash and same_status:
            return PushResult(external_id, "unchanged", entry.id, entry.version, entry.status)
        outcome = "updated"
        _apply(entry, data)
        _touch(entry, actor)
    # One push is one version, whether it publishes or waits for review.
    if publishes:
        _go_live(session, entry=entry, actor=actor)
    else:
        entry.status = target
    _snapshot(session, entry=entry, action="push", actor=actor, reason="单位推送")
    _log(session, actor, f"push.{outcome}", entry, status=entry.status)
    session.flush()
    return PushResult(external_id, outcome, entry.id, entry.version, entry.status)


def push_batch(
    session: Session,
    *,
    actor: Actor,
    department_code: str,
    items: list[Any],
    max_items: int = 1000,
) -> list[PushResult]:
    """Push many items; each is its own savepoint, so one bad item never blocks the rest."""
    if len(items) > max_items:
        raise Invalid("batch_too_large", f"单次最多推送 {max_items} 条，本次 {len(items)} 条")
    dept = get_by_code(session, code=department_code)
    can_edit(actor, dept.id or 0, dept.code)
    results: list[PushResult] = []
    seen: set[str] = set()
    for n, raw in enumerate(items):
        ext = raw.get("external_id") if isinstance(raw, dict) else None
        try:
            if not isinstance(raw, dict):
                raise Invalid("item_invalid", f"第 {n + 1} 项不是对象")
            if not isinstance(ext, str) or not ext.strip():
                raise Invalid("external_id_invalid", "缺少外部编号 external_id")
            if ext in seen:
                raise Invalid("duplicate_item", f"外部编号“{ext}”在本批次中重复出现")
            seen.add(ext)
            payload = {k: v for k, v in raw.items() if k not in ("external_id", "base_version")}
            content = parse_content(payload)
            with session.begin_nested():
                results.append(
                    push(
                        session,
                        actor=actor,
                        department_code=dept.code,
                        external_id=ext,
                        content=content,
                        base_version=raw.get("base_version"),
                    )
                )
        except KBError as exc:
            results.append(
                PushResult(
                    ext if isinstance(ext, str) else None,
                    "rejected",
                    error=exc.code,
                    detail=exc.message,
                )
            )
    return results


def retire_external(
    session: Session,
    *,
    actor: Actor,
    department_code: str,
    external_id: str,
    reason: str | None = None,
) -> Entry:
    """Retire the department's entry with its own id."""
    dept = get_by_code(session, code=department_code)
    can_edit(actor, dept.id or 0, dept.code)
    entry = get_by_external(session, department_id=dept.id or 0, external_id=external_id)
    if entry is None:
        raise NotFound("entry_not_found", f"本单位没有外部编号为“{external_id}”的条目")
    return retire(session, actor=actor, entry_id=entry.id or 0, reason=reason)


def require_reader(actor: Actor) -> None:
    """Anyone with a valid token may read published knowledge."""
    require_role(actor, *Role)
