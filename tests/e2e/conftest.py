"""A live server (uvicorn in a thread, demo KB, fake encoder) and Debian Chromium via Playwright."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ROLES = {
    "operator": ("operator", None),
    "editor": ("editor", "hotline"),
    "reviewer": ("reviewer", "hotline"),
    "manager": ("manager", None),
}


@dataclass
class LiveServer:
    """Where the app listens and the tokens to sign in with."""

    url: str
    tokens: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium; missing → fail under CI, skip elsewhere."""
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} not found: browser tests need Debian chromium "
            "(apt-get install -y chromium)"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " — CI is set, so this is an error, not a skip")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app on 127.0.0.1 over a temp SQLite DB with the demo KB and one token per role."""
    import uvicorn

    from api.app import create_app
    from index.encoders import FakeEncoder
    from kb_service import auth, bootstrap
    from kb_service.config import Settings
    from kb_service.db import make_engine, migrate, session_scope
    from kb_service.runtime import Runtime

    root = tmp_path_factory.mktemp("e2e")
    # No background sweeper: the pages read the inbox, which sweeps (the sweeper is tested apart).
    settings = Settings(data_dir=root / "var", load_demo=False, warm_up=False, sweep_interval_s=0)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{root / 'kb.sqlite3'}")
    migrate(engine)
    tokens: dict[str, str] = {}
    with session_scope(engine) as s:
        bootstrap.seed_departments(s)
        bootstrap.load_demo(s)
        for key, (role, dept) in ROLES.items():
            _, tokens[key] = auth.create_token(
                s, name=f"测试{key}", role=role, department_code=dept
            )
    runtime = Runtime(settings=settings, engine=engine, encoder_factory=lambda: FakeEncoder(128))
    app = create_app(settings, runtime=runtime)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 60 s")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", tokens=tokens)
    server.should_exit = True
    thread.join(timeout=30)
    runtime.close()


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    """One headless Chromium for the session."""
    from playwright.sync_api import expect, sync_playwright

    # Assertions have their own 5 s default; CI machines are shared and sometimes slow.
    expect.set_options(timeout=20_000)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def sign_in(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """sign_in(role, width=1280, height=800) → a page signed in through the /login form."""
    contexts: list[Any] = []

    def _sign_in(role: str, width: int = 1280, height: int = 800) -> Any:
        ctx = browser.new_context(
            viewport={"width": width, "height": height},
            locale="zh-CN",
            accept_downloads=True,
            base_url=live_server.url,
        )
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto("/login")
        page.get_by_label("访问令牌").fill(live_server.tokens[role])
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    yield _sign_in
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def api(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """api(role) → a Playwright request context calling the HTTP API with that role's token."""
    contexts: list[Any] = []

    def _api(role: str) -> Any:
        ctx = browser.new_context(
            base_url=live_server.url,
            extra_http_headers={"Authorization": f"Bearer {live_server.tokens[role]}"},
        )
        contexts.append(ctx)
        return ctx.request

    yield _api
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the page screenshots go (committed with the docs)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
