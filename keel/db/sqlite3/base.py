"""SQLite with writers queued in the kernel, not in SQLite's sleeping busy handler.

SQLite lets one writer at a time hold the database. When a second writer finds it taken, the
busy handler sleeps in growing steps (up to 100 ms) and tries again, so under many concurrent
writers most of the time goes to sleeping while the lock is already free. Here each write
transaction first takes a lock of the process's (threads queue on it) and then an exclusive
``flock`` on a file beside the database (processes queue on it); both hand over the moment the
holder commits, and SQLite's own lock is then always free when ``BEGIN IMMEDIATE`` asks for it.
Readers are not affected (WAL lets them read while one writes).

The write-ahead log is copied back into the database (checkpointed) after the turn is handed on,
not inside it: SQLite's own automatic checkpoint runs in the COMMIT of whichever transaction
crossed its threshold, copying about a thousand pages and syncing the disk twice while every
other writer waits. Here every :data:`CHECKPOINT_EVERY`-th write transaction of a process runs a
``PASSIVE`` checkpoint after giving its turn back, while the next writer goes on; SQLite's own
(at :data:`AUTOCHECKPOINT_PAGES`) stays as a backstop for a log that still grows.

Statements' placeholders are converted once per statement text (:func:`qmark`), not on every
execution.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import sqlite3
import threading
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

logger = logging.getLogger(__name__)

# Write transactions of one process between its checkpoints. With three web processes the log
# is checkpointed every five or so transactions (a few hundred pages), each checkpoint a few
# milliseconds of copying and syncing outside the write turn.
CHECKPOINT_EVERY = 16
# SQLite's own checkpoint, inside a COMMIT, only for a log these have not kept small: while
# readers hold old snapshots a checkpoint cannot finish, the log cannot start over, and at
# SQLite's default (1,000 pages) every COMMIT would then try again with the others waiting.
AUTOCHECKPOINT_PAGES = 10_000
CHECKPOINT_SQL = "PRAGMA wal_checkpoint(PASSIVE)"


class _Turns:
    """One process's write turns on one database file: a lock for its threads, the file whose
    ``flock`` is the lock between processes, and its write transactions since its last
    checkpoint (counted while the turn is held)."""

    def __init__(self, path: str):
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.fd = os.open(f"{path}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
        self.writes = 0


_guard = threading.Lock()
_turns: dict[str, _Turns] = {}  # database path → this process's turns


def _turns_for(path: str) -> _Turns:
    """This process's turns on the database at ``path`` (its lock file reopened after a fork)."""
    with _guard:
        turns = _turns.get(path)
        if turns is None or turns.pid != os.getpid():
            turns = _turns[path] = _Turns(path)
        return turns


@functools.lru_cache(maxsize=1024)
def qmark(query: str) -> str:
    """``query`` with Django's ``%s`` placeholders as sqlite3's ``?``, as Django converts it.

    Django runs its regular expression over every statement it sends; the same few hundred
    statements come back again and again (a recorded incident's INSERT is 2 kB of text).
    """
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class _Cursor(base.SQLiteCursorWrapper):
    def convert_query(self, query: str, *, param_names: Any = None) -> str:
        if param_names is None:
            return qmark(query)
        return super().convert_query(query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    _keel_holds_lock = False

    def get_new_connection(self, conn_params: Any) -> Any:
        conn = super().get_new_connection(conn_params)
        conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        return conn

    def create_cursor(self, name: Any = None) -> Any:
        return self.connection.cursor(factory=_Cursor)

    def _write_lock_path(self) -> str | None:
        name = str(self.settings_dict["NAME"])
        if self.is_in_memory_db() or not name:
            return None
        return os.path.abspath(name)

    def _take_write_lock(self) -> None:
        path = self._write_lock_path()
        if path is None or self._keel_holds_lock:
            return
        turns = _turns_for(path)
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 20))
        if not turns.lock.acquire(timeout=timeout):
            raise OperationalError("database is locked (no write turn within the busy timeout)")
        try:
            fcntl.flock(turns.fd, fcntl.LOCK_EX)
        except BaseException:
            turns.lock.release()
            raise
        self._keel_holds_lock = True

    def _give_write_lock(self, *, wrote: bool = False) -> bool:
        """Hand the turn on; ``True`` when this process is due a checkpoint (``wrote``: the
        turn ended in a COMMIT)."""
        if not self._keel_holds_lock:
            return False
        path = self._write_lock_path()
        self._keel_holds_lock = False
        if path is None:
            return False
        turns = _turns_for(path)
        due = False
        if wrote:
            turns.writes += 1
            due = turns.writes >= CHECKPOINT_EVERY
            if due:
                turns.writes = 0
        fcntl.flock(turns.fd, fcntl.LOCK_UN)
        turns.lock.release()
        return due

    def checkpoint(self) -> tuple[int, int, int] | None:
        """Copy what the write-ahead log holds back into the database, as far as no reader
        still needs it, without waiting for anyone (``PASSIVE``): SQLite's ``(busy, log pages,
        pages copied)``, or ``None`` if the checkpoint failed (it is logged; the log keeps
        everything, and the next checkpoint tries again)."""
        try:
            row = self.connection.execute(CHECKPOINT_SQL).fetchone()
        except sqlite3.Error:
            logger.warning("SQLite checkpoint failed", exc_info=True)
            return None
        return tuple(row) if row else None

    def _start_transaction_under_autocommit(self) -> None:
        self._take_write_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._give_write_lock()
            raise

    def _commit(self) -> Any:
        try:
            result = super()._commit()
        except BaseException:
            self._give_write_lock()
            raise
        if self._give_write_lock(wrote=True):
            self.checkpoint()
        return result

    def _rollback(self) -> Any:
        try:
            return super()._rollback()
        finally:
            self._give_write_lock()

    def _close(self) -> Any:
        try:
            return super()._close()
        finally:
            self._give_write_lock()
