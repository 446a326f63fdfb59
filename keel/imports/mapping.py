"""Mapping files: how another tool's export becomes Keel records (pure: no database).

A mapping is a TOML file. ``[source]`` names the system the data comes from (kept on every
imported record, so a re-run finds what it brought in before); each ``[[files]]`` entry names one
export, how to read it, the Keel record it becomes (``target``) and, under ``[files.fields]``, how
each Keel field is read from the row::

    [source]
    name = "bpic2014"                 # 2–40 of a-z 0-9 -
    title = "Rabobank Group ICT (BPI Challenge 2014)"
    timezone = "Europe/Amsterdam"     # for dates written without an offset

    [[files]]
    path = "Detail_Incident.csv.gz"   # relative to the data folder given to `keel import`
    target = "incident"
    encoding = "latin-1"
    delimiter = ";"

    [files.fields]
    external_id = "Incident ID"                         # a column, as it is
    created_at = { column = "Open Time", format = "%d/%m/%Y %H:%M:%S" }
    urgency = { column = "Urgency", type = "int", values = { "5 - Very Low" = 5 } }
    status = { column = "Status", values = { Closed = "closed", "Work in progress" = "in_progress" } }
    title = { template = "{Category}: {CI Name (aff)}" }
    channel = { value = "phone" }                        # the same for every row

A field's table may say: ``column`` (or ``template``, or ``value``); ``values`` (source value →
Keel value; a value not listed is refused unless ``unmapped = "keep"`` or ``"default"``);
``default`` (used when the cell is blank); ``blank`` (cell texts that mean "no value", such as
``"#N/B"``); ``type`` (text, int, decimal, datetime, date, bool); ``format`` (strftime patterns
for dates, one or a list; ISO 8601 when not given); ``decimal = ","``; ``true``/``false`` (the
texts of a yes/no column); ``split`` (a separator, for a list of values); ``create_missing``
(for teams, services, categories and CI types: add the ones Keel doesn't have yet).

Rows that share a source id are refused after the first (``on_duplicate = "reject"``, the
default), ignored after the first (``"merge"``: many incident rows naming one CI), or combined
into one record (``"combine"``: an event log read as one incident per case), where each field
says which row it comes from: ``combine = "first"``, ``"last"`` (the default), ``"changes"``
(how many times the value changed from one row to the next: hand-overs between teams) or
``"count"`` (how many rows). ``only_if = { Status = ["Completed"] }`` reads a field only from
rows whose other columns hold one of the values given (else its default): the time of the last
event, say, as the resolution time only when that event completed the case.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext as _

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
TYPES = ("text", "int", "decimal", "datetime", "date", "bool")
UNMAPPED = ("reject", "keep", "default")
FIELD_KEYS = {
    "column",
    "template",
    "value",
    "values",
    "unmapped",
    "default",
    "blank",
    "type",
    "format",
    "decimal",
    "true",
    "false",
    "split",
    "create_missing",
    "combine",
    "only_if",
}
COMBINE = ("first", "last", "changes", "count")
FILE_KEYS = {"path", "target", "encoding", "delimiter", "on_duplicate", "fields", "description"}
TEMPLATE_NAME = re.compile(r"\{([^{}]+)\}")
# Cells are trimmed of blanks and of stray byte-order marks (some exports repeat them mid-file).
STRIP = " \t\r\n\ufeff"


class MappingError(ValueError):
    """The mapping file itself is wrong; ``where`` says which part (``files[2].fields.status``)."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


class CellError(ValueError):
    """One cell could not be read; ``column`` names the source column (or the Keel field)."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass(frozen=True)
class FieldSpec:
    """How one Keel field is read from a source row."""

    name: str
    column: str | None = None
    template: str | None = None
    constant: Any = None
    values: Mapping[str, Any] | None = None
    unmapped: str = "reject"
    default: Any = None
    blank: frozenset[str] = frozenset()
    type: str = "text"
    formats: tuple[str, ...] = ()
    decimal: str = "."
    true: frozenset[str] = frozenset({"y", "yes", "true", "1", "j", "ja"})
    false: frozenset[str] = frozenset({"n", "no", "false", "0", "nee"})
    split: str | None = None
    create_missing: bool = False
    combine: str = "last"
    only_if: tuple[tuple[str, frozenset[str]], ...] = ()

    @property
    def columns(self) -> list[str]:
        """The source columns this field reads."""
        conditions = [column for column, _values in self.only_if]
        if self.column is not None:
            return [self.column, *conditions]
        if self.template is not None:
            return [*TEMPLATE_NAME.findall(self.template), *conditions]
        return conditions


@dataclass(frozen=True)
class FileSpec:
    """One export file and the Keel record each of its rows becomes."""

    path: str
    target: str
    encoding: str = "utf-8"
    delimiter: str = ","
    on_duplicate: str = "reject"
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    description: str = ""

    @property
    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for spec in self.fields.values():
            for column in spec.columns:
                seen.setdefault(column)
        return list(seen)


@dataclass(frozen=True)
class Mapping_:
    """A whole mapping file, checked."""

    source: str
    title: str
    timezone: ZoneInfo
    files: tuple[FileSpec, ...]
    path: Path | None = None
    user: str = ""
    levels: int | None = None  # impact/urgency levels the source uses (3–5)


def load(path: str | Path, *, targets: Mapping[str, Any]) -> Mapping_:
    """Read and check the mapping at ``path`` against the ``targets`` Keel can import into."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(
            "", _("cannot read the mapping file: %(error)s") % {"error": exc}
        ) from exc
    except UnicodeDecodeError as exc:
        raise MappingError("", _("the mapping file must be UTF-8 text")) from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingError("", _("not valid TOML: %(error)s") % {"error": exc}) from exc
    mapping = parse(raw, targets=targets)
    return Mapping_(
        source=mapping.source,
        title=mapping.title,
        timezone=mapping.timezone,
        files=mapping.files,
        path=path,
        user=mapping.user,
        levels=mapping.levels,
    )


