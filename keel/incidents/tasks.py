"""Periodic incident work: the SLA sweep every minute, auto-closing unconfirmed resolutions hourly."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from keel.core.actions import system_user
from keel.incidents import actions


@db_periodic_task(crontab(minute="*"))
@lock_task("incidents-sla-sweep")
def sla_sweep() -> None:
    actions.sweep_sla(actor=system_user())


@db_periodic_task(crontab(minute="7"))
@lock_task("incidents-auto-close")
def auto_close() -> None:
    actions.auto_close_resolved(actor=system_user())
