"""What every incident action shares: validation, versioned saves, the timeline, the SLA clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.catalog import queries as catalog
from keel.core import audit
from keel.core.errors import FieldError, StaleVersion
from keel.core.permissions import is_staff_member, require
from keel.incidents import lifecycle, sla
from keel.incidents.lifecycle import Status
from keel.incidents.models import EventKind, Incident, IncidentEvent

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


def _record_step(
    incident: Incident,
    actor: Any,
    now: datetime,
    action: str,
    *,
    old: str,
    new: str,
    text: str = "",
    changes: dict[str, Any] | None = None,
    **details: Any,
) -> None:
    """A status step's public timeline line and its audit event (``text`` is the why)."""
    _event(
        incident, actor, EventKind.STATUS, now, body=text, public=True, old=old, new=new, **details
    )
    audit.record(
        actor,
        action,
        incident,
        changes={"status": [old, new], **(changes or {})},
        reason=text,
        at=now,
    )


def _close_resolved(
    incident: Incident,
    actor: Any,
    now: datetime,
    action: str,
    *,
    fields: list[str] | None = None,
    text: str = "",
    **details: Any,
) -> None:
    """Close a resolved incident: its time, status and line (``fields``: others set already)."""
    fields = [*(fields or []), "closed_at"]
    incident.closed_at = now
    _set_status(incident, Status.CLOSED, fields)
    _save(incident, fields, now)
    _record_step(
        incident, actor, now, action, old=Status.RESOLVED, new=Status.CLOSED, text=text, **details
    )


def _resume(actor: Any, incident: Incident, note: str) -> Incident:
    now = timezone.now()
    fields = ["hold_reason"]
    incident.hold_reason = ""
    _set_status(incident, Status.IN_PROGRESS, fields)
    _unpause(incident, now, fields)
    _save(incident, fields, now)
    _record_step(
        incident,
        actor,
        now,
        "incident.resumed",
        old=Status.ON_HOLD,
        new=Status.IN_PROGRESS,
        text=note,
    )
    return incident


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


def _opened_event(
    incident: Incident, actor: Any, changes: dict[str, Any]
) -> tuple[dict[str, Any], str, str]:
    """The ``incident.opened`` event's hashed fields for an incident not yet written, for the
    recording paths that fill in its id and number as they write (``_record_pg``,
    ``_record_sqlite``): the fields, and the markers (:func:`audit.marker`) standing for the
    id and the number in them."""
    id_mark, number_mark = audit.marker(), audit.marker()
    incident.number = number_mark
    fields = audit.prepared(
        actor,
        "incident.opened",
        incident,
        object_id=id_mark,
        changes=changes,
        at=incident.created_at,
    )
    incident.number = ""
    return fields, id_mark, number_mark