def parse(raw: Mapping[str, Any], *, targets: Mapping[str, Any]) -> Mapping_:
    """Check a mapping already read from TOML; every problem names where it is."""
    source = raw.get("source")
    if not isinstance(source, dict):
        raise MappingError("source", _("a [source] table with the source's name is required"))
    name = source.get("name")
    if not isinstance(name, str) or not SOURCE_NAME.match(name):
        raise MappingError(
            "source.name",
            _("give the source a short name of 2–40 lower-case letters, digits or dashes"),
        )
    zone_name = source.get("timezone", "UTC")
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(
            "source.timezone", _("unknown time zone %(zone)r") % {"zone": zone_name}
        ) from exc
    files_raw = raw.get("files")
    if not isinstance(files_raw, list) or not files_raw:
        raise MappingError("files", _("list at least one [[files]] entry"))
    files = tuple(
        _file(f"files[{index}]", entry, targets) for index, entry in enumerate(files_raw, 1)
    )
    user = source.get("user", "")
    if not isinstance(user, str):
        raise MappingError("source.user", _("must be a user name"))
    levels = source.get("levels")
    if levels is not None and (isinstance(levels, bool) or levels not in (3, 4, 5)):
        raise MappingError("source.levels", _("the source's impact and urgency levels: 3, 4 or 5"))
    return Mapping_(
        source=name,
        title=str(source.get("title") or name),
        timezone=zone,
        files=files,
        user=user,
        levels=levels,
    )


def _file(where: str, entry: Any, targets: Mapping[str, Any]) -> FileSpec:
    if not isinstance(entry, dict):
        raise MappingError(where, _("each [[files]] entry must be a table"))
    unknown = sorted(set(entry) - FILE_KEYS)
    if unknown:
        raise MappingError(where, _("unknown setting %(names)s") % {"names": ", ".join(unknown)})
    path = entry.get("path")
    if not isinstance(path, str) or not path:
        raise MappingError(f"{where}.path", _("name the file to read"))
    target_name = entry.get("target")
    if not isinstance(target_name, str) or target_name not in targets:
        raise MappingError(
            f"{where}.target",
            _("unknown target %(target)r; choose one of %(choices)s")
            % {"target": target_name, "choices": ", ".join(sorted(targets))},
        )
    target = targets[target_name]
    encoding = entry.get("encoding", "utf-8")
    try:
        "".encode(encoding)
    except (LookupError, TypeError) as exc:
        raise MappingError(
            f"{where}.encoding", _("unknown encoding %(encoding)r") % {"encoding": encoding}
        ) from exc
    delimiter = entry.get("delimiter", ",")
    if delimiter == "\\t":
        delimiter = "\t"
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise MappingError(f"{where}.delimiter", _("the delimiter must be one character"))
    on_duplicate = entry.get("on_duplicate", "reject")
    if on_duplicate not in ("reject", "merge", "combine"):
        raise MappingError(f"{where}.on_duplicate", _('must be "reject", "merge" or "combine"'))
    fields_raw = entry.get("fields")
    if not isinstance(fields_raw, dict) or not fields_raw:
        raise MappingError(f"{where}.fields", _("map at least the fields the target requires"))
    fields = {}
    for name, spec in fields_raw.items():
        if name not in target.fields:
            raise MappingError(
                f"{where}.fields.{name}",
                _("%(target)s has no field %(field)r; it has %(choices)s")
                % {
                    "target": target_name,
                    "field": name,
                    "choices": ", ".join(sorted(target.fields)),
                },
            )
        fields[name] = _field(f"{where}.fields.{name}", name, spec, target.fields[name])
    missing = [name for name, kind in target.fields.items() if kind.required and name not in fields]
    if missing:
        raise MappingError(
            f"{where}.fields",
            _("%(target)s needs %(fields)s")
            % {"target": target_name, "fields": ", ".join(missing)},
        )
    return FileSpec(
        path=path,
        target=target_name,
        encoding=encoding,
        delimiter=delimiter,
        on_duplicate=on_duplicate,
        fields=fields,
        description=str(entry.get("description", "")),
    )


