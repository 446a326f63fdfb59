"""The writes of recording an incident on SQLite: rendered before the write turn, not in it.

SQLite has one writer at a time (``keel.db.sqlite3``): every moment a recording spends inside
its write transaction, every other writer waits. So everything Python has to work out is done
before the transaction begins: the incident's row, its ``incident.opened`` audit event (with the
hashed text split around the values only the writes learn, :func:`audit.hash_sql`) and the
queued notices. Inside, the transaction takes the number, inserts the incident, advances the
audit chain, fills in the event's few missing values, hashes it and inserts the rest: the same
statements ``next_number``, ``rows.insert``, ``audit.record`` and ``outbox.queue`` run, with
the same rows, built by the same code, and a third of the time spent holding the turn.
(PostgreSQL sends all of it as one statement: ``_record_pg``.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, transaction

from keel.core import audit, outbox
from keel.core.models import AuditEvent
from keel.core.models import Sequence as Counter
from keel.core.numbering import format_number, next_value
from keel.db import rows
from keel.incidents.actions._base import _opened_event
from keel.incidents.models import Incident

KEY = "INC"
# The models' own tables, never input.
_NEXT = f"UPDATE {Counter._meta.db_table} SET value = value + 1 WHERE key = %s RETURNING value"  # noqa: S608
# The event's fields the writes fill in.
_FILLED = ("seq", "object_id", "object_repr", "prev_hash", "hash")


def record(
    incident: Incident,
    actor: Any,
    changes: dict[str, Any],
    tasks: Sequence[Callable[..., Any]],
) -> None:
    """Insert ``incident`` (its number taken here), its ``incident.opened`` event and ``tasks``
    (each queued with the incident's id) in one transaction (or the caller's)."""
    fields, id_mark, number_mark = _opened_event(incident, actor, changes)
    # Only the hashed text between the filled-in values is used here, not the SQL.
    event_hash = audit.hash_sql(fields, seq="", prev_hash="", filled={id_mark: "", number_mark: ""})
    before, after = fields["object_repr"].split(number_mark)
    statement, values = rows.prepared(incident)
    number_at = statement.attnames.index("number")
    event_statement, event_values = rows.prepared(
        AuditEvent(**fields, seq=0, prev_hash="", hash="")
    )
    event_at = {name: event_statement.attnames.index(name) for name in _FILLED}
    pending = [rows.prepared(outbox.pending_task(task, 0)) for task in tasks]
    if pending:
        args_at = pending[0][0].attnames.index("args")
        adapt_args = dict(pending[0][0].adapters)[args_at]

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_NEXT, [KEY])
        counted = cursor.fetchone()
        number = format_number(KEY, counted[0] if counted else next_value(KEY))
        values[number_at] = number
        cursor.execute(statement.sql, values)
        pk = cursor.fetchone()[0]
        cursor.execute(audit.ADVANCE_SQL)
        head = cursor.fetchone()
        if head is None:
            raise audit.AuditError("the audit chain head is missing; run `keel migrate`")
        seq, prev_hash = int(head[0]), head[1]
        filled = {"seq": str(seq), "prev_hash": prev_hash, id_mark: str(pk), number_mark: number}
        event_hash_value = event_hash.of(filled)
        for name, value in zip(
            _FILLED,
            (seq, str(pk), f"{before}{number}{after}", prev_hash, event_hash_value),
            strict=True,
        ):
            event_values[event_at[name]] = value
        cursor.execute(event_statement.sql, event_values)
        cursor.fetchone()
        cursor.execute(audit.SET_HEAD_SQL, [prev_hash, event_hash_value])
        ids = []
        for task_statement, task_values in pending:
            task_values[args_at] = adapt_args([pk])
            cursor.execute(task_statement.sql, task_values)
            ids.append(cursor.fetchone()[0])
        outbox.queued(ids)
    incident.number = number
    rows.saved(incident, pk)
