"""Export of any list of configuration items to CSV or XLSX.

The columns are the importer's field names (``attributes.<key>`` for attributes), with
references as a spreadsheet names them (user names, team and department codes), so an exported
file imports back with the mapping "each column to itself".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from keel.cmdb.models import CIType, ConfigurationItem
from keel.core.errors import FieldError

FIELDS = [
    "number",
    "external_id",
    "name",
    "type",
    "status",
    "description",
    "owner",
    "team",
    "assigned_to",
    "department",
    "location",
    "supplier",
    "cost",
    "currency",
    "warranty_expires",
    "licence_expires",
]
FORMATS = ("csv", "xlsx")
CHUNK = 2000


def _attribute_keys(queryset: QuerySet[ConfigurationItem]) -> list[str]:
    """The attribute keys of every type in the list, in the types' order, each once."""
    type_ids = queryset.order_by().values_list("type_id", flat=True).distinct()
    keys: dict[str, None] = {}
    for ci_type in CIType.objects.filter(pk__in=type_ids).order_by("name"):
        for definition in ci_type.attributes:
            keys.setdefault(definition["key"], None)
    return list(keys)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any) -> str:
    """A cell's text; one that a spreadsheet would run as a formula gets a leading apostrophe
    (the importer takes it off again)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def header(queryset: QuerySet[ConfigurationItem]) -> list[str]:
    return [*FIELDS, *(f"attributes.{k}" for k in _attribute_keys(queryset))]


def rows(queryset: QuerySet[ConfigurationItem]) -> Iterator[list[str]]:
    """The header, then one row per item, reading the list in chunks without N+1 queries."""
    columns = header(queryset)
    keys = [c.removeprefix("attributes.") for c in columns if c.startswith("attributes.")]
    yield columns
    items = queryset.select_related("type", "owner", "team", "assigned_to", "department")
    for item in items.iterator(chunk_size=CHUNK):
        values = [
            item.number,
            item.external_id,
            item.name,
            item.type.code,
            item.status,
            item.description,
            item.owner.username if item.owner else "",
            item.team.code if item.team else "",
            item.assigned_to.username if item.assigned_to else "",
            item.department.code if item.department else "",
            item.location,
            item.supplier,
            item.cost,
            item.currency,
            item.warranty_expires,
            item.licence_expires,
            *(item.attributes.get(k) for k in keys),
        ]
        yield [_text(v) for v in values]


class _Line:
    """A file-like object that hands back what is written to it (for streaming CSV)."""

    def write(self, value: str) -> str:
        return value


def to_csv(queryset: QuerySet[ConfigurationItem]) -> Iterator[str]:
    """CSV text, line by line (UTF-8 with a byte-order mark first, so Excel reads it right)."""
    writer = csv.writer(_Line())
    yield "\ufeff"
    for row in rows(queryset):
        yield writer.writerow(row)


def to_xlsx(queryset: QuerySet[ConfigurationItem]) -> bytes:
    """An XLSX workbook with one sheet; needs the openpyxl package."""
    try:
        import openpyxl
        from openpyxl.writer.excel import save_workbook
    except ImportError:
        raise FieldError(
            "format",
            _("Writing .xlsx files needs the openpyxl package on the server; export CSV."),
        ) from None
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(str(_("Configuration items"))[:31])
    for row in rows(queryset):
        sheet.append(row)
    out = io.BytesIO()
    save_workbook(book, out)
    return out.getvalue()
