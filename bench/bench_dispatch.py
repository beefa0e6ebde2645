"""Outbox dispatch throughput: tickets/s delivered to a local ticket-core stand-in.

Run: .venv/bin/python bench/bench_dispatch.py [--rows 2000] [--database-url URL]
The stand-in (tests/standin/ticket_core.py, mode `accept`) runs in its own process and fsyncs
every key it records. The baseline, measured in the same run against the same stand-in, is the
same number of signed POSTs sent with a bare httpx client and no database: the ratio is what
the outbox's bookkeeping (claim, record the outcome, open the ticket, one commit per row) costs.
With --database-url postgresql+psycopg://... a scratch database is created there and dropped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from kb_service import bootstrap, outbox
from kb_service.db import make_engine, migrate, session_scope
from kb_service.models import Department, Ticket

# The stand-in lives with the tests; the bench runs as a script from anywhere.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.standin.ticket_core import StandIn, free_port

SECRET = "bench-secret"


def payload(i: int) -> dict[str, object]:
    """A realistic ticket message (~300 bytes of Chinese text)."""
    return {
        "ticket_no": f"B{i:07d}",
        "type": "complaint",
        "dept": "housing",
        "text": f"第{i}号：反映小区夜间施工噪音扰民，已持续一周，影响休息，请相关部门尽快处理。"
        "楼下商铺外放音乐至深夜，多次劝说无果。",
        "channel": "phone",
        "region": "西宁市城中区",
    }


def baseline(url: str, rows: int) -> float:
    """Seconds to POST `rows` signed payloads with a bare client (no database)."""
    with httpx.Client(timeout=5.0) as client:
        start = time.perf_counter()
        for i in range(rows):
            body = outbox.encode_payload(payload(i))
            ts = int(time.time())
            client.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Idempotency-Key": f"baseline-{i}",
                    "X-KB-Timestamp": str(ts),
                    "X-KB-Signature": outbox.sign(body, secret=SECRET, timestamp=ts),
                },
            ).raise_for_status()
        return time.perf_counter() - start


def seed(engine: sa.Engine, rows: int) -> None:
    """`rows` pending tickets with their outbox messages."""
    with session_scope(engine) as s:
        bootstrap.seed_departments(s)
    with session_scope(engine) as s:
        dept = s.exec(select(Department).order_by(col(Department.id))).first()
        assert dept is not None and dept.id is not None
        for i in range(rows):
            p = payload(i)
            ticket = Ticket(
                ticket_no=str(p["ticket_no"]),
                type="complaint",
                department_id=dept.id,
                text=str(p["text"]),
                core="http",
            )
            s.add(ticket)
            s.flush()
            outbox.enqueue(s, ticket_id=ticket.id, payload=p, idempotency_key=f"ticket-{i}")


def main() -> None:
    """Run both measurements and print the ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        admin: sa.Engine | None = None
        if args.database_url:
            admin = sa.create_engine(args.database_url, isolation_level="AUTOCOMMIT")
            name = f"kb_bench_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = make_url(args.database_url).set(database=name)
            engine = make_engine(url.render_as_string(hide_password=False))
        else:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'kb.sqlite3'}")
        migrate(engine)
        seed(engine, args.rows)

        with StandIn(port=free_port(), db=Path(tmp) / "core.sqlite3", secret=SECRET) as core:
            base_s = baseline(core.url, args.rows)
            dispatcher = outbox.Dispatcher(engine, url=core.url, secret=SECRET)
            start = time.perf_counter()
            stats = dispatcher.run_once()
            disp_s = time.perf_counter() - start
            dispatcher.close()
            seen = core.received()

        with Session(engine) as s:
            left = outbox.pending_count(s)
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    assert stats.delivered == args.rows and left == 0, (stats, left)
    assert seen["distinct"] == 2 * args.rows and seen["duplicates"] == 0, seen
    backend = engine.dialect.name
    base_rate = args.rows / base_s
    disp_rate = args.rows / disp_s
    print(f"outbox dispatch, {args.rows} tickets, {backend}, stand-in core in accept mode")
    print(
        f"  baseline (bare signed httpx POSTs): {base_rate:8.0f} tickets/s "
        f"({base_s / args.rows * 1000:.2f} ms each)"
    )
    print(
        f"  dispatcher run_once:                {disp_rate:8.0f} tickets/s "
        f"({disp_s / args.rows * 1000:.2f} ms each)"
    )
    print(f"  ratio dispatcher / baseline:        {disp_rate / base_rate:8.2f}")


if __name__ == "__main__":
    main()
