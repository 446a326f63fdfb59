"""Mapping files and the streaming reader: every mistake is named where it is."""

from __future__ import annotations

import gzip
import importlib
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from keel.imports.mapping import CellError, FieldReader, MappingError, load, parse
from keel.imports.reading import CsvSource, ReadError
from keel.imports.targets import TARGETS

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def incident_mapping(**fields):
    base = {
        "external_id": "id",
        "title": "title",
        "status": {"value": "closed"},
        "impact": {"column": "impact", "type": "int"},
        "urgency": {"value": 2},
        "service": "service",
        "created_at": "opened",
    }
    base.update(fields)
    return {
        "source": {"name": "acme", "timezone": "Europe/Amsterdam"},
        "files": [{"path": "x.csv", "target": "incident", "fields": base}],
    }


def reader(header, spec, zone=AMSTERDAM):
    """A reader for one field (``description``) mapped as ``spec``, on a file with ``header``."""
    mapping = parse(incident_mapping(description=spec), targets=TARGETS)
    return FieldReader(mapping.files[0].fields["description"], header, zone)


# --- the mapping file --------------------------------------------------------------------------


def test_a_good_mapping_is_read_with_its_files_and_fields():
    mapping = parse(incident_mapping(), targets=TARGETS)
    assert mapping.source == "acme"
    assert mapping.timezone == AMSTERDAM
    spec = mapping.files[0]
    assert spec.target == "incident"
    assert spec.columns == ["id", "title", "impact", "service", "opened"]


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        (lambda m: m.pop("source"), "source", "[source]"),
        (lambda m: m["source"].update(name="Acme Corp"), "source.name", "lower-case"),
        (lambda m: m["source"].update(timezone="Mars/Base"), "source.timezone", "Mars/Base"),
        (lambda m: m["source"].update(levels=7), "source.levels", "3, 4 or 5"),
        (lambda m: m.update(files=[]), "files", "at least one"),
        (lambda m: m["files"][0].update(target="ticket"), "files[1].target", "'ticket'"),
        (lambda m: m["files"][0].update(encoding="klingon"), "files[1].encoding", "klingon"),
        (lambda m: m["files"][0].update(delimiter=";;"), "files[1].delimiter", "one character"),
        (lambda m: m["files"][0].update(on_duplicate="ignore"), "files[1].on_duplicate", "merge"),
        (lambda m: m["files"][0].update(colour="red"), "files[1]", "colour"),
        (lambda m: m["files"][0]["fields"].pop("title"), "files[1].fields", "title"),
        (
            lambda m: m["files"][0]["fields"].update(shoe_size="x"),
            "files[1].fields.shoe_size",
            "no field 'shoe_size'",
        ),
        (
            lambda m: m["files"][0]["fields"].update(created_at={"column": "a", "value": 1}),
            "files[1].fields.created_at",
            "exactly one",
        ),
        (
            lambda m: m["files"][0]["fields"].update(
                created_at={"column": "opened", "format": "%d/%m/%Y %Q"}
            ),
            "files[1].fields.created_at.format",
            "%Q",
        ),
        (
            lambda m: m["files"][0]["fields"].update(title={"column": "t", "type": "colour"}),
            "files[1].fields.title.type",
            "text",
        ),
        (
            lambda m: m["files"][0]["fields"].update(
                requester={"column": "who", "create_missing": True}
            ),
            "files[1].fields.requester.create_missing",
            "cannot create",
        ),
    ],
)
def test_a_wrong_mapping_is_refused_naming_where(change, where, words):
    raw = incident_mapping()
    change(raw)
    with pytest.raises(MappingError) as caught:
        parse(raw, targets=TARGETS)
    assert caught.value.where == where
    assert words in caught.value.message


