"""The SLA sweep (warnings, breaches, escalation) and closing resolutions nobody confirmed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.core import audit
from keel.core.errors import InvalidTransition, StaleVersion
from keel.incidents import notify, sla
from keel.incidents.actions.steps import close
from keel.incidents.lifecycle import Status
from keel.incidents.models import (
    EventKind,
    Incident,
    IncidentEvent,
)


def _unassigned_minutes() -> int:
    return int(getattr(settings, "KEEL_UNASSIGNED_ESCALATION_MINUTES", 30))


def _auto_close_days() -> int:
    return int(getattr(settings, "KEEL_INCIDENT_AUTO_CLOSE_DAYS", 5))


@transaction.atomic
def sweep_sla(*, actor: Any, now: datetime | None = None) -> dict[str, list[int]]:
    """Mark warnings and breaches that have come due, escalate, and report what changed.

    Set-based: a handful of indexed UPDATEs whatever the number of open incidents. Breached
    incidents move to their team's next-level team (functional escalation) and the team lead and
    service owner are told (hierarchical); unassigned incidents older than the limit escalate to
    their team lead. One audit event records the whole sweep; each incident's timeline gets a line.
    """
    now = now or timezone.now()
    open_running = Incident.objects.filter(is_open=True, paused_at__isnull=True)
    bump = {"version": F("version") + 1, "updated_at": now}

    warned = list(
        open_running.filter(warned=False, warn_at__lte=now, resolve_by__gt=now).values_list(
            "pk", flat=True
        )
    )
    if warned:
        Incident.objects.filter(pk__in=warned).update(warned=True, **bump)

    late_response = list(
        Incident.objects.filter(
            is_open=True,
            first_response_at__isnull=True,
            response_breached=False,
            respond_by__lte=now,
        ).values_list("pk", flat=True)
    )
    if late_response:
        Incident.objects.filter(pk__in=late_response).update(response_breached=True, **bump)

    breached_rows = list(
        open_running.filter(resolution_breached=False, resolve_by__lte=now).values_list(
            "pk", "team_id", "team__next_level_id"
        )
    )
    breached = [pk for pk, _team, _next in breached_rows]
    escalated: list[int] = []
    if breached:
        Incident.objects.filter(pk__in=breached).update(
            resolution_breached=True, warned=True, **bump
        )
        by_next: dict[int, list[int]] = {}
        for pk, _team, next_level in breached_rows:
            if next_level:
                by_next.setdefault(next_level, []).append(pk)
        for next_level, pks in by_next.items():
            Incident.objects.filter(pk__in=pks).update(
                team_id=next_level,
                assignee=None,
                escalation_level=F("escalation_level") + 1,
                reassignment_count=F("reassignment_count") + 1,
            )
            escalated += pks

    cutoff = now - timedelta(minutes=_unassigned_minutes())
    unowned = list(
        Incident.objects.filter(
            is_open=True, assignee__isnull=True, escalation_level=0, created_at__lte=cutoff
        ).values_list("pk", flat=True)
    )
    if unowned:
        Incident.objects.filter(pk__in=unowned).update(escalation_level=1, **bump)

    system = actor if getattr(actor, "pk", None) else None
    lines = [
        (warned, EventKind.SLA, {"state": "warning"}),
        (late_response, EventKind.SLA, {"state": "response_breached"}),
        (breached, EventKind.SLA, {"state": "breached"}),
        (escalated, EventKind.ESCALATION, {"kind": "functional"}),
        (unowned, EventKind.ESCALATION, {"kind": "unassigned"}),
    ]
    events = [
        IncidentEvent(incident_id=pk, at=now, actor=system, kind=kind, data=data)
        for pks, kind, data in lines
        for pk in pks
    ]
    if events:
        IncidentEvent.objects.bulk_create(events, batch_size=2000)
    report = {
        "warning": warned,
        "response_breached": late_response,
        "breached": breached,
        "escalated": escalated,
        "unassigned": unowned,
    }
    if any(report.values()):
        audit.record(
            actor,
            "incident.sla_swept",
            object_type="incidents.incident",
            object_id="sweep",
            object_repr=f"SLA sweep {now:%Y-%m-%d %H:%M}",
            changes={k: [None, v] for k, v in report.items() if v},
            at=now,
        )
        notices = {"warning": warned, "breached": breached, "escalated": escalated + unowned}
        transaction.on_commit(lambda: notify.sla_notices({k: v for k, v in notices.items() if v}))
    return report


def auto_close_resolved(*, actor: Any, now: datetime | None = None) -> list[str]:
    """Close incidents resolved longer ago than the confirmation period (business days)."""
    from keel.core.calendar import business_minutes_between

    now = now or timezone.now()
    closed = []
    days = _auto_close_days()
    candidates = Incident.objects.filter(
        status=Status.RESOLVED, resolved_at__lte=now - timedelta(days=days)
    ).select_related("service")
    for incident in candidates.iterator(chunk_size=500):
        if incident.resolved_at is None:  # excluded by the query; for the type checker
            continue
        spec = sla.spec_for_service(incident.service)
        waited = business_minutes_between(spec, incident.resolved_at, now)
        if waited < days * sla.business_day_minutes(spec):
            continue
        try:
            close(
                actor=actor,
                incident=incident,
                reason=_("Closed automatically: not confirmed within %(days)s business days.")
                % {"days": days},
            )
            closed.append(incident.number)
        except (InvalidTransition, StaleVersion):
            continue  # a major incident awaiting its review, or someone acted meanwhile
    return closed
