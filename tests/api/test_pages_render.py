"""The HTML pages: sign-in, role guards, and each page rendering for its roles."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from kb_service.runtime import Runtime

PAGES = ["/operator", "/department", "/manager"]
ALLOWED = {
    "operator": {"/operator"},
    "editor": {"/department"},
    "reviewer": {"/department"},
    "manager": {"/operator", "/department", "/manager"},
    "admin": {"/operator", "/department", "/manager"},
}
HOME = {
    "operator": "/operator",
    "editor": "/department",
    "reviewer": "/department",
    "manager": "/manager",
    "admin": "/manager",
}


@pytest.fixture
def backend() -> str:
    """Pages only need one database."""
    return "sqlite"


@pytest.fixture
def client(runtime: Runtime, seeded: Engine) -> Iterator[TestClient]:
    """The app without the search index (pages render without it)."""
    from api.app import create_app

    app = create_app(runtime.settings, runtime=runtime, with_search=False)
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_login_without_a_cookie(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next={path}"


def test_login_page_is_chinese_and_labelled(client: TestClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in r.text
    assert '<label for="token">访问令牌</label>' in r.text


def test_bad_token_is_refused_with_a_message(client: TestClient) -> None:
    r = client.post("/login", data={"token": "kb_nope"}, follow_redirects=False)
    assert r.status_code == 401
    assert "访问令牌无效" in r.text
    assert "kb_token" not in r.headers.get("set-cookie", "")


@pytest.mark.parametrize("role", list(HOME))
def test_login_sets_an_httponly_cookie_and_goes_home(
    client: TestClient, tokens: dict[str, str], role: str
) -> None:
    r = client.post("/login", data={"token": tokens[role]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == HOME[role]
    cookie = r.headers["set-cookie"].lower()
    assert "kb_token=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/", follow_redirects=False).headers["location"] == HOME[role]


def test_login_follows_only_local_next(client: TestClient, tokens: dict[str, str]) -> None:
    ok = client.post(
        "/login", data={"token": tokens["manager"], "next": "/department"}, follow_redirects=False
    )
    assert ok.headers["location"] == "/department"
    evil = client.post(
        "/login",
        data={"token": tokens["manager"], "next": "//evil.example"},
        follow_redirects=False,
    )
    assert evil.headers["location"] == "/manager"


@pytest.mark.parametrize("role", list(ALLOWED))
@pytest.mark.parametrize("path", PAGES)
def test_each_page_renders_only_for_its_roles(
    client: TestClient, tokens: dict[str, str], role: str, path: str
) -> None:
    client.cookies.set("kb_token", tokens[role])
    r = client.get(path, follow_redirects=False)
    if path in ALLOWED[role]:
        assert r.status_code == 200, r.text
        assert '<main id="main"' in r.text and "/static/common.js" in r.text
    else:
        assert r.status_code == 403
        assert "无权访问" in r.text and r.headers["content-type"].startswith("text/html")


def test_navigation_shows_only_allowed_pages(client: TestClient, tokens: dict[str, str]) -> None:
    client.cookies.set("kb_token", tokens["operator"])
    text = client.get("/operator").text
    assert 'href="/operator"' in text
    assert 'href="/manager"' not in text and 'href="/department"' not in text


def test_reviewer_gets_review_buttons_and_editor_does_not(
    client: TestClient, tokens: dict[str, str]
) -> None:
    client.cookies.set("kb_token", tokens["reviewer"])
    assert "批准发布" in client.get("/department").text
    client.cookies.set("kb_token", tokens["editor"])
    assert "批准发布" not in client.get("/department").text


def test_logout_clears_the_cookie(client: TestClient, tokens: dict[str, str]) -> None:
    client.cookies.set("kb_token", tokens["operator"])
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert (
        'kb_token=""' in r.headers["set-cookie"] or "max-age=0" in r.headers["set-cookie"].lower()
    )


def test_api_accepts_the_cookie(client: TestClient, tokens: dict[str, str]) -> None:
    client.cookies.set("kb_token", tokens["editor"])
    assert client.get("/api/v1/me").json()["role"] == "editor"


@pytest.mark.parametrize(
    "name", ["app.css", "common.js", "login.js", "operator.js", "department.js", "manager.js"]
)
def test_static_files_are_served(client: TestClient, name: str) -> None:
    r = client.get(f"/static/{name}")
    assert r.status_code == 200 and len(r.content) > 100
