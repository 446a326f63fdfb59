"""Every change to an incident: recording, assignment, work, holds, resolution, confirmation,
ratings, comments, work logs, attachments, priority, and the major-incident procedure.

Each action is one transaction: it checks permission and scope, the lifecycle table, and the
version the caller read (a stale write gets ``StaleVersion``, HTTP 409); it writes the incident
and its timeline, records one audit event, and queues notifications after commit.
"""

from __future__ import annotations

import mimetypes
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.catalog import queries as catalog
from keel.catalog.models import Category, Service
from keel.core import audit
from keel.core.errors import Conflict, FieldError, InvalidTransition, StaleVersion
from keel.core.numbering import next_number
from keel.core.permissions import is_staff_member, require
from keel.incidents import lifecycle, notify, sla
from keel.incidents.lifecycle import HoldReason, Status
from keel.incidents.models import (
    Attachment,
    Channel,
    EventKind,
    Incident,
    IncidentEvent,
    PostIncidentReview,
    ResolutionCode,
    ReviewAction,
)

TITLE_MAX = 200
TEXT_MAX = 20_000
WORKLOG_MAX_MINUTES = 24 * 60
ALLOWED_EXTENSIONS = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".webp",
    ".bmp",
    ".pdf",
    ".txt",
    ".log",
    ".csv",
    ".json",
    ".xml",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".ppt",
    ".pptx",
    ".odt",
    ".ods",
    ".zip",
    ".7z",
    ".gz",
    ".eml",
    ".msg",
}


