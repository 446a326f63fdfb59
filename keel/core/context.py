"""Per-request context that actions read without it being passed down: the request id."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("keel_request_id", default="")
