"""One error base for the whole service: a stable English code plus a Chinese message."""

from __future__ import annotations

from typing import Any


class KBError(Exception):
    """Base error: `code` is stable (clients switch on it), `message` is for people (Chinese)."""

    code: str = "kb_error"

    def __init__(self, code: str | None = None, message: str = "", **extra: Any) -> None:
        if code is not None:
            self.code = code
        self.message = message or self.code
        self.extra = extra
        super().__init__(f"{self.code}: {self.message}")


class NotFound(KBError):
    """The thing asked for does not exist (HTTP 404)."""

    code = "not_found"


class Conflict(KBError):
    """The request clashes with the current state (HTTP 409)."""

    code = "conflict"


class Invalid(KBError):
    """The input is malformed or breaks a rule (HTTP 422)."""

    code = "invalid"


class Forbidden(KBError):
    """The actor may not do this (HTTP 403)."""

    code = "forbidden"


class Unauthorized(KBError):
    """No valid credentials (HTTP 401)."""

    code = "unauthorized"


class Unavailable(KBError):
    """A needed part is missing or not ready (HTTP 503)."""

    code = "unavailable"
