"""The FastAPI app factory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors
from api.limits import BodyLimit
from api.pages import routes as pages
from api.routes import documents, entries, freshness, meta, suggest, tickets
from kb_service.config import Settings, get_settings
from kb_service.runtime import Runtime


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, with_search: bool = True
) -> FastAPI:
    """Build the app; the runtime (engine, index, model) is made at startup, not import."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = settings or (runtime.settings if runtime else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        rt = runtime or Runtime.create(settings)
        app.state.runtime = rt
        if with_search:
            search = rt.search()  # loads the model (warm-up) and the index before serving
            if settings.warm_up:
                rt.warm_up_routing()  # the emergency example sentences, before the first call
            search.start()
            app.state.after_commit = search.notify
        dispatcher = rt.dispatcher()
        if dispatcher is not None:
            dispatcher.start()
        sweeper = rt.sweeper() if settings.sweep_interval_s > 0 else None
        if sweeper is not None:
            sweeper.start(settings.sweep_interval_s)
        try:
            yield
        finally:
            app.state.after_commit = None
            if sweeper is not None:
                sweeper.close()
            if dispatcher is not None:
                dispatcher.close()
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
    app.include_router(suggest.router)
    app.include_router(documents.router)
    app.include_router(tickets.router)
    app.include_router(freshness.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(packages=[("api", "static")]), name="static")
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        upload_limit=settings.max_upload_bytes,
        upload_prefixes=("/api/v1/documents",),
    )
    return app
