"""Import from CSV (and XLSX where openpyxl is installed) and export back: the dry run names every
bad cell by row and column and writes nothing; a run is all or nothing; a re-run updates."""

from __future__ import annotations

import csv
import io
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied

from keel.cmdb import actions, exporting, importing
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import ConfigurationItem
from keel.cmdb.tests.factories import make_item, server_type
from keel.core import audit
from keel.core.errors import FieldError
from keel.core.models import AuditEvent, TeamMembership
from keel.core.roles import Role
from keel.core.tests.factories import DepartmentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

MAPPING = {
    "Asset tag": "external_id",
    "Host": "name",
    "State": "status",
    "Team": "team",
    "User": "assigned_to",
    "Memory": "attributes.ram_gb",
    "Warranty": "warranty_expires",
    "Notes": "",
}


def csv_file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


HEADER = ["Asset tag", "Host", "State", "Team", "User", "Memory", "Warranty", "Notes"]


@pytest.fixture
def server():
    return server_type()


@pytest.fixture
def ops():
    return TeamFactory(code="ops", name="Operations")


@pytest.fixture
def good_file(ops):
    UserFactory(username="li.wei", email="li.wei@example.com")
    return csv_file(
        [
            HEADER,
            ["A-1", "srv-1", "in service", "ops", "li.wei", "64", "2027-01-31", "x"],
            ["A-2", "srv-2", "planned", "Operations", "LI.WEI@example.com", "", "", ""],
            ["A-3", "srv-3", "", "", "", "8", "", ""],
        ]
    )


def test_columns_are_read_for_the_mapping_step(good_file):
    assert importing.columns(good_file) == HEADER


def test_a_good_file_previews_without_writing(administrator, server, good_file):
    preview = importing.preview(good_file, MAPPING, server, actor=administrator)

    assert preview.ok
    assert (preview.rows, preview.create, preview.update) == (3, 3, 0)
    assert not ConfigurationItem.objects.exists()


def test_a_run_writes_every_row(administrator, server, good_file, ops):
    result = importing.run(good_file, MAPPING, server, actor=administrator, filename="estate.csv")

    assert (result.created, result.updated) == (3, 0)
    first = ConfigurationItem.objects.get(external_id="A-1")
    assert first.name == "srv-1"
    assert first.status == Status.IN_SERVICE
    assert first.team == ops
    assert first.assigned_to.username == "li.wei"
    assert first.attributes == {"ram_gb": 64}
    assert str(first.warranty_expires) == "2027-01-31"
    assert ConfigurationItem.objects.get(external_id="A-2").assigned_to.username == "li.wei"
    assert ConfigurationItem.objects.get(external_id="A-3").status == Status.IN_SERVICE
    created = AuditEvent.objects.filter(action="ci.created")
    assert created.count() == 3
    assert created.first().reason == "imported from estate.csv"


def test_a_rerun_updates_instead_of_duplicating(administrator, server, good_file):
    importing.run(good_file, MAPPING, server, actor=administrator)

    again = importing.run(good_file, MAPPING, server, actor=administrator)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert ConfigurationItem.objects.count() == 3


def test_a_changed_row_updates_its_item_and_is_audited(administrator, server, good_file):
    importing.run(good_file, MAPPING, server, actor=administrator)
    changed = csv_file([HEADER, ["A-1", "srv-1", "maintenance", "ops", "li.wei", "128", "", ""]])

    result = importing.run(changed, MAPPING, server, actor=administrator)

    assert (result.created, result.updated) == (0, 1)
    item = ConfigurationItem.objects.get(external_id="A-1")
    assert item.status == Status.MAINTENANCE
    assert item.attributes == {"ram_gb": 128}
    assert item.warranty_expires is None
    assert item.version == 2
    event = AuditEvent.objects.filter(action="ci.updated").get()
    assert event.changes["attributes"] == [{"ram_gb": 64}, {"ram_gb": 128}]
    assert event.changes["warranty_expires"] == ["2027-01-31", None]


