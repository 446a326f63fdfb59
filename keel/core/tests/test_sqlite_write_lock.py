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


# --- checkpoints: after the turn is handed on, not inside it ------------------------------------


@pytest.fixture
def file_database(tmp_path, django_db_blocker):
    """A Keel SQLite connection to a database file of its own (the test database is in memory,
    which has no write-ahead log and no lock file), with one table."""
    from keel.db.sqlite3.base import DatabaseWrapper

    wrapper = DatabaseWrapper(
        {**connection.settings_dict, "NAME": str(tmp_path / "keel.sqlite3")}, alias="file"
    )
    with django_db_blocker.unblock():
        with wrapper.cursor() as cursor:
            cursor.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
        yield wrapper
        wrapper.close()


def _write(wrapper, body: str, *, fail: bool = False) -> None:
    """One write transaction, as ``transaction.atomic`` runs it."""
    wrapper.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    with wrapper.cursor() as cursor:
        cursor.execute("INSERT INTO note (body) VALUES (%s)", [body])
    if fail:
        wrapper.rollback()
    else:
        wrapper.commit()
    wrapper.set_autocommit(True)


def _turn_is_free(wrapper) -> bool:
    """Whether another process could take the write turn now (its file lock is free)."""
    import fcntl
    import os

    fd = os.open(f"{wrapper.settings_dict['NAME']}.writelock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


@pytest.fixture
def checkpoints(file_database, monkeypatch):
    """Each checkpoint the connection runs: whether the turn was free then, and SQLite's answer."""
    from keel.db.sqlite3.base import DatabaseWrapper

    seen: list[tuple[bool, tuple | None]] = []
    real = DatabaseWrapper.checkpoint

    def watched(self):
        free = _turn_is_free(self)
        answer = real(self)
        seen.append((free, answer))
        return answer

    monkeypatch.setattr(DatabaseWrapper, "checkpoint", watched)
    return seen


def test_every_nth_write_checkpoints_after_handing_the_turn_on(file_database, checkpoints):
    from keel.db.sqlite3.base import CHECKPOINT_EVERY

    for i in range(CHECKPOINT_EVERY - 1):
        _write(file_database, f"note {i}")
    assert checkpoints == []

    _write(file_database, "the one that makes it due")

    assert len(checkpoints) == 1
    free, answer = checkpoints[0]
    assert free, "the checkpoint ran while this connection still held the write turn"
    busy, log_pages, copied = answer
    assert busy == 0
    assert log_pages > 0
    assert copied == log_pages  # no reader held an old snapshot: all of the log went back


def test_rolled_back_transactions_do_not_count_towards_a_checkpoint(file_database, checkpoints):
    from keel.db.sqlite3.base import CHECKPOINT_EVERY

    for i in range(CHECKPOINT_EVERY):
        _write(file_database, f"note {i}", fail=True)
    _write(file_database, "committed")

    assert checkpoints == []
    with file_database.cursor() as cursor:
        cursor.execute("SELECT body FROM note")
        assert cursor.fetchall() == [("committed",)]


def test_a_failed_checkpoint_is_logged_and_the_commit_stands(file_database, monkeypatch, caplog):
    from keel.db.sqlite3 import base

    monkeypatch.setattr(base, "CHECKPOINT_EVERY", 1)
    monkeypatch.setattr(base, "CHECKPOINT_SQL", "PRAGMA wal_checkpoint(NOT_A_MODE) nonsense")

    with caplog.at_level("WARNING", logger="keel.db.sqlite3.base"):
        _write(file_database, "kept")

    assert "SQLite checkpoint failed" in caplog.text
    assert _turn_is_free(file_database)
    with file_database.cursor() as cursor:
        cursor.execute("SELECT body FROM note")
        assert cursor.fetchall() == [("kept",)]


def test_sqlites_own_checkpoint_is_only_a_backstop(file_database):
    from keel.db.sqlite3.base import AUTOCHECKPOINT_PAGES

    with file_database.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone() == (AUTOCHECKPOINT_PAGES,)
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone() == ("wal",)
