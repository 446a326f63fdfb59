"""Small template helpers for Keel's layout; none of them touches the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template

import keel

register = template.Library()


@register.simple_tag
def keel_version() -> str:
    return keel.__version__


@register.filter
def minutes(value: Any, default: int = 15) -> int:
    """Whole minutes in a ``timedelta`` (rounded up), or ``default`` when there is none."""
    if not isinstance(value, timedelta):
        return default
    return max(1, -(-int(value.total_seconds()) // 60))


@register.filter
def initials(user: Any) -> str:
    """One or two letters for a person's avatar: "Li Na" → "LN", "王芳" → "王"."""
    name = str(user).strip()
    if not name:
        return "?"
    parts = name.split()
    if len(parts) > 1 and parts[0][:1].isascii() and parts[-1][:1].isascii():
        return (parts[0][0] + parts[-1][0]).upper()
    return name[0].upper()