def _max_attachment_bytes() -> int:
    return int(getattr(settings, "KEEL_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def _reopen_days() -> int:
    return int(getattr(settings, "KEEL_INCIDENT_REOPEN_DAYS", 10))


# --- helpers ---------------------------------------------------------------------------------


def _levels_error(field: str, value: Any, levels: int) -> tuple[str, str] | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= levels:
        return field, _("Choose a level from 1 (highest) to %(levels)s.") % {"levels": levels}
    return None


def _check_version(incident: Incident, version: int | None) -> None:
    if version is not None and version != incident.version:
        raise StaleVersion(
            _("Someone else changed %(number)s after you opened it. Reload it; your text is kept.")
            % {"number": incident.number},
            errors=[
                (
                    "version",
                    _("You sent version %(sent)s; it is now at %(now)s.")
                    % {"sent": version, "now": incident.version},
                )
            ],
        )


def _save(incident: Incident, fields: list[str], now: datetime) -> None:
    """Write ``fields`` if nobody wrote since it was read, and move the version on."""
    incident.updated_at = now
    values = {f: getattr(incident, f) for f in {*fields, "updated_at"}}
    rows = Incident.objects.filter(pk=incident.pk, version=incident.version).update(
        **values, version=F("version") + 1
    )
    if rows != 1:
        raise StaleVersion(
            _("Someone else changed %(number)s at the same moment. Reload it; your text is kept.")
            % {"number": incident.number}
        )
    incident.version += 1


def _touch(incident: Incident, fields: list[str], now: datetime) -> None:
    """Write bookkeeping fields (updated, first response) without moving the version.

    A comment or a work log does not change what an agent is editing, so it must not turn their
    next save into a conflict.
    """
    incident.updated_at = now
    Incident.objects.filter(pk=incident.pk).update(
        **{f: getattr(incident, f) for f in {*fields, "updated_at"}}
    )


def _event(
    incident: Incident,
    actor: Any,
    kind: str,
    now: datetime,
    *,
    body: str = "",
    public: bool = False,
    minutes: int | None = None,
    details: dict[str, Any] | None = None,
    **data: Any,
) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        actor=actor if getattr(actor, "pk", None) else None,
        at=now,
        kind=kind,
        body=body,
        public=public,
        minutes=minutes,
        data={**(details or {}), **data},
    )


def _note_first_response(incident: Incident, actor: Any, now: datetime, fields: list[str]) -> None:
    """The first thing an agent does for the requester is the response the SLA measures."""
    if (
        incident.first_response_at is None
        and is_staff_member(actor)
        and actor.pk != incident.requester_id
    ):
        incident.first_response_at = now
        fields.append("first_response_at")
        if (
            incident.respond_by is not None
            and now > incident.respond_by
            and not incident.response_breached
        ):
            incident.response_breached = True
            fields.append("response_breached")


def _require_step(actor: Any, incident: Incident, name: str) -> lifecycle.Step:
    require(actor, None, incident)  # out of scope → NotFound
    found = lifecycle.check(incident.status, name)
    if found.requester_may and actor.pk == incident.requester_id:
        return found
    require(actor, found.permission)
    return found


def _set_status(incident: Incident, status: str, fields: list[str]) -> None:
    incident.status = status
    incident.is_open = lifecycle.is_open(status)
    fields += ["status", "is_open"]


def _pause(incident: Incident, now: datetime, fields: list[str]) -> None:
    """Stop the resolution clock; a deadline that has already passed stays missed."""
    if incident.paused_at is None:
        incident.paused_at = now
        fields.append("paused_at")
        if (
            incident.resolve_by is not None
            and now > incident.resolve_by
            and not incident.resolution_breached
        ):
            # Resuming moves resolve_by out by the hold; without this, holding a late incident
            # before the sweep noticed would let it be resolved "in time".
            incident.resolution_breached = True
            fields.append("resolution_breached")


def _unpause(incident: Incident, now: datetime, fields: list[str]) -> None:
    """Add the business time on hold to the clock and move the deadlines out by it."""
    if incident.paused_at is None:
        return
    spec = sla.spec_for_service(incident.service)
    from keel.core.calendar import business_minutes_between

    incident.paused_minutes += max(0.0, business_minutes_between(spec, incident.paused_at, now))
    incident.paused_at = None
    _recompute_deadlines(incident)
    fields += ["paused_at", "paused_minutes", "resolve_by", "warn_at", "respond_by"]


def _recompute_deadlines(incident: Incident) -> None:
    from keel.core.calendar import add_business_minutes

    respond, resolve = catalog.targets_for(incident.service_id, incident.priority)
    spec = sla.spec_for_service(incident.service)
    start, paused = incident.created_at, incident.paused_minutes
    incident.respond_by = add_business_minutes(spec, start, respond)
    incident.resolve_by = add_business_minutes(spec, start, resolve + paused)
    incident.warn_at = add_business_minutes(spec, start, resolve * sla.WARN_FRACTION + paused)


def _text(
    field: str, value: str, errors: list[tuple[str, Any]], *, required: bool, limit: int = TEXT_MAX
) -> str:
    value = (value or "").strip()
    if required and not value:
        errors.append((field, _("This field is required.")))
    elif len(value) > limit:
        errors.append((field, _("Use at most %(limit)s characters.") % {"limit": limit}))
    return value


# --- recording -------------------------------------------------------------------------------


@transaction.atomic
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
) -> Incident:
    """Record an incident and commit to a response time.

    A requester reports their own; an agent may record one on someone's behalf (phone, walk-in).
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
    if errors:
        raise FieldError(errors=errors)
    assert service is not None  # noqa: S101  (checked above; for the type checker)
    now = at or timezone.now()
    priority = catalog.priority_for(impact, urgency)
    deadlines = sla.deadlines(service, priority, now)
    incident = Incident(
        number=next_number("INC"),
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
    incident.save(force_insert=True)
    audit.record(
        actor,
        "incident.opened",
        incident,
        changes={
            "service": [None, service.pk],
            "priority": [None, priority],
            "impact": [None, impact],
            "urgency": [None, urgency],
            "team": [None, service.team_id],
            "channel": [None, channel],
        },
        at=now,
    )
    if notify_requester:
        notify.after_commit(notify.acknowledge, incident.pk)
    if priority == 1 and getattr(settings, "KEEL_P1_IS_MAJOR", True):
        notify.after_commit(notify.p1_opened, incident.pk)
    return incident


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


# --- the lifecycle ---------------------------------------------------------------------------


@transaction.atomic
def assign(
    *,
    actor: Any,
    incident: Incident,
    team: Any = None,
    assignee: Any = None,
    reason: str = "",
    version: int | None = None,
) -> Incident:
    """Give the incident to a team and/or a person in it.

    Moving it away from a team or person it already had is a reassignment: it needs a reason
    and is counted (the "ping-pong" figure).
    """
    _require_step(actor, incident, "assign")
    _check_version(incident, version)
    team = team or incident.team
    if assignee is not None and not assignee.memberships.filter(team=team).exists():
        raise FieldError(
            "assignee",
            _("%(person)s is not a member of %(team)s.") % {"person": assignee, "team": team},
        )
    team_changes = team.pk != incident.team_id
    person_changes = getattr(assignee, "pk", None) != incident.assignee_id
    if not team_changes and not person_changes:
        raise FieldError("assignee", _("The incident is already assigned like this."))
    reassignment = team_changes or (incident.assignee_id is not None and person_changes)
    reason = (reason or "").strip()
    if reassignment and not reason:
        raise FieldError("reason", _("Say why the incident is being reassigned."))
    now = timezone.now()
    before = {"team": incident.team_id, "assignee": incident.assignee_id, "status": incident.status}
    incident.team = team
    incident.assignee = assignee
    incident.assigned_at = now
    fields = ["team", "assignee", "assigned_at"]
    if reassignment:
        incident.reassignment_count += 1
        fields.append("reassignment_count")
    if incident.status == Status.NEW or (incident.status == Status.IN_PROGRESS and person_changes):
        _set_status(incident, Status.ASSIGNED, fields)
    _note_first_response(incident, actor, now, fields)
    _save(incident, fields, now)
    changes = {
        "team": [before["team"], team.pk],
        "assignee": [before["assignee"], getattr(assignee, "pk", None)],
    }
    if incident.status != before["status"]:
        changes["status"] = [before["status"], incident.status]
    _event(
        incident,
        actor,
        EventKind.ASSIGNMENT,
        now,
        body=reason,
        team=team.name,
        assignee=str(assignee) if assignee else None,
        reassignment=reassignment,
    )
    audit.record(
        actor,
        "incident.reassigned" if reassignment else "incident.assigned",
        incident,
        changes=changes,
        reason=reason,
        at=now,
    )
    if assignee is not None and assignee.pk != actor.pk:
        notify.after_commit(notify.assigned, incident.pk)
    return incident


@transaction.atomic
def start(*, actor: Any, incident: Incident, version: int | None = None) -> Incident:
    """Begin work; an unassigned incident becomes the actor's (if they are in its team)."""
    _require_step(actor, incident, "start")
    _check_version(incident, version)
    now = timezone.now()
    before = incident.status
    fields: list[str] = []
    if incident.assignee_id is None and actor.memberships.filter(team_id=incident.team_id).exists():
        incident.assignee, incident.assigned_at = actor, now
        fields += ["assignee", "assigned_at"]
    _set_status(incident, Status.IN_PROGRESS, fields)
    _note_first_response(incident, actor, now, fields)
    _save(incident, fields, now)
    _event(incident, actor, EventKind.STATUS, now, public=True, old=before, new=incident.status)
    audit.record(
        actor, "incident.started", incident, changes={"status": [before, incident.status]}, at=now
    )
    return incident


