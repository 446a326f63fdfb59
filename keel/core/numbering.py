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
_ADVANCE = f"UPDATE {Sequence._meta.db_table} SET value = value + %s WHERE key = %s RETURNING value"  # noqa: S608


def next_values(key: str, count: int) -> range:
    """Reserve ``count`` consecutive values of counter ``key`` with one statement.

    Call inside the transaction that uses them: the counter row stays locked until it ends, and a
    rollback gives every value back, so numbers stay gap-free.
    """
    if not KEY_PATTERN.match(key):
        raise ValueError(f"number key must be 2–10 capital letters, got {key!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a whole number of values, got {count!r}")
    if not connection.in_atomic_block:
        raise RuntimeError("numbers must be taken inside the transaction that creates the record")
    if count == 0:
        return range(0)
    with connection.cursor() as cursor:
        cursor.execute(_ADVANCE, [count, key])
        row = cursor.fetchone()
    if row is None:
        try:
            with transaction.atomic():
                Sequence.objects.create(key=key, value=count)
            return range(1, count + 1)
        except IntegrityError:
            # Another transaction created the counter first; take the values from it.
            with connection.cursor() as cursor:
                cursor.execute(_ADVANCE, [count, key])
                row = cursor.fetchone()
    last = int(row[0])
    return range(last - count + 1, last + 1)


def next_value(key: str) -> int:
    """The next value of counter ``key``; call inside the transaction that uses it."""
    return next_values(key, 1)[0]


def format_number(key: str, value: int) -> str:
    return f"{key}-{value:0{WIDTH}d}"


def next_number(key: str) -> str:
    """The next human number for records of kind ``key`` (``"INC"`` → ``"INC-000124"``)."""
    return format_number(key, next_value(key))


def next_numbers(key: str, count: int) -> list[str]:
    """``count`` consecutive human numbers for records of kind ``key``, reserved at once."""
    return [format_number(key, value) for value in next_values(key, count)]


def parse_number(number: str) -> tuple[str, int] | None:
    match = NUMBER_PATTERN.match(number.strip().upper())
    if match is None:
        return None
    return match["key"], int(match["value"])
