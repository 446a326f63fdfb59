"""Configuration items named by an import (the affected and causing CIs of incidents, …).

Items are keyed on their source id (``external_id``), as the CMDB's own CSV import keys them, so
one source's items are found again by a re-run and by the CMDB import alike. Many rows of an
incident export name the same item: with ``on_duplicate = "merge"`` the first row that names an
item describes it.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from keel.cmdb.lifecycle import Status
from keel.cmdb.models import CIType, ConfigurationItem
from keel.core import audit
from keel.core.numbering import next_numbers
from keel.imports.actions._context import STAND_IN, BatchResult, Context, Problem, text_of
from keel.imports.actions._insert import update_rows
from keel.imports.mapping import CellError, FileSpec

NUMBER_KEY = "CI"  # as keel.cmdb numbers the items it creates
STATUSES = frozenset(Status.values)
UPDATE_COLUMNS = (
    "name",
    "type_id",
    "type_version",
    "status",
    "description",
    "team_id",
    "location",
    "supplier",
    "cost",
    "currency",
    "warranty_expires",
    "licence_expires",
    "updated_at",
)


class ItemWriter:
    target = "cmdb.item"

    def __init__(self, ctx: Context, spec: FileSpec):
        self.ctx = ctx
        self.spec = spec
        self.type_versions: dict[int, int] = {}

    def _type_version(self, pk: int) -> int:
        if pk not in self.type_versions:
            self.type_versions[pk] = (
                CIType.objects.filter(pk=pk).values_list("version", flat=True).first() or 1
            )
        return self.type_versions[pk]

    def _values(self, record: dict[str, Any]) -> dict[str, Any]:
        ctx, fields = self.ctx, self.spec.fields
        values: dict[str, Any] = {"external_id": text_of(record, "external_id", limit=100)}
        if not values["external_id"]:
            raise CellError("external_id", _("the source id is blank"))
        values["name"] = text_of(record, "name", limit=200)
        if not values["name"]:
            raise CellError("name", _("the name is blank"))
        type_name = text_of(record, "type")
        if not type_name:
            raise CellError("type", _("the CI type is blank"))
        values["type_id"] = ctx.resolve("ci_types", fields["type"], type_name)
        values["type_version"] = (
            self._type_version(values["type_id"]) if values["type_id"] != STAND_IN else 1
        )
        status = record.get("status") or Status.IN_SERVICE
        if status not in STATUSES:
            raise CellError(
                "status",
                _("%(value)r is not a CI status (%(choices)s)")
                % {"value": status, "choices": ", ".join(Status.values)},
            )
        values["status"] = status
        team = text_of(record, "team")
        values["team_id"] = ctx.resolve("teams", fields["team"], team) if team else None
        for name, limit in (("description", None), ("location", 200), ("supplier", 200)):
            values[name] = text_of(record, name, limit=limit)
        currency = text_of(record, "currency").upper()
        if currency and (len(currency) != 3 or not currency.isalpha()):
            raise CellError("currency", _("a currency is a three-letter code such as EUR"))
        values["currency"] = currency
        cost = record.get("cost")
        if cost is not None and (cost < 0 or cost.as_tuple().exponent < -2):
            raise CellError("cost", _("the cost must be 0 or more, to the cent"))
        values["cost"] = cost
        values["warranty_expires"] = record.get("warranty_expires")
        values["licence_expires"] = record.get("licence_expires")
        return values

    def write(self, batch: list[tuple[int, dict[str, Any]]]) -> BatchResult:
        ctx = self.ctx
        result = BatchResult()
        rows = []
        for line, record in batch:
            try:
                rows.append((line, self._values(record)))
            except CellError as exc:
                result.problems.append(Problem(line, exc.column, exc.message))
        existing = ctx.existing(ConfigurationItem, [v["external_id"] for _l, v in rows])
        new = [(line, v) for line, v in rows if v["external_id"] not in existing]
        old = [(line, v) for line, v in rows if v["external_id"] in existing]
        result.created, result.updated = len(new), len(old)
        if ctx.dry_run or not rows:
            return result
        created = [
            (
                line,
                ConfigurationItem(number=number, created_at=ctx.now, updated_at=ctx.now, **values),
            )
            for (line, values), number in zip(new, next_numbers(NUMBER_KEY, len(new)), strict=True)
        ]
        ConfigurationItem.objects.bulk_create([item for _l, item in created])
        updated = []
        for line, values in old:
            item = ConfigurationItem(updated_at=ctx.now, **values)
            item.pk = existing[values["external_id"]]
            updated.append((line, item))
        update_rows(
            ConfigurationItem,
            UPDATE_COLUMNS,
            ([*(getattr(item, c) for c in UPDATE_COLUMNS), item.pk] for _l, item in updated),
            bump_version=True,
        )
        audit.record_many(
            ctx.actor,
            [
                {
                    "action": "ci.imported" if n < len(created) else "ci.import_updated",
                    "obj": item,
                    "object_repr": item.number or item.external_id,
                    "changes": {"name": [None, item.name]},
                    "reason": ctx.reason(self.spec.path, line),
                    "at": ctx.now,
                }
                for n, (line, item) in enumerate(created + updated)
            ],
        )
        return result
