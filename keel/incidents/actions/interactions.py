"""Contacts with the service desk (interactions): recording one, linking it to an incident, and
opening an incident from it.

Every call, e-mail, chat or walk-in is recorded, whether the agent settled it there and then
(resolved at first contact) or it led to an incident; first-contact resolution is counted from
these records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.catalog.models import Category, Service
from keel.core import audit
from keel.core.errors import Conflict, FieldError
from keel.core.numbering import next_number
from keel.core.permissions import require
from keel.incidents.actions._base import TITLE_MAX, _event, _touch
from keel.incidents.actions.links import resolve_cis
from keel.incidents.actions.recording import open_incident
from keel.incidents.models import Channel, EventKind, Incident, Interaction

# The ways a person reaches the desk; the portal, the API and monitoring record incidents, not
# contacts.
CONTACT_CHANNELS = [Channel.PHONE, Channel.EMAIL, Channel.CHAT, Channel.WALK_IN]
SUMMARY_MAX = 4000
HANDLE_MAX_SECONDS = 24 * 60 * 60
# Clocks of the agent's machine and the server differ a little; a contact further ahead is a typo.
FUTURE_TOLERANCE = timedelta(minutes=5)
# What may be said about the incident opened from a contact (the rest comes from the contact).
NEW_INCIDENT_FIELDS = {"title", "description", "impact", "urgency"}


def _check_person(
    field: str, person: Any, errors: list[tuple[str, Any]], *, required: bool = False
) -> None:
    if person is None:
        if required:
            errors.append((field, _("Say who contacted the desk.")))
        return
    if not getattr(person, "is_active", False) or getattr(person, "is_system", False):
        errors.append((field, _("The contact must be an active person.")))


def _check_times(
    started_at: datetime,
    ended_at: datetime | None,
    handle_seconds: Any,
    now: datetime,
    errors: list[tuple[str, Any]],
) -> int | None:
    """Validate when the contact happened and how long it took; the handle time defaults to the
    time between start and end."""
    if timezone.is_naive(started_at):
        errors.append(("started_at", _("Give the time with its time zone.")))
        return None
    if started_at > now + FUTURE_TOLERANCE:
        errors.append(("started_at", _("A contact cannot start in the future.")))
    if ended_at is not None:
        if timezone.is_naive(ended_at):
            errors.append(("ended_at", _("Give the time with its time zone.")))
            return None
        if ended_at < started_at:
            errors.append(("ended_at", _("The contact cannot end before it started.")))
    if handle_seconds is None:
        if ended_at is not None and ended_at >= started_at:
            return int((ended_at - started_at).total_seconds())
        return None
    if isinstance(handle_seconds, bool) or not isinstance(handle_seconds, int):
        errors.append(("handle_seconds", _("Give the handle time in whole seconds.")))
    elif handle_seconds < 0:
        errors.append(("handle_seconds", _("The handle time cannot be negative.")))
    elif handle_seconds > HANDLE_MAX_SECONDS:
        errors.append(("handle_seconds", _("The handle time can be at most 24 hours.")))
    return handle_seconds


def _check_visible_incident(actor: Any, incident: Incident) -> None:
    """An incident the agent may not see is reported as missing (``NotFound``, 404)."""
    require(actor, None, incident)


def _link_event(interaction: Interaction, actor: Any, now: datetime) -> None:
    """The contact in the incident's timeline (internal), at the time it happened."""
    incident = interaction.incident
    assert incident is not None  # noqa: S101  (callers link first; for the type checker)
    _event(
        incident,
        actor,
        EventKind.INTERACTION,
        interaction.started_at,
        body=interaction.summary,
        public=False,
        interaction=interaction.number,
        channel=interaction.channel,
        handle_seconds=interaction.handle_seconds,
        resolved_first_contact=interaction.resolved_first_contact,
    )
    _touch(incident, [], now)


