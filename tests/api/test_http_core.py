"""The HTTP ticket core end to end: intake → outbox → signed delivery → signed events back."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from kb_service import outbox
from kb_service.models import Outbox, Ticket, TicketEvent
from tests.factories import bearer, wait_for
from tests.standin.ticket_core import StandIn, free_port

SECRET = "test-secret-Ω"


@pytest.fixture
def http_client(runtime, seeded, tmp_path):
    """The app configured with the HTTP ticket core pointing at a stand-in process."""
    from api.app import create_app

    core = StandIn(port=free_port(), db=tmp_path / "core.sqlite3", secret=SECRET).start()
    runtime.settings.ticket_core = "http"
    runtime.settings.ticket_core_url = core.url
    runtime.settings.ticket_core_secret = SECRET
    app = create_app(runtime.settings, runtime=runtime)
    with TestClient(app) as c:
        yield c, core
    runtime.close_search()
    core.stop()


def _ticket_status(engine) -> str:
    with Session(engine) as s:
        return str(s.exec(select(Ticket)).one().status)


def _signed(body: dict, *, secret: str = SECRET, ts: int | None = None) -> tuple[bytes, dict]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    ts = ts if ts is not None else int(time.time())
    return raw, {
        "X-KB-Timestamp": str(ts),
        "X-KB-Signature": outbox.sign(raw, secret=secret, timestamp=ts),
        "Content-Type": "application/json",
    }


def test_ticket_is_delivered_once_and_events_come_back_signed(http_client, tokens, engine):
    client, core = http_client
    out = client.post(
        "/api/v1/intake",
        json={"text": "我要投诉小区门口餐馆油烟扰民好几个月了", "at": "2026-10-12T09:00:00+08:00"},
        headers=bearer(tokens["operator"]),
    ).json()
    no = out["ticket"]["ticket_no"]
    assert out["ticket"]["status"] == "pending"
    with Session(engine) as s:
        assert s.exec(select(Outbox)).one().idempotency_key == no
    # The core records the ticket before it answers, and the dispatcher marks the ticket open
    # only after that answer: wait for the second, which implies the first.
    wait_for(lambda: _ticket_status(engine) == "open", what="the ticket to open")
    assert _ticket_status(engine) == "open"
    assert core.received()["keys"] == [no]

    event = {
        "event_id": str(uuid.uuid4()),
        "ticket_no": no,
        "kind": "closed",
        "at": "2026-10-14T16:00:00+08:00",
        "detail": {"result": "已整改"},
    }
    raw, headers = _signed(event)
    r = client.post("/api/v1/ticket-events", content=raw, headers=headers)
    assert r.status_code == 200 and r.json() == {"applied": True, "duplicate": False}
    r = client.post("/api/v1/ticket-events", content=raw, headers=headers)  # replayed
    assert r.json() == {"applied": False, "duplicate": True}
    with Session(engine) as s:
        assert len(s.exec(select(TicketEvent).where(TicketEvent.kind == "closed")).all()) == 1
        assert s.exec(select(Ticket)).one().status == "closed"


def test_unsigned_forged_or_stale_events_are_refused(http_client):
    client, _ = http_client
    event = {
        "event_id": "e1",
        "ticket_no": "GD-x",
        "kind": "accepted",
        "at": "2026-10-14T16:00:00+08:00",
    }
    raw = json.dumps(event).encode()
    r = client.post(
        "/api/v1/ticket-events", content=raw, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 401 and r.json()["error"] == "signature_invalid"
    raw, headers = _signed(event, secret="wrong")
    assert client.post("/api/v1/ticket-events", content=raw, headers=headers).status_code == 401
    raw, headers = _signed(event, ts=int(time.time()) - 3600)
    r = client.post("/api/v1/ticket-events", content=raw, headers=headers)
    assert r.status_code == 401 and r.json()["error"] == "signature_expired"
