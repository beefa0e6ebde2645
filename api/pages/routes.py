"""HTML pages: /login, /logout, / and the three role pages (data comes from the JSON API)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from kb_service import auth, departments
from kb_service.errors import KBError
from kb_service.models import Role
from kb_service.principals import ROLE_LABELS, Actor
from kb_service.timelimits import TICKET_TYPE_LABELS

COOKIE = "kb_token"
COOKIE_MAX_AGE = 12 * 3600
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))

# Which roles may open which page, and each role's home page.
PAGES: dict[str, tuple[str, tuple[Role, ...]]] = {
    "/operator": ("话务助手", (Role.operator, Role.manager, Role.admin)),
    "/department": ("单位工作台", (Role.editor, Role.reviewer, Role.manager, Role.admin)),
    "/manager": ("管理看板", (Role.manager, Role.admin)),
}
HOME = {
    Role.operator: "/operator",
    Role.editor: "/department",
    Role.reviewer: "/department",
    Role.manager: "/manager",
    Role.admin: "/manager",
}

router = APIRouter(include_in_schema=False)


def current_actor(request: Request) -> Actor | None:
    """The actor behind the kb_token cookie, or None when absent or invalid."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    with Session(request.app.state.runtime.engine, expire_on_commit=False) as session:
        try:
            actor = auth.authenticate(session, token=token)
        except KBError:
            return None
        session.commit()
    return actor


def _nav(actor: Actor) -> list[dict[str, str]]:
    return [
        {"href": href, "label": label}
        for href, (label, roles) in PAGES.items()
        if actor.role in roles
    ]


def _render(
    request: Request, name: str, actor: Actor | None, status: int = 200, **extra: Any
) -> HTMLResponse:
    context: dict[str, Any] = {
        "actor": actor,
        "role_label": ROLE_LABELS[actor.role] if actor else "",
        "nav": _nav(actor) if actor else [],
        "path": request.url.path,
        **extra,
    }
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _safe_next(value: str | None) -> str | None:
    """Only same-site absolute paths are followed after sign-in."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _guard(request: Request, path: str) -> Actor | Response:
    """The actor allowed on `path`, a redirect to /login, or the 403 page."""
    actor = current_actor(request)
    if actor is None:
        return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
    label, roles = PAGES[path]
    if actor.role not in roles:
        allowed = "、".join(ROLE_LABELS[r] for r in roles)
        return _render(
            request,
            "forbidden.html",
            actor,
            status=403,
            title="无权访问",
            message=f"“{label}”仅对{allowed}开放，您当前的角色是{ROLE_LABELS[actor.role]}。",
            home=HOME[actor.role],
        )
    return actor


def _departments(request: Request) -> list[dict[str, str]]:
    with Session(request.app.state.runtime.engine) as session:
        return [{"code": d.code, "name": d.name} for d in departments.list_all(session)]


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form (a token)."""
    return _render(request, "login.html", None, title="登录", next=_safe_next(next) or "")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the token (as GET /api/v1/me does) and keep it in an HttpOnly cookie."""
    token = token.strip()
    with Session(request.app.state.runtime.engine, expire_on_commit=False) as session:
        try:
            actor = auth.authenticate(session, token=token)
        except KBError as exc:
            return _render(
                request,
                "login.html",
                None,
                status=401,
                title="登录",
                next=_safe_next(next) or "",
                error=exc.message if token else "请输入访问令牌",
            )
        session.commit()
    target = _safe_next(next) or HOME[actor.role]
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.api_route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    """Forget the cookie and go back to the sign-in page."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request) -> Response:
    """Each role's own page."""
    actor = current_actor(request)
    if actor is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME[actor.role], status_code=303)


@router.get("/operator", response_class=HTMLResponse)
def operator_page(request: Request) -> Response:
    """The operator's suggestion sidebar."""
    actor = _guard(request, "/operator")
    if isinstance(actor, Response):
        return actor
    return _render(
        request,
        "operator.html",
        actor,
        title="话务助手",
        departments=_departments(request),
        ticket_types=[{"code": t.value, "label": label} for t, label in TICKET_TYPE_LABELS.items()],
    )


@router.get("/department", response_class=HTMLResponse)
def department_page(request: Request) -> Response:
    """The department's entries, reviews, obligations and uploads."""
    actor = _guard(request, "/department")
    if isinstance(actor, Response):
        return actor
    return _render(
        request,
        "department.html",
        actor,
        title="单位工作台",
        departments=_departments(request),
        can_review=actor.role in (Role.reviewer, Role.manager, Role.admin),
        review_days=request.app.state.runtime.settings.default_review_interval_days,
    )


@router.get("/manager", response_class=HTMLResponse)
def manager_page(request: Request) -> Response:
    """Indicators by department, trends, knowledge gaps and reports."""
    actor = _guard(request, "/manager")
    if isinstance(actor, Response):
        return actor
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    last_month = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    return _render(
        request,
        "manager.html",
        actor,
        title="管理看板",
        year=today.year,
        start=date(today.year, 1, 1).isoformat(),
        end=today.isoformat(),
        period=f"{last_month.year}-{last_month.month:02d}",
    )
