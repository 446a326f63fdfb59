"""Imported contacts with the service desk (calls, e-mails, chats), created or updated in bulk.

A contact that names an incident the source never exported is kept without the link (the contact
happened; the summary warns about the link), so counts such as first-contact resolution stay
true to the source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from keel.core.numbering import format_number, next_values
from keel.imports.actions._context import STAND_IN, BatchResult, Context, Problem, text_of
from keel.imports.actions._insert import insert_rows, update_rows
from keel.imports.actions.incidents import CHANNELS
from keel.imports.mapping import CellError, FileSpec
from keel.incidents.models import Channel, Interaction

UPDATED_FIELDS = [
    "contact",
    "agent",
    "channel",
    "summary",
    "service",
    "category",
    "ci",
    "started_at",
    "ended_at",
    "handle_seconds",
    "resolved_first_contact",
    "incident",
]


UPDATED_COLUMNS = [
    f"{name}_id" if name in ("contact", "agent", "service", "category", "ci", "incident") else name
    for name in UPDATED_FIELDS
]


class ContactWriter:
    target = "contact"

    def __init__(self, ctx: Context, spec: FileSpec):
        self.ctx = ctx
        self.spec = spec

    def _values(
        self,
        record: dict[str, Any],
        users: dict[str, int],
        incidents: dict[str, int],
        cis: dict[str, int],
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        ctx, fields = self.ctx, self.spec.fields
        warnings: list[tuple[str, str]] = []
        values: dict[str, Any] = {"external_id": text_of(record, "external_id", limit=100)}
        if not values["external_id"]:
            raise CellError("external_id", _("the source id is blank"))
        started = record.get("started_at")
        if not isinstance(started, datetime):
            raise CellError("started_at", _("when the contact started is blank"))
        ended = record.get("ended_at")
        if ended is not None and ended < started:
            raise CellError(
                "ended_at",
                _("the contact ends (%(end)s) before it starts (%(start)s)")
                % {"end": ended.isoformat(), "start": started.isoformat()},
            )
        values["started_at"], values["ended_at"] = started, ended
        channel = record.get("channel")
        if channel not in CHANNELS:
            raise CellError(
                "channel",
                _("%(value)r is not a channel (%(choices)s)")
                % {"value": channel, "choices": ", ".join(Channel.values)},
            )
        values["channel"] = channel
        values["summary"] = text_of(record, "summary")
        for name in ("contact", "agent"):
            who = text_of(record, name)
            if who and who.lower() not in users:
                raise CellError(name, _("no Keel user is called %(name)r") % {"name": who})
            values[f"{name}_id"] = users.get(who.lower()) if who else None
        for name, kind in (("service", "services"), ("category", "categories")):
            text = text_of(record, name)
            values[f"{name}_id"] = ctx.resolve(kind, fields[name], text) if text else None
        handle = record.get("handle_seconds")
        if handle is not None and (not isinstance(handle, int) or handle < 0):
            raise CellError("handle_seconds", _("the handle time must be 0 seconds or more"))
        values["handle_seconds"] = handle
        values["resolved_first_contact"] = bool(record.get("resolved_first_contact"))
        ci = text_of(record, "ci")
        values["ci_id"] = cis.get(ci) if ci else None
        if ci and values["ci_id"] is None:
            warnings.append(("ci", _("no configuration item %(id)s; kept without it") % {"id": ci}))
        incident = text_of(record, "incident")
        values["incident_id"] = incidents.get(incident) if incident else None
        if incident and values["incident_id"] is None:
            warnings.append(
                (
                    "incident",
                    _("no incident %(id)s in this source; kept without the link")
                    % {"id": incident},
                )
            )
        for key in ("service_id", "category_id", "ci_id", "incident_id"):
            if values[key] == STAND_IN:
                values[key] = None
        return values, warnings

    def write(self, batch: list[tuple[int, dict[str, Any]]]) -> BatchResult:
        ctx = self.ctx
        result = BatchResult()
        users = ctx.users(
            str(record.get(name) or "") for _line, record in batch for name in ("contact", "agent")
        )
        incidents = ctx.incidents(str(record.get("incident") or "").strip() for _l, record in batch)
        cis = ctx.items(str(record.get("ci") or "").strip() for _l, record in batch)
        rows = []
        for line, record in batch:
            try:
                values, warnings = self._values(record, users, incidents, cis)
            except CellError as exc:
                result.problems.append(Problem(line, exc.column, exc.message))
                continue
            result.problems += [
                Problem(line, column, text, warning=True) for column, text in warnings
            ]
            rows.append((line, values))
        existing = ctx.existing(Interaction, [v["external_id"] for _l, v in rows])
        new = [(line, v) for line, v in rows if v["external_id"] not in existing]
        old = [(line, v) for line, v in rows if v["external_id"] in existing]
        result.created, result.updated = len(new), len(old)
        if ctx.dry_run or not rows:
            return result
        columns = ["number", "import_source", "created_at", *UPDATED_COLUMNS, "external_id"]
        numbers = [format_number("CON", value) for value in next_values("CON", len(new))]
        insert_rows(
            Interaction,
            columns,
            (
                [
                    number,
                    ctx.source,
                    ctx.now,
                    *(values[c] for c in UPDATED_COLUMNS),
                    values["external_id"],
                ]
                for (_line, values), number in zip(new, numbers, strict=True)
            ),
        )
        ctx.audit_batch(
            "contact.imported", self.spec.path, Interaction, [line for line, _v in new], numbers
        )
        if old:
            update_rows(
                Interaction,
                UPDATED_COLUMNS,
                (
                    [*(values[c] for c in UPDATED_COLUMNS), existing[values["external_id"]]]
                    for _line, values in old
                ),
            )
            ctx.audit_batch(
                "contact.import_updated",
                self.spec.path,
                Interaction,
                [line for line, _v in old],
                [f"{ctx.source}:{values['external_id']}" for _l, values in old],
            )
        return result
