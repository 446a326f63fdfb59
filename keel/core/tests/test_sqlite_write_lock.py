"""SQLite writers take turns through a process lock and a file lock, never SQLite's busy sleeps."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from keel.core.numbering import next_value

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="the write lock is SQLite's")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_take_turns_and_none_waits_on_sqlite():
    errors: list[BaseException] = []
    values: list[int] = []
    lock = threading.Lock()

    def writer() -> None:
        try:
            for _ in range(20):
                with transaction.atomic():
                    value = next_value("LCK")
                    time.sleep(0.001)  # hold the turn a moment, as a real action does
                with lock:
                    values.append(value)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(values) == list(range(1, 121))


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_gives_the_turn_back():
    def failing_action() -> None:
        with transaction.atomic():
            next_value("LCK")
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        failing_action()

    done = threading.Event()

    def other() -> None:
        with transaction.atomic():
            next_value("LCK")
        connections.close_all()
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=10)
    assert done.is_set()


def test_the_lock_sits_beside_the_database_file(db):
    assert connection.vendor == "sqlite"
    assert connections["default"].__class__.__module__ == "keel.db.sqlite3.base"
