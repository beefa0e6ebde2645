"""The running service's parts (settings, engine, calendar, retrieval), built once at the edge."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from kb_service.config import Settings
from kb_service.db import make_engine, migrate

if TYPE_CHECKING:
    from index.encoders import Encoder
    from kb_service.search import SearchService
    from kb_service.suggestions import Calibration


@dataclass
class Runtime:
    """Everything a request or a CLI command needs; nothing heavy is built until asked for."""

    settings: Settings
    engine: Engine
    encoder_factory: Callable[[], Encoder] | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _calendar: Any = None
    _encoder: Any = None
    _search: Any = None
    _rules: Any = None
    _tokenizer: Any = None
    _similarity: Any = None

    @classmethod
    def create(cls, settings: Settings, *, migrate_db: bool = True) -> Runtime:
        """Make the engine (and bring the schema up to date)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
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

    @property
    def encoder(self) -> Encoder:
        """The embedding model (bundled e5-small unless KB_EMBEDDING_MODEL names a folder)."""
        with self._lock:
            if self._encoder is None:
                if self.encoder_factory is not None:
                    self._encoder = self.encoder_factory()
                else:
                    from index.encoders import load_encoder

                    self._encoder = load_encoder(
                        self.settings.embedding_model, self.settings.models_dir
                    )
                if self.settings.warm_up and hasattr(self._encoder, "warm_up"):
                    self._encoder.warm_up()
            return self._encoder  # type: ignore[no-any-return]

    @property
    def calibration(self) -> Calibration:
        """Answerable threshold for the configured encoder."""
        from kb_service.suggestions import Calibration

        s = self.settings
        threshold = s.answer_threshold
        if s.embedding_model is not None and s.answer_threshold_custom is not None:
            threshold = s.answer_threshold_custom
        return Calibration(threshold=threshold)

    def search(self, *, show_progress: bool = True) -> SearchService:
        """The index, loaded from its snapshot (or rebuilt) and caught up with the database."""
        with self._lock:
            if self._search is None:
                import faiss

                from kb_service.search import SearchService

                # One query at a time is faster single-threaded (measured in bench/bench_index.py).
                faiss.omp_set_num_threads(1)

                svc = SearchService(
                    engine=self.engine, encoder=self.encoder, index_dir=self.settings.index_dir
                )
                svc.open(show_progress=show_progress)
                self._search = svc
            return self._search  # type: ignore[no-any-return]

    @property
    def search_ready(self) -> bool:
        """Whether the index has been opened."""
        return self._search is not None

    @property
    def rules_cache(self) -> Any:
        """The routing rules in force (cached per saved version)."""
        with self._lock:
            if self._rules is None:
                from kb_service.intake import RulesCache

                self._rules = RulesCache()
            return self._rules

    def tokenize(self, text: str) -> list[str]:
        """jieba tokens with the hotline dictionary (shared instance)."""
        with self._lock:
            if self._tokenizer is None:
                from index.tokenize import Tokenizer

                self._tokenizer = Tokenizer()
        return self._tokenizer.tokens(text)  # type: ignore[no-any-return]

    def similarity(self) -> Any:
        """Routing's `similar_to` evaluator on the encoder (None when disabled)."""
        if not self.settings.routing_similarity:
            return None
        with self._lock:
            if self._similarity is None:
                from kb_service.intake import make_similarity

                self._similarity = make_similarity(self.encoder.encode_queries)
            return self._similarity

    def warm_up_routing(self) -> int:
        """Encode the example sentences of the rules in force (else the first intake pays)."""
        similarity = self.similarity()
        if similarity is None:
            return 0
        from sqlmodel import Session

        from kb_service.intake import warm_up_similarity

        with Session(self.engine) as session:
            rules, _ = self.rules_cache.current(session)
        return warm_up_similarity(rules, similarity)

    def related_entries(self, text: str, department: str) -> list[int]:
        """The department's entries closest in meaning to a text (for refresh obligations)."""
        from kb_service.search import split_key

        hits = self.search(show_progress=False).index.search(
            text, k=5, filters={"department": {department}, "kind": {"entry"}}
        )
        return [split_key(h.id)[1] for h in hits]

    def ticket_core(self) -> Any:
        """The configured ticket core adapter."""
        from kb_service.tickets import core_for

        return core_for(self.settings.ticket_core)

    def dispatcher(self) -> Any:
        """The outbox dispatcher for the HTTP ticket core (None for the embedded core)."""
        s = self.settings
        if s.ticket_core != "http":
            return None
        if not s.ticket_core_url or not s.ticket_core_secret:
            from kb_service.errors import Unavailable

            raise Unavailable(
                "ticket_core_not_configured",
                "工单系统为 http 时必须配置 KB_TICKET_CORE_URL 和 KB_TICKET_CORE_SECRET",
            )
        from kb_service.outbox import Dispatcher

        return Dispatcher(
            self.engine,
            url=s.ticket_core_url,
            secret=s.ticket_core_secret,
            max_attempts=s.dispatch_max_attempts,
        )

    def sweeper(self) -> Any:
        """The freshness sweeper over this runtime's database and settings."""
        from kb_service.freshness import Sweeper

        s = self.settings
        return Sweeper(
            self.engine,
            default_review_days=s.default_review_interval_days,
            calendar=self.calendar,
            workdays=s.refresh_workdays,
        )

    def close_search(self) -> None:
        """Stop the index replayer and save its snapshot."""
        with self._lock:
            if self._search is not None:
                self._search.close()
                self._search = None

    def close(self) -> None:
        """Save the index snapshot and release the engine."""
        self.close_search()
        self.engine.dispose()
