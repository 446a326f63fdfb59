"""Periodic CMDB work: the daily sweep for warranties and licences about to expire, and the
hourly removal of import uploads abandoned between the wizard's steps."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task, periodic_task

from keel.cmdb import actions, uploads
from keel.core.actions import system_user


@db_periodic_task(crontab(hour="6", minute="20"))
@lock_task("cmdb-expiry-reminders")
def expiry_reminders() -> None:
    """Remind owners and team leads of expiries in the next 30 days (``KEEL_CMDB_REMINDER_DAYS``)."""
    actions.plan_expiry_reminders(actor=system_user())


@periodic_task(crontab(minute="35"))
@lock_task("cmdb-abandoned-imports")
def purge_abandoned_imports() -> list[str]:
    """Delete import uploads not used for a day (left between the mapping and confirm steps)."""
    return uploads.purge_abandoned()
