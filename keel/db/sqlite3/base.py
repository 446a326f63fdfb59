"""SQLite with writers queued in the kernel, not in SQLite's sleeping busy handler.

SQLite lets one writer at a time hold the database. When a second writer finds it taken, the
busy handler sleeps in growing steps (up to 100 ms) and tries again, so under many concurrent
writers most of the time goes to sleeping while the lock is already free. Here each write
transaction first takes a lock of the process's (threads queue on it) and then an exclusive
``flock`` on a file beside the database (processes queue on it); both hand over the moment the
holder commits, and SQLite's own lock is then always free when ``BEGIN IMMEDIATE`` asks for it.
Readers are not affected (WAL lets them read while one writes).

Statements' placeholders are converted once per statement text (:func:`qmark`), not on every
execution.
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_guard = threading.Lock()
_locks: dict[
    str, tuple[int, threading.Lock, int]
] = {}  # path → (pid, thread lock, file descriptor)


def _lock_for(path: str) -> tuple[threading.Lock, int]:
    """This process's lock and lock file for the database at ``path`` (reopened after a fork)."""
    with _guard:
        entry = _locks.get(path)
        if entry is None or entry[0] != os.getpid():
            fd = os.open(f"{path}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
            entry = (os.getpid(), threading.Lock(), fd)
            _locks[path] = entry
        return entry[1], entry[2]


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
        thread_lock, fd = _lock_for(path)
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 20))
        if not thread_lock.acquire(timeout=timeout):
            raise OperationalError("database is locked (no write turn within the busy timeout)")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            thread_lock.release()
            raise
        self._keel_holds_lock = True

    def _give_write_lock(self) -> None:
        if not self._keel_holds_lock:
            return
        path = self._write_lock_path()
        self._keel_holds_lock = False
        if path is None:
            return
        thread_lock, fd = _lock_for(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        thread_lock.release()

    def _start_transaction_under_autocommit(self) -> None:
        self._take_write_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._give_write_lock()
            raise

    def _commit(self) -> Any:
        try:
            return super()._commit()
        finally:
            self._give_write_lock()

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
