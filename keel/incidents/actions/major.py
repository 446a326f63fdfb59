"""The major-incident procedure: a named manager, stakeholder updates, child incidents, the review."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.core import audit
from keel.core.errors import Conflict, FieldError, InvalidTransition
from keel.core.permissions import require
from keel.incidents import lifecycle, notify
from keel.incidents.actions._base import (
    _close_resolved,
    _event,
    _save,
    _text,
)
from keel.incidents.lifecycle import Status
from keel.incidents.models import (
    EventKind,
    Incident,
    IncidentEvent,
    PostIncidentReview,
    ReviewAction,
)


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
    if complete and incident.status == Status.RESOLVED and incident.confirmed_at is not None:
        # The requester confirmed while the review was open: it closes now.
        _close_resolved(
            incident, actor, now, "incident.closed", confirmed=True, review_completed=True
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
