"""Periodic CMDB work: the daily sweep for warranties and licences about to expire."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from keel.cmdb import actions
from keel.core.actions import system_user


@db_periodic_task(crontab(hour="6", minute="20"))
@lock_task("cmdb-expiry-reminders")
def expiry_reminders() -> None:
    """Remind owners and team leads of expiries in the next 30 days (``KEEL_CMDB_REMINDER_DAYS``)."""
    actions.plan_expiry_reminders(actor=system_user())