@transaction.atomic
def hold(
    *, actor: Any, incident: Incident, reason: str, note: str = "", version: int | None = None
) -> Incident:
    """Wait for the requester, a supplier or a change; the resolution clock pauses meanwhile."""
    _require_step(actor, incident, "hold")
    _check_version(incident, version)
    if reason not in HoldReason.values:
        raise FieldError("reason", _("Choose what the incident is waiting for."))
    now = timezone.now()
    before = incident.status
    incident.hold_reason = reason
    fields = ["hold_reason"]
    _set_status(incident, Status.ON_HOLD, fields)
    _pause(incident, now, fields)
    _note_first_response(incident, actor, now, fields)
    _save(incident, fields, now)
    _event(
        incident,
        actor,
        EventKind.STATUS,
        now,
        body=note,
        public=True,
        old=before,
        new=Status.ON_HOLD,
        hold_reason=reason,
    )
    audit.record(
        actor,
        "incident.held",
        incident,
        changes={"status": [before, Status.ON_HOLD], "hold_reason": ["", reason]},
        reason=note,
        at=now,
    )
    if reason == HoldReason.AWAITING_REQUESTER:
        notify.after_commit(notify.awaiting_requester, incident.pk)
    return incident


@transaction.atomic
def resume(
    *, actor: Any, incident: Incident, note: str = "", version: int | None = None
) -> Incident:
    _require_step(actor, incident, "resume")
    _check_version(incident, version)
    return _resume(actor, incident, note)


