"""The FastAPI app factory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.limits import BodyLimit
from api.routes import entries, meta
from kb_service.config import Settings, get_settings
from kb_service.runtime import Runtime


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; the runtime (engine, index, model) is made at startup, not import."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = settings or (runtime.settings if runtime else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        rt = runtime or Runtime.create(settings)
        app.state.runtime = rt
        try:
            yield
        finally:
            if own:
                rt.close()

    app = FastAPI(
        title="12345 热线知识库服务 kb-service",
        description="答复口径知识库、单位推送接口与智能答复建议",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.max_body_bytes = settings.max_body_bytes
    if runtime is not None:
        app.state.runtime = runtime
    errors.install(app)
    app.include_router(meta.router)
    app.include_router(entries.router)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app
