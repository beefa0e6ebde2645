"""One place that turns errors into JSON: {"error": code, "detail": "中文说明", ...}."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.limits import BodyTooLarge
from kb_service.entries import FIELD_LABELS
from kb_service.errors import (
    Conflict,
    Forbidden,
    Invalid,
    KBError,
    NotFound,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger("kb.api")

STATUS = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
    Forbidden: 403,
    Unauthorized: 401,
    Unavailable: 503,
}

HTTP_CODES = {
    400: ("bad_request", "请求无效"),
    401: ("unauthorized", "未登录或令牌无效"),
    403: ("forbidden", "无权访问"),
    404: ("not_found", "请求的地址不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    413: ("body_too_large", "请求体过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
}


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of every error."""
    return {"error": code, "detail": detail, **extra}


def status_for(exc: KBError) -> int:
    """HTTP status for a service error class."""
    for cls, status in STATUS.items():
        if isinstance(exc, cls):
            return status
    return 400


def describe_request_errors(errors: Sequence[Any]) -> str:
    """Chinese text for FastAPI validation errors (body/query/path)."""
    parts: list[str] = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        field = loc[0] if loc else ""
        label = FIELD_LABELS.get(field, field) or "请求体"
        kind = e.get("type", "")
        msg = str(e.get("msg", "")).removeprefix("Value error, ")
        if kind == "missing":
            msg = "必填"
        elif kind in ("date_from_datetime_parsing", "date_parsing", "date_type"):
            msg = "日期格式无效，应为 YYYY-MM-DD"
        elif kind in ("datetime_parsing", "datetime_from_date_parsing", "datetime_type"):
            msg = "时间格式无效，应为 ISO 8601，例如 2026-10-09T09:30:00+08:00"
        elif kind == "extra_forbidden":
            msg = "不支持的字段"
        elif kind.endswith("_type"):
            msg = "类型错误"
        elif kind in ("int_parsing", "int_from_float"):
            msg = "应为整数"
        elif kind == "too_long":
            msg = "条目过多"
        path = ".".join(loc)
        parts.append(f"{label}（{path}）：{msg}" if path else f"{label}：{msg}")
    return "；".join(parts) or "请求内容无效"


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""

    @app.exception_handler(KBError)
    async def _kb(_: Request, exc: KBError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra), status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(
                error_body("invalid_json", "请求体不是合法的 JSON，请检查括号、引号和逗号"), 400
            )
        clean = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "type": e.get("type")}
            for e in errors
        ]
        return JSONResponse(
            error_body("validation_error", describe_request_errors(errors), errors=clean), 422
        )

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        limit = getattr(app.state, "max_body_bytes", 0)
        return JSONResponse(
            error_body("body_too_large", f"请求体超过上限（{limit} 字节）", limit=limit), 413
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, text = HTTP_CODES.get(exc.status_code, ("http_error", "请求失败"))
        return JSONResponse(error_body(code, text), exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body("internal_error", "服务内部错误，请稍后重试或联系管理员"), 500
        )
