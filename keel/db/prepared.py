"""Statements PostgreSQL parses and plans once per connection, for the hottest writes.

By default Django sends every statement as text with its values inlined (psycopg's client-side
binding), so the database parses and plans it anew each time. Keel's connections send values
apart instead and let psycopg prepare a statement once it has run a few times on a connection
(``keel.config.PG_PREPARE_AFTER``). For a long statement run on every request (recording an
incident), parsing and planning cost the database a quarter of its work on it: :func:`cursor`
has its statements prepared on first use (psycopg's ``prepare``), with a few more things right
for it (below); the connection keeps them until it closes. Anywhere else (SQLite) it is the
ordinary cursor.

Behind PgBouncer in transaction mode, prepared statements need PgBouncer 1.21 or later with
``max_prepared_statements`` set; ``KEEL_PG_PREPARE=0`` turns them off.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from psycopg.types.numeric import Int8Dumper

_ONLY_WHEN_ASKED = 1 << 30  # executions of one statement before psycopg prepares it unasked


_PLACEHOLDER = re.compile(r"(?<!%)%s")


@functools.lru_cache(maxsize=256)
def numbered(query: str) -> str:
    """``query`` with Django's ``%s`` placeholders as PostgreSQL's ``$1``, ``$2``… (``%%`` is a
    percent sign), converted once per statement text: psycopg parses each statement it is
    given anew when it has more than 50 parameters, which took 0.16 ms for recording's."""
    pieces = _PLACEHOLDER.split(query)
    out = [pieces[0]]
    for number, piece in enumerate(pieces[1:], start=1):
        out += [f"${number}", piece]
    return "".join(out).replace("%%", "%")


class _Prepared(psycopg.RawCursor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One parameter type per column whatever the value, so that each statement is prepared
        # once: psycopg sends small integers as int2 and larger ones as int4 or int8, and a
        # statement is prepared anew for every combination of types.
        self.adapters.register_dumper(int, Int8Dumper)

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        return super().execute(numbered(query), params, prepare=True, **options)


class _Logged(CursorDebugWrapper):
    """Logs the statement as written: psycopg keeps no text of a prepared one to read back."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        with self.debug_sql(sql, params):
            return CursorWrapper.execute(self, sql, params)


@contextmanager
def cursor(using: str = "default") -> Iterator[Any]:
    """A cursor (Django's wrapper: logged, errors wrapped) whose statements are prepared."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.KEEL_PG_PREPARE:
        with connection.cursor() as plain:
            yield plain
        return
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        # A connection configured without Keel's options (Django turns psycopg's preparing off,
        # for poolers): on, but only where asked for.
        connection.connection.prepare_threshold = _ONLY_WHEN_ASKED
    raw = _Prepared(connection.connection)
    wrapper = _Logged if connection.queries_logged else CursorWrapper
    wrapped = wrapper(raw, connection)
    with wrapped:
        yield wrapped
