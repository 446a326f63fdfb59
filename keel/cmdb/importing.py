"""Import of configuration items from CSV or XLSX, with a column mapping and a dry run.

1. ``columns(file)`` reads the header, for the mapping step.
2. ``preview(file, mapping, ci_type, actor=…)`` checks every cell and reports each problem with
   its row (as numbered in the spreadsheet, the header being row 1) and column; nothing is
   written.
3. ``run(…)`` checks the same way and, only when no row has a problem, writes every row in one
   transaction (through ``actions.import_items``): all rows or none.

The mapping takes a source column to an item field (``name``, ``status``, ``owner`` …) or to an
attribute of the type (``attributes.ram_gb``). Rows are matched to existing items by
``external_id``, so importing the same file again updates instead of duplicating. References
are looked up by what a spreadsheet holds: people by user name or e-mail, teams and departments
by code or name, statuses by value or label.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from keel.cmdb import actions, attributes, lifecycle
from keel.cmdb.access import may_change_team
from keel.cmdb.exporting import FORMULA_START
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import CIType, ConfigurationItem
from keel.cmdb.validation import check_type_in_use, clean_fields
from keel.core.errors import FieldError
from keel.core.models import Department, Team, User
from keel.core.permissions import require

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 100_000
CHUNK = 2000
FIELDS = [
    "external_id",
    "name",
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
PEOPLE = ("owner", "assigned_to")
REQUIRED = ("external_id", "name")
XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    field: str
    message: str


@dataclass
class Preview:
    """What an import would do: how many items it creates and updates, and every problem."""

    columns: list[str]
    rows: int = 0
    create: int = 0
    update: int = 0
    errors: list[RowError] = field(default_factory=list)
    plan: list[actions.ImportRow] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- reading the file -------------------------------------------------------------------------


def _bytes(file: Any) -> bytes:
    if isinstance(file, bytes):
        data = file
    elif hasattr(file, "chunks"):
        if hasattr(file, "seek"):
            file.seek(0)
        data = b"".join(file.chunks())
    else:
        if hasattr(file, "seek"):
            file.seek(0)
        data = file.read()
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_BYTES:
        raise FieldError("file", _("The file is larger than 50 MB; split it."))
    if not data.strip():
        raise FieldError("file", _("The file is empty."))
    return data


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # UTF-8, or what Excel saves in Chinese Windows
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FieldError("file", _("Save the file as CSV in UTF-8."))


def _cell(value: Any) -> str:
    """A spreadsheet cell as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _unescape(text: str) -> str:
    """Take off the apostrophe an export puts before text a spreadsheet would run as a formula."""
    text = text.strip()
    if text.startswith("'") and text[1:2] in FORMULA_START:
        return text[1:]
    return text


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = _decode(data)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    yield from csv.reader(io.StringIO(text, newline=""), dialect)


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    try:
        import openpyxl
    except ImportError:
        raise FieldError(
            "file",
            _(
                "Reading .xlsx files needs the openpyxl package on the server; save the sheet as CSV."
            ),
        ) from None
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise FieldError("file", _("This is not a readable .xlsx file.")) from None
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in values]
    finally:
        book.close()


def read(file: Any, filename: str = "") -> tuple[list[str], list[list[str]]]:
    """The header and the data rows of a CSV or XLSX file (blank rows dropped)."""
    data = _bytes(file)
    name = (filename or getattr(file, "name", "") or "").lower()
    is_xlsx = name.endswith(".xlsx") or data.startswith(XLSX_MAGIC)
    try:
        rows = _xlsx_rows(data) if is_xlsx else _csv_rows(data)
        header = [c.strip() for c in next(rows, [])]
        body = []
        for row in rows:
            if any(c.strip() for c in row):
                body.append([_unescape(c) for c in row])
                if len(body) > MAX_ROWS:
                    raise FieldError(
                        "file", _("At most %(n)s rows at once; split the file.") % {"n": MAX_ROWS}
                    )
    except csv.Error as exc:
        raise FieldError(
            "file", _("This is not a readable CSV file: %(e)s.") % {"e": exc}
        ) from None
    while header and not header[-1]:
        header.pop()
    if not header:
        raise FieldError("file", _("The first row must name the columns."))
    seen: set[str] = set()
    for name in header:
        if not name:
            raise FieldError("file", _("Every column needs a name in the first row."))
        if name in seen:
            raise FieldError("file", _("Two columns are named “%(c)s”.") % {"c": name})
        seen.add(name)
    return header, body


def columns(file: Any, filename: str = "") -> list[str]:
    return read(file, filename)[0]


# --- the mapping ------------------------------------------------------------------------------


