"""API bearer tokens: created once, stored as a hash, revocable, acting as their user.

A busy script calls the API many times a second with the same token. Each process keeps what a
token resolved to (its user, with the user's roles) for ``KEEL_TOKEN_CACHE_SECONDS`` (5 s by
default; 0 turns it off), keyed by the token's hash, so most calls read nothing to authenticate.
Revoking a token, changing or deactivating a person, or changing their roles empties the cache
of the process that made the change at once; other processes notice within those seconds.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import time
from typing import Any

from django.conf import settings
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from keel.core.models import ApiToken, User
from keel.core.permissions import roles_of

TOKEN_PREFIX = "keel_"  # noqa: S105 (a marker, not a secret)
DEFAULT_CACHE_SECONDS = 5.0
_CACHE_LIMIT = 10_000  # entries; the cache is emptied when it grows past this

# key_hash → (good until (monotonic), token expiry, user as read, with their roles loaded)
_cache: dict[str, tuple[float, Any, Any]] = {}
# Per-request caches a copy must not inherit (permissions, teams and departments are read anew).
_PER_REQUEST = (
    "_perm_cache",
    "_user_perm_cache",
    "_group_perm_cache",
    "_keel_team_ids",
    "_keel_department_ids",
)


def hash_token(raw: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(raw.encode()).hexdigest()


def generate() -> tuple[str, str]:
    """A new raw token and its short public prefix."""
    prefix = secrets.token_hex(4)
    return f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def cache_seconds() -> float:
    return float(getattr(settings, "KEEL_TOKEN_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def forget(*_args: Any, **_kwargs: Any) -> None:
    """Empty this process's token cache (a token, a person or their roles changed)."""
    _cache.clear()


def _fresh_copy(user: Any) -> Any:
    """The cached user for one request: its own object, roles kept, nothing else carried over."""
    mine = copy.copy(user)
    for name in _PER_REQUEST:
        mine.__dict__.pop(name, None)
    return mine


def user_for(raw: str) -> Any | None:
    """The active user behind a token, or ``None`` for an unknown, revoked or expired one."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    key = hash_token(raw)
    now = timezone.now()
    hit = _cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        expires_at, user = hit[1], hit[2]
        if expires_at is not None and expires_at <= now:
            return None
        return _fresh_copy(user)
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=key, revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active or token.user.is_system:
        _cache.pop(key, None)
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
        # Recorded at most every five minutes, so a busy client does not write on every call.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    seconds = cache_seconds()
    if seconds > 0:
        user = token.user
        roles_of(user)  # read the roles once, with the user, for every request this entry serves
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[key] = (time.monotonic() + seconds, token.expires_at, _fresh_copy(user))
    return token.user


@receiver(post_save, sender=ApiToken)
@receiver(post_delete, sender=ApiToken)
@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
def _token_or_person_changed(**kwargs: Any) -> None:
    forget()


@receiver(m2m_changed, sender=User.groups.through)
def _roles_changed(**kwargs: Any) -> None:
    forget()