def test_the_preview_names_every_bad_cell_by_row_and_column(administrator, server, ops):
    bad = csv_file(
        [
            HEADER,
            ["A-1", "srv-1", "in service", "ops", "", "64", "", ""],
            ["A-2", "", "lost", "nobody", "ghost", "lots", "31/01/2027", ""],
            ["A-1", "srv-3", "", "", "", "", "", ""],
            ["", "srv-4", "", "", "", "", "", ""],
        ]
    )

    preview = importing.preview(bad, MAPPING, server, actor=administrator)

    found = {(e.row, e.column) for e in preview.errors}
    assert found == {
        (3, "Host"),
        (3, "State"),
        (3, "Team"),
        (3, "User"),
        (3, "Memory"),
        (3, "Warranty"),
        (4, "Asset tag"),
        (5, "Asset tag"),
    }
    assert preview.create == 1
    assert not ConfigurationItem.objects.exists()


def test_a_run_with_any_bad_row_writes_nothing(administrator, server, ops):
    bad = csv_file(
        [
            HEADER,
            ["A-1", "srv-1", "", "ops", "", "64", "", ""],
            ["A-2", "srv-2", "", "", "", "x", "", ""],
        ]
    )

    with pytest.raises(FieldError) as exc:
        importing.run(bad, MAPPING, server, actor=administrator)

    assert [f for f, _m in exc.value.errors] == ["rows.3.Memory"]
    assert "nothing was imported" in str(exc.value.message)
    assert not ConfigurationItem.objects.exists()


def test_a_crash_part_way_leaves_nothing_half_imported(administrator, server, good_file):
    """The items are written and the third row's audit event fails (the events of an import
    are written together, so the crash is injected where each one is hashed)."""
    compute_hash = audit.compute_hash
    calls = {"n": 0}

    def fail_on_the_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return compute_hash(*args, **kwargs)

    with (
        mock.patch.object(audit, "compute_hash", side_effect=fail_on_the_third),
        pytest.raises(RuntimeError),
    ):
        importing.run(good_file, MAPPING, server, actor=administrator)

    assert not ConfigurationItem.objects.exists()
    assert not AuditEvent.objects.filter(action="ci.created").exists()


def test_a_crash_while_updating_keeps_the_items_as_they_were(administrator, server, good_file):
    importing.run(good_file, MAPPING, server, actor=administrator)
    changed = csv_file(
        [
            HEADER,
            ["A-1", "srv-1 new", "", "", "", "1", "", ""],
            ["A-2", "srv-2 new", "", "", "", "2", "", ""],
            ["A-4", "srv-4", "", "", "", "", "", ""],
        ]
    )

    with (
        mock.patch.object(
            ConfigurationItem.objects, "bulk_update", side_effect=RuntimeError("lost connection")
        ),
        pytest.raises(RuntimeError),
    ):
        importing.run(changed, MAPPING, server, actor=administrator)

    assert sorted(ConfigurationItem.objects.values_list("name", flat=True)) == [
        "srv-1",
        "srv-2",
        "srv-3",
    ]


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({**MAPPING, "Colour": "name"}, "mapping.Colour"),
        ({**MAPPING, "Notes": "size"}, "mapping.Notes"),
        ({**MAPPING, "Notes": "name"}, "mapping.Notes"),
        ({k: v for k, v in MAPPING.items() if v != "external_id"}, "mapping"),
    ],
)
def test_a_bad_mapping_is_named(administrator, server, good_file, mapping, field):
    with pytest.raises(FieldError) as exc:
        importing.preview(good_file, mapping, server, actor=administrator)

    assert field in [f for f, _m in exc.value.errors]


@pytest.mark.parametrize("content", [b"", b"   \n", b"Host,Host\nx,y\n", b",Host\nx,y\n"])
def test_an_unreadable_file_is_named(administrator, server, content):
    with pytest.raises(FieldError) as exc:
        importing.preview(content, MAPPING, server, actor=administrator)

    assert [f for f, _m in exc.value.errors] == ["file"]


def test_a_file_too_long_is_refused(administrator, server, monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 2)
    data = csv_file([["Asset tag", "Host"], *([f"A-{n}", "x"] for n in range(3))])

    with pytest.raises(FieldError) as exc:
        importing.preview(
            data, {"Asset tag": "external_id", "Host": "name"}, server, actor=administrator
        )

    assert [f for f, _m in exc.value.errors] == ["file"]


def test_semicolons_and_chinese_excel_encoding_are_read(administrator, server):
    data = "Asset tag;Host\nA-1;服务器-1\n".encode("gb18030")

    importing.run(data, {"Asset tag": "external_id", "Host": "name"}, server, actor=administrator)

    assert ConfigurationItem.objects.get().name == "服务器-1"