def test_a_mapping_file_that_is_not_toml_is_refused(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text("[source\nname = 'x'")
    with pytest.raises(MappingError, match="not valid TOML"):
        load(path, targets=TARGETS)


def test_the_shipped_mappings_are_valid():
    command = importlib.import_module("keel.imports.management.commands.import")
    shipped = sorted(command.SHIPPED.glob("*.toml"))
    assert "bpic2014" in [path.stem for path in shipped]
    for path in shipped:
        mapping = load(path, targets=TARGETS)
        assert mapping.files, path


# --- reading one field --------------------------------------------------------------------------


def test_a_column_is_read_trimmed_of_blanks_and_stray_byte_order_marks():
    field = reader(["a", "b"], "b")
    assert field.read(["x", " \ufeffIM0001 "]) == "IM0001"


def test_values_are_mapped_and_an_unmapped_one_is_refused_naming_the_column():
    field = reader(["st"], {"column": "st", "values": {"Closed": "closed"}})
    assert field.read(["Closed"]) == "closed"
    with pytest.raises(CellError) as caught:
        field.read(["Gone"])
    assert caught.value.column == "st"
    assert "'Gone'" in caught.value.message
    assert "values" in caught.value.message


def test_unmapped_values_may_be_kept_or_defaulted():
    keep = reader(["u"], {"column": "u", "values": {"5 - Very Low": 5}, "unmapped": "keep"})
    assert keep.read(["3"]) == "3"
    assert keep.read(["5 - Very Low"]) == 5
    default = reader(
        ["u"], {"column": "u", "values": {"a": 1}, "unmapped": "default", "default": 9}
    )
    assert default.read(["zzz"]) == 9


def test_blank_cells_and_blank_markers_give_the_default():
    field = reader(["c"], {"column": "c", "blank": ["#N/B"], "default": "none"})
    assert field.read([""]) == "none"
    assert field.read(["#N/B"]) == "none"


def test_types_are_converted_and_a_bad_value_says_what_was_expected():
    number = reader(["n"], {"column": "n", "type": "int"})
    assert number.read(["42"]) == 42
    with pytest.raises(CellError, match="'4x' is not a whole number"):
        number.read(["4x"])
    decimal = reader(["n"], {"column": "n", "type": "decimal", "decimal": ","})
    assert decimal.read(["3871,69"]) == Decimal("3871.69")
    yes_no = reader(["f"], {"column": "f", "type": "bool", "true": ["Y"], "false": ["N"]})
    assert yes_no.read(["Y"]) is True
    assert yes_no.read(["n"]) is False
    with pytest.raises(CellError, match="is not yes or no"):
        yes_no.read(["maybe"])


def test_dates_are_read_in_the_stated_format_and_the_source_time_zone():
    field = reader(["d"], {"column": "d", "type": "datetime", "format": "%d/%m/%Y %H:%M:%S"})
    moment = field.read(["05/02/2012 13:32:57"])
    assert moment == datetime(2012, 2, 5, 12, 32, 57, tzinfo=UTC)
    short = reader(["d"], {"column": "d", "type": "datetime", "format": "%d-%m-%Y %H:%M"})
    assert short.read(["9-9-2011 9:23"]) == datetime(2011, 9, 9, 9, 23, tzinfo=AMSTERDAM)


def test_an_unparseable_date_names_the_format_expected():
    field = reader(["d"], {"column": "d", "type": "datetime", "format": "%d/%m/%Y %H:%M:%S"})
    with pytest.raises(CellError) as caught:
        field.read(["2012-02-05"])
    assert caught.value.column == "d"
    assert caught.value.message == "'2012-02-05' is not a date in the format %d/%m/%Y %H:%M:%S"


def test_iso_dates_with_an_offset_keep_it():
    field = reader(["d"], {"column": "d", "type": "datetime"})
    assert field.read(["2010-03-31T15:59:42+01:00"]) == datetime(
        2010, 3, 31, 14, 59, 42, tzinfo=UTC
    )


def test_templates_join_columns_and_split_gives_lists():
    template = reader(["a", "b"], {"template": "{a}: {b}"})
    assert template.read(["incident", "SAP"]) == "incident: SAP"
    listed = reader(["cis"], {"column": "cis", "split": ","})
    assert listed.read(["A1, B2,,"]) == ["A1", "B2"]


def test_a_constant_value_needs_no_column():
    assert reader([], {"value": "phone"}).read([]) == "phone"


# --- the reader ---------------------------------------------------------------------------------


def write(path, text, encoding="utf-8", compress=False):
    data = text.encode(encoding)
    if compress:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def test_plain_and_gzip_files_read_alike(tmp_path):
    text = "id;name;;\nA;x;;\n;;;\nB;y;;\n"
    for name, compress in (("a.csv", False), ("a.csv.gz", True)):
        path = write(tmp_path / name, text, compress=compress)
        with CsvSource(path, delimiter=";") as source:
            assert source.header == ["id", "name"]  # trailing empty columns dropped
            rows = list(source.rows())
        assert [(r.line, r.cells[:2]) for r in rows] == [(2, ["A", "x"]), (4, ["B", "y"])]


def test_a_file_in_another_encoding_is_refused_with_the_line_and_a_hint(tmp_path):
    path = write(tmp_path / "a.csv", "id,name\n1,Zoe\n2,Zoë\n", encoding="latin-1")
    with CsvSource(path) as source, pytest.raises(ReadError) as caught:
        list(source.rows())
    assert caught.value.line == 3
    assert "not utf-8 text (byte 0xeb" in caught.value.message
    assert 'encoding = "latin-1"' in caught.value.message


def test_a_missing_column_is_named_with_what_the_file_has(tmp_path):
    path = write(tmp_path / "a.csv", "id,name\n1,x\n")
    with CsvSource(path) as source, pytest.raises(ReadError) as caught:
        source.require(["id", "Open Time"])
    assert "'Open Time'" in caught.value.message
    assert "'name'" in caught.value.message


def test_a_heading_repeated_is_numbered_from_its_second_appearance(tmp_path):
    path = write(tmp_path / "a.csv", "Key,Component/s,Component/s,Component/s\n1,a,b,c\n")
    with CsvSource(path) as source:
        assert source.header == ["Key", "Component/s", "Component/s (2)", "Component/s (3)"]


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(ReadError, match="empty"):
        CsvSource(write(tmp_path / "a.csv", ""))


def test_a_file_cut_off_mid_line_marks_its_last_row(tmp_path):
    path = write(tmp_path / "a.csv", "id,name,opened\n1,x,2020\n2,y")
    with CsvSource(path) as source:
        rows = list(source.rows())
    assert rows[-1].short
    assert rows[-1].last
    assert not rows[0].short


def test_a_compressed_file_cut_off_is_refused(tmp_path):
    data = gzip.compress(("id,name\n" + "1,x\n" * 5000).encode())
    path = tmp_path / "a.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError, match="cut off or damaged"), CsvSource(path) as source:
        list(source.rows())


def test_only_if_reads_a_field_only_from_rows_whose_condition_holds():
    field = reader(
        ["when", "status"],
        {"column": "when", "type": "datetime", "only_if": {"status": ["Completed"]}},
    )
    assert field.read(["2010-03-31T15:59:42+01:00", "Accepted"]) is None
    assert field.read(["2010-03-31T15:59:42+01:00", "Completed"]) == datetime(
        2010, 3, 31, 14, 59, 42, tzinfo=UTC
    )
    assert field.spec.columns == ["when", "status"]


def test_only_if_must_list_values():
    raw = incident_mapping(resolved_at={"column": "r", "only_if": {"status": "Completed"}})
    with pytest.raises(MappingError) as caught:
        parse(raw, targets=TARGETS)
    assert caught.value.where == "files[1].fields.resolved_at.only_if"
