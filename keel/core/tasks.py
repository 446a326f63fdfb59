"""Background work of the core: the worker's heartbeat, read by the health check."""

from __future__ import annotations

import os
import socket

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from keel.core.models import WorkerHeartbeat


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat() -> None:
    WorkerHeartbeat.objects.update_or_create(
        name=worker_name(), defaults={"seen_at": timezone.now()}
    )


@db_periodic_task(crontab(minute="*"))
def heartbeat() -> None:
    """Say every minute that this worker is alive."""
    beat()


@HUEY.on_startup()
def heartbeat_on_start() -> None:
    from django.db import close_old_connections

    close_old_connections()
    beat()


@HUEY.on_startup()
def outbox_on_start() -> None:
    """Hand tasks queued with their transactions (the outbox) to this worker's queue."""
    from keel.core import outbox

    outbox.start_poller()


@HUEY.on_shutdown()
def outbox_on_stop() -> None:
    from keel.core import outbox

    outbox.stop_poller()
