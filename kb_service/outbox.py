"""Reliable delivery of outbox messages to the external ticket core (at-least-once + idempotency).

The ticket and its `Outbox` row are written in one transaction by `kb_service.tickets`; the
`Dispatcher` here sends each due row to the core, signed, with an `Idempotency-Key` the core
dedupes by. Every row is claimed, sent and committed in its own transaction, so a crash loses
nothing and re-sends at most the one message that was in flight.

Concurrency: on PostgreSQL a row is claimed with `SELECT … FOR UPDATE SKIP LOCKED` and the lock is
held while it is sent (bounded by `timeout_s`), so any number of dispatchers never send the same
row at the same time. SQLite has no row locks: run a single dispatcher per SQLite database (that
is how the single-machine default is deployed); a second one would only cause duplicate sends,
which the core's idempotency absorbs, never a lost message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from kb_service.db import utcnow
from kb_service.errors import Conflict, NotFound, Unauthorized
from kb_service.models import Outbox, OutboxStatus, Ticket, TicketStatus

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-KB-Timestamp"
SIGNATURE_HEADER = "X-KB-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_ERROR_BODY_CHARS = 300
_MAX_EXPONENT = 60  # 2**60 * any sane base is far past max_delay; keeps the float finite


# --- signing -------------------------------------------------------------------------------


def sign(body: bytes, *, secret: str, timestamp: int) -> str:
    """HMAC-SHA256 (hex) of `"{timestamp}." + body` under `secret`."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    body: bytes,
    *,
    secret: str,
    timestamp: int,
    signature: str,
    now: float,
    tolerance_s: int = 300,
) -> None:
    """Check a signature and its freshness; raise `Unauthorized` if either fails."""
    expected = sign(body, secret=secret, timestamp=timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise Unauthorized("signature_invalid", "签名校验失败：请求内容或密钥不一致")
    if abs(now - timestamp) > tolerance_s:
        raise Unauthorized(
            "signature_expired", f"签名已过期：时间戳与当前时间相差超过 {tolerance_s} 秒"
        )


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for a payload: compact UTF-8 JSON, sorted keys."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


# --- service functions ---------------------------------------------------------------------


def enqueue(
    session: Session, *, ticket_id: int | None, payload: dict[str, Any], idempotency_key: str
) -> Outbox:
    """Add a message for the ticket core to the outbox (flushed, not committed)."""
    row = Outbox(ticket_id=ticket_id, payload=payload, idempotency_key=idempotency_key)
    session.add(row)
    session.flush()
    return row


def dead_letters(session: Session) -> list[Outbox]:
    """Messages that gave up after `max_attempts`, oldest first."""
    stmt = select(Outbox).where(Outbox.status == OutboxStatus.dead).order_by(col(Outbox.id))
    return list(session.exec(stmt).all())


def resend(session: Session, *, outbox_id: int, now: datetime | None = None) -> Outbox:
    """Put a dead (or waiting) message back in the queue, due now, with attempts reset."""
    row = session.get(Outbox, outbox_id)
    if row is None:
        raise NotFound("outbox_not_found", f"投递记录 {outbox_id} 不存在")
    if row.status == OutboxStatus.delivered:
        raise Conflict("outbox_already_delivered", f"投递记录 {outbox_id} 已成功送达，无需重发")
    row.status = OutboxStatus.pending
    row.attempts = 0
    row.next_attempt_at = now or utcnow()
    session.add(row)
    session.flush()
    return row


def pending_count(session: Session) -> int:
    """How many messages still wait for delivery."""
    stmt = select(func.count()).select_from(Outbox).where(Outbox.status == OutboxStatus.pending)
    return int(session.exec(stmt).one())


# --- the dispatcher ------------------------------------------------------------------------


@dataclass
class DispatchStats:
    """What one `run_once` did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0  # claimed by another dispatcher, or no longer due when we got to it

    @property
    def attempted(self) -> int:
        """Messages actually sent (whatever the outcome)."""
        return self.delivered + self.retried + self.dead


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    summary: str = ""  # Chinese, for the admin page
    detail: str = ""  # technical


class Dispatcher:
    """Sends due outbox rows to the ticket core, retrying with capped exponential backoff."""

    def __init__(
        self,
        engine: Engine,
        *,
        url: str,
        secret: str,
        timeout_s: float = 5.0,
        max_attempts: int = 8,
        base_delay_s: float = 1.0,
        max_delay_s: float = 300.0,
        batch: int = 50,
        jitter: float = 0.25,
        client: httpx.Client | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1 or batch < 1 or not 0.0 <= jitter <= 1.0:
            raise ValueError("max_attempts and batch must be ≥ 1 and jitter within [0, 1]")
        self.engine = engine
        self.url = url
        self.secret = secret
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.batch = batch
        self.jitter = jitter
        self._owns_client = client is None
        self.client = client or httpx.Client(timeout=timeout_s)
        self._timeout = httpx.Timeout(timeout_s)
        self._rng = rng or random.Random()
        self._lock_rows = engine.dialect.name == "postgresql"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one pass ---------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> DispatchStats:
        """Send every row due at `now` once (oldest first), each in its own transaction."""
        now = now or utcnow()
        stats = DispatchStats()
        after = 0
        # One session (one pooled connection) for the pass; each row is still its own
        # transaction: claim, send, record, commit.
        with Session(self.engine, expire_on_commit=False) as session:
            while True:
                ids = self._due_ids(session, now=now, after=after)
                for outbox_id in ids:
                    self._dispatch_one(session, outbox_id, now=now, stats=stats)
                if len(ids) < self.batch:
                    return stats
                after = ids[-1]

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure (capped, with downward jitter)."""
        exponent = min(max(attempts - 1, 0), _MAX_EXPONENT)
        delay = min(self.max_delay_s, self.base_delay_s * 2.0**exponent)
        return delay * (1.0 - self.jitter * self._rng.random())

    def _due_ids(self, session: Session, *, now: datetime, after: int) -> list[int]:
        # A keyset page over ids, so one pass visits each row at most once and terminates.
        stmt = (
            select(Outbox.id)
            .where(
                Outbox.status == OutboxStatus.pending,
                col(Outbox.next_attempt_at) <= now,
                col(Outbox.id) > after,
            )
            .order_by(col(Outbox.id))
            .limit(self.batch)
        )
        ids = [i for i in session.exec(stmt).all() if i is not None]
        session.rollback()  # end the read transaction before claiming rows one by one
        return ids

    def _dispatch_one(
        self, session: Session, outbox_id: int, *, now: datetime, stats: DispatchStats
    ) -> None:
        stmt = select(Outbox).where(
            Outbox.id == outbox_id,
            Outbox.status == OutboxStatus.pending,
            col(Outbox.next_attempt_at) <= now,
        )
        if self._lock_rows:
            stmt = stmt.with_for_update(skip_locked=True)
            # Losing this commit in a server crash only means the row is sent again, which the
            # core's idempotency absorbs, so it need not wait for the WAL flush.
            session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        row = session.exec(stmt).first()
        if row is None:
            session.rollback()
            stats.skipped += 1
            return
        # On PostgreSQL the row lock is held across the send: no other dispatcher can claim
        # this row until we commit the outcome.
        outcome = self._send(row)
        self._record(session, row, outcome, now=now, stats=stats)
        session.commit()
        session.expunge_all()

    def _send(self, row: Outbox) -> _Outcome:
        body = encode_payload(row.payload)
        # The signature carries real wall-clock time: the receiver checks it against its own
        # clock, whatever `now` the scheduler was given.
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            IDEMPOTENCY_HEADER: row.idempotency_key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(body, secret=self.secret, timestamp=timestamp),
        }
        try:
            response = self.client.post(
                self.url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.ConnectError as exc:
            return _Outcome(False, "无法连接工单系统（连接被拒绝或网络不通）", _exc_detail(exc))
        except httpx.TimeoutException as exc:
            return _Outcome(False, "工单系统响应超时", _exc_detail(exc))
        except httpx.TransportError as exc:
            return _Outcome(False, "与工单系统通信时网络出错", _exc_detail(exc))
        status = response.status_code
        if 200 <= status < 300 or status == 409:  # 409: the core already has this key
            return _Outcome(True)
        text = response.text[:_ERROR_BODY_CHARS]
        if status >= 500:
            return _Outcome(False, f"工单系统内部错误（HTTP {status}）", f"HTTP {status}: {text}")
        return _Outcome(False, f"工单系统拒收（HTTP {status}）", f"HTTP {status}: {text}")

    def _record(
        self,
        session: Session,
        row: Outbox,
        outcome: _Outcome,
        *,
        now: datetime,
        stats: DispatchStats,
    ) -> None:
        row.attempts += 1
        if outcome.ok:
            row.status = OutboxStatus.delivered
            row.delivered_at = utcnow()
            stats.delivered += 1
            if row.ticket_id is not None:
                # One conditional UPDATE: a ticket the core already moved on stays as it is.
                session.exec(
                    update(Ticket)
                    .where(
                        col(Ticket.id) == row.ticket_id, col(Ticket.status) == TicketStatus.pending
                    )
                    .values(status=TicketStatus.open, updated_at=row.delivered_at)
                )
        else:
            row.last_error = f"第 {row.attempts} 次投递失败：{outcome.summary}（{outcome.detail}）"
            if row.attempts >= self.max_attempts:
                row.status = OutboxStatus.dead
                stats.dead += 1
                log.warning(
                    "outbox %s dead after %s attempts: %s", row.id, row.attempts, outcome.detail
                )
            else:
                row.next_attempt_at = now + timedelta(seconds=self.backoff(row.attempts))
                stats.retried += 1
        session.add(row)

    # -- background thread ------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        """Call `run_once` every `poll_s` seconds until `stop` is set; errors are logged."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                # The database or the network may be down for a while; keep the thread alive
                # and try again on the next tick (the cause goes to the log).
                log.exception("outbox dispatch pass failed")
            stop.wait(poll_s)

    def start(self, poll_s: float = 1.0) -> None:
        """Run the dispatcher in a daemon thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_forever,
            args=(self._stop, poll_s),
            name="outbox-dispatcher",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the daemon thread; waits for the in-flight row (bounded by `timeout_s`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def close(self) -> None:
        """Stop the thread and close the HTTP client if this dispatcher created it."""
        self.stop()
        if self._owns_client:
            self.client.close()


def _exc_detail(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:_ERROR_BODY_CHARS]
