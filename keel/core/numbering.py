"""Human record numbers (INC-000123): gap-free, and safe when many are created at once.

The counter row is incremented with ``UPDATE … RETURNING`` inside the creating transaction: the
row lock (PostgreSQL) or the write lock (SQLite) serialises concurrent creators, and a rolled
back creation rolls its number back too, so numbers never skip.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, connection, transaction

from keel.core.models import Sequence

KEY_PATTERN = re.compile(r"^[A-Z]{2,10}$")
NUMBER_PATTERN = re.compile(r"^(?P<key>[A-Z]{2,10})-(?P<value>\d{6,})$")
WIDTH = 6

# The table name is the model's own constant, never input; the key is a bound parameter.
_INCREMENT = (
    f"UPDATE {Sequence._meta.db_table} SET value = value + 1 WHERE key = %s RETURNING value"  # noqa: S608
)


def next_value(key: str) -> int:
    """The next value of counter ``key``; call inside the transaction that uses it."""
    if not KEY_PATTERN.match(key):
        raise ValueError(f"number key must be 2–10 capital letters, got {key!r}")
    if not connection.in_atomic_block:
        raise RuntimeError("next_value() must run inside the transaction that creates the record")
    with connection.cursor() as cursor:
        cursor.execute(_INCREMENT, [key])
        row = cursor.fetchone()
        if row is not None:
            return int(row[0])
    try:
        with transaction.atomic():
            Sequence.objects.create(key=key, value=1)
        return 1
    except IntegrityError:
        # Another transaction created the counter first; take the next value from it.
        with connection.cursor() as cursor:
            cursor.execute(_INCREMENT, [key])
            return int(cursor.fetchone()[0])


def format_number(key: str, value: int) -> str:
    return f"{key}-{value:0{WIDTH}d}"


def next_number(key: str) -> str:
    """The next human number for records of kind ``key`` (``"INC"`` → ``"INC-000124"``)."""
    return format_number(key, next_value(key))


def parse_number(number: str) -> tuple[str, int] | None:
    match = NUMBER_PATTERN.match(number.strip().upper())
    if match is None:
        return None
    return match["key"], int(match["value"])
