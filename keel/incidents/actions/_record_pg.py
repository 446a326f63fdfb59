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
# The chain's head, advanced once the incident is in (numbers are taken first everywhere), as an
# upsert of the row that is always there: its conflict branch locks the row's latest version
# and updates it. ``SELECT … FOR UPDATE`` found the row changed since the statement began (the
# recorder before had just committed) and re-checked it by starting the whole statement's plan
# over (EvalPlanQual): a sixth of PostgreSQL's CPU per recording. The proposed row is read
# through ``i``, so the head is taken after the number; with no head, nothing is proposed.
_ADVANCE = (
    f"INSERT INTO {_CHAIN} AS head (id, seq, hash, prev_hash) "  # noqa: S608
    f"SELECT 1, h.seq, h.hash, h.prev_hash FROM {_CHAIN} h, i WHERE h.id = 1 "
    "ON CONFLICT (id) DO UPDATE SET seq = head.seq + 1, prev_hash = head.hash, hash = {hash} "
    "RETURNING head.seq, head.prev_hash, head.hash"
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
        seq="head.seq + 1",
        prev_hash="head.hash",
        filled={id_mark: "(SELECT id::text FROM i)", number_mark: "(SELECT number FROM i)"},
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
        f"c AS ({_ADVANCE.format(hash=event_hash.sql)}), "
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