def test_an_item_of_another_type_is_not_taken_over(administrator, server):
    make_item("laptop", external_id="A-1")

    preview = importing.preview(
        csv_file([["Asset tag", "Host"], ["A-1", "srv-1"]]),
        {"Asset tag": "external_id", "Host": "name"},
        server,
        actor=administrator,
    )

    assert [(e.row, e.column) for e in preview.errors] == [(2, "Asset tag")]


def test_a_team_lead_cannot_overwrite_another_teams_items(make_user, server):
    lead = make_user(Role.AGENT, Role.TEAM_LEAD)
    TeamMembership.objects.create(team=TeamFactory(), user=lead)
    make_item("srv-1", server, external_id="A-1", team=TeamFactory())

    preview = importing.preview(
        csv_file([["Asset tag", "Host"], ["A-1", "mine now"]]),
        {"Asset tag": "external_id", "Host": "name"},
        server,
        actor=lead,
    )

    assert [(e.row, e.column) for e in preview.errors] == [(2, "Asset tag")]


def test_agents_cannot_import(agent, server, good_file):
    with pytest.raises(PermissionDenied):
        importing.preview(good_file, MAPPING, server, actor=agent)


def test_xlsx_without_openpyxl_is_a_clear_error(administrator, server):
    with mock.patch.dict("sys.modules", {"openpyxl": None}), pytest.raises(FieldError) as exc:
        importing.preview(b"PK\x03\x04rest", MAPPING, server, actor=administrator)

    assert [f for f, _m in exc.value.errors] == ["file"]
    assert "openpyxl" in str(exc.value.errors[0][1])


def test_xlsx_round_trip(administrator, server):
    pytest.importorskip("openpyxl")
    make_item("srv-1", server, external_id="A-1", attributes={"ram_gb": 64, "virtual": True})

    data = exporting.to_xlsx(ConfigurationItem.objects.all())
    header = importing.columns(data, "export.xlsx")
    mapping = {c: c for c in header if c in importing.targets(server)}
    result = importing.run(data, mapping, server, actor=administrator, filename="export.xlsx")

    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)


# --- export ------------------------------------------------------------------------------------


def exported(queryset) -> list[list[str]]:
    text = "".join(exporting.to_csv(queryset)).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def test_export_has_the_importers_columns_and_the_types_attributes(server, ops):
    make_item("srv-1", server, external_id="A-1", team=ops, attributes={"ram_gb": 64}, cost="10.50")

    header, row = exported(ConfigurationItem.objects.all())

    values = dict(zip(header, row, strict=True))
    assert values["name"] == "srv-1"
    assert values["team"] == "ops"
    assert values["cost"] == "10.50"
    assert values["attributes.ram_gb"] == "64"
    assert values["attributes.virtual"] == ""


def test_an_export_imports_back_unchanged(administrator, server, ops):
    make_item(
        "=HYPERLINK(evil)",
        server,
        external_id="A-1",
        team=ops,
        department=DepartmentFactory(code="fin"),
        owner=UserFactory(username="owner.one"),
        assigned_to=UserFactory(username="user.two"),
        status=Status.MAINTENANCE,
        cost="1200.50",
        currency="CNY",
        warranty_expires="2027-01-31",
        location="DC1, rack 4",
        supplier="Lenovo",
        description="line one\nline two",
        attributes={"ram_gb": 64, "virtual": False, "environment": "test", "os": "Debian"},
    )
    rows = exported(ConfigurationItem.objects.all())
    assert rows[1][2] == "'=HYPERLINK(evil)"  # a spreadsheet will not run it

    mapping = {c: c for c in rows[0] if c in importing.targets(server)}
    result = importing.run(csv_file(rows), mapping, server, actor=administrator)

    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)


def test_export_takes_a_fixed_number_of_queries(server, django_assert_max_num_queries):
    for n in range(5):
        make_item(f"srv-{n}", server, team=TeamFactory(), owner=UserFactory())

    with django_assert_max_num_queries(3):
        exported(ConfigurationItem.objects.all())


def test_xlsx_export_without_openpyxl_is_a_clear_error(server):
    with mock.patch.dict("sys.modules", {"openpyxl": None}), pytest.raises(FieldError) as exc:
        exporting.to_xlsx(ConfigurationItem.objects.all())

    assert [f for f, _m in exc.value.errors] == ["format"]


def test_the_import_action_itself_needs_the_permission(agent, server):
    with pytest.raises(PermissionDenied):
        actions.import_items(actor=agent, ci_type=server, rows=[])
