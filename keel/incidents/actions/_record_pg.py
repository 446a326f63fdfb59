"""The writes of recording an incident on PostgreSQL: one statement where one at a time takes five.

Every recording locks two rows until its commit: the counter that numbers incidents and the head
of the audit chain. Every round trip made while holding them is time every other recorder waits.
So one statement takes the number, inserts the incident, advances the chain (the event's hash
is taken by the database, around the text Python renders: :func:`audit.hash_sql`), inserts the
audit event and the queued notices. Run outside a transaction, it is its own: the rows are held
from the moment it takes them to its commit, inside the database, with no round trip at all.

The rows are the ones ``next_number``, ``rows.insert``, ``audit.record`` and ``outbox.queue``
write one statement at a time, built by the same code, and Python takes the event's hash too,
from the same text and the values the statement returns, so that a hash taken differently by
the database is an error, not a broken chain found later.
(SQLite holds one write lock for the whole transaction and its statements are calls, not round
trips: it takes the plain path.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from keel.core import audit, outbox
from keel.core.models import AuditChain, AuditEvent
from keel.core.models import Sequence as Counter
from keel.core.numbering import WIDTH
from keel.db import prepared, rows
from keel.incidents.actions._base import _opened_event
from keel.incidents.models import Incident

KEY = "INC"
_COUNTER = Counter._meta.db_table
_CHAIN = AuditChain._meta.db_table
# Creates the counter on first use; otherwise the same increment as ``numbering.next_values``.
_NEXT = (
    f"INSERT INTO {_COUNTER} (key, value) VALUES (%s, 1) "  # noqa: S608 (the model's own table)
    f"ON CONFLICT (key) DO UPDATE SET value = {_COUNTER}.value + 1 RETURNING value"
)
# ``numbering.format_number`` in SQL: the key, a dash, the value zero-padded to WIDTH digits.
_FORMAT = "(SELECT %s || lpad(value::text, greatest(%s::integer, length(value::text)), '0') FROM n)"
# The chain's head, locked once the incident is in (numbers are taken first everywhere).
_HEAD = f"SELECT head.seq, head.hash FROM {_CHAIN} head, i WHERE head.id = 1 FOR UPDATE OF head"  # noqa: S608
_ADVANCE = (
    f"UPDATE {_CHAIN} SET seq = o.seq + 1, hash = {{hash}} FROM o, i "  # noqa: S608
    f"WHERE {_CHAIN}.id = 1 RETURNING {_CHAIN}.seq, o.hash AS prev_hash, {_CHAIN}.hash"
)


def record(
    incident: Incident,
    actor: Any,
    changes: dict[str, Any],
    tasks: Sequence[Callable[..., Any]],
) -> None:
    """Insert ``incident`` (its number taken here), its ``incident.opened`` event and ``tasks``
    (each queued with the incident's id), in one statement: outside a transaction, it commits
    by itself; inside one, it is one more statement of it."""
    fields, id_mark, number_mark = _opened_event(incident, actor, changes)
    event_hash = audit.hash_sql(
        fields,
        seq="o.seq + 1",
        prev_hash="o.hash",
        filled={id_mark: "i.id::text", number_mark: "i.number"},
    )
    before, after = fields["object_repr"].split(number_mark)
    statement, row, params = rows.row(incident, {"number": (_FORMAT, [f"{KEY}-", WIDTH])})
    event_statement, event_row, event_params = rows.row(
        AuditEvent(**fields, seq=0, prev_hash="", hash=""),
        {
            "seq": ("(SELECT seq FROM c)", []),
            "object_id": ("(SELECT id::text FROM i)", []),
            "object_repr": ("%s || (SELECT number FROM i) || %s", [before, after]),
            "prev_hash": ("(SELECT prev_hash FROM c)", []),
            "hash": ("(SELECT hash FROM c)", []),
        },
    )
    sql = (
        f"WITH n AS ({_NEXT}), "
        f"i AS ({statement.head()}{row} RETURNING id, number), "
        f"o AS ({_HEAD}), c AS ({_ADVANCE.format(hash=event_hash.sql)}), "
        f"e AS ({event_statement.head()}{event_row} RETURNING id)"
    )
    params = [KEY, *params, *event_hash.params, *event_params]
    pending = [outbox.pending_task(task, 0) for task in tasks]
    if pending:
        task_rows = [
            rows.row(p, {"args": ("jsonb_build_array((SELECT id FROM i))", [])}) for p in pending
        ]
        values = ", ".join(task_row for _statement, task_row, _params in task_rows)
        sql += f", p AS ({task_rows[0][0].head()}{values} RETURNING id)"
        for _statement, _row, task_params in task_rows:
            params += task_params
    returning = "(SELECT array_agg(id ORDER BY id) FROM p)" if pending else "NULL"
    sql += (
        " SELECT i.id, i.number, c.seq, c.prev_hash, c.hash, (SELECT id FROM e), "  # noqa: S608
        f"{returning} FROM i, c"
    )
    with prepared.cursor() as cursor:
        cursor.execute(sql, params)
        row_read = cursor.fetchone()
    if row_read is None:
        raise audit.AuditError("the audit chain head is missing; run `keel migrate`")
    pk, number, seq, prev_hash, hash_, _event_pk, ids = row_read
    filled = {"seq": str(seq), "prev_hash": prev_hash, id_mark: str(pk), number_mark: number}
    if event_hash.of(filled) != hash_:
        raise audit.AuditError(f"event #{seq}: the database hashed it differently")
    incident.number = number
    rows.saved(incident, pk)
    outbox.queued(sorted(ids or []))
