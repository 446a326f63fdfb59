"""Rows written without the ORM's per-save statement building, for the hottest write paths.

The ORM's ``save`` compiles its INSERT anew each time and prepares every field through several
layers; recording an incident (the incident and its audit event) spent a third of its CPU
there. :func:`insert` writes a new instance with a statement compiled once per model and
database, each column converted by its backend adapter only where the value needs one (dates,
decimals, JSON). The instance gets its primary key back, as ``save()`` would give it.

No ``pre_save``/``post_save`` signals are sent: use it only for models nothing listens to (a
test checks that for the models that use it). Values must already be valid, as the actions that
call it check them before writing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import connections, models
from django.db.models.signals import post_save, pre_save

Adapter = Callable[[Any], Any]


def adapter(field: models.Field, connection: Any, *, json_as_text: bool = False) -> Adapter | None:
    """How a field's value becomes a statement parameter, or ``None`` when it goes as it is.

    Dates become the backend's format (SQLite keeps text), decimals are quantized, JSON is
    serialised (as plain text with ``json_as_text``, for ``COPY`` and multi-row inserts).
    Strings, numbers, booleans and foreign-key ids go as they are.
    """
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return lambda v: None if v is None else ops.adapt_datetimefield_value(v)
    if isinstance(field, models.DateField):
        return lambda v: None if v is None else ops.adapt_datefield_value(v)
    if isinstance(field, models.TimeField):
        return lambda v: None if v is None else ops.adapt_timefield_value(v)
    if isinstance(field, models.DecimalField):
        return lambda v: (
            None
            if v is None
            else ops.adapt_decimalfield_value(v, field.max_digits, field.decimal_places)
        )
    if isinstance(field, models.JSONField):
        if json_as_text:
            return lambda v: json.dumps(v, ensure_ascii=False)
        return lambda v: field.get_db_prep_save(v, connection)
    if isinstance(field, models.UUIDField | models.DurationField | models.BinaryField):
        return lambda v: field.get_db_prep_save(v, connection)
    return None


class _Insert:
    """One model's single-row INSERT on one database: the statement and its column adapters."""

    def __init__(self, model: type[models.Model], connection: Any) -> None:
        meta = model._meta
        pk = meta.pk
        assert pk is not None  # noqa: S101  (every concrete model has one)
        self.auto_pk = isinstance(pk, models.AutoField)
        self.fields = [f for f in meta.concrete_fields if not (self.auto_pk and f is pk)]
        self.pk_attname = pk.attname
        self.pk_column = pk.column
        self.attnames = [f.attname for f in self.fields]
        self.adapters = [
            (i, a) for i, f in enumerate(self.fields) if (a := adapter(f, connection)) is not None
        ]
        self.pre_save = [f for f in self.fields if _has_pre_save(f)]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in self.fields)
        self.marks = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        self.sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {self.marks}"  # noqa: S608
        if self.auto_pk:
            self.sql += f" RETURNING {quote(pk.column)}"

    def head(self) -> str:
        """``INSERT INTO table (columns) VALUES`` without the values."""
        return self.sql.split(" VALUES ", 1)[0] + " VALUES "


def _has_pre_save(field: models.Field) -> bool:
    """Fields whose value is made at save time (``auto_now``, ``auto_now_add``, files)."""
    return bool(
        getattr(field, "auto_now", False)
        or getattr(field, "auto_now_add", False)
        or isinstance(field, models.FileField)
    )


_statements: dict[tuple[type[models.Model], str], _Insert] = {}


def listened_to(model: type[models.Model]) -> bool:
    """Whether anything receives ``pre_save`` or ``post_save`` for ``model``."""
    return pre_save.has_listeners(model) or post_save.has_listeners(model)


def prepared(obj: models.Model, *, using: str = "default") -> tuple[_Insert, list[Any]]:
    """The compiled INSERT of ``obj``'s model and its parameters for ``obj``."""
    connection = connections[using]
    model = type(obj)
    key = (model, connection.alias)
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = _Insert(model, connection)
    if statement.auto_pk and getattr(obj, statement.pk_attname) is not None:
        raise ValueError(f"{model.__name__} already has a key; insert() writes new rows")
    for field in statement.pre_save:
        setattr(obj, field.attname, field.pre_save(obj, True))
    values = [getattr(obj, name) for name in statement.attnames]
    for index, adapt in statement.adapters:
        values[index] = adapt(values[index])
    return statement, values


def row(
    obj: models.Model,
    computed: Mapping[str, tuple[str, Sequence[Any]]] | None = None,
    *,
    using: str = "default",
) -> tuple[_Insert, str, list[Any]]:
    """``obj``'s compiled INSERT, its row ``(…)`` and the row's parameters, for an action that
    writes several rows in one statement (``statement.head() + row``, rows joined by commas).

    ``computed`` gives fields (by attribute name) whose value the database works out in that
    statement: an SQL expression and its parameters, in place of the field's value.
    """
    statement, values = prepared(obj, using=using)
    if not computed:
        return statement, statement.marks, values
    marks: list[str] = []
    params: list[Any] = []
    for name, value in zip(statement.attnames, values, strict=True):
        if name in computed:
            sql, sql_params = computed[name]
            marks.append(sql)
            params += sql_params
        else:
            marks.append("%s")
            params.append(value)
    return statement, "(" + ", ".join(marks) + ")", params


def saved(obj: models.Model, pk: Any = None, *, using: str = "default") -> models.Model:
    """Mark ``obj`` as written (with its new key ``pk``), as the ORM's save does."""
    if pk is not None:
        obj.pk = pk
    obj._state.adding = False
    obj._state.db = using
    return obj


def insert(
    obj: models.Model, *, using: str = "default", then: tuple[str, list[Any]] | None = None
) -> models.Model:
    """INSERT the new instance ``obj`` (a statement compiled once per model); set its key.

    ``then`` is one more write of the same transaction, ``(sql, params)`` without a RETURNING
    clause; on PostgreSQL it goes out with the INSERT as one statement (a data-modifying
    ``WITH``), saving a round trip, elsewhere right after it. Call inside the caller's
    transaction. Marks the instance as saved, as the ORM's save does.
    """
    connection = connections[using]
    statement, values = prepared(obj, using=using)
    with connection.cursor() as cursor:
        if then is not None and connection.vendor == "postgresql" and statement.auto_pk:
            sql, params = then
            pk = connection.ops.quote_name(str(statement.pk_column))
            cursor.execute(
                f"WITH inserted AS ({statement.sql}) {sql} RETURNING (SELECT {pk} FROM inserted)",  # noqa: S608 (the model's own names; the caller's statement binds its values)
                [*values, *params],
            )
            setattr(obj, statement.pk_attname, cursor.fetchone()[0])
        else:
            cursor.execute(statement.sql, values)
            if statement.auto_pk:
                setattr(obj, statement.pk_attname, cursor.fetchone()[0])
            if then is not None:
                cursor.execute(*then)
    return saved(obj, using=using)
