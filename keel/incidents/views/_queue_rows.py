"""The queue's rows, kept rendered a minute per process: found by a few light columns, and only
those not kept are read whole (with their related records) and rendered.

A row reads the same until the incident changes (its version and time of change), the SLA clock's
minute passes, or the reader's language, time zone or right to assign differ: all of these are in
its key. The page reads the light columns of its incidents (:func:`queries.row_keys`), fetches the
kept rows in one ``get_many``, and reads the rest in one query; ``{% kept_row %}`` in the table
shows a kept row as it is, and renders and keeps the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.core.cache.utils import make_template_fragment_key
from django.db.models import QuerySet
from django.utils import timezone, translation

from keel.incidents import queries
from keel.incidents.models import Incident

CACHE = "fragments"
ROW_SECONDS = 60


@dataclass
class QueueRow:
    """One row of the queue: its HTML as kept, or the incident to render it from."""

    number: str
    key: str
    html: str | None = None
    incident: Incident | None = None

    def keep(self, html: str) -> None:
        caches[CACHE].set(self.key, html, ROW_SECONDS)


def row_key(incident: Any, vary: tuple[Any, ...]) -> str:
    """The key of an incident's row (an instance or a row of ``queries.row_keys``)."""
    parts = (incident.id, incident.version, incident.updated_at.isoformat(), *vary)
    return make_template_fragment_key("queue_row", parts)


def queue_rows(
    page: list[Any], incidents: QuerySet[Incident], *, minute: str, can_assign: bool
) -> list[QueueRow]:
    """The rows of a page of ``queries.row_keys`` rows read from ``incidents``, in its order.

    ``minute`` is the SLA clock's minute; the active language and time zone are the reader's.
    An incident read whole is keyed as it was read (it may have changed since the page was read),
    and one that has left ``incidents`` in between is not shown.
    """
    vary = (minute, translation.get_language(), timezone.get_current_timezone_name(), can_assign)
    keys = {row.id: row_key(row, vary) for row in page}
    kept = caches[CACHE].get_many(list(keys.values()))
    missing = [pk for pk, key in keys.items() if key not in kept]
    loaded = queries.whole(incidents, missing) if missing else {}
    rows = []
    for row in page:
        key = keys[row.id]
        if key in kept:
            rows.append(QueueRow(row.number, key, html=kept[key]))
        elif (incident := loaded.get(row.id)) is not None:
            rows.append(QueueRow(incident.number, row_key(incident, vary), incident=incident))
    return rows