def _resume(actor: Any, incident: Incident, note: str) -> Incident:
    now = timezone.now()
    fields = ["hold_reason"]
    incident.hold_reason = ""
    _set_status(incident, Status.IN_PROGRESS, fields)
    _unpause(incident, now, fields)
    _save(incident, fields, now)
    _event(
        incident,
        actor,
        EventKind.STATUS,
        now,
        body=note,
        public=True,
        old=Status.ON_HOLD,
        new=Status.IN_PROGRESS,
    )
    audit.record(
        actor,
        "incident.resumed",
        incident,
        changes={"status": [Status.ON_HOLD, Status.IN_PROGRESS]},
        reason=note,
        at=now,
    )
    return incident


@transaction.atomic
def resolve(
    *, actor: Any, incident: Incident, code: str, notes: str, version: int | None = None
) -> Incident:
    """Mark the incident resolved and ask the requester to confirm (and rate) it.

    Stops the resolution clock; the requester's confirmation, or the auto-close task after the
    confirmation period, closes it.
    """
    _require_step(actor, incident, "resolve")
    _check_version(incident, version)
    errors: list[tuple[str, Any]] = []
    if code not in ResolutionCode.values:
        errors.append(("code", _("Choose a resolution code.")))
    notes = _text("notes", notes, errors, required=True)
    if errors:
        raise FieldError(errors=errors)
    now = timezone.now()
    before = incident.status
    fields = ["resolution_code", "resolution_notes", "resolved_at", "hold_reason"]
    _unpause(incident, now, fields)
    (
        incident.resolution_code,
        incident.resolution_notes,
        incident.resolved_at,
        incident.hold_reason,
    ) = code, notes, now, ""
    if (
        incident.resolve_by is not None
        and now > incident.resolve_by
        and not incident.resolution_breached
    ):
        incident.resolution_breached = True
        fields.append("resolution_breached")
    _set_status(incident, Status.RESOLVED, fields)
    # While the requester decides, the clock is paused: a rejection resumes it where it stood.
    incident.paused_at = now
    fields.append("paused_at")
    _note_first_response(incident, actor, now, fields)
    _save(incident, fields, now)
    _event(
        incident,
        actor,
        EventKind.STATUS,
        now,
        body=notes,
        public=True,
        old=before,
        new=Status.RESOLVED,
        code=code,
    )
    audit.record(
        actor,
        "incident.resolved",
        incident,
        changes={"status": [before, Status.RESOLVED], "resolution_code": ["", code]},
        reason=notes,
        at=now,
    )
    notify.after_commit(notify.resolved, incident.pk)
    return incident


def _require_review_done(incident: Incident) -> None:
    if incident.is_major:
        review = PostIncidentReview.objects.filter(
            incident=incident, completed_at__isnull=False
        ).first()
        if review is None:
            raise InvalidTransition(
                _("A major incident closes only after its post-incident review is completed."),
                errors=[("review", _("Complete the post-incident review first."))],
            )


@transaction.atomic
def confirm(
    *,
    actor: Any,
    incident: Incident,
    rating: int | None = None,
    comment: str = "",
    version: int | None = None,
) -> Incident:
    """The requester (or an agent for them) confirms the fix; the incident closes."""
    _require_step(actor, incident, "confirm")
    _check_version(incident, version)
    _require_review_done(incident)
    now = timezone.now()
    fields = ["closed_at"]
    incident.closed_at = now
    _set_status(incident, Status.CLOSED, fields)
    if rating is not None:
        _apply_rating(incident, actor, rating, comment, now, fields)
    _save(incident, fields, now)
    _event(
        incident,
        actor,
        EventKind.STATUS,
        now,
        public=True,
        old=Status.RESOLVED,
        new=Status.CLOSED,
        confirmed=True,
    )
    audit.record(
        actor,
        "incident.confirmed",
        incident,
        changes={"status": [Status.RESOLVED, Status.CLOSED]},
        at=now,
    )
    return incident


