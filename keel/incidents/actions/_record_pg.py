"""The writes of recording an incident on PostgreSQL: two statements where one at a time takes five.

Every recording locks two rows until its commit: the counter that numbers incidents and the head
of the audit chain. Each round trip made while holding them is time every other recorder waits,
so here the first statement takes the number, advances the chain and inserts the incident, and
the second inserts the audit event and the queued notices and sets the chain's new hash. The
rows are the ones ``next_number``, ``rows.insert``, ``audit.record`` and ``outbox.queue`` write
one statement at a time, built by the same code. (SQLite holds one write lock for the whole
transaction and its statements are calls, not round trips: it takes the plain path.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection

from keel.core import audit, outbox
from keel.core.models import AuditEvent
from keel.core.models import Sequence as Counter
from keel.core.numbering import WIDTH
from keel.db import rows
from keel.incidents.models import Incident

KEY = "INC"
_COUNTER = Counter._meta.db_table
# Creates the counter on first use; otherwise the same increment as ``numbering.next_values``.
_NEXT = (
    f"INSERT INTO {_COUNTER} (key, value) VALUES (%s, 1) "  # noqa: S608 (the model's own table)
    f"ON CONFLICT (key) DO UPDATE SET value = {_COUNTER}.value + 1 RETURNING value"
)
# ``numbering.format_number`` in SQL: the key, a dash, the value zero-padded to WIDTH digits.
_FORMAT = "(SELECT %s || lpad(value::text, greatest(%s, length(value::text)), '0') FROM n)"


def record(
    incident: Incident,
    actor: Any,
    changes: dict[str, Any],
    tasks: Sequence[Callable[..., Any]],
) -> AuditEvent:
    """Insert ``incident`` (its number taken here), its ``incident.opened`` event and ``tasks``
    (each queued with the incident's id). Call inside the transaction."""
    statement, values = rows.prepared(incident, without=("number",))
    first = (
        f"WITH n AS ({_NEXT}), c AS ({audit.ADVANCE_SQL}), "  # noqa: S608 (models' own names; values bound)
        f"i AS ({statement.head()}{statement.values_sql({'number': _FORMAT})} RETURNING id, number) "
        "SELECT i.id, i.number, c.seq, c.hash FROM i, c"
    )
    params: list[Any] = [KEY]
    position = statement.attnames.index("number")
    params += [*values[:position], f"{KEY}-", WIDTH, *values[position:]]
    with connection.cursor() as cursor:
        cursor.execute(first, params)
        row = cursor.fetchone()
        if row is None:
            raise audit.AuditError("the audit chain head is missing; run `keel migrate`")
        pk, number, seq, prev_hash = row
        incident.number = number
        rows.saved(incident, pk)
        event = audit.sealed(
            audit.prepared(
                actor, "incident.opened", incident, changes=changes, at=incident.created_at
            ),
            int(seq),
            prev_hash,
        )
        event_statement, event_values = rows.prepared(event)
        second = f"WITH e AS ({event_statement.head()}{event_statement.values_sql()} RETURNING id)"
        params = list(event_values)
        pending = [outbox.pending_task(task, pk) for task in tasks]
        if pending:
            prepared = [rows.prepared(p) for p in pending]
            task_statement = prepared[0][0]
            second += (
                f", p AS ({task_statement.head()}"
                + ", ".join(task_statement.values_sql() for _ in prepared)
                + " RETURNING id)"
            )
            for _statement, task_values in prepared:
                params += task_values
        returning = "(SELECT array_agg(id ORDER BY id) FROM p)" if pending else "NULL"
        cursor.execute(
            f"{second} {audit.SET_HEAD_SQL} RETURNING (SELECT id FROM e), {returning}",  # noqa: S608
            [*params, event.hash],
        )
        event_pk, ids = cursor.fetchone()
    rows.saved(event, event_pk)
    ids = sorted(ids or [])
    for task, task_pk in zip(pending, ids, strict=True):
        rows.saved(task, task_pk)
    outbox.queued(ids)
    return event
