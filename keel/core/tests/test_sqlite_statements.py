"""SQLite statements have their placeholders converted once per statement text, as Django
converts them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import SQLiteCursorWrapper

from keel.core.models import Sequence
from keel.db.sqlite3.base import qmark

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's placeholders")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT %s, %s",
        "SELECT '100%%' || %s",
        "SELECT 1",
        "UPDATE t SET a = %s WHERE b LIKE '%%x%%' AND c = %s",
    ],
)
def test_placeholders_convert_as_django_converts_them(query):
    assert qmark(query) == SQLiteCursorWrapper.convert_query(None, query)


@pytest.mark.django_db
def test_a_statement_run_again_is_converted_once():
    list(Sequence.objects.filter(key="SQLITE-ONCE"))
    before = qmark.cache_info()
    list(Sequence.objects.filter(key="SQLITE-ONCE"))
    after = qmark.cache_info()

    assert (after.hits - before.hits, after.misses - before.misses) == (1, 0)


@pytest.mark.django_db
def test_named_placeholders_still_work():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %(a)s + %(b)s", {"a": 1, "b": 2})
        assert cursor.fetchone() == (3,)
