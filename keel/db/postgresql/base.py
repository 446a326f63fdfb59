"""PostgreSQL, with the per-request connection check made without a round trip.

A kept connection is checked before a request first uses it (``CONN_HEALTH_CHECKS``), so that
a connection the server dropped (a restart, a failover, an idle timeout) is replaced instead of
failing the request. Django checks by running ``SELECT 1``: a round trip, and a statement for
the server to parse and run, on every request. Recording an incident is otherwise a single
statement, so the check doubled its round trips.

A server that drops a connection says so on it (an error message, then the end of the stream),
and an idle connection otherwise receives nothing; so here a connection with nothing waiting to
be read is taken as healthy, and only one with something waiting gets Django's ``SELECT 1``
(which also reads whatever arrived). A connection whose peer vanished without a word passes,
and its request fails as it would have failed in ``SELECT 1``, after TCP's timeout.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


def has_input(fileno: int) -> bool:
    """Whether the socket has something to read (or has been closed by the server), now."""
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()  # mid-transaction or in error: ask the server
        try:
            waiting = has_input(connection.fileno())
        except (OSError, ValueError):
            return False
        return super().is_usable() if waiting else True
