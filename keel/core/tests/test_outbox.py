"""Tasks queued with their transaction (the outbox): they exist exactly when the change does,
are handed to the worker's queue oldest first, and are never lost to a failure on the way."""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import transaction
from huey.contrib.djhuey import HUEY, task

from keel.core import outbox
from keel.core.models import PendingTask

pytestmark = pytest.mark.django_db

RAN: list[tuple] = []


@task()
def remember(*args):
    RAN.append(args)


@pytest.fixture(autouse=True)
def _clean():
    RAN.clear()
    HUEY.flush()
    yield
    HUEY.immediate = True
    HUEY.flush()


@pytest.fixture
def queued_mode():
    """Huey as in production: tasks wait in its queue for a worker."""
    HUEY.immediate = False
    yield
    HUEY.immediate = True


def _queued() -> list[tuple]:
    return [t.args for t in HUEY.pending()]


def test_a_task_is_named_by_its_importable_path():
    assert outbox.task_name(remember) == "keel.core.tests.test_outbox.remember"


def test_a_rolled_back_change_queues_nothing(queued_mode):
    def failing_action():
        with transaction.atomic():
            outbox.queue(remember, 1)
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        failing_action()

    assert not PendingTask.objects.exists()
    assert outbox.deliver() == 0
    assert _queued() == []


def test_a_committed_task_waits_in_the_outbox_until_delivered(queued_mode):
    with transaction.atomic():
        outbox.queue(remember, 7, "二")

    assert list(PendingTask.objects.values_list("task", "args")) == [
        ("keel.core.tests.test_outbox.remember", [7, "二"])
    ]
    assert _queued() == []  # nothing reached the worker's queue yet: a crash here loses nothing

    assert outbox.deliver() == 1

    assert _queued() == [(7, "二")]
    assert not PendingTask.objects.exists()
    assert RAN == []  # queued for the worker, not run here


def test_tasks_are_delivered_oldest_first_in_batches(queued_mode):
    for n in range(5):
        outbox.queue(remember, n)

    assert outbox.deliver(limit=3) == 3
    assert outbox.deliver(limit=3) == 2

    assert _queued() == [(0,), (1,), (2,), (3,), (4,)]


def test_a_failed_hand_over_keeps_the_tasks_for_the_next_turn(queued_mode, monkeypatch):
    outbox.queue(remember, 1)

    def refuse(*_args, **_kwargs):
        raise ConnectionError("the queue is away")

    monkeypatch.setattr(HUEY, "enqueue", refuse)
    with pytest.raises(ConnectionError):
        outbox.deliver()

    assert PendingTask.objects.count() == 1
    monkeypatch.undo()
    assert outbox.deliver() == 1
    assert _queued() == [(1,)]


def test_a_task_that_no_longer_exists_is_dropped_without_blocking_the_rest(queued_mode, caplog):
    PendingTask.objects.create(task="keel.gone.task", args=[1], created_at="2026-01-01T00:00Z")
    outbox.queue(remember, 2)

    with caplog.at_level(logging.ERROR, logger="keel.core.outbox"):
        assert outbox.deliver() == 2

    assert _queued() == [(2,)]
    assert "keel.gone.task" in caplog.text


def test_the_worker_loop_delivers_and_stops_when_told(queued_mode):
    outbox.queue(remember, 3)
    stop = threading.Event()
    stop.set()  # one turn, then stop

    outbox.poll(stop, interval=0)

    assert _queued() == [(3,)]


def test_the_worker_loop_survives_a_failed_turn(queued_mode, monkeypatch, caplog):
    turns = []

    def failing(*_args, **_kwargs):
        turns.append(1)
        raise ConnectionError("database away")

    monkeypatch.setattr(outbox, "deliver", failing)
    stop = threading.Event()
    stop.set()

    with caplog.at_level(logging.ERROR, logger="keel.core.outbox"):
        outbox.poll(stop, interval=0)

    assert turns == [1]
    assert "could not deliver pending tasks" in caplog.text


def test_where_tasks_run_at_once_a_task_runs_at_its_own_commit(django_capture_on_commit_callbacks):
    outbox.queue(remember, "earlier")  # its commit never came (the test's transaction)

    with django_capture_on_commit_callbacks(execute=True):
        outbox.queue(remember, "now")

    assert RAN == [("now",)]
    assert PendingTask.objects.count() == 1  # the earlier one still waits for its own commit
