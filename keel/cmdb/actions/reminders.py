"""Reminders before warranties and licences expire."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.cmdb import queries
from keel.cmdb.models import ExpiryKind, ExpiryReminder
from keel.core import audit
from keel.core.errors import FieldError
from keel.core.permissions import require

DEFAULT_REMINDER_DAYS = 30


def reminder_days() -> int:
    return int(getattr(settings, "KEEL_CMDB_REMINDER_DAYS", DEFAULT_REMINDER_DAYS))


@transaction.atomic
def plan_expiry_reminders(
    *, actor: Any, today: date | None = None, days: int | None = None
) -> list[int]:
    """Note a reminder for every warranty and licence ending within ``days`` (default 30) that
    has none yet for that date, and e-mail each after commit. Returns the new reminders' ids.

    A reminder is sent once per item, kind and expiry date: a renewed date gets a new one.
    """
    require(actor, "cmdb.change_configurationitem")
    today = today or timezone.localdate()
    days = reminder_days() if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
        raise FieldError("days", _("Use 0 to 3650 days."))
    until = today + timedelta(days=days)
    planned: list[ExpiryReminder] = []
    entries: list[dict[str, Any]] = []
    for item in queries.expiring(today, until):
        for kind, expires in (
            (ExpiryKind.WARRANTY, item.warranty_expires),
            (ExpiryKind.LICENCE, item.licence_expires),
        ):
            if expires is None or not today <= expires <= until:
                continue
            if ExpiryReminder.objects.filter(item=item, kind=kind, expires_on=expires).exists():
                continue
            reminder = ExpiryReminder.objects.create(
                item=item, kind=kind, expires_on=expires, created_at=timezone.now()
            )
            entries.append(
                {
                    "action": "ci.expiry_reminder",
                    "obj": item,
                    "changes": {f"{kind}_reminder": [None, expires.isoformat()]},
                }
            )
            planned.append(reminder)
    audit.record_many(actor, entries)
    from keel.cmdb import notify

    for reminder in planned:
        notify.after_commit(notify.expiry_reminder, reminder.pk)
    return [r.pk for r in planned]


@transaction.atomic
def note_reminder_sent(*, reminder: ExpiryReminder, to: list[str]) -> None:
    """Record that the reminder's e-mail went out, and to whom."""
    ExpiryReminder.objects.filter(pk=reminder.pk).update(sent_at=timezone.now(), sent_to=to)