@transaction.atomic
def close(*, actor: Any, incident: Incident, reason: str = "") -> Incident:
    """Close a resolved incident nobody confirmed within the period (the auto-close task)."""
    _require_step(actor, incident, "close")
    _require_review_done(incident)
    now = timezone.now()
    fields = ["closed_at"]
    incident.closed_at = now
    _set_status(incident, Status.CLOSED, fields)
    _save(incident, fields, now)
    _event(
        incident,
        actor,
        EventKind.STATUS,
        now,
        body=reason,
        public=True,
        old=Status.RESOLVED,
        new=Status.CLOSED,
        confirmed=False,
    )
    audit.record(
        actor,
        "incident.closed",
        incident,
        changes={"status": [Status.RESOLVED, Status.CLOSED]},
        reason=reason,
        at=now,
    )
    return incident


def _reopen(
    actor: Any, incident: Incident, reason: str, step_name: str, version: int | None
) -> Incident:
    _require_step(actor, incident, step_name)
    _check_version(incident, version)
    reason = (reason or "").strip()
    if not reason:
        raise FieldError("reason", _("Say why the incident is not resolved."))
    if incident.status == Status.CLOSED:
        limit = (incident.closed_at or incident.updated_at) + timedelta(days=_reopen_days())
        if timezone.now() > limit:
            raise InvalidTransition(
                _("This incident closed more than %(days)s days ago; report a new one instead.")
                % {"days": _reopen_days()}
            )
    now = timezone.now()
    before = incident.status
    fields = ["reopen_count", "resolved_at", "closed_at", "resolution_code"]
    incident.reopen_count += 1
    incident.resolved_at = incident.closed_at = None
    incident.resolution_code = ""
    _set_status(incident, Status.IN_PROGRESS, fields)
    _unpause(incident, now, fields)
    _save(incident, fields, now)
    _event(
        incident,
        actor,
        EventKind.STATUS,
        now,
        body=reason,
        public=True,
        old=before,
        new=Status.IN_PROGRESS,
        reopened=True,
    )
    audit.record(
        actor,
        f"incident.{step_name}ed" if step_name == "reject" else "incident.reopened",
        incident,
        changes={"status": [before, Status.IN_PROGRESS]},
        reason=reason,
        at=now,
    )
    notify.after_commit(notify.reopened, incident.pk)
    return incident


@transaction.atomic
def reject(*, actor: Any, incident: Incident, reason: str, version: int | None = None) -> Incident:
    """The requester says it is not fixed: back to work, the clock runs again, counted as a reopen."""
    return _reopen(actor, incident, reason, "reject", version)


@transaction.atomic
def reopen(*, actor: Any, incident: Incident, reason: str, version: int | None = None) -> Incident:
    """Reopen a resolved incident, or a closed one within the reopen period."""
    return _reopen(actor, incident, reason, "reopen", version)


@transaction.atomic
def cancel(*, actor: Any, incident: Incident, reason: str, version: int | None = None) -> Incident:
    """Withdraw an incident recorded by mistake (or a duplicate); a reason is required."""
    require(actor, None, incident)
    lifecycle.check(incident.status, "cancel")
    own_new = actor.pk == incident.requester_id and incident.status == Status.NEW
    if not own_new:
        require(actor, "incidents.cancel_incident")
    _check_version(incident, version)
    reason = (reason or "").strip()
    if not reason:
        raise FieldError("reason", _("Say why the incident is cancelled."))
    now = timezone.now()
    before = incident.status
    fields = ["cancelled_at"]
    incident.cancelled_at = now
    _set_status(incident, Status.CANCELLED, fields)
    _save(incident, fields, now)
    _event(
        incident,
        actor,
        EventKind.STATUS,
        now,
        body=reason,
        public=True,
        old=before,
        new=Status.CANCELLED,
    )
    audit.record(
        actor,
        "incident.cancelled",
        incident,
        changes={"status": [before, Status.CANCELLED]},
        reason=reason,
        at=now,
    )
    return incident


# --- conversation and work -------------------------------------------------------------------


