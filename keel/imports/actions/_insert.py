"""Plain multi-row INSERTs for imports, a few times cheaper than ``bulk_create`` per row.

Hundreds of thousands of rows (an activity log) spend most of ``bulk_create``'s time building
model instances and preparing every field through the ORM. Here each column gets its database
adapter once (dates to the backend's format, JSON to text) and rows go out many to a statement,
on the same connection and inside the caller's transaction (on PostgreSQL through ``COPY``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models

from keel.db.rows import adapter as column_adapter


def _adapter(field: models.Field) -> Callable[[Any], Any] | None:
    return column_adapter(field, connection, json_as_text=True)


def _field(model: type[models.Model], name: str) -> models.Field:
    """The field a column name stands for: ``team_id`` is the ``team`` foreign key."""
    try:
        return model._meta.get_field(name)  # type: ignore[return-value]
    except FieldDoesNotExist:
        return model._meta.get_field(name.removesuffix("_id"))  # type: ignore[return-value]


def insert_rows(
    model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (one value per name in ``names``) into ``model``'s table; return the count.

    Values are what the model fields hold (aware datetimes, dicts for JSON, ids for foreign
    keys, named ``<field>_id``). Call inside a transaction.
    """
    fields = [_field(model, name) for name in names]
    columns = [str(f.column) for f in fields]
    adapters = [(i, a) for i, f in enumerate(fields) if (a := _adapter(f)) is not None]
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        return _copy(model, columns, adapters, rows)
    head = "INSERT INTO {} ({}) VALUES ".format(  # noqa: S608 (model's own names)
        quote(str(model._meta.db_table)), ", ".join(quote(c) for c in columns)
    )
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    # Many rows per statement: one round trip per chunk on PostgreSQL, well within both
    # databases' limits on parameters (SQLite allows 32,766).
    chunk = max(1, min(1000, 30_000 // len(columns)))
    count = 0
    pending: list[Any] = []
    rows_in_chunk = 0
    with connection.cursor() as cursor:
        for row in rows:
            values = list(row)
            for index, adapt in adapters:
                values[index] = adapt(values[index])
            pending += values
            rows_in_chunk += 1
            if rows_in_chunk == chunk:
                cursor.execute(head + ", ".join([one] * rows_in_chunk), pending)
                count += rows_in_chunk
                pending, rows_in_chunk = [], 0
        if rows_in_chunk:
            cursor.execute(head + ", ".join([one] * rows_in_chunk), pending)
            count += rows_in_chunk
    return count


def _copy(
    model: type[models.Model],
    columns: list[str],
    adapters: list[tuple[int, Callable[[Any], Any]]],
    rows: Iterable[Sequence[Any]],
) -> int:
    """PostgreSQL: stream the rows with ``COPY … FROM STDIN``, its fastest way in."""
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        quote(str(model._meta.db_table)), ", ".join(quote(c) for c in columns)
    )
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            values = list(row)
            for index, adapt in adapters:
                values[index] = adapt(values[index])
            copy.write_row(values)
            count += 1
    return count


def update_rows(
    model: type[models.Model],
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    bump_version: bool = False,
) -> int:
    """Set ``names`` on existing rows: each row holds one value per name, then the primary key.

    One ``UPDATE … WHERE id = %s`` run with ``executemany`` (``bulk_update``'s ``CASE`` per
    field grows with the batch and is many times slower). ``bump_version`` adds one to the
    row's optimistic-locking ``version``, so an agent holding the old one gets a conflict.
    """
    fields = [_field(model, name) for name in names]
    adapters = [(i, a) for i, f in enumerate(fields) if (a := _adapter(f)) is not None]
    quote = connection.ops.quote_name
    assignments = [f"{quote(str(f.column))} = %s" for f in fields]
    if bump_version:
        assignments.append(f"{quote('version')} = {quote('version')} + 1")
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 (model's own names)
        quote(str(model._meta.db_table)), ", ".join(assignments), quote(str(model._meta.pk.column))
    )
    prepared = []
    for row in rows:
        values = list(row)
        for index, adapt in adapters:
            values[index] = adapt(values[index])
        prepared.append(values)
    if prepared:
        with connection.cursor() as cursor:
            cursor.executemany(sql, prepared)
    return len(prepared)