def _field(where: str, name: str, raw: Any, kind: Any) -> FieldSpec:
    if isinstance(raw, str):
        raw = {"column": raw}
    if not isinstance(raw, dict):
        raise MappingError(where, _("give a column name or a table"))
    unknown = sorted(set(raw) - FIELD_KEYS)
    if unknown:
        raise MappingError(where, _("unknown setting %(names)s") % {"names": ", ".join(unknown)})
    sources = [key for key in ("column", "template", "value") if key in raw]
    if len(sources) != 1:
        raise MappingError(where, _("say exactly one of column, template or value"))
    combine = raw.get("combine", "last")
    if combine not in COMBINE:
        raise MappingError(
            f"{where}.combine", _("choose one of %(choices)s") % {"choices": ", ".join(COMBINE)}
        )
    only_if = raw.get("only_if", {})
    if not isinstance(only_if, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in only_if.values()
    ):
        raise MappingError(
            f"{where}.only_if", _("a table of column = [the values for which the field is read]")
        )
    # Counting rows or changes reads the cells as they are; the count is the field's value.
    type_ = raw.get("type", "text" if combine in ("changes", "count") else kind.type)
    if type_ not in TYPES:
        raise MappingError(
            f"{where}.type", _("choose one of %(choices)s") % {"choices": ", ".join(TYPES)}
        )
    unmapped = raw.get("unmapped", "reject")
    if unmapped not in UNMAPPED:
        raise MappingError(
            f"{where}.unmapped", _("choose one of %(choices)s") % {"choices": ", ".join(UNMAPPED)}
        )
    values = raw.get("values")
    if values is not None and not isinstance(values, dict):
        raise MappingError(f"{where}.values", _("a table of source value = Keel value"))
    formats = raw.get("format", ())
    if isinstance(formats, str):
        formats = (formats,)
    if not all(isinstance(f, str) for f in formats):
        raise MappingError(f"{where}.format", _("a date format or a list of them"))
    for pattern in formats:
        try:
            _date_parser(pattern, ZoneInfo("UTC"))  # refuse unknown directives now, not on row 1
        except MappingError as exc:
            raise MappingError(f"{where}.format", exc.message) from exc
    create_missing = raw.get("create_missing", False)
    if create_missing and not kind.creatable:
        raise MappingError(
            f"{where}.create_missing", _("Keel cannot create %(field)s records") % {"field": name}
        )
    for key in ("column", "template"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key]):
            raise MappingError(f"{where}.{key}", _("must be a non-empty text"))
    return FieldSpec(
        name=name,
        column=raw.get("column"),
        template=raw.get("template"),
        constant=raw.get("value"),
        values={str(k): v for k, v in values.items()} if values else None,
        unmapped=unmapped,
        default=raw.get("default"),
        blank=frozenset(str(b) for b in raw.get("blank", ())),
        type=type_,
        formats=tuple(formats),
        decimal=str(raw.get("decimal", ".")),
        true=frozenset(str(t).lower() for t in raw["true"]) if "true" in raw else FieldSpec.true,
        false=frozenset(str(f).lower() for f in raw["false"])
        if "false" in raw
        else FieldSpec.false,
        split=raw.get("split"),
        create_missing=bool(create_missing),
        combine=combine,
        only_if=tuple((column, frozenset(values)) for column, values in only_if.items()),
    )


# --- Reading one row --------------------------------------------------------------------------

_DIRECTIVES = {
    "d": r"(?P<d>\d{1,2})",
    "m": r"(?P<m>\d{1,2})",
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y>\d{2})",
    "H": r"(?P<H>\d{1,2})",
    "I": r"(?P<I>\d{1,2})",
    "M": r"(?P<M>\d{1,2})",
    "S": r"(?P<S>\d{1,2})",
    "f": r"(?P<f>\d{1,6})",
    "p": r"(?P<p>[AaPp][Mm])",
}


