"""Request dependencies: the session (committed at the edge), the actor, the runtime."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from kb_service import auth
from kb_service.principals import Actor
from kb_service.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """The app's runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent, rolled back on error."""
    runtime = get_runtime(request)
    with Session(runtime.engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
    after = getattr(request.app.state, "after_commit", None)
    if after is not None:
        after()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def bearer_token(request: Request) -> str | None:
    """The bearer token from the Authorization header (or the kb_token cookie for pages)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get("kb_token")


def get_actor(request: Request, session: SessionDep) -> Actor:
    """The authenticated actor, or 401."""
    return auth.authenticate(session, token=bearer_token(request))


ActorDep = Annotated[Actor, Depends(get_actor)]
