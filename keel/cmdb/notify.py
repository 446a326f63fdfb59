"""The e-mails the CMDB sends, after the change that caused them has committed.

Each is a Huey task taking a primary key, so it runs in the worker (or inline in tests), reads
the record as it is then, and writes in each recipient's language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from huey.contrib.djhuey import db_task

from keel.core import outbox


def after_commit(task: Callable[[int], Any], pk: int) -> None:
    """Queue ``task(pk)`` with the current transaction: it runs once the transaction commits,
    never for a rolled-back one, and a crash after the commit cannot lose it (the outbox)."""
    outbox.queue(task, pk)


def _url(item: Any) -> str:
    base = getattr(settings, "KEEL_BASE_URL", "").rstrip("/")
    return f"{base}/cmdb/items/{item.number}/"


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    language: str


def recipients_of(item: Any) -> list[Recipient]:
    """Who hears about an item: its owner and its support team's lead; the team's own address
    when neither can be reached. Each address once."""
    found: dict[str, Recipient] = {}
    for person in (item.owner, item.team.lead if item.team else None):
        if person is not None and person.email and person.is_active:
            found.setdefault(
                person.email.lower(),
                Recipient(person.email, person.display_name, person.language),
            )
    if not found and item.team and item.team.email:
        found[item.team.email.lower()] = Recipient(
            item.team.email, item.team.name, settings.LANGUAGE_CODE
        )
    return list(found.values())


@db_task(retries=3, retry_delay=60)
def expiry_reminder(pk: int) -> None:
    """E-mail one expiry reminder, unless it has gone out already."""
    from keel.cmdb import actions
    from keel.cmdb.models import ExpiryReminder

    reminder = (
        ExpiryReminder.objects.select_related("item", "item__owner", "item__team__lead")
        .filter(pk=pk, sent_at__isnull=True)
        .first()
    )
    if reminder is None:
        return
    item = reminder.item
    sent_to = []
    for person in recipients_of(item):
        with translation.override(person.language or settings.LANGUAGE_CODE):
            body = render_to_string(
                "cmdb/email/expiry.txt",
                {"reminder": reminder, "item": item, "person": person, "url": _url(item)},
            )
            subject = (
                _("Warranty ends %(date)s: %(name)s")
                if reminder.kind == "warranty"
                else _("Licence ends %(date)s: %(name)s")
            ) % {"date": reminder.expires_on.isoformat(), "name": item.name}
            send_mail(f"[{item.number}] {subject}", body, None, [person.email])
        sent_to.append(person.email)
    actions.note_reminder_sent(reminder=reminder, to=sent_to)
