"""The lifecycle steps: assign, start, hold, resume, resolve, confirm, close, reject, reopen, cancel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.core import audit
from keel.core.errors import FieldError, InvalidTransition
from keel.core.permissions import require
from keel.incidents import lifecycle, notify
from keel.incidents.actions._base import (
    _apply_rating,
    _check_version,
    _close_resolved,
    _event,
    _note_first_response,
    _pause,
    _record_step,
    _reopen_days,
    _require_step,
    _resume,
    _save,
    _set_status,
    _text,
    _unpause,
)
from keel.incidents.lifecycle import HoldReason, Status
from keel.incidents.models import (
    EventKind,
    Incident,
    PostIncidentReview,
    ResolutionCode,
)


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
    _record_step(incident, actor, now, "incident.started", old=before, new=incident.status)
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
    _record_step(
        incident,
        actor,
        now,
        "incident.held",
        old=before,
        new=Status.ON_HOLD,
        text=note,
        changes={"hold_reason": ["", reason]},
        hold_reason=reason,
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
    _record_step(
        incident,
        actor,
        now,
        "incident.resolved",
        old=before,
        new=Status.RESOLVED,
        text=notes,
        changes={"resolution_code": ["", code]},
        code=code,
    )
    notify.after_commit(notify.resolved, incident.pk)
    return incident


def _review_pending(incident: Incident) -> bool:
    """Whether the incident is major and its post-incident review is not completed yet."""
    return (
        incident.is_major
        and not PostIncidentReview.objects.filter(
            incident=incident, completed_at__isnull=False
        ).exists()
    )


def _require_review_done(incident: Incident) -> None:
    if _review_pending(incident):
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
    """The requester (or an agent for them) confirms the fix; the incident closes.

    A major incident whose review is not completed stays resolved: the confirmation (and the
    rating) is kept, and the incident closes as its review is completed.
    """
    _require_step(actor, incident, "confirm")
    _check_version(incident, version)
    now = timezone.now()
    if _review_pending(incident):
        if incident.confirmed_at is not None:
            raise InvalidTransition(_("The resolution is already confirmed."))
        fields = ["confirmed_at"]
        incident.confirmed_at = now
        if rating is not None:
            _apply_rating(incident, actor, rating, comment, now, fields)
        _save(incident, fields, now)
        _record_step(
            incident,
            actor,
            now,
            "incident.confirmed",
            old=Status.RESOLVED,
            new=Status.RESOLVED,
            confirmed=True,
            awaiting_review=True,
        )
        return incident
    fields = []
    if rating is not None:
        _apply_rating(incident, actor, rating, comment, now, fields)
    _close_resolved(incident, actor, now, "incident.confirmed", fields=fields, confirmed=True)
    return incident


@transaction.atomic
def close(*, actor: Any, incident: Incident, reason: str = "") -> Incident:
    """Close a resolved incident nobody confirmed within the period (the auto-close task)."""
    _require_step(actor, incident, "close")
    _require_review_done(incident)
    _close_resolved(
        incident, actor, timezone.now(), "incident.closed", text=reason, confirmed=False
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
    fields = ["reopen_count", "resolved_at", "closed_at", "confirmed_at", "resolution_code"]
    incident.reopen_count += 1
    incident.resolved_at = incident.closed_at = incident.confirmed_at = None
    incident.resolution_code = ""
    _set_status(incident, Status.IN_PROGRESS, fields)
    _unpause(incident, now, fields)
    _save(incident, fields, now)
    action = f"incident.{step_name}ed" if step_name == "reject" else "incident.reopened"
    _record_step(
        incident, actor, now, action, old=before, new=Status.IN_PROGRESS, text=reason, reopened=True
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
    _record_step(
        incident, actor, now, "incident.cancelled", old=before, new=Status.CANCELLED, text=reason
    )
    return incident
