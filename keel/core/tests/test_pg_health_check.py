"""The per-request check of a kept PostgreSQL connection (``keel/db/postgresql``): no round trip
for a healthy one; a connection the server dropped is still found and replaced."""

from __future__ import annotations

import socket
import time

import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_base

from keel.db.postgresql.base import has_input

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the check belongs to the PostgreSQL backend"
)


def test_a_socket_with_nothing_to_read_has_no_input_and_one_written_to_or_closed_has():
    here, there = socket.socketpair()
    with here, there:
        assert has_input(here.fileno()) is False
        there.sendall(b"E")
        assert has_input(here.fileno()) is True
        here.recv(1)
        there.close()
        assert has_input(here.fileno()) is True  # the end of the stream is input too


@pytest.fixture
def kept(django_db_blocker):
    """A second connection to the test database, kept across "requests" as Keel keeps them."""
    with django_db_blocker.unblock():
        other = connection.copy()
        other.ensure_connection()
        yield other
        other.close()


@pytest.fixture
def server_checks(monkeypatch):
    """Each time Django's own ``SELECT 1`` check runs."""
    calls = []
    original = django_base.DatabaseWrapper.is_usable

    def counted(self):
        calls.append(self.alias)
        return original(self)

    monkeypatch.setattr(django_base.DatabaseWrapper, "is_usable", counted)
    return calls


def _next_request(wrapper) -> None:
    wrapper.close_if_unusable_or_obsolete()  # what Django does as a request starts and ends
    wrapper.close_if_health_check_failed()  # what Django does as the request first uses it


@postgresql_only
@pytest.mark.django_db
def test_the_backend_is_keel_s(kept):
    assert type(kept).__module__ == "keel.db.postgresql.base"
    assert kept.settings_dict["CONN_HEALTH_CHECKS"] is True


@postgresql_only
@pytest.mark.django_db
def test_a_healthy_idle_connection_is_kept_without_asking_the_server(kept, server_checks):
    raw = kept.connection

    for _ in range(3):
        _next_request(kept)

    assert kept.connection is raw
    assert server_checks == []
    with kept.cursor() as cursor:
        cursor.execute("SELECT 41 + 1")
        assert cursor.fetchone() == (42,)


@postgresql_only
@pytest.mark.django_db
def test_a_connection_the_server_dropped_is_replaced_before_the_request_uses_it(
    kept, server_checks
):
    with kept.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    raw = kept.connection
    with connection.cursor() as cursor:  # as an administrator or a restart would
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone() == (True,)
    _wait_until_gone(pid)

    _next_request(kept)

    assert server_checks == [kept.alias]  # something arrived: the server was asked, and failed
    assert kept.connection is None
    with kept.cursor() as cursor:  # a new connection, and the request goes on
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
    assert kept.connection is not raw


@postgresql_only
@pytest.mark.django_db
def test_a_connection_closed_on_this_side_is_unusable(kept, server_checks):
    kept.connection.close()

    assert kept.is_usable() is False
    assert server_checks == []


def _wait_until_gone(pid: int) -> None:
    for _ in range(100):
        with connection.cursor() as cursor:
            # The test runs in a transaction, and PostgreSQL keeps the first look at the server's
            # processes for the rest of it: without a fresh look, a process still ending at the
            # first read would seem to live for ever.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone() == (0,):
                return
        time.sleep(0.05)
    raise AssertionError(f"the server's process {pid} did not end")
