"""PostgreSQL timestamps read by psycopg's C parser on UTC connections (``keel/db/timestamps.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from psycopg import postgres
from psycopg.pq import Format

from keel.core import audit
from keel.core.models import AuditEvent
from keel.db.timestamps import UtcTimestampLoader

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's timestamps"),
]


def _loader():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    oid = postgres.types["timestamptz"].oid
    return connection.connection.adapters.get_loader(oid, Format.TEXT)


def test_a_utc_connection_reads_timestamps_with_the_c_parser():
    assert _loader() is UtcTimestampLoader


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 24, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(2026, 6, 1, 12, 0, tzinfo=timezone.get_fixed_timezone(8 * 60)),
    ],
)
def test_timestamps_read_back_as_written_in_utc(value):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz, %s::timestamptz IS NULL", [value, None])
        read, _null = cursor.fetchone()

    assert read == value
    assert read.tzinfo is UTC
    assert read.utcoffset() == timedelta(0)


def test_a_null_timestamp_is_none():
    with connection.cursor() as cursor:
        cursor.execute("SELECT NULL::timestamptz")
        assert cursor.fetchone() == (None,)


def test_the_orm_reads_model_timestamps_in_utc(agent):
    with transaction.atomic():
        event = audit.record(agent, "test.read_back", agent)

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.at == event.at
    assert stored.at.tzinfo is UTC
