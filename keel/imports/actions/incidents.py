"""Imported incidents: checked as recorded ones are, then created or updated in bulk.

An incident is found again by its source and source id, so a re-run updates it (keeping its
Keel number) instead of adding another. Deadlines come from the service's targets and calendar,
as for a new incident, and breaches are judged from the recorded times. Nobody is notified.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from keel.catalog import queries as catalog
from keel.catalog.models import Service
from keel.core.numbering import format_number, next_values
from keel.imports.actions._context import STAND_IN, BatchResult, Context, Problem, text_of
from keel.imports.actions._insert import insert_rows, update_rows
from keel.imports.mapping import CellError, FileSpec
from keel.incidents import sla
from keel.incidents.actions._base import TITLE_MAX, _levels_error
from keel.incidents.lifecycle import OPEN, Status
from keel.incidents.models import (
    MAX_LEVEL,
    Channel,
    EventKind,
    Incident,
    IncidentEvent,
    ResolutionCode,
)

STATUSES = frozenset(Status.values)
CHANNELS = frozenset(Channel.values)
CODES = frozenset(ResolutionCode.values)


def _count(record: dict[str, Any], name: str) -> int:
    value = record.get(name)
    if value in (None, ""):
        return 0
    if not isinstance(value, int) or value < 0:
        raise CellError(name, _("%(field)s must be a whole number of 0 or more") % {"field": name})
    return value


def _not_before(record: dict[str, Any], name: str, start: datetime) -> datetime | None:
    moment = record.get(name)
    if moment is None:
        return None
    if moment < start:
        raise CellError(
            name,
            _("%(field)s (%(when)s) is before the incident was recorded (%(start)s)")
            % {"field": name, "when": moment.isoformat(), "start": start.isoformat()},
        )
    return moment


class IncidentWriter:
    target = "incident"

    def __init__(self, ctx: Context, spec: FileSpec):
        self.ctx = ctx
        self.spec = spec
        self.services: dict[int, Service] = {}

    def _service(self, pk: int) -> Service | None:
        if pk == STAND_IN:
            return None
        if pk not in self.services:
            self.services[pk] = Service.objects.get(pk=pk)
        return self.services[pk]

    def _values(self, record: dict[str, Any], users: dict[str, int]) -> dict[str, Any]:
        ctx, fields = self.ctx, self.spec.fields
        values: dict[str, Any] = {"external_id": text_of(record, "external_id", limit=100)}
        if not values["external_id"]:
            raise CellError("external_id", _("the source id is blank"))
        values["title"] = text_of(record, "title", limit=TITLE_MAX)
        if not values["title"]:
            raise CellError("title", _("the title is blank"))
        values["description"] = text_of(record, "description")
        status = record.get("status")
        if status not in STATUSES:
            raise CellError(
                "status",
                _("%(value)r is not a Keel status (%(choices)s)")
                % {"value": status, "choices": ", ".join(Status.values)},
            )
        values["status"], values["is_open"] = status, status in OPEN
        for name in ("impact", "urgency"):
            problem = _levels_error(name, record.get(name), ctx.levels)
            if problem:
                raise CellError(*problem)
            values[name] = record[name]
        priority = record.get("priority")
        if priority is None:
            priority = catalog.priority_for(values["impact"], values["urgency"])
        elif (problem := _levels_error("priority", priority, MAX_LEVEL)) is not None:
            # Priorities run P1…P5 whatever the number of impact and urgency levels.
            raise CellError(*problem)
        values["priority"] = priority
        team_id = None
        if record.get("team"):
            team_id = ctx.resolve("teams", fields["team"], str(record["team"]))
        service_name = text_of(record, "service")
        if not service_name:
            raise CellError("service", _("the service is blank"))
        service_id = ctx.resolve("services", fields["service"], service_name, team_id=team_id)
        values["service_id"] = service_id
        service = self._service(service_id)
        values["team_id"] = team_id or (service.team_id if service else STAND_IN)
        category = text_of(record, "category")
        values["category_id"] = (
            ctx.resolve("categories", fields["category"], category) if category else None
        )
        for name in ("requester", "assignee"):
            who = text_of(record, name)
            if who and who.lower() not in users:
                raise CellError(name, _("no Keel user is called %(name)r") % {"name": who})
            values[f"{name}_id"] = users.get(who.lower()) if who else None
        if values["requester_id"] is None:
            values["requester_id"] = ctx.placeholder_user()
        channel = record.get("channel") or Channel.IMPORT
        if channel not in CHANNELS:
            raise CellError(
                "channel",
                _("%(value)r is not a channel (%(choices)s)")
                % {"value": channel, "choices": ", ".join(Channel.values)},
            )
        values["channel"] = channel
        created = record.get("created_at")
        if not isinstance(created, datetime):
            raise CellError("created_at", _("when the incident was recorded is blank"))
        values["created_at"] = created
        for name in ("assigned_at", "resolved_at", "closed_at", "cancelled_at"):
            values[name] = _not_before(record, name, created)
        # The times are the source's own: an incident reopened and still open there keeps the
        # time it was last resolved, as the source reports it.
        reopened = _not_before(record, "reopened_at", created)
        values["reopen_count"] = max(_count(record, "reopen_count"), 1 if reopened else 0)
        values["reassignment_count"] = _count(record, "reassignment_count")
        code = record.get("resolution_code") or ""
        if code not in CODES and code != "":
            raise CellError(
                "resolution_code",
                _("%(value)r is not a resolution code (%(choices)s)")
                % {"value": code, "choices": ", ".join(ResolutionCode.values)},
            )
        values["resolution_code"] = code
        values["resolution_notes"] = text_of(record, "resolution_notes")
        rating = record.get("rating")
        if rating is not None and (not isinstance(rating, int) or not 1 <= rating <= 5):
            raise CellError("rating", _("a rating is a whole number from 1 to 5"))
        values["rating"] = rating
        values["updated_at"] = max(
            t
            for t in (
                created,
                reopened,
                *(values[n] for n in ("assigned_at", "resolved_at", "closed_at", "cancelled_at")),
            )
            if t is not None
        )
        cis = record.get("affected_cis") or []
        values["cis"] = [cis] if isinstance(cis, str) else list(cis)
        if service is not None:
            deadlines = sla.deadlines(service, priority, created)
            values["respond_by"] = deadlines.respond_by
            values["resolve_by"] = deadlines.resolve_by
            values["warn_at"] = deadlines.warn_at
            done = values["resolved_at"] or values["closed_at"]
            values["resolution_breached"] = bool(done and done > deadlines.resolve_by)
        return values

    def write(self, batch: list[tuple[int, dict[str, Any]]]) -> BatchResult:
        ctx = self.ctx
        result = BatchResult()
        users = ctx.users(
            str(record.get(name) or "")
            for _line, record in batch
            for name in ("requester", "assignee")
        )
        rows: list[tuple[int, dict[str, Any]]] = []
        for line, record in batch:
            try:
                rows.append((line, self._values(record, users)))
            except CellError as exc:
                result.problems.append(Problem(line, exc.column, exc.message))
        cis = ctx.items(ci for _line, values in rows for ci in values["cis"])
        kept = []
        for line, values in rows:
            missing = [ci for ci in values["cis"] if ci not in cis]
            if missing:
                result.problems.append(
                    Problem(
                        line,
                        "affected_cis",
                        _("no configuration item has the source id %(ids)s")
                        % {"ids": ", ".join(missing)},
                    )
                )
            else:
                kept.append((line, values))
        existing = ctx.existing(Incident, [values["external_id"] for _line, values in kept])
        new = [(line, v) for line, v in kept if v["external_id"] not in existing]
        old = [(line, v) for line, v in kept if v["external_id"] in existing]
        result.created, result.updated = len(new), len(old)
        if ctx.dry_run or not kept:
            return result
        department = ctx.users_departments({v["requester_id"] for _line, v in kept})
        numbers = [format_number("INC", value) for value in next_values("INC", len(new))]
        insert_rows(
            Incident,
            INSERT_COLUMNS,
            (
                _row(values, number, ctx.source, department)
                for (_line, values), number in zip(new, numbers, strict=True)
            ),
        )
        ids = dict(Incident.objects.filter(number__in=numbers).values_list("number", "pk"))
        created_ids = [ids[number] for number in numbers]
        # Each new incident's timeline starts with where it came from.
        insert_rows(
            IncidentEvent,
            ("incident_id", "at", "kind", "public", "body", "data", "import_key"),
            (
                (
                    pk,
                    values["created_at"],
                    EventKind.CREATED,
                    False,
                    ctx.reason(self.spec.path, line),
                    {"source": ctx.source, "external_id": values["external_id"]},
                    "",
                )
                for pk, (line, values) in zip(created_ids, new, strict=True)
            ),
        )
        ctx.audit_batch(
            "incident.imported", self.spec.path, Incident, [line for line, _v in new], numbers
        )
        updated_ids = [existing[values["external_id"]] for _l, values in old]
        if old:
            update_rows(
                Incident,
                UPDATE_COLUMNS,
                (
                    [*_row(values, "", ctx.source, department, UPDATE_COLUMNS), pk]
                    for pk, (_line, values) in zip(updated_ids, old, strict=True)
                ),
                bump_version=True,
            )
            ctx.audit_batch(
                "incident.import_updated",
                self.spec.path,
                Incident,
                [line for line, _v in old],
                [f"{ctx.source}:{values['external_id']}" for _l, values in old],
            )
        through = Incident.affected_cis.through
        if old:
            through.objects.filter(incident_id__in=updated_ids).delete()
        insert_rows(
            through,
            ("incident_id", "configurationitem_id"),
            (
                (pk, cis[ci])
                for pk, (_l, values) in zip(created_ids + updated_ids, new + old, strict=True)
                for ci in dict.fromkeys(values["cis"])
            ),
        )
        return result


INSERT_COLUMNS = (
    "number",
    "import_source",
    "external_id",
    "department_id",
    "title",
    "description",
    "requester_id",
    "assignee_id",
    "service_id",
    "category_id",
    "team_id",
    "impact",
    "urgency",
    "priority",
    "priority_reason",
    "channel",
    "status",
    "is_open",
    "hold_reason",
    "resolution_code",
    "resolution_notes",
    "created_at",
    "updated_at",
    "assigned_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
    "respond_by",
    "resolve_by",
    "warn_at",
    "paused_at",
    "paused_minutes",
    "response_breached",
    "resolution_breached",
    "warned",
    "escalation_level",
    "reassignment_count",
    "reopen_count",
    "is_major",
    "rating",
    "rating_comment",
    "version",
)
# What a re-run refreshes from the source (Keel's own work on the incident, such as pauses,
# major-incident state and rating comments, is kept).
UPDATE_COLUMNS = tuple(
    c
    for c in INSERT_COLUMNS
    if c
    not in {
        "number",
        "import_source",
        "external_id",
        "priority_reason",
        "hold_reason",
        "first_response_at",
        "paused_at",
        "paused_minutes",
        "response_breached",
        "warned",
        "escalation_level",
        "is_major",
        "rating_comment",
        "version",
    }
)
_INSERT_DEFAULTS = {
    "priority_reason": "",
    "hold_reason": "",
    "first_response_at": None,
    "paused_at": None,
    "paused_minutes": 0.0,
    "response_breached": False,
    "resolution_breached": False,
    "warned": False,
    "escalation_level": 0,
    "is_major": False,
    "rating_comment": "",
    "version": 1,
    "respond_by": None,
    "resolve_by": None,
    "warn_at": None,
}


def _row(
    values: dict[str, Any],
    number: str,
    source: str,
    departments: dict[int, int | None],
    columns: tuple[str, ...] = INSERT_COLUMNS,
) -> list[Any]:
    full = {
        **_INSERT_DEFAULTS,
        **values,
        "number": number,
        "import_source": source,
        "department_id": departments.get(values["requester_id"]),
    }
    return [full[column] for column in columns]
