"""Background tasks queued with the transaction that asks for them (a transactional outbox).

An action calls :func:`queue` inside its transaction; the task is a row of that transaction, so
it exists exactly when the change does. The worker's :func:`poll` loop hands pending rows to
Huey's queue (:func:`deliver`) about twice a second, oldest first. Handing over and deleting the
rows is one transaction: a worker that dies in between hands them over again (a notice may come
twice, never not at all), and several workers never take the same rows (PostgreSQL skips rows
another worker holds; SQLite has one writer at a time).

Queuing this way is also cheaper on the busiest path: recording an incident writes one more row
in the transaction it already holds, instead of a second commit in Huey's own store. Where Huey
runs tasks at once (the test suite), pending tasks are delivered as soon as the transaction
commits.
"""

from __future__ import annotations

import json
import logging
import threading
from functools import partial
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from huey.contrib.djhuey import HUEY

from keel.core.models import PendingTask
from keel.db import rows

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
BATCH = 200
_TABLE = PendingTask._meta.db_table


def task_name(task: Any) -> str:
    """The importable name of a Huey task (``keel.incidents.notify.acknowledge``)."""
    func = getattr(task, "func", task)
    return f"{func.__module__}.{func.__qualname__}"


def queue(task: Any, *args: Any) -> None:
    """Queue the Huey task ``task(*args)`` to run once the current transaction commits.

    Arguments must be JSON (ids, not records: the task reads the record as it is then).
    """
    pending = rows.insert(pending_task(task, *args))
    queued([pending.pk])


def pending_task(task: Any, *args: Any) -> PendingTask:
    """The row that queues ``task(*args)`` (unsaved), for an action that inserts it itself."""
    return PendingTask(task=task_name(task), args=list(args), created_at=timezone.now())


def queued(ids: list[int]) -> None:
    """Say that the pending tasks ``ids`` were inserted in the current transaction."""
    if HUEY.immediate and ids:  # no worker polls: this transaction's own tasks run at its commit
        transaction.on_commit(partial(deliver, only=list(ids)))


def _claim(limit: int, only: list[int] | None) -> list[tuple[int, str, list[Any]]]:
    skip_locked = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    params: list[Any] = []
    where = ""
    if only is not None:
        where = f"WHERE id IN ({', '.join(['%s'] * len(only))}) "
        params += only
    sql = (
        f"DELETE FROM {_TABLE} WHERE id IN "  # noqa: S608 (the model's own table; ids bound)
        f"(SELECT id FROM {_TABLE} {where}ORDER BY id LIMIT %s{skip_locked}) "
        "RETURNING id, task, args"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        claimed = cursor.fetchall()
    return sorted(
        (pk, name, json.loads(args) if isinstance(args, str | bytes) else args)
        for pk, name, args in claimed
    )


def deliver(limit: int = BATCH, *, only: list[int] | None = None) -> int:
    """Hand up to ``limit`` pending tasks (or the ones with ids in ``only``) to Huey, oldest
    first; how many were handed over.

    A task whose name no longer imports is logged and dropped, so it cannot block the rest.
    """
    if only is None and not PendingTask.objects.exists():  # a read: no write lock if none wait
        return 0
    with transaction.atomic():
        claimed = _claim(limit, only)
        if not HUEY.immediate:
            for _pk, name, args in claimed:
                _call(name, args)
    if HUEY.immediate:  # the tasks run here and now: after the claim has committed
        for _pk, name, args in claimed:
            _call(name, args)
    return len(claimed)


def _call(name: str, args: list[Any]) -> None:
    try:
        task = import_string(name)
    except ImportError:
        log.error("dropped a pending task that no longer exists: %s%s", name, tuple(args))
        return
    task(*args)


def poll(stop: threading.Event, interval: float = POLL_SECONDS) -> None:
    """Deliver pending tasks until ``stop`` is set: at once while a full batch waits, else
    every ``interval`` seconds. A failure (the database or the queue away) is logged and
    tried again at the next turn."""
    while True:
        delivered = 0
        try:
            if not connection.in_atomic_block:
                close_old_connections()  # as between requests: the connection's age and health
            delivered = deliver()
        except Exception:
            log.exception("could not deliver pending tasks; trying again")
            close_old_connections()
        if delivered < BATCH and stop.wait(interval):
            return
        if stop.is_set():
            return


_poller: threading.Thread | None = None
_stop = threading.Event()
_guard = threading.Lock()


def start_poller() -> None:
    """Start this process's delivery loop once (the worker calls it at start-up)."""
    global _poller
    with _guard:
        if _poller is not None and _poller.is_alive():
            return
        _stop.clear()
        _poller = threading.Thread(target=poll, args=(_stop,), name="keel-outbox", daemon=True)
        _poller.start()


def stop_poller() -> None:
    _stop.set()
    if _poller is not None:
        _poller.join(timeout=5)