def targets(ci_type: CIType) -> list[str]:
    """What a column can be mapped to for ``ci_type``."""
    return [*FIELDS, *(f"attributes.{d['key']}" for d in ci_type.attributes)]


def check_mapping(header: list[str], mapping: Any, ci_type: CIType) -> dict[str, str]:
    """``{column: target}`` without ignored columns; every problem named ``mapping.<column>``."""
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str | None) for k, v in mapping.items()
    ):
        raise FieldError("mapping", _("Give the mapping as an object of column → field."))
    allowed = set(targets(ci_type))
    errors: list[tuple[str, Any]] = []
    used: dict[str, str] = {}
    for column, target in mapping.items():
        if not target:
            continue
        if column not in header:
            errors.append((f"mapping.{column}", _("The file has no such column.")))
        elif target not in allowed:
            errors.append((f"mapping.{column}", _("Unknown field “%(t)s”.") % {"t": target}))
        elif target in used:
            errors.append(
                (
                    f"mapping.{column}",
                    _("Column “%(c)s” is mapped there too.") % {"c": used[target]},
                )
            )
        else:
            used[target] = column
    for target in REQUIRED:
        if target not in used:
            errors.append(("mapping", _("Map a column to %(t)s.") % {"t": target}))
    if errors:
        raise FieldError(errors=errors)
    return {column: target for target, column in used.items()}


# --- looking up references ---------------------------------------------------------------------


def _by_key(rows: Iterable[tuple[int, str, str]]) -> dict[str, list[int]]:
    """``{lower-case key: [ids]}`` from ``(id, key1, key2)`` rows."""
    found: dict[str, list[int]] = {}
    for pk, *keys in rows:
        for key in keys:
            if key:
                ids = found.setdefault(key.lower(), [])
                if pk not in ids:
                    ids.append(pk)
    return found


