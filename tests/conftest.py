"""Shared fixtures: every database test runs on a real SQLite file and, when
KB_TEST_POSTGRES_URL is set, on a real PostgreSQL database too."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

from kb_service.config import Settings
from kb_service.db import make_engine, migrate
from kb_service.runtime import Runtime

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The PostgreSQL half runs against KB_TEST_POSTGRES_URL; unset, against the machine's own server
# on 127.0.0.1:5432 when one answers (each session creates and drops its own database there);
# set to "" to run the SQLite half only.
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str | None:
    url = os.environ.get("KB_TEST_POSTGRES_URL")
    if url is not None:
        return url or None
    import psycopg

    try:
        psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=2
        ).close()
    except psycopg.Error:
        return None
    return PG_DEFAULT


PG_URL = _postgres_url()
REPO_ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "kb.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """A fresh PostgreSQL database for this test session, migrated once, dropped at the end."""
    if not PG_URL:
        pytest.skip(
            "PostgreSQL half skipped: no server answers on 127.0.0.1:5432 and "
            f"KB_TEST_POSTGRES_URL is not set (e.g. {PG_DEFAULT})"
        )
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"kb_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"KB_TEST_POSTGRES_URL is set but PostgreSQL does not answer: {exc}")
    engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    migrate(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    import kb_service.models  # noqa: F401

    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database this test runs on."""
    name: str = request.param
    if name == "postgres":
        request.applymarker(pytest.mark.postgres)
    return name


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a temporary data dir (no demo, no warm-up)."""
    return Settings(
        data_dir=tmp_path / "var",
        load_demo=False,
        warm_up=False,
        max_body_bytes=64_000,
        batch_max_items=1000,
        sweep_interval_s=0,  # no background sweeper racing the test's own writes (tested apart)
    )


@pytest.fixture
def engine(
    backend: str, settings: Settings, sqlite_template: Path, request: pytest.FixtureRequest
) -> Iterator[Engine]:
    """A migrated, empty database on the chosen backend."""
    if backend == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path = settings.data_dir / "kb.sqlite3"
        shutil.copy(sqlite_template, path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("postgres_engine")
        _truncate(eng)
        yield eng


@pytest.fixture
def runtime(settings: Settings, engine: Engine) -> Runtime:
    """A runtime over the test database, with the fast fake encoder."""
    from index.encoders import FakeEncoder

    return Runtime(settings=settings, engine=engine, encoder_factory=lambda: FakeEncoder(128))


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database (tests commit when they mean to)."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """The database with the bundled department table."""
    from kb_service import bootstrap
    from kb_service.db import session_scope

    with session_scope(engine) as s:
        bootstrap.seed_departments(s)
    return engine


@pytest.fixture
def client(runtime: Runtime, seeded: Engine) -> Iterator[TestClient]:
    """An HTTP client against the app on the test database."""
    from api.app import create_app

    app = create_app(runtime.settings, runtime=runtime)
    with TestClient(app) as c:
        yield c
    runtime.close_search()


@pytest.fixture
def tokens(seeded: Engine) -> dict[str, str]:
    """Bearer tokens by role: editor/reviewer of hotline, editor of medical-insurance, etc."""
    from kb_service import auth
    from kb_service.db import session_scope

    spec = {
        "operator": ("operator", None),
        "editor": ("editor", "hotline"),
        "reviewer": ("reviewer", "hotline"),
        "editor_mi": ("editor", "medical-insurance"),
        "reviewer_mi": ("reviewer", "medical-insurance"),
        "manager": ("manager", None),
        "admin": ("admin", None),
    }
    out: dict[str, str] = {}
    with session_scope(seeded) as s:
        for key, (role, dept) in spec.items():
            _, out[key] = auth.create_token(s, name=key, role=role, department_code=dept)
    return out


def _models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # KB_TEST_MODELS_DIR keeps the converted folder between sessions (conversion takes ~10 s):
    # a path is used as given; "1"/"true"/"yes" mean the repo's var/test-models.
    env = os.environ.get("KB_TEST_MODELS_DIR", "").strip()
    if not env:
        return tmp_path_factory.mktemp("models")
    if env.lower() in {"1", "true", "yes"}:
        return REPO_ROOT / "var" / "test-models"
    return Path(env)


@pytest.fixture(scope="session")
def bundled_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled multilingual-e5-small converted to a sentence-transformers folder (once)."""
    from index.e5_bundled import ensure_bundled_model

    return ensure_bundled_model(_models_dir(tmp_path_factory), show_progress=False)


@pytest.fixture(scope="session")
def real_encoder(bundled_model_dir: Path):  # type: ignore[no-untyped-def]
    """The real bundled model, loaded once per test session."""
    from index.encoders import SentenceTransformerEncoder

    enc = SentenceTransformerEncoder(bundled_model_dir)
    enc.warm_up()
    return enc
