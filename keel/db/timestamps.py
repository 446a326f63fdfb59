"""PostgreSQL timestamps read by psycopg's C parser, not Python's.

For a connection in UTC (Keel's: ``USE_TZ`` with no database ``TIME_ZONE``), Django reads every
``timestamptz`` with its own loader, a subclass of psycopg's pure-Python one that then sets the
connection's time zone on the value. An incident list page reads about 350 of them: 1.4 ms of
parsing in Python where psycopg's C loader takes 0.1 ms. In UTC both give the same value with
the same ``datetime.timezone.utc``, so :func:`use_c_parser` puts the C loader behind Django's
interface (its ``timezone``, which Django compares before each cursor). Connections in another
time zone keep Django's loader.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import psycopg
from psycopg import postgres
from psycopg.adapt import Loader
from psycopg.pq import Format

_TIMESTAMPTZ = postgres.types["timestamptz"].oid
_C_LOADER = psycopg.adapters.get_loader(_TIMESTAMPTZ, Format.TEXT)


class UtcTimestampLoader(Loader):
    """``timestamptz`` in text, parsed by psycopg's fastest loader, for a UTC connection."""

    timezone = UTC  # what Django checks to keep or replace a connection's loader

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        assert _C_LOADER is not None  # noqa: S101  (psycopg always has one)
        self._parse = _C_LOADER(oid, context).load

    def load(self, data: Any) -> Any:
        return self._parse(data)


def use_c_parser(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: UTC PostgreSQL connections read timestamps in C."""
    if connection.vendor == "postgresql" and connection.timezone == UTC:
        connection.connection.adapters.register_loader(_TIMESTAMPTZ, UtcTimestampLoader)
