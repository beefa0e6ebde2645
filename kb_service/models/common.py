"""Shared column helpers for the table modules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field

from kb_service.db import UTCDateTime, utcnow


def created_at_field() -> Any:
    """A non-null UTC timestamp defaulting to now."""
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def utc_field(*, index: bool = False) -> Any:
    """A nullable UTC timestamp."""
    return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)


__all__ = ["created_at_field", "datetime", "utc_field"]