def _date_parser(pattern: str, zone: ZoneInfo) -> Callable[[str], datetime]:
    """A fast parser for one strftime pattern (numeric directives), or strptime for the rest."""
    parts = []
    position = 0
    uses_strptime = False
    for match in re.finditer(r"%(.)", pattern):
        parts.append(re.escape(pattern[position : match.start()]))
        directive = match.group(1)
        if directive in _DIRECTIVES:
            parts.append(_DIRECTIVES[directive])
        elif directive == "%":
            parts.append("%")
        elif directive in "bBaAjzZ":
            uses_strptime = True
        else:
            raise MappingError("format", _("unknown date directive %%%(d)s") % {"d": directive})
        position = match.end()
    if uses_strptime:
        return lambda text: datetime.strptime(text, pattern)  # noqa: DTZ007 (zone added later)
    parts.append(re.escape(pattern[position:]))
    regex = re.compile("^" + "".join(parts) + "$")

    def parse(text: str) -> datetime:
        match = regex.match(text)
        if match is None:
            raise ValueError(text)
        g = match.groupdict()
        year = int(g["Y"]) if g.get("Y") else 2000 + int(g.get("y") or 0)
        hour = int(g.get("H") or g.get("I") or 0)
        if g.get("p"):
            hour = hour % 12 + (12 if g["p"].lower() == "pm" else 0)
        micro = int((g.get("f") or "0").ljust(6, "0"))
        return datetime(
            year,
            int(g.get("m") or 1),
            int(g.get("d") or 1),
            hour,
            int(g.get("M") or 0),
            int(g.get("S") or 0),
            micro,
            tzinfo=zone,
        )

    return parse


class FieldReader:
    """Reads one Keel field from a row (a list of cells) of one file whose header is known."""

    def __init__(self, spec: FieldSpec, header: list[str], zone: ZoneInfo):
        self.spec = spec
        self.zone = zone
        index = {name: position for position, name in enumerate(header)}
        self.index = index.get(spec.column) if spec.column else None
        self.template_columns = (
            [(name, index[name]) for name in spec.columns] if spec.template else []
        )
        self.parsers = [_date_parser(p, zone) for p in spec.formats]
        self.conditions = [(index[column], allowed) for column, allowed in spec.only_if]
        self.blank = spec.blank | {""}

    @property
    def label(self) -> str:
        return self.spec.column or self.spec.name

    def read(self, cells: list[str]) -> Any:
        spec = self.spec
        for position, allowed in self.conditions:
            if (cells[position].strip(STRIP) if position < len(cells) else "") not in allowed:
                return spec.default
        if spec.column is None and spec.template is None:
            return spec.constant
        if self.index is not None:
            text = cells[self.index].strip(STRIP) if self.index < len(cells) else ""
        else:
            values = {
                name: (cells[i].strip(STRIP) if i < len(cells) else "")
                for name, i in self.template_columns
            }
            text = TEMPLATE_NAME.sub(lambda m: values[m.group(1)], spec.template or "").strip()
        if spec.split is not None:
            return [
                self._one(part.strip())
                for part in text.split(spec.split)
                if part.strip() not in self.blank
            ]
        return self._one(text)

    def _one(self, text: str) -> Any:
        spec = self.spec
        if text in self.blank:
            return spec.default
        if spec.values is not None:
            if text in spec.values:
                return spec.values[text]
            if spec.unmapped == "default":
                return spec.default
            if spec.unmapped == "reject":
                raise CellError(
                    self.label,
                    _("no mapping for the value %(value)r (add it under values)") % {"value": text},
                )
        return self._convert(text)

    def _convert(self, text: str) -> Any:
        kind = self.spec.type
        try:
            if kind == "text":
                return text
            if kind == "int":
                return int(text)
            if kind == "decimal":
                return Decimal(text.replace(self.spec.decimal, "."))
            if kind == "bool":
                lowered = text.lower()
                if lowered in self.spec.true:
                    return True
                if lowered in self.spec.false:
                    return False
                raise ValueError(text)
            moment = self._datetime(text)
            return moment.date() if kind == "date" else moment
        except (ValueError, InvalidOperation, OverflowError) as exc:
            raise CellError(self.label, self._type_message(text)) from exc

    def _datetime(self, text: str) -> datetime:
        if not self.parsers:
            moment = datetime.fromisoformat(text)
        else:
            for parser in self.parsers:
                try:
                    moment = parser(text)
                    break
                except ValueError:
                    continue
            else:
                raise ValueError(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment

    def _type_message(self, text: str) -> str:
        kind = self.spec.type
        if kind in ("datetime", "date"):
            expected = " or ".join(self.spec.formats) if self.spec.formats else "ISO 8601"
            return _("%(value)r is not a date in the format %(format)s") % {
                "value": text,
                "format": expected,
            }
        names = {
            "int": _("a whole number"),
            "decimal": _("a number"),
            "bool": _("yes or no"),
        }
        return _("%(value)r is not %(kind)s") % {"value": text, "kind": names.get(kind, kind)}


def coerce_date(value: Any) -> date | None:
    """A date from what a field reader returned (a date, a datetime or nothing)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise CellError("", _("%(value)r is not a date") % {"value": value})
