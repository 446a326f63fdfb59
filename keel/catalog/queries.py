"""Read paths for services, targets and the priority matrix, cached in-process for a minute.

The matrix and targets are read on every incident created; they change rarely, and the actions
that change them clear this process's cache at once (other processes within ``TTL`` seconds).
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import QuerySet

from keel.catalog.models import Category, PriorityRule, PriorityScale, Service, ServiceTarget
from keel.catalog.priority import DEFAULT_TARGETS, default_matrix

TTL = 60.0

_cache: dict[str, tuple[float, Any]] = {}


def invalidate() -> None:
    _cache.clear()


def _cached(key: str, load):
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < TTL:
        return hit[1]
    value = load()
    _cache[key] = (now, value)
    return value


def levels() -> int:
    """How many impact and urgency levels are in use (3 unless configured)."""

    def load() -> int:
        scale = PriorityScale.objects.filter(id=1).values_list("levels", flat=True).first()
        return int(scale or 3)

    return _cached("levels", load)


def matrix() -> dict[tuple[int, int], int]:
    def load() -> dict[tuple[int, int], int]:
        n = levels()
        rules = {
            (r.impact, r.urgency): r.priority
            for r in PriorityRule.objects.filter(impact__lte=n, urgency__lte=n)
        }
        # Cells nobody configured take the default spread, so every pair has a priority.
        return default_matrix(n) | rules

    return _cached("matrix", load)


def priority_for(impact: int, urgency: int) -> int:
    return matrix()[(impact, urgency)]


def _targets() -> dict[int | None, dict[int, tuple[int, int]]]:
    def load() -> dict[int | None, dict[int, tuple[int, int]]]:
        table: dict[int | None, dict[int, tuple[int, int]]] = {None: dict(DEFAULT_TARGETS)}
        for service_id, priority, respond, resolve in ServiceTarget.objects.values_list(
            "service_id", "priority", "respond_minutes", "resolve_minutes"
        ):
            table.setdefault(service_id, {})[priority] = (respond, resolve)
        return table

    return _cached("targets", load)


def targets_for(service_id: int | None, priority: int) -> tuple[int, int]:
    """(respond, resolve) business minutes for this service and priority, with defaults."""
    table = _targets()
    own = table.get(service_id, {})
    return own.get(priority) or table[None].get(priority) or DEFAULT_TARGETS[priority]


def services(*, portal_only: bool = False) -> QuerySet[Service]:
    qs = (
        Service.objects.filter(is_active=True)
        .select_related("team", "calendar", "owner")
        .prefetch_related("targets")
    )
    if portal_only:
        qs = qs.filter(in_portal=True)
    return qs.order_by("name")


def categories() -> QuerySet[Category]:
    return (
        Category.objects.filter(is_active=True)
        .select_related("parent")
        .order_by("parent_id", "name")
    )


def category_choices() -> list[tuple[int, str]]:
    """Every active category as ``(id, "Parent › Child")``, parents before their children."""
    cats = list(categories())
    by_id = {c.pk: c for c in cats}

    def path(c: Category) -> str:
        names = [c.name]
        seen = {c.pk}
        while c.parent_id and c.parent_id in by_id and c.parent_id not in seen:
            c = by_id[c.parent_id]
            seen.add(c.pk)
            names.append(c.name)
        return " › ".join(reversed(names))

    return sorted(((c.pk, path(c)) for c in cats), key=lambda pair: pair[1])
