"""Read paths for people, teams, departments and calendars: scoped, prefetched, no N+1."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from keel.core.models import (
    ApiToken,
    BusinessCalendar,
    Department,
    PendingTask,
    Team,
    User,
    WorkerHeartbeat,
)
from keel.core.permissions import get_visible, visible

WORKER_STALE_AFTER = timedelta(minutes=3)
# Queued tasks (the outbox) reach the worker within a second; a minute means it is not taking them.
OUTBOX_STALE_AFTER = timedelta(minutes=1)


def users_for(
    viewer: Any,
    *,
    q: str = "",
    team: int | None = None,
    department: int | None = None,
    role: str = "",
) -> QuerySet[User]:
    """People the viewer may see, filtered, with roles and teams loaded in two queries."""
    users = (
        visible(User.objects.filter(is_system=False), viewer)
        .prefetch_related(
            "groups", Prefetch("teams", queryset=Team.objects.only("id", "name", "code"))
        )
        .order_by("name", "username")
    )
    if q:
        users = users.filter(
            Q(username__icontains=q) | Q(name__icontains=q) | Q(email__icontains=q)
        )
    if team:
        users = users.filter(memberships__team_id=team)
    if department:
        users = users.filter(department_id=department)
    if role:
        users = users.filter(groups__name=role)
    return users


def user_for(viewer: Any, user_id: int) -> User:
    return get_visible(users_for(viewer), viewer, pk=user_id)


def teams() -> QuerySet[Team]:
    return Team.objects.prefetch_related(
        Prefetch("members", queryset=User.objects.only("id", "username", "name"))
    ).order_by("name")


def departments() -> QuerySet[Department]:
    return Department.objects.order_by("organisation_id", "name")


def calendars() -> QuerySet[BusinessCalendar]:
    return BusinessCalendar.objects.prefetch_related("periods").order_by("name")


def tokens_of(user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def database_health() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not reachable", whatever the driver raises
        return False, f"{connection.vendor}: {exc.__class__.__name__}"
    return True, connection.vendor


def worker_health() -> tuple[bool, str]:
    try:
        latest = (
            WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
        )
    except Exception as exc:  # the table is unreachable when the database is
        return False, exc.__class__.__name__
    if latest is None:
        return False, "no worker has reported"
    age = timezone.now() - latest
    if age > WORKER_STALE_AFTER:
        return False, f"last seen {int(age.total_seconds())} s ago"
    seen = f"last seen {int(age.total_seconds())} s ago"
    oldest = PendingTask.objects.order_by("id").values_list("created_at", flat=True).first()
    if oldest is not None and timezone.now() - oldest > OUTBOX_STALE_AFTER:
        waiting = PendingTask.objects.count()
        late = int((timezone.now() - oldest).total_seconds())
        return False, f"{seen}, but {waiting} queued tasks wait, the oldest for {late} s"
    return True, seen