def record_interaction(
    *,
    actor: Any,
    channel: str,
    summary: str,
    contact: Any = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    handle_seconds: int | None = None,
    service: Service | None = None,
    category: Category | None = None,
    ci: Any = None,
    resolved_first_contact: bool = False,
    incident: Incident | None = None,
    new_incident: Mapping[str, Any] | None = None,
) -> Interaction:
    """Record a contact with the service desk; agents only (``incidents.work_incident``).

    The contact is numbered ``CON-…``. ``incident`` links it to an incident the agent can see
    (another is reported as missing); ``new_incident`` (title, description, impact, urgency)
    opens an incident for the contact person on the contact's service instead, through
    :func:`open_incident`, in the same transaction. A linked incident gets an internal timeline
    line for the contact. The summary may be left empty only when the contact was resolved there
    and then. Writes one audit event for the contact (and the new incident's own).
    """
    require(actor, "incidents.work_incident")
    if incident is not None:
        _check_visible_incident(actor, incident)
    now = timezone.now()
    errors: list[tuple[str, Any]] = []
    if channel not in CONTACT_CHANNELS:
        errors.append(
            (
                "channel",
                _("Unknown channel; use one of: %(channels)s.")
                % {"channels": ", ".join(c.value for c in CONTACT_CHANNELS)},
            )
        )
    summary = (summary or "").strip()
    if not summary and not resolved_first_contact:
        errors.append(("summary", _("Say what the contact was about.")))
    elif len(summary) > SUMMARY_MAX:
        errors.append(("summary", _("Use at most %(limit)s characters.") % {"limit": SUMMARY_MAX}))
    _check_person("contact", contact, errors, required=new_incident is not None)
    started_at = started_at or now
    handle_seconds = _check_times(started_at, ended_at, handle_seconds, now, errors)
    if service is not None and not service.is_active:
        errors.append(("service", _("Choose a service that is in operation.")))
    if category is not None and not category.is_active:
        errors.append(("category", _("This category is no longer in use.")))
    items = []
    if ci is not None:
        try:
            items = resolve_cis(actor, [ci])
        except FieldError as exc:
            errors += [("ci", message) for _field, message in exc.errors]
    if incident is not None and new_incident is not None:
        errors.append(
            ("incident", _("Link the contact to an incident or open a new one, not both."))
        )
    if new_incident is not None:
        unknown = sorted(set(new_incident) - NEW_INCIDENT_FIELDS)
        errors += [(f"new_incident.{name}", _("Unknown field.")) for name in unknown]
        if service is None:
            errors.append(("service", _("Choose the service the new incident is about.")))
    if errors:
        raise FieldError(errors=errors)

    with transaction.atomic():
        if new_incident is not None:
            incident = _open_from_contact(
                actor=actor,
                contact=contact,
                channel=channel,
                summary=summary,
                service=service,
                category=category,
                items=items,
                at=now,
                values=new_incident,
            )
        interaction = Interaction(
            number=next_number("CON"),
            contact=contact,
            agent=actor,
            channel=channel,
            summary=summary,
            service=service,
            category=category,
            ci=items[0] if items else None,
            started_at=started_at,
            ended_at=ended_at,
            handle_seconds=handle_seconds,
            resolved_first_contact=bool(resolved_first_contact),
            incident=incident,
            created_at=now,
        )
        interaction.save(force_insert=True)
        if incident is not None:
            _link_event(interaction, actor, now)
        audit.record(
            actor,
            "contact.recorded",
            interaction,
            changes={
                "channel": [None, channel],
                "resolved_first_contact": [None, interaction.resolved_first_contact],
                **({"incident": [None, incident.number]} if incident is not None else {}),
                **({"contact": [None, contact.pk]} if contact is not None else {}),
            },
            at=now,
        )
    return interaction


def _open_from_contact(
    *,
    actor: Any,
    contact: Any,
    channel: str,
    summary: str,
    service: Service | None,
    category: Category | None,
    items: list[Any],
    at: datetime,
    values: Mapping[str, Any],
) -> Incident:
    """The incident a contact leads to: the contact person is its requester, the contact's
    service, category, item and channel are its own; its title defaults to the summary's first
    line. Field errors come back named ``new_incident.<field>``."""
    title = (values.get("title") or "").strip()
    if not title and summary:
        title = summary.splitlines()[0][:TITLE_MAX]
    try:
        return open_incident(
            actor=actor,
            title=title,
            description=values.get("description") or summary,
            service=service,
            impact=values.get("impact"),
            urgency=values.get("urgency"),
            category=category,
            requester=contact,
            channel=channel,
            at=at,
            cis=items,
        )
    except FieldError as exc:
        renamed = [
            (f"new_incident.{field}" if field in NEW_INCIDENT_FIELDS else field, message)
            for field, message in exc.errors
        ]
        raise FieldError(errors=renamed) from None


@transaction.atomic
def link_interaction(*, actor: Any, interaction: Interaction, incident: Incident) -> Interaction:
    """Say which incident a contact was about (a caller chasing an incident, found afterwards).

    Agents only; the incident must be one the agent can see (another is reported as missing).
    A contact linked elsewhere moves. The incident's timeline gets an internal line for it.
    """
    require(actor, "incidents.work_incident")
    _check_visible_incident(actor, incident)
    if interaction.incident_id == incident.pk:
        return interaction
    before = None
    if interaction.incident_id is not None:
        before = (
            Incident.objects.filter(pk=interaction.incident_id)
            .values_list("number", flat=True)
            .first()
        )
    now = timezone.now()
    unchanged = (
        Q(incident__isnull=True)
        if interaction.incident_id is None
        else Q(incident_id=interaction.incident_id)
    )
    rows = Interaction.objects.filter(unchanged, pk=interaction.pk).update(incident=incident)
    if rows != 1:
        raise Conflict(_("Someone else linked this contact at the same moment; reload it."))
    interaction.incident = incident
    _link_event(interaction, actor, now)
    audit.record(
        actor,
        "contact.linked",
        interaction,
        changes={"incident": [before, incident.number]},
        at=now,
    )
    return interaction
