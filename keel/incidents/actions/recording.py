"""Recording incidents and changing what they say: description, classification, priority."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.catalog import queries as catalog
from keel.catalog.models import Category, Service
from keel.core import audit
from keel.core.errors import FieldError, InvalidTransition
from keel.core.numbering import next_number
from keel.core.permissions import require
from keel.db import rows
from keel.incidents import notify, sla
from keel.incidents.actions import _record_pg, _record_sqlite
from keel.incidents.actions._base import (
    TITLE_MAX,
    _check_version,
    _event,
    _levels_error,
    _note_first_response,
    _recompute_deadlines,
    _save,
    _text,
)
from keel.incidents.actions.links import resolve_cis
from keel.incidents.lifecycle import Status
from keel.incidents.models import (
    Channel,
    EventKind,
    Incident,
)


def open_incident(
    *,
    actor: Any,
    title: str,
    description: str = "",
    service: Service | None,
    impact: Any,
    urgency: Any,
    category: Category | None = None,
    requester: Any = None,
    channel: str | None = None,
    at: datetime | None = None,
    external_id: str = "",
    notify_requester: bool = True,
    cis: Any = (),
) -> Incident:
    """Record an incident and commit to a response time (one transaction for the writes).

    A requester reports their own; an agent may record one on someone's behalf (phone, walk-in).
    ``cis`` are the configuration items affected (items or ids the actor can see, not retired).
    The priority comes from the matrix; deadlines from the service's targets and calendar. The
    requester is told the number and the committed response time, by e-mail, after commit.
    """
    require(actor, "incidents.add_incident")
    errors: list[tuple[str, Any]] = []
    title = _text("title", title, errors, required=True, limit=TITLE_MAX)
    description = _text("description", description, errors, required=False)
    levels = catalog.levels()
    for field, value in (("impact", impact), ("urgency", urgency)):
        problem = _levels_error(field, value, levels)
        if problem:
            errors.append(problem)
    if service is None or not service.is_active:
        errors.append(("service", _("Choose a service that is in operation.")))
    if category is not None and not category.is_active:
        errors.append(("category", _("This category is no longer in use.")))
    staff = actor.has_perm("incidents.work_incident")
    if requester is None:
        requester = actor
    elif requester.pk != actor.pk and not staff:
        raise PermissionDenied("incidents.work_incident")
    if not getattr(requester, "is_active", False) or getattr(requester, "is_system", False):
        errors.append(("requester", _("The requester must be an active person.")))
    if channel is None:
        channel = Channel.PORTAL if requester.pk == actor.pk and not staff else Channel.PHONE
    elif channel not in Channel.values:
        errors.append(("channel", _("Unknown channel.")))
    items = []
    try:
        items = resolve_cis(actor, cis)
    except FieldError as exc:
        errors += exc.errors
    if errors:
        raise FieldError(errors=errors)
    assert service is not None  # noqa: S101  (checked above; for the type checker)
    # Everything that only reads (permission, validation, the calendar math) happens before the
    # write transaction, so the database's writer lock is held for the writes alone.
    now = at or timezone.now()
    priority = catalog.priority_for(impact, urgency)
    deadlines = sla.deadlines(service, priority, now)
    incident = Incident(
        number="",
        title=title,
        description=description,
        requester=requester,
        department_id=requester.department_id,
        reported_by=actor if actor.pk != requester.pk else None,
        service=service,
        category=category,
        impact=impact,
        urgency=urgency,
        priority=priority,
        channel=channel,
        team_id=service.team_id,
        status=Status.NEW,
        is_open=True,
        created_at=now,
        updated_at=now,
        respond_by=deadlines.respond_by,
        resolve_by=deadlines.resolve_by,
        warn_at=deadlines.warn_at,
        external_id=external_id,
    )
    changes = {
        "service": [None, service.pk],
        "priority": [None, priority],
        "impact": [None, impact],
        "urgency": [None, urgency],
        "team": [None, service.team_id],
        "channel": [None, channel],
        **({"affected_cis": [None, [ci.number for ci in items]]} if items else {}),
    }
    tasks = [notify.acknowledge] if notify_requester else []
    if priority == 1 and getattr(settings, "KEEL_P1_IS_MAJOR", True):
        tasks.append(notify.p1_opened)
    tasks = notify.wanted(tasks)
    if connection.vendor == "postgresql" and not items:
        # The same rows in one statement, which is its own transaction: the number and audit
        # rows stay locked for it alone. (Affected items take the one-at-a-time path: their
        # links are rows of their own.)
        _record_pg.record(incident, actor, changes, tasks)
    elif connection.vendor == "sqlite" and not items:
        # The same rows, rendered before SQLite's one write turn is taken.
        _record_sqlite.record(incident, actor, changes, tasks)
    else:
        with transaction.atomic():
            incident.number = next_number("INC")
            rows.insert(incident)
            if items:
                incident.affected_cis.set(items)
            audit.record(actor, "incident.opened", incident, changes=changes, at=now)
            for task in tasks:
                notify.after_commit(task, incident.pk)
    if Service.team.is_cached(service):
        incident.team = service.team  # so the caller's answer needs no query for it
    _known_affected_cis(incident, items)
    return incident


def _known_affected_cis(incident: Incident, items: list[Any]) -> None:
    """Remember the items just linked as the incident's prefetched ``affected_cis``, as
    ``prefetch_related`` would have, so answering with the new incident reads nothing more."""
    linked: QuerySet[Any] = QuerySet(model=Incident.affected_cis.field.related_model)
    linked._result_cache = list(items)
    linked._prefetch_done = True  # type: ignore[attr-defined]
    incident._prefetched_objects_cache = {"affected_cis": linked}  # type: ignore[attr-defined]


@transaction.atomic
def update_incident(
    *, actor: Any, incident: Incident, version: int | None = None, **values: Any
) -> Incident:
    """Change the description fields (title, description, category); staff only."""
    require(actor, "incidents.change_incident", incident)
    _check_version(incident, version)
    allowed = {"title", "description", "category"}
    errors: list[tuple[str, Any]] = [
        (f, _("This field cannot be changed here.")) for f in sorted(set(values) - allowed)
    ]
    if "title" in values:
        values["title"] = _text("title", values["title"], errors, required=True, limit=TITLE_MAX)
    if "description" in values:
        values["description"] = _text("description", values["description"], errors, required=False)
    if errors:
        raise FieldError(errors=errors)
    fields = list(values)
    before = audit.snapshot(incident, fields)
    for field, value in values.items():
        setattr(incident, field, value)
    changes = audit.diff(incident, before, fields)
    if changes:
        now = timezone.now()
        _save(incident, fields, now)
        audit.record(actor, "incident.updated", incident, changes=changes, at=now)
    return incident


@transaction.atomic
def change_priority(
    *,
    actor: Any,
    incident: Incident,
    impact: int | None = None,
    urgency: int | None = None,
    priority: int | None = None,
    reason: str = "",
    version: int | None = None,
) -> Incident:
    """Reclassify impact and urgency (priority follows the matrix) or override the priority.

    An override needs ``incidents.override_priority`` and a reason. Deadlines are recomputed.
    """
    require(actor, "incidents.work_incident", incident)
    _check_version(incident, version)
    if not incident.is_open:
        raise InvalidTransition(_("A closed incident keeps its priority."))
    levels = catalog.levels()
    errors: list[tuple[str, Any]] = []
    impact = incident.impact if impact is None else impact
    urgency = incident.urgency if urgency is None else urgency
    for field, value in (("impact", impact), ("urgency", urgency)):
        problem = _levels_error(field, value, levels)
        if problem:
            errors.append(problem)
    reason = (reason or "").strip()
    if priority is not None:
        require(actor, "incidents.override_priority")
        if not isinstance(priority, int) or not 1 <= priority <= 5:
            errors.append(("priority", _("Choose a priority from P1 to P5.")))
        if not reason:
            errors.append(("reason", _("Say why the priority differs from the matrix.")))
    if errors:
        raise FieldError(errors=errors)
    new_priority = priority if priority is not None else catalog.priority_for(impact, urgency)
    before = {"impact": incident.impact, "urgency": incident.urgency, "priority": incident.priority}
    incident.impact, incident.urgency, incident.priority = impact, urgency, new_priority
    incident.priority_reason = reason if priority is not None else ""
    now = timezone.now()
    fields = ["impact", "urgency", "priority", "priority_reason"]
    if new_priority != before["priority"]:
        _recompute_deadlines(incident)
        incident.warned = False
        fields += ["respond_by", "resolve_by", "warn_at", "warned"]
    _note_first_response(incident, actor, now, fields)
    _save(incident, fields, now)
    changes = {k: [v, getattr(incident, k)] for k, v in before.items() if v != getattr(incident, k)}
    _event(incident, actor, EventKind.PRIORITY, now, body=reason, details=changes)
    audit.record(
        actor, "incident.priority_changed", incident, changes=changes, reason=reason, at=now
    )
    if new_priority == 1 and before["priority"] != 1:
        notify.after_commit(notify.p1_opened, incident.pk)
    return incident