def _apply_rating(
    incident: Incident, actor: Any, rating: Any, comment: str, now: datetime, fields: list[str]
) -> None:
    if actor.pk != incident.requester_id:
        raise PermissionDenied(_("Only the requester rates the service they received."))
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise FieldError("rating", _("Rate from 1 (poor) to 5 (excellent)."))
    errors: list[tuple[str, Any]] = []
    comment = _text("comment", comment, errors, required=False, limit=2000)
    if errors:
        raise FieldError(errors=errors)
    incident.rating, incident.rating_comment, incident.rated_at = rating, comment, now
    fields += ["rating", "rating_comment", "rated_at"]
    _event(incident, actor, EventKind.RATING, now, body=comment, public=True, rating=rating)


@transaction.atomic
def rate(
    *, actor: Any, incident: Incident, rating: int, comment: str = "", version: int | None = None
) -> Incident:
    """The requester rates a resolved or closed incident, 1–5 with a comment."""
    require(actor, None, incident)
    if incident.status not in (Status.RESOLVED, Status.CLOSED):
        raise InvalidTransition(_("An incident can be rated once it is resolved."))
    _check_version(incident, version)
    now = timezone.now()
    fields: list[str] = []
    before = incident.rating
    _apply_rating(incident, actor, rating, comment, now, fields)
    _save(incident, fields, now)
    audit.record(actor, "incident.rated", incident, changes={"rating": [before, rating]}, at=now)
    return incident


@transaction.atomic
def comment(*, actor: Any, incident: Incident, body: str, public: bool = True) -> IncidentEvent:
    """Add to the conversation. Requesters' comments are public; agents choose.

    A requester's reply to an incident waiting for them resumes it.
    """
    require(actor, "incidents.view_incident", incident)
    errors: list[tuple[str, Any]] = []
    body = _text("body", body, errors, required=True)
    if errors:
        raise FieldError(errors=errors)
    staff = actor.has_perm("incidents.work_incident")
    if not staff:
        if actor.pk != incident.requester_id:
            raise PermissionDenied("incidents.work_incident")
        public = True
    if incident.status in lifecycle.FINAL:
        raise InvalidTransition(_("This incident is closed; report a new one or ask to reopen it."))
    now = timezone.now()
    event = _event(incident, actor, EventKind.COMMENT, now, body=body, public=public)
    fields: list[str] = []
    if public:
        _note_first_response(incident, actor, now, fields)
    _touch(incident, fields, now)
    audit.record(actor, "incident.commented", incident, changes={"public": [None, public]}, at=now)
    if (
        not staff
        and incident.status == Status.ON_HOLD
        and incident.hold_reason == HoldReason.AWAITING_REQUESTER
    ):
        _resume(actor, incident, _("The requester replied."))
    if public:
        notify.after_commit(notify.commented, event.pk)
    return event


@transaction.atomic
def log_work(
    *, actor: Any, incident: Incident, minutes: int, body: str = "", public: bool = False
) -> IncidentEvent:
    """Record time spent (for cost per service and per record)."""
    require(actor, "incidents.work_incident", incident)
    if (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not 1 <= minutes <= WORKLOG_MAX_MINUTES
    ):
        raise FieldError(
            "minutes", _("Log between 1 and %(max)s minutes.") % {"max": WORKLOG_MAX_MINUTES}
        )
    errors: list[tuple[str, Any]] = []
    body = _text("body", body, errors, required=False)
    if errors:
        raise FieldError(errors=errors)
    now = timezone.now()
    event = _event(
        incident, actor, EventKind.WORKLOG, now, body=body, public=public, minutes=minutes
    )
    fields: list[str] = []
    _note_first_response(incident, actor, now, fields)
    _touch(incident, fields, now)
    audit.record(
        actor, "incident.work_logged", incident, changes={"minutes": [None, minutes]}, at=now
    )
    return event