def _chunks(values: list[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _References:
    """Every person, team and department the file names, looked up once."""

    def __init__(self, wanted: dict[str, set[str]]):
        people = sorted(wanted.get("owner", set()) | wanted.get("assigned_to", set()))
        self.people: dict[str, list[int]] = {}
        self.users: dict[int, User] = {}
        for chunk in _chunks(people):
            lowered = [p.lower() for p in chunk]
            query = Q(username__in=chunk) | Q(email__in=chunk) | Q(email__in=lowered)
            for user in User.objects.filter(query, is_active=True, is_system=False):
                self.users[user.pk] = user
                for key in {user.username.lower(), (user.email or "").lower()} - {""}:
                    self.people.setdefault(key, []).append(user.pk)
        self.teams = {t.pk: t for t in Team.objects.all()}
        self.team_keys = _by_key((t.pk, t.code, t.name) for t in self.teams.values())
        self.departments = {d.pk: d for d in Department.objects.all()}
        self.department_keys = _by_key((d.pk, d.code, d.name) for d in self.departments.values())

    def resolve(self, target: str, text: str) -> tuple[Any, str | None]:
        table: dict[int, Any]
        if target in PEOPLE:
            ids, table = self.people.get(text.lower(), []), self.users
            missing = _("No active person with this user name or e-mail.")
        elif target == "team":
            ids, table = self.team_keys.get(text.lower(), []), self.teams
            missing = _("No team with this code or name.")
        else:
            ids, table = self.department_keys.get(text.lower(), []), self.departments
            missing = _("No department with this code or name.")
        if not ids:
            return None, missing
        if len(set(ids)) > 1:
            return None, _("Several match; use the code.")
        return table[ids[0]], None


_STATUS_WORDS = {
    **{s.lower(): s for s in Status.values},
    **{str(s.label).lower(): s.value for s in Status},
}


# --- checking rows ----------------------------------------------------------------------------


def _existing(ids: list[str]) -> dict[str, ConfigurationItem]:
    found: dict[str, ConfigurationItem] = {}
    for chunk in _chunks(ids):
        for item in ConfigurationItem.objects.filter(external_id__in=chunk).select_related("type"):
            found[item.external_id] = item
    return found


def _plan(
    header: list[str], body: list[list[str]], mapping: dict[str, str], ci_type: CIType, actor: Any
) -> Preview:
    position = {name: n for n, name in enumerate(header)}
    column_of = {target: column for column, target in mapping.items()}
    preview = Preview(columns=header, rows=len(body))

    def cell(row: list[str], target: str) -> str:
        n = position[column_of[target]]
        return row[n] if n < len(row) else ""

    wanted: dict[str, set[str]] = {}
    for target in ("owner", "assigned_to", "team", "department"):
        if target in column_of:
            wanted[target] = {cell(row, target) for row in body} - {""}
    references = _References(wanted)
    existing = _existing(sorted({cell(row, "external_id") for row in body} - {""}))
    first_row: dict[str, int] = {}
    attribute_keys = [
        t.removeprefix("attributes.") for t in column_of if t.startswith("attributes.")
    ]
    known = {d["key"] for d in ci_type.attributes}

    for index, row in enumerate(body):
        number = index + 2  # as the spreadsheet numbers it: the header is row 1
        problems: list[tuple[str, str]] = []  # (field, message)
        values: dict[str, Any] = {}
        external_id = cell(row, "external_id")
        item = existing.get(external_id) if external_id else None
        if not external_id:
            problems.append(("external_id", _("Every row needs an external id.")))
        elif external_id in first_row:
            problems.append(
                ("external_id", _("Also on row %(n)s.") % {"n": first_row[external_id]})
            )
        else:
            first_row[external_id] = number
        if item is not None:
            if item.type_id != ci_type.pk:
                problems.append(
                    (
                        "external_id",
                        _("This is %(number)s, a %(type)s; import it with that type.")
                        % {"number": item.number, "type": item.type.name},
                    )
                )
                item = None
            elif not may_change_team(actor, item.team_id):
                problems.append(
                    (
                        "external_id",
                        _("%(number)s is supported by another team.") % {"number": item.number},
                    )
                )
                item = None
        for target in column_of:
            if target.startswith("attributes.") or target == "external_id":
                continue
            text = cell(row, target)
            if target in ("owner", "assigned_to", "team", "department"):
                if text:
                    values[target], problem = references.resolve(target, text)
                    if problem:
                        problems.append((target, problem))
                else:
                    values[target] = None
            elif target == "status":
                if not text:  # blank: a new item is in service, an existing one stays as it is
                    text = item.status if item is not None else Status.IN_SERVICE
                status = _STATUS_WORDS.get(text.lower())
                if status is None:
                    problems.append(
                        ("status", _("Choose one of: %(s)s.") % {"s": ", ".join(Status.values)})
                    )
                elif item is not None and not lifecycle.allowed(item.status, status):
                    problems.append(
                        ("status", _("Not allowed from %(s)s.") % {"s": item.get_status_display()})
                    )
                else:
                    values["status"] = status
            else:
                values[target] = text
        values["external_id"] = external_id
        cleaned, field_errors = clean_fields({**values, "type": ci_type}, creating=item is None)
        cleaned.pop("type", None)
        problems += [(f, str(m)) for f, m in field_errors if f != "type"]
        # Mapped attributes replace the item's; the others stay (those the type no longer
        # declares are dropped, as any edit drops them).
        merged = {k: v for k, v in (item.attributes if item else {}).items() if k in known}
        for key in attribute_keys:
            merged[key] = cell(row, f"attributes.{key}")
        cleaned["attributes"], attribute_errors = attributes.clean_values(
            ci_type.attributes, merged
        )
        problems += [(f, str(m)) for f, m in attribute_errors]
        for target, message in problems:
            preview.errors.append(RowError(number, column_of.get(target, ""), target, message))
        if problems:
            continue
        if item is None:
            cleaned.setdefault("status", Status.IN_SERVICE)
            preview.create += 1
        else:
            preview.update += 1
        preview.plan.append(actions.ImportRow(row=number, values=cleaned, item=item))
    return preview


def _require_type_in_use(ci_type: CIType) -> None:
    errors: list[tuple[str, Any]] = []
    check_type_in_use(ci_type, errors)
    if errors:
        raise FieldError(errors=errors)


def preview(file: Any, mapping: Any, ci_type: CIType, *, actor: Any, filename: str = "") -> Preview:
    """Check an import without writing anything: counts, and every problem by row and column."""
    require(actor, "cmdb.import_configurationitem")
    _require_type_in_use(ci_type)
    header, body = read(file, filename)
    return _plan(header, body, check_mapping(header, mapping, ci_type), ci_type, actor)


def run(
    file: Any, mapping: Any, ci_type: CIType, *, actor: Any, filename: str = ""
) -> actions.ImportResult:
    """Import every row, or — when any row has a problem — nothing (``FieldError`` names each
    as ``rows.<row>.<column>``)."""
    require(actor, "cmdb.import_configurationitem")
    _require_type_in_use(ci_type)
    header, body = read(file, filename)
    checked = check_mapping(header, mapping, ci_type)
    with transaction.atomic():
        planned = _plan(header, body, checked, ci_type, actor)
        if planned.errors:
            raise FieldError(
                None,
                _("%(n)s rows have problems; nothing was imported.")
                % {"n": len({e.row for e in planned.errors})},
                errors=[(f"rows.{e.row}.{e.column or e.field}", e.message) for e in planned.errors],
            )
        return actions.import_items(
            actor=actor,
            ci_type=ci_type,
            rows=planned.plan,
            source=filename or getattr(file, "name", "") or "",
        )
