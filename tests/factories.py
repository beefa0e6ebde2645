"""Small builders shared by tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def bearer(token: str) -> dict[str, str]:
    """Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def content(**over: Any) -> dict[str, Any]:
    """A valid entry payload (a consultation time-limit answer), with overrides."""
    data: dict[str, Any] = {
        "question": "咨询类工单多久答复",
        "similar_questions": ["咨询的问题几天能回复", "问个事要等多久"],
        "answer": "您好，一般咨询求助类工单，承办单位会在2个工作日内答复您。",
        "category": "办理时限",
        "tags": ["时限"],
        "sources": [{"doc_no": "青政办〔2022〕57号", "locator": "第十四条（四）"}],
        "valid_from": "2022-08-02",
    }
    data.update(over)
    return data


def wait_for(predicate: Callable[[], object], *, what: str, timeout_s: float = 30.0) -> None:
    """Poll until predicate() is true; fail naming `what` after timeout_s (a bound, not a goal)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
