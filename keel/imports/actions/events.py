"""An imported activity log, as the timeline of each imported incident.

Logs have no ids for their lines, so each event is keyed by a digest of what it says (source,
incident, time, activity, group) and how many identical lines came before it in the file: a
re-run recognises every event it brought in and adds none twice. Events are facts; a re-run
never changes one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from keel.imports.actions._context import STAND_IN, BatchResult, Context, Problem, text_of
from keel.imports.actions._insert import insert_rows
from keel.imports.mapping import CellError, FileSpec
from keel.incidents.models import EventKind, IncidentEvent

KINDS = frozenset(EventKind.values)
COLUMNS = ("incident_id", "at", "kind", "public", "body", "minutes", "data", "import_key")


class EventWriter:
    target = "incident.event"

    def __init__(self, ctx: Context, spec: FileSpec):
        self.ctx = ctx
        self.spec = spec
        self.occurrences: dict[bytes, int] = {}

    def _key(self, values: dict[str, Any], incident: str, team: str) -> str:
        said = "\x1f".join(
            (self.ctx.source, incident, values["at"].isoformat(), values["data"]["activity"], team)
        ).encode()
        digest = hashlib.blake2b(said, digest_size=16).digest()
        seen = self.occurrences.get(digest, 0)
        self.occurrences[digest] = seen + 1
        return hashlib.blake2b(said + b"\x1e%d" % seen, digest_size=20).hexdigest()

    def _values(self, record: dict[str, Any], incidents: dict[str, int]) -> dict[str, Any]:
        ctx = self.ctx
        incident = text_of(record, "incident")
        if incident not in incidents:
            raise CellError(
                "incident", _("no incident %(id)s in this source") % {"id": incident or "—"}
            )
        at = record.get("at")
        if not isinstance(at, datetime):
            raise CellError("at", _("when it happened is blank"))
        activity = text_of(record, "activity", limit=200)
        if not activity:
            raise CellError("activity", _("the activity is blank"))
        kind = record.get("kind") or EventKind.ACTIVITY
        if kind not in KINDS:
            raise CellError(
                "kind",
                _("%(value)r is not a timeline kind (%(choices)s)")
                % {"value": kind, "choices": ", ".join(EventKind.values)},
            )
        team = text_of(record, "team")
        data: dict[str, Any] = {"activity": activity, "source": ctx.source}
        if team:
            data["team"] = team
            if self.spec.fields["team"].create_missing:
                pk = ctx.resolve("teams", self.spec.fields["team"], team)
                if pk != STAND_IN:
                    data["team_id"] = pk
        minutes = record.get("minutes")
        if minutes is not None and (not isinstance(minutes, int) or minutes < 0):
            raise CellError("minutes", _("minutes spent must be 0 or more"))
        values = {
            "incident_id": incidents[incident],
            "at": at,
            "kind": kind,
            "public": bool(record.get("public")),
            "body": text_of(record, "body"),
            "minutes": minutes,
            "data": data,
        }
        values["import_key"] = self._key(values, incident, team)
        return values

    def write(self, batch: list[tuple[int, dict[str, Any]]]) -> BatchResult:
        ctx = self.ctx
        result = BatchResult()
        incidents = ctx.incidents(text_of(record, "incident") for _l, record in batch)
        rows = []
        for line, record in batch:
            try:
                rows.append({**self._values(record, incidents), "line": line})
            except CellError as exc:
                result.problems.append(Problem(line, exc.column, exc.message))
        keys = [values["import_key"] for values in rows]
        present = set(
            IncidentEvent.objects.filter(import_key__in=keys)
            .exclude(import_key="")  # lets the database use the partial unique index
            .order_by()
            .values_list("import_key", flat=True)
        )
        new = [values for values in rows if values["import_key"] not in present]
        result.created = len(new)
        if ctx.dry_run or not new:
            return result
        insert_rows(IncidentEvent, COLUMNS, [[values[c] for c in COLUMNS] for values in new])
        ctx.audit_batch(
            "incident.timeline_imported",
            self.spec.path,
            IncidentEvent,
            [values["line"] for values in new],
            [f"line {values['line']}" for values in new],
        )
        return result
