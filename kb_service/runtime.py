"""The running service's parts (settings, engine, calendar, retrieval), built once at the edge."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from kb_service.config import Settings
from kb_service.db import make_engine, migrate


@dataclass
class Runtime:
    """Everything a request or a CLI command needs; nothing heavy is built until asked for."""

    settings: Settings
    engine: Engine
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _calendar: Any = None
    _search: Any = None

    @classmethod
    def create(cls, settings: Settings, *, migrate_db: bool = True) -> Runtime:
        """Make the engine (and bring the schema up to date)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.db_url)
        if migrate_db:
            migrate(engine)
        return cls(settings=settings, engine=engine)

    @property
    def calendar(self) -> Any:
        """The working-day calendar (the library's, plus the operator's file if configured)."""
        with self._lock:
            if self._calendar is None:
                from kb_service.workdays import WorkCalendar

                path = self.settings.calendar_file
                self._calendar = WorkCalendar.from_file(path) if path else WorkCalendar()
            return self._calendar

    def close(self) -> None:
        """Release the engine and stop background work."""
        search = self._search
        if search is not None and hasattr(search, "close"):
            search.close()
        self.engine.dispose()
