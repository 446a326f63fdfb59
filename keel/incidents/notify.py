"""What incidents tell people, by e-mail, after the change that caused it has committed.

Each notice is a Huey task taking primary keys, so it runs in the worker (or inline in tests),
reads the incident as it is then, writes the e-mail in the recipient's language and time zone,
and notes the e-mail in the incident's timeline.
"""

from __future__ import annotations

import contextlib
import logging
import zoneinfo
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template import Context, Engine
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from huey.contrib.djhuey import db_task

from keel.core import outbox

log = logging.getLogger(__name__)


_silent: ContextVar[bool] = ContextVar("keel_incident_notices_silent", default=False)


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Queue no notice while the block runs (in this thread), e.g. while replaying history."""
    token = _silent.set(True)
    try:
        yield
    finally:
        _silent.reset(token)


def wanted(tasks: list[Callable[[int], Any]]) -> list[Callable[[int], Any]]:
    """The notice tasks to queue: none while :func:`silenced`."""
    return [] if _silent.get() else tasks


def after_commit(task: Callable[[int], Any], pk: int) -> None:
    """Queue ``task(pk)`` with the current transaction: it runs once the transaction commits,
    never for a rolled-back one, and a crash after the commit cannot lose it (the outbox)."""
    if not _silent.get():
        outbox.queue(task, pk)


def _incident(pk: int):
    from keel.incidents.models import Incident

    return (
        Incident.objects.select_related(
            "requester", "service", "team", "team__lead", "assignee", "service__owner"
        )
        .filter(pk=pk)
        .first()
    )


def _url(incident) -> str:
    base = getattr(settings, "KEEL_BASE_URL", "").rstrip("/")
    return f"{base}/incidents/{incident.number}/"


def _render_text(name: str, context: dict[str, Any]) -> str:
    """A plain-text template without HTML escaping: "R&D <lab>" must not arrive as "R&amp;D"."""
    return Engine.get_default().get_template(name).render(Context(context, autoescape=False))


def _send(incident, recipients, kind: str, subject: str | Promise, **context: Any) -> None:
    """Send one e-mail per recipient, each in their own language and time zone.

    ``subject`` is lazy (``gettext_lazy``) so it is translated inside each recipient's language.
    """
    from keel.incidents import actions

    sent_to = []
    for person in {
        p.pk: p for p in recipients if p is not None and p.email and p.is_active
    }.values():
        with translation.override(person.language or settings.LANGUAGE_CODE):
            try:
                zone = zoneinfo.ZoneInfo(person.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                zone = zoneinfo.ZoneInfo("UTC")
            with timezone.override(zone):
                body = _render_text(
                    f"incidents/email/{kind}.txt",
                    {"incident": incident, "person": person, "url": _url(incident), **context},
                )
                line = str(subject) % {"number": incident.number, "title": incident.title}
                send_mail(f"[{incident.number}] {line}", body, None, [person.email])
        sent_to.append(person.email)
    if sent_to:
        actions.note_email(incident=incident, to=sent_to, kind=kind)


@db_task(retries=3, retry_delay=30)
def acknowledge(pk: int) -> None:
    incident = _incident(pk)
    if incident:
        _send(incident, [incident.requester], "acknowledge", _("Recorded: %(title)s"))


@db_task(retries=3, retry_delay=30)
def assigned(pk: int) -> None:
    incident = _incident(pk)
    if incident:
        _send(incident, [incident.assignee], "assigned", _("Assigned to you: %(title)s"))


@db_task(retries=3, retry_delay=30)
def resolved(pk: int) -> None:
    incident = _incident(pk)
    if incident:
        _send(incident, [incident.requester], "resolved", _("Resolved — please confirm: %(title)s"))


@db_task(retries=3, retry_delay=30)
def reopened(pk: int) -> None:
    incident = _incident(pk)
    if incident:
        _send(
            incident,
            [incident.assignee or incident.team.lead],
            "reopened",
            _("Reopened: %(title)s"),
        )


@db_task(retries=3, retry_delay=30)
def awaiting_requester(pk: int) -> None:
    incident = _incident(pk)
    if incident:
        _send(
            incident, [incident.requester], "awaiting_requester", _("We need your reply: %(title)s")
        )


@db_task(retries=3, retry_delay=30)
def commented(event_pk: int) -> None:
    from keel.incidents.models import IncidentEvent

    event = IncidentEvent.objects.select_related("incident", "actor").filter(pk=event_pk).first()
    if event is None:
        return
    incident = _incident(event.incident_id)
    if incident is None:
        return
    if event.actor_id == incident.requester_id:
        recipients = [incident.assignee or incident.team.lead]
    else:
        recipients = [incident.requester]
    _send(incident, recipients, "commented", _("New reply: %(title)s"), event=event)


@db_task(retries=3, retry_delay=30)
def major_declared(pk: int) -> None:
    incident = _incident(pk)
    if incident:
        recipients = [incident.major_manager, incident.team.lead, incident.service.owner]
        _send(incident, recipients, "major", _("MAJOR INCIDENT: %(title)s"))


@db_task(retries=3, retry_delay=30)
def p1_opened(pk: int) -> None:
    incident = _incident(pk)
    if incident:
        _send(
            incident, [incident.team.lead, incident.service.owner], "p1", _("Priority 1: %(title)s")
        )


def sla_warning(pk: int) -> None:
    incident = _incident(pk)
    if incident:
        _send(
            incident,
            [incident.assignee, incident.team.lead],
            "sla_warning",
            _("Deadline approaching: %(title)s"),
        )


def sla_breached(pk: int) -> None:
    incident = _incident(pk)
    if incident:
        recipients = [incident.assignee, incident.team.lead, incident.service.owner]
        _send(incident, recipients, "sla_breached", _("Deadline missed: %(title)s"))


def escalated(pk: int) -> None:
    incident = _incident(pk)
    if incident:
        _send(
            incident,
            [incident.team.lead, *incident.team.members.all()[:20]],
            "escalated",
            _("Escalated to your team: %(title)s"),
        )


@db_task(retries=3, retry_delay=30)
def sla_notices(pks_by_kind: dict[str, list[int]]) -> None:
    """Send the sweep's warnings, breaches and escalations (one task per sweep, not per incident)."""
    if _silent.get():
        return
    senders = {"warning": sla_warning, "breached": sla_breached, "escalated": escalated}
    for kind, pks in pks_by_kind.items():
        for pk in pks:
            try:
                senders[kind](pk)
            except Exception:  # one bad address must not stop the rest of the sweep's notices
                log.exception("could not send the %s notice for incident %s", kind, pk)
