"""API bearer tokens: created once, stored as a hash, revocable, acting as their user."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.utils import timezone

from keel.core.models import ApiToken

TOKEN_PREFIX = "keel_"  # noqa: S105 (a marker, not a secret)


def hash_token(raw: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(raw.encode()).hexdigest()


def generate() -> tuple[str, str]:
    """A new raw token and its short public prefix."""
    prefix = secrets.token_hex(4)
    return f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def user_for(raw: str) -> Any | None:
    """The active user behind a token, or ``None`` for an unknown, revoked or expired one."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active or token.user.is_system:
        return None
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
        # Recorded at most every five minutes, so a busy client does not write on every call.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
