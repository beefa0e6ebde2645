"""Outbox delivery to the ticket core: signatures, retries, dead letters, crashes, concurrency.

The ticket core is a real HTTP stand-in in its own process (tests/standin/ticket_core.py) that
dedupes by Idempotency-Key; "exactly once as the core sees it" = every key recorded once.
Scheduling uses an explicit `now`; waits on other processes are bounded polls.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from kb_service import outbox
from kb_service.db import session_scope, utcnow
from kb_service.errors import Conflict, NotFound, Unauthorized
from kb_service.models import Department, Outbox, OutboxStatus, Ticket, TicketStatus
from tests.factories import wait_for
from tests.standin.ticket_core import REPO_ROOT, StandIn, free_port

SECRET = "test-secret-热线"


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Callable[..., StandIn]]:
    """Factory for stand-in cores (free port, own SQLite file); all stopped at teardown."""
    started: list[StandIn] = []

    def make(mode: str = "accept", *, start: bool = True, **options: float) -> StandIn:
        n = len(started)
        standin = StandIn(
            port=free_port(),
            db=tmp_path / f"core{n}.sqlite3",
            secret=SECRET,
            mode=mode,
            **options,
        )
        started.append(standin)
        return standin.start() if start else standin

    yield make
    for standin in started:
        standin.stop()


def _make_tickets(engine: Engine, n: int, *, prefix: str = "T") -> list[str]:
    """`n` pending tickets, each with its outbox row, committed as `tickets.py` would."""
    keys: list[str] = []
    with session_scope(engine) as s:
        dept = s.exec(select(Department).order_by(col(Department.id))).first()
        assert dept is not None and dept.id is not None
        for i in range(n):
            ticket = Ticket(
                ticket_no=f"{prefix}{i:05d}",
                type="complaint",
                department_id=dept.id,
                text=f"第{i}号：小区夜间施工噪音扰民，请相关部门处理。",
                core="http",
            )
            s.add(ticket)
            s.flush()
            key = f"ticket-{ticket.ticket_no}"
            outbox.enqueue(
                s,
                ticket_id=ticket.id,
                idempotency_key=key,
                payload={"ticket_no": ticket.ticket_no, "text": ticket.text, "dept": dept.code},
            )
            keys.append(key)
    return keys


def _rows(engine: Engine) -> list[Outbox]:
    with Session(engine) as s:
        return list(s.exec(select(Outbox).order_by(col(Outbox.id))).all())


def _ticket_statuses(engine: Engine) -> set[str]:
    with Session(engine) as s:
        return {t.status for t in s.exec(select(Ticket)).all()}


def _dispatcher(engine: Engine, url: str, **kw: Any) -> outbox.Dispatcher:
    opts: dict[str, Any] = {"timeout_s": 2.0, "base_delay_s": 1.0, "jitter": 0.0}
    opts.update(kw)
    return outbox.Dispatcher(engine, url=url, secret=SECRET, **opts)


# --- signatures ------------------------------------------------------------------------------


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = '{"text":"噪音扰民"}'.encode()
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert outbox.sign(body, secret="k", timestamp=1700000000) == expected


def test_verify_accepts_good_and_rejects_tampered_wrong_secret_and_stale() -> None:
    body = outbox.encode_payload({"ticket_no": "T1", "text": "噪音扰民"})
    ts = 1_800_000_000
    sig = outbox.sign(body, secret=SECRET, timestamp=ts)
    outbox.verify(body, secret=SECRET, timestamp=ts, signature=sig, now=ts + 299)

    with pytest.raises(Unauthorized) as tampered:
        outbox.verify(
            body.replace(b"T1", b"T2"), secret=SECRET, timestamp=ts, signature=sig, now=ts
        )
    assert tampered.value.code == "signature_invalid"
    with pytest.raises(Unauthorized) as wrong:
        outbox.verify(body, secret="another", timestamp=ts, signature=sig, now=ts)
    assert wrong.value.code == "signature_invalid"
    with pytest.raises(Unauthorized) as moved:  # the timestamp is part of what is signed
        outbox.verify(body, secret=SECRET, timestamp=ts + 1, signature=sig, now=ts)
    assert moved.value.code == "signature_invalid"
    with pytest.raises(Unauthorized) as stale:
        outbox.verify(body, secret=SECRET, timestamp=ts, signature=sig, now=ts + 301)
    assert stale.value.code == "signature_expired" and "过期" in stale.value.message


def test_core_refuses_a_wrongly_signed_message_and_it_is_retried(seeded, core) -> None:
    standin = core("accept")
    _make_tickets(seeded, 1)
    d = outbox.Dispatcher(seeded, url=standin.url, secret="wrong", jitter=0.0)
    stats = d.run_once()
    d.close()
    assert stats.retried == 1
    (row,) = _rows(seeded)
    assert row.status == OutboxStatus.pending and row.attempts == 1
    assert row.last_error is not None and "拒收（HTTP 401）" in row.last_error
    seen = standin.received()
    assert seen["bad_signatures"] == 1 and seen["distinct"] == 0


# --- backoff ---------------------------------------------------------------------------------


def test_backoff_doubles_from_base_is_capped_and_jitter_only_shortens(engine) -> None:
    d = outbox.Dispatcher(
        engine,
        url="http://127.0.0.1:9/",
        secret="s",
        base_delay_s=2.0,
        max_delay_s=60.0,
        jitter=0.0,
    )
    assert [d.backoff(n) for n in range(1, 8)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert d.backoff(10_000) == 60.0
    jittered = outbox.Dispatcher(
        engine,
        url="http://127.0.0.1:9/",
        secret="s",
        base_delay_s=2.0,
        max_delay_s=60.0,
        jitter=0.5,
    )
    for n in range(1, 8):
        assert d.backoff(n) * 0.5 <= jittered.backoff(n) <= d.backoff(n)
    d.close()
    jittered.close()


# --- delivery --------------------------------------------------------------------------------


def test_enqueue_flushes_without_committing(seeded) -> None:
    with Session(seeded) as s:
        row = outbox.enqueue(s, ticket_id=None, payload={"a": 1}, idempotency_key="k-1")
        assert row.id is not None and row.status == OutboxStatus.pending
        assert outbox.pending_count(s) == 1
        s.rollback()
    with Session(seeded) as s:
        assert outbox.pending_count(s) == 0


def test_delivered_ticket_opens_and_core_gets_signed_payload_once(seeded, core) -> None:
    standin = core("accept")
    keys = _make_tickets(seeded, 3)
    d = _dispatcher(seeded, standin.url)
    stats = d.run_once()
    assert (stats.delivered, stats.retried, stats.dead) == (3, 0, 0)
    assert d.run_once().attempted == 0  # nothing left to send
    d.close()

    rows = _rows(seeded)
    assert all(r.status == OutboxStatus.delivered and r.delivered_at for r in rows)
    assert all(r.attempts == 1 and r.last_error is None for r in rows)
    assert _ticket_statuses(seeded) == {TicketStatus.open}
    seen = standin.received()
    assert sorted(seen["keys"]) == sorted(keys)
    assert (seen["duplicates"], seen["bad_signatures"]) == (0, 0)


def test_every_ticket_arrives_once_through_refusal_500s_timeouts_and_duplicates(
    seeded, core
) -> None:
    keys = _make_tickets(seeded, 4)
    # slow_s well above timeout_s, and timeout_s long enough for a loaded CI machine to let the
    # core record the ticket before we give up on its answer.
    standin = core("fail500", start=False, slow_s=6.0)  # port closed: connection refused
    d = _dispatcher(seeded, standin.url, timeout_s=2.0, base_delay_s=1.0)
    t0 = utcnow()

    stats = d.run_once(now=t0)
    assert stats.retried == 4
    rows = _rows(seeded)
    assert all(r.attempts == 1 and r.next_attempt_at == t0 + timedelta(seconds=1) for r in rows)
    assert all("无法连接工单系统" in (r.last_error or "") for r in rows)
    assert d.run_once(now=t0).attempted == 0  # backing off: not due yet

    standin.start()  # up, but failing with 500
    t1 = t0 + timedelta(seconds=1)
    assert d.run_once(now=t1).retried == 4
    rows = _rows(seeded)
    assert all(r.attempts == 2 and r.next_attempt_at == t1 + timedelta(seconds=2) for r in rows)
    assert all("内部错误（HTTP 500）" in (r.last_error or "") for r in rows)
    assert d.run_once(now=t1 + timedelta(seconds=1.9)).attempted == 0

    standin.set_mode("slow")  # the core stores each ticket but answers after our timeout
    t2 = t1 + timedelta(seconds=2)
    assert d.run_once(now=t2).retried == 4
    rows = _rows(seeded)
    assert all(r.attempts == 3 and "超时" in (r.last_error or "") for r in rows)
    wait_for(  # the core's slow handlers are still finishing
        lambda: standin.received()["distinct"] >= 4, timeout_s=20, what="the slow handlers"
    )
    assert standin.received()["distinct"] == 4

    standin.set_mode("dup_accept")  # and now answers 200 to keys it already has
    t3 = t2 + timedelta(seconds=4)
    assert d.run_once(now=t3).delivered == 4
    d.close()

    assert all(r.status == OutboxStatus.delivered and r.attempts == 4 for r in _rows(seeded))
    assert _ticket_statuses(seeded) == {TicketStatus.open}
    seen = standin.received()
    assert sorted(seen["keys"]) == sorted(keys)  # each key recorded exactly once
    assert seen["duplicates"] == 4  # the re-sends after the timeouts, absorbed by the core


def test_flaky_core_is_retried_with_backoff_until_it_accepts(seeded, core) -> None:
    standin = core("flaky", flaky_n=2)
    keys = _make_tickets(seeded, 3)
    d = _dispatcher(seeded, standin.url, base_delay_s=0.5)
    now = utcnow()
    results = []
    for _ in range(3):
        results.append(d.run_once(now=now))
        now += timedelta(seconds=10)
    d.close()
    assert [(s.delivered, s.retried) for s in results] == [(0, 3), (0, 3), (3, 0)]
    seen = standin.received()
    assert sorted(seen["keys"]) == sorted(keys)
    assert (seen["duplicates"], seen["requests"]) == (0, 9)


def test_already_have_it_409_counts_as_delivered(seeded, core) -> None:
    standin = core("accept")
    (key,) = _make_tickets(seeded, 1)
    # The core got it before (say, from a dispatcher that crashed before it could commit).
    d = _dispatcher(seeded, standin.url)
    d._send(_rows(seeded)[0])
    assert d.run_once().delivered == 1
    d.close()
    seen = standin.received()
    assert seen["keys"] == [key] and seen["duplicates"] == 1


# --- dead letters ----------------------------------------------------------------------------


def test_dead_letter_after_max_attempts_then_resend_arrives_once(seeded, core) -> None:
    standin = core("fail500")
    (key,) = _make_tickets(seeded, 1)
    d = _dispatcher(seeded, standin.url, max_attempts=3, base_delay_s=1.0)
    now = utcnow()
    outcomes = []
    for _ in range(4):
        outcomes.append(d.run_once(now=now))
        now += timedelta(hours=1)
    assert [(s.retried, s.dead) for s in outcomes] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    assert standin.received()["requests"] == 3  # a dead letter is not sent again

    with Session(seeded) as s:
        (dead,) = outbox.dead_letters(s)
        assert dead.idempotency_key == key and dead.attempts == 3
        assert dead.last_error is not None and dead.last_error.startswith("第 3 次投递失败")
        assert outbox.pending_count(s) == 0
        assert dead.id is not None
        dead_id = dead.id

        again = outbox.resend(s, outbox_id=dead_id, now=now)
        assert (again.status, again.attempts) == (OutboxStatus.pending, 0)
        s.commit()
        assert outbox.pending_count(s) == 1 and outbox.dead_letters(s) == []

    standin.set_mode("accept")
    assert d.run_once(now=now).delivered == 1
    d.close()
    seen = standin.received()
    assert seen["keys"] == [key] and seen["duplicates"] == 0
    assert _ticket_statuses(seeded) == {TicketStatus.open}

    with Session(seeded) as s:
        with pytest.raises(Conflict) as delivered:
            outbox.resend(s, outbox_id=dead_id)
        assert delivered.value.code == "outbox_already_delivered"
        with pytest.raises(NotFound) as missing:
            outbox.resend(s, outbox_id=dead_id + 1000)
        assert missing.value.code == "outbox_not_found"


def test_ticket_already_moved_on_is_not_reopened(seeded, core) -> None:
    standin = core("accept")
    _make_tickets(seeded, 1)
    with session_scope(seeded) as s:
        ticket = s.exec(select(Ticket)).one()
        ticket.status = TicketStatus.closed
        s.add(ticket)
    d = _dispatcher(seeded, standin.url)
    assert d.run_once().delivered == 1
    d.close()
    assert _ticket_statuses(seeded) == {TicketStatus.closed}


# --- crash safety ----------------------------------------------------------------------------


def test_sigkill_mid_batch_loses_nothing_and_core_sees_each_key_once(seeded, core) -> None:
    keys = _make_tickets(seeded, 200)
    standin = core("accept", delay_s=0.03)  # ≥ 6 s for the batch: plenty of time to kill it
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.standin.dispatch_worker",
            "--db-url",
            seeded.url.render_as_string(hide_password=False),
            "--url",
            standin.url,
            "--secret",
            SECRET,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: standin.received()["distinct"] >= 40,
            timeout_s=60,
            what="the worker to deliver 40 tickets",
        )
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)

    with Session(seeded) as s:
        left = outbox.pending_count(s)
    assert 0 < left < 200  # it really died mid-batch

    standin.set_mode("accept", delay_s=0.0)
    d = _dispatcher(seeded, standin.url)

    # On PostgreSQL the dead worker's row lock goes once the server notices the closed
    # connection; until then SKIP LOCKED passes over that row, so allow a few passes.
    def finished() -> bool:
        d.run_once()
        with Session(seeded) as s:
            return outbox.pending_count(s) == 0

    wait_for(finished, timeout_s=30, what="the second dispatcher to finish")
    d.close()

    rows = _rows(seeded)
    assert len(rows) == 200 and all(r.status == OutboxStatus.delivered for r in rows)
    assert _ticket_statuses(seeded) == {TicketStatus.open}
    seen = standin.received()
    assert seen["distinct"] == 200 and sorted(seen["keys"]) == sorted(keys)
    assert seen["duplicates"] <= 1  # at most the one in flight when the worker died


# --- concurrency and the background thread ---------------------------------------------------


# PostgreSQL only: SQLite has no row locks, and one dispatcher per SQLite database is the
# documented deployment, so there is no SQLite half to skip.
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_dispatchers_on_postgres_never_send_the_same_row(seeded, core) -> None:
    keys = _make_tickets(seeded, 60)
    standin = core("accept", delay_s=0.01)
    dispatchers = [_dispatcher(seeded, standin.url) for _ in range(2)]
    stats: list[outbox.DispatchStats] = []
    threads = [threading.Thread(target=lambda d=d: stats.append(d.run_once())) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for d in dispatchers:
        d.close()
    assert sum(s.delivered for s in stats) == 60
    assert all(s.delivered > 0 for s in stats)  # both took part
    seen = standin.received()
    assert sorted(seen["keys"]) == sorted(keys)
    assert (seen["duplicates"], seen["requests"]) == (0, 60)


def test_background_thread_delivers_and_stops(seeded, core) -> None:
    standin = core("accept")
    keys = _make_tickets(seeded, 5)
    d = _dispatcher(seeded, standin.url)
    d.start(poll_s=0.05)

    def drained() -> bool:
        with Session(seeded) as s:
            return outbox.pending_count(s) == 0

    try:
        wait_for(drained, timeout_s=30, what="the background dispatcher")
    finally:
        d.close()
    assert d._thread is None
    assert sorted(standin.received()["keys"]) == sorted(keys)
