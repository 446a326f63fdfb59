"""The conversation and the work: ratings, comments, work logs, attachments, e-mails noted."""

from __future__ import annotations

import mimetypes
from pathlib import PurePath
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.core import audit
from keel.core.errors import FieldError, InvalidTransition
from keel.core.permissions import require
from keel.incidents import lifecycle, notify
from keel.incidents.actions._base import (
    ALLOWED_EXTENSIONS,
    WORKLOG_MAX_MINUTES,
    _apply_rating,
    _check_version,
    _event,
    _max_attachment_bytes,
    _note_first_response,
    _resume,
    _save,
    _text,
    _touch,
)
from keel.incidents.lifecycle import HoldReason, Status
from keel.incidents.models import (
    Attachment,
    EventKind,
    Incident,
    IncidentEvent,
)


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
    if public:  # like a note: work the requester cannot see does not answer them
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
            "file", _("Files may be at most %(size)s.") % {"size": filesizeformat(limit)}
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


@transaction.atomic
def note_email(*, incident: Incident, to: list[str], kind: str) -> IncidentEvent:
    """Note in the timeline that Keel sent an e-mail about the incident (the system acts)."""
    from keel.core.actions import system_user

    return _event(incident, system_user(), EventKind.EMAIL, timezone.now(), to=to, template=kind)