@transaction.atomic
def add_attachment(
    *, actor: Any, incident: Incident, upload: UploadedFile, public: bool = True
) -> Attachment:
    """Attach a file within the size limit and of an allowed type."""
    require(actor, "incidents.view_incident", incident)
    if not actor.has_perm("incidents.work_incident"):
        if actor.pk != incident.requester_id:
            raise PermissionDenied("incidents.work_incident")
        public = True
    name = PurePath(upload.name or "file").name[:200]
    extension = PurePath(name).suffix.lower()
    limit = _max_attachment_bytes()
    if upload.size is None or upload.size > limit:
        raise FieldError(
            "file", _("Files may be at most %(mb)s MB.") % {"mb": limit // (1024 * 1024)}
        )
    if extension not in ALLOWED_EXTENSIONS:
        raise FieldError(
            "file", _("Files of type %(ext)s are not accepted.") % {"ext": extension or _("(none)")}
        )
    if incident.status in lifecycle.FINAL:
        raise InvalidTransition(_("This incident is closed; report a new one or ask to reopen it."))
    now = timezone.now()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    attachment = Attachment(
        incident=incident,
        name=name,
        size=upload.size,
        content_type=content_type,
        public=public,
        uploaded_by=actor,
        uploaded_at=now,
    )
    attachment.file.save(name, upload, save=False)
    attachment.save()
    _event(
        incident,
        actor,
        EventKind.ATTACHMENT,
        now,
        body=name,
        public=public,
        attachment=attachment.pk,
        size=upload.size,
    )
    audit.record(
        actor, "incident.attachment_added", incident, changes={"attachment": [None, name]}, at=now
    )
    return attachment


# --- major incidents -------------------------------------------------------------------------


@transaction.atomic
def declare_major(*, actor: Any, incident: Incident, manager: Any, reason: str = "") -> Incident:
    """Start the major-incident procedure with a named manager; a review becomes required."""
    require(actor, "incidents.manage_major_incident", incident)
    if not incident.is_open:
        raise InvalidTransition(_("Only an open incident can be declared major."))
    if incident.is_major:
        raise Conflict(_("%(number)s is already a major incident.") % {"number": incident.number})
    if manager is None or not manager.has_perm("incidents.work_incident"):
        raise FieldError("manager", _("Name a manager who works on incidents."))
    now = timezone.now()
    incident.is_major, incident.major_manager = True, manager
    _save(incident, ["is_major", "major_manager"], now)
    PostIncidentReview.objects.get_or_create(incident=incident)
    _event(incident, actor, EventKind.MAJOR, now, body=reason, public=True, manager=str(manager))
    audit.record(
        actor,
        "incident.declared_major",
        incident,
        changes={"is_major": [False, True], "major_manager": [None, manager.pk]},
        reason=reason,
        at=now,
    )
    notify.after_commit(notify.major_declared, incident.pk)
    return incident


@transaction.atomic
def communicate(
    *, actor: Any, incident: Incident, body: str, audience: str = "stakeholders"
) -> IncidentEvent:
    """A timed update to stakeholders in the major incident's communication log."""
    require(actor, "incidents.work_incident", incident)
    if not incident.is_major:
        raise InvalidTransition(_("Stakeholder updates belong to major incidents."))
    if incident.status in lifecycle.FINAL:
        raise InvalidTransition(_("This incident is closed; its communication log is complete."))
    errors: list[tuple[str, Any]] = []
    body = _text("body", body, errors, required=True)
    audience = _text("audience", audience, errors, required=True, limit=200)
    if errors:
        raise FieldError(errors=errors)
    now = timezone.now()
    event = _event(
        incident, actor, EventKind.COMMUNICATION, now, body=body, public=True, audience=audience
    )
    _save(incident, [], now)
    audit.record(
        actor, "incident.communicated", incident, changes={"audience": [None, audience]}, at=now
    )
    return event


@transaction.atomic
def link_child(*, actor: Any, major: Incident, child: Incident) -> Incident:
    """Attach an incident caused by the same failure to the major incident."""
    require(actor, "incidents.work_incident", major)
    require(actor, "incidents.work_incident", child)
    if not major.is_major:
        raise InvalidTransition(_("Incidents are linked to a major incident only."))
    if child.pk == major.pk or child.is_major:
        raise FieldError("child", _("A major incident cannot be its own child or another major's."))
    if child.status in lifecycle.FINAL:
        raise FieldError(
            "child", _("%(number)s is closed; link open incidents.") % {"number": child.number}
        )
    if child.parent_id == major.pk:
        return child
    if child.parent_id is not None:
        raise Conflict(
            _("%(number)s already belongs to another major incident.") % {"number": child.number},
            errors=[("child", _("Unlink it there first."))],
        )
    now = timezone.now()
    child.parent = major
    _save(child, ["parent"], now)
    _event(major, actor, EventKind.LINK, now, child=child.number)
    audit.record(actor, "incident.linked", child, changes={"parent": [None, major.pk]}, at=now)
    return child


REVIEW_FIELDS = ["timeline", "cause", "went_well", "went_badly"]


@transaction.atomic
def save_review(
    *, actor: Any, incident: Incident, complete: bool = False, **values: str
) -> PostIncidentReview:
    """Write the post-incident review; completing it needs every part and at least one action."""
    require(actor, "incidents.manage_major_incident", incident)
    if not incident.is_major:
        raise InvalidTransition(_("Only major incidents have a post-incident review."))
    review, _created = PostIncidentReview.objects.get_or_create(incident=incident)
    if review.completed_at is not None:
        raise InvalidTransition(_("The review is completed and can no longer change."))
    errors: list[tuple[str, Any]] = [
        (f, _("Unknown field.")) for f in sorted(set(values) - set(REVIEW_FIELDS))
    ]
    for field in REVIEW_FIELDS:
        if field in values:
            setattr(review, field, _text(field, values[field], errors, required=False))
    now = timezone.now()
    if complete:
        for field in REVIEW_FIELDS:
            if not getattr(review, field).strip():
                errors.append((field, _("Fill this in before completing the review.")))
        if not review.actions.exists():
            errors.append(("actions", _("Agree at least one action, with an owner.")))
    if errors:
        raise FieldError(errors=errors)
    if complete:
        review.completed_at, review.completed_by = now, actor
    review.save()
    audit.record(
        actor,
        "incident.review_completed" if complete else "incident.review_saved",
        incident,
        changes={f: [None, len(getattr(review, f))] for f in REVIEW_FIELDS},
        at=now,
    )
    return review


@transaction.atomic
def add_review_action(
    *, actor: Any, incident: Incident, description: str, owner: Any, due: Any = None
) -> ReviewAction:
    require(actor, "incidents.manage_major_incident", incident)
    review = PostIncidentReview.objects.filter(incident=incident).first()
    if review is None:
        raise InvalidTransition(_("Only major incidents have a post-incident review."))
    if review.completed_at is not None:
        raise InvalidTransition(_("The review is completed and can no longer change."))
    errors: list[tuple[str, Any]] = []
    description = _text("description", description, errors, required=True, limit=2000)
    if owner is None:
        errors.append(("owner", _("Every action needs an owner.")))
    elif not owner.is_active or getattr(owner, "is_system", False):
        errors.append(("owner", _("The owner must be an active person.")))
    if due is not None and due < timezone.localdate():
        errors.append(("due", _("The due date cannot be in the past.")))
    if errors:
        raise FieldError(errors=errors)
    action = ReviewAction.objects.create(
        review=review, description=description, owner=owner, due=due
    )
    audit.record(
        actor,
        "incident.review_action_added",
        incident,
        changes={"action": [None, description[:200]], "owner": [None, owner.pk]},
    )
    return action


@transaction.atomic
def note_email(*, incident: Incident, to: list[str], kind: str) -> IncidentEvent:
    """Note in the timeline that Keel sent an e-mail about the incident (the system acts)."""
    from keel.core.actions import system_user

    return _event(incident, system_user(), EventKind.EMAIL, timezone.now(), to=to, template=kind)


# --- the SLA sweep ---------------------------------------------------------------------------


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
    events = [
        IncidentEvent(
            incident_id=pk, at=now, actor=system, kind=EventKind.SLA, data={"state": "warning"}
        )
        for pk in warned
    ]
    events += [
        IncidentEvent(
            incident_id=pk,
            at=now,
            actor=system,
            kind=EventKind.SLA,
            data={"state": "response_breached"},
        )
        for pk in late_response
    ]
    events += [
        IncidentEvent(
            incident_id=pk, at=now, actor=system, kind=EventKind.SLA, data={"state": "breached"}
        )
        for pk in breached
    ]
    events += [
        IncidentEvent(
            incident_id=pk,
            at=now,
            actor=system,
            kind=EventKind.ESCALATION,
            data={"kind": "functional"},
        )
        for pk in escalated
    ]
    events += [
        IncidentEvent(
            incident_id=pk,
            at=now,
            actor=system,
            kind=EventKind.ESCALATION,
            data={"kind": "unassigned"},
        )
        for pk in unowned
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
