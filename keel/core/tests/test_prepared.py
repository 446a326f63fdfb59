"""Statements prepared once per PostgreSQL connection (``keel/db/prepared.py``); elsewhere the
ordinary cursor."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from keel.core.models import Sequence
from keel.db import prepared

pytestmark = pytest.mark.django_db

STATEMENT = "SELECT %s + 1, %s"


def _prepared_here() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _run(values):
    answers = []
    for value in values:
        with prepared.cursor() as cursor:
            cursor.execute(STATEMENT, [value, "text"])
            answers.append(cursor.fetchone())
    return answers


def test_the_statement_answers_as_an_ordinary_one():
    assert _run([1, 70_000, 5_000_000_000]) == [
        (2, "text"),
        (70_001, "text"),
        (5_000_000_001, "text"),
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements")
def test_a_statement_is_prepared_once_whatever_the_size_of_its_numbers():
    _run([1, 70_000, 5_000_000_000, 2])

    assert len([s for s in _prepared_here() if "+ 1" in s]) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements")
def test_django_s_own_statements_are_prepared_once_run_a_few_times():
    from keel.config import PG_PREPARE_AFTER

    def sequence_statements() -> list[str]:
        return [s for s in _prepared_here() if "core_sequence" in s and "PREPARE" not in s]

    for _ in range(PG_PREPARE_AFTER - 1):
        list(Sequence.objects.filter(key="INC"))
    assert sequence_statements() == []

    for _ in range(PG_PREPARE_AFTER):
        list(Sequence.objects.filter(key="INC"))
    assert len(sequence_statements()) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements")
@override_settings(KEEL_PG_PREPARE=False)
def test_preparing_can_be_turned_off_for_poolers():
    _run([1, 2])

    assert not [s for s in _prepared_here() if "+ 1" in s]


def test_a_prepared_statement_is_logged_as_written():
    with CaptureQueriesContext(connection) as captured:
        _run([1])

    assert [q["sql"] for q in captured.captured_queries if "+ 1" in q["sql"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT %s + 1, %s", "SELECT $1 + 1, $2"),
        ("SELECT '100%%' || %s", "SELECT '100%' || $1"),
        ("SELECT '%%s' || %s", "SELECT '%s' || $1"),
        ("SELECT 1", "SELECT 1"),
    ],
)
def test_placeholders_are_numbered_as_postgresql_numbers_them(query, expected):
    assert prepared.numbered(query) == expected


def test_a_statement_with_many_values_answers():
    values = list(range(80))
    marks = ", ".join(["%s"] * len(values))

    with prepared.cursor() as cursor:
        cursor.execute(f"SELECT {marks}", values)
        assert list(cursor.fetchone()) == values
