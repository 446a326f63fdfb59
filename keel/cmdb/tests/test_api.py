"""The CMDB API: types, kinds, items (scope as 404, stale version as 409, bad fields as 422),
relations, impact for the graph, history with ``as_of``, export and the three import steps."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keel.cmdb import references
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import CIType, ConfigurationItem, Relation
from keel.cmdb.tests.factories import (
    CITypeFactory,
    RelationKindFactory,
    make_item,
    relate,
    server_type,
)
from keel.core.models import TeamMembership
from keel.core.roles import Role
from keel.core.tests.factories import DepartmentFactory, TeamFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/cmdb"


def post(client: Client, path: str, body) -> object:
    return client.post(f"{API}{path}", body, content_type="application/json")


def patch(client: Client, path: str, body) -> object:
    return client.patch(f"{API}{path}", body, content_type="application/json")


def error_fields(response, status: int) -> list[str]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"]
    return [e["field"] for e in body["errors"]]


@pytest.fixture
def team():
    return TeamFactory()


@pytest.fixture
def team_agent(make_user, team):
    agent = make_user(Role.AGENT)
    TeamMembership.objects.create(team=team, user=agent)
    return agent


@pytest.fixture
def admin_api(client_for, administrator) -> Client:
    return client_for(administrator)


@pytest.fixture
def agent_api(client_for, team_agent) -> Client:
    return client_for(team_agent)


# --- types and kinds ---------------------------------------------------------------------------


def test_administrators_define_types_and_see_their_versions(admin_api):
    created = post(
        admin_api,
        "/types",
        {
            "name": "Blade",
            "code": "blade",
            "attributes": [{"key": "slots", "label": "Slots", "type": "integer"}],
        },
    )
    assert created.status_code == 201, created.content
    type_id = created.json()["id"]

    changed = patch(admin_api, f"/types/{type_id}", {"version": 1, "description": "Blades"})
    stale = patch(admin_api, f"/types/{type_id}", {"version": 1, "description": "again"})
    versions = admin_api.get(f"{API}/types/{type_id}/versions")

    assert changed.json()["version"] == 2
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert [v["version"] for v in versions.json()] == [2, 1]


def test_a_bad_attribute_definition_is_named(admin_api):
    response = post(
        admin_api,
        "/types",
        {
            "name": "Blade",
            "code": "blade",
            "attributes": [{"key": "x", "label": "", "type": "integer"}],
        },
    )

    assert error_fields(response, 422) == ["attributes.0.label"]


def test_agents_read_types_but_cannot_define_them(agent_api):
    assert agent_api.get(f"{API}/types").status_code == 200
    assert post(agent_api, "/types", {"name": "Blade", "code": "blade"}).status_code == 403


def test_administrators_define_relation_kinds(admin_api):
    server = server_type()

    response = post(
        admin_api,
        "/kinds",
        {
            "code": "is-on",
            "name": "is installed on",
            "reverse_name": "has installed",
            "dependency": "source_on_target",
            "acyclic": True,
            "target_types": [server.pk],
        },
    )

    assert response.status_code == 201, response.content
    assert [t["code"] for t in response.json()["target_types"]] == ["rack-server"]


def test_a_kind_naming_a_missing_type_is_refused(admin_api):
    response = post(
        admin_api,
        "/kinds",
        {"code": "x", "name": "x", "reverse_name": "y", "source_types": [99999]},
    )

    assert error_fields(response, 422) == ["source_types"]


# --- items -------------------------------------------------------------------------------------


def test_an_agent_records_an_item(agent_api, team):
    server = server_type()
    department = DepartmentFactory()

    response = post(
        agent_api,
        "/items",
        {
            "name": "srv-1",
            "type": server.pk,
            "team": team.pk,
            "status": "in_service",
            "cost": "1200.50",
            "currency": "eur",
            "warranty_expires": "2027-01-31",
            "attributes": {"ram_gb": 64},
            "used_by_departments": [department.pk],
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith("CI-")
    assert body["type"]["code"] == "rack-server"
    assert body["cost"] == "1200.50"
    assert body["currency"] == "EUR"
    assert body["attributes"] == {"ram_gb": 64}
    assert [d["id"] for d in body["used_by_departments"]] == [department.pk]
    assert body["version"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"attributes": {"ram_gb": "lots"}}, "attributes.ram_gb"),
        ({"attributes": {"colour": "red"}}, "attributes.colour"),
        ({"type": 999999}, "type"),
        ({"team": 999999}, "team"),
        ({"status": "lost"}, "status"),
        ({"cost": "-1"}, "cost"),
        ({"warranty_expires": "next year"}, "warranty_expires"),
        ({"used_by_departments": [999999]}, "used_by_departments"),
    ],
)
def test_bad_fields_are_named(admin_api, change, field):
    body = {"name": "srv-1", "type": server_type().pk, **change}

    response = post(admin_api, "/items", body)

    assert error_fields(response, 422) == [field]
    assert not ConfigurationItem.objects.exists()


def test_items_are_fetched_by_id_or_number(agent_api):
    item = make_item()

    assert agent_api.get(f"{API}/items/{item.pk}").json()["number"] == item.number
    assert agent_api.get(f"{API}/items/{item.number}").json()["id"] == item.pk


def test_a_requester_sees_their_device_and_nothing_else(client_for, requester):
    mine, theirs = make_item("my laptop", assigned_to=requester), make_item("other")
    api = client_for(requester)

    listed = api.get(f"{API}/items").json()
    assert [i["id"] for i in listed["items"]] == [mine.pk]
    assert api.get(f"{API}/items/{mine.pk}").status_code == 200
    assert api.get(f"{API}/items/{theirs.pk}").status_code == 404
    assert api.get(f"{API}/items/{theirs.pk}/impact").status_code == 403
    assert api.get(f"{API}/items/{mine.pk}/history").status_code == 403


def test_my_devices_for_the_portal(client_for, requester):
    mine = make_item("my laptop", assigned_to=requester)
    make_item("other")

    listed = client_for(requester).get(f"{API}/items", {"assigned_to": "me"}).json()

    assert [i["id"] for i in listed["items"]] == [mine.pk]


def test_an_unknown_item_is_404(agent_api):
    assert agent_api.get(f"{API}/items/999999").status_code == 404
    assert agent_api.get(f"{API}/items/CI-999999").status_code == 404


def test_the_list_filters_and_pages(agent_api):
    laptop = CITypeFactory(code="notebook")
    for n in range(3):
        make_item(f"lt-{n}", laptop)
    make_item("srv")

    page = agent_api.get(f"{API}/items", {"type": "notebook", "limit": 2}).json()

    assert page["count"] == 3
    assert [i["name"] for i in page["items"]] == ["lt-0", "lt-1"]


def test_a_bad_filter_is_named(agent_api):
    response = agent_api.get(f"{API}/items", {"status": "lost"})

    assert error_fields(response, 422) == ["status"]


def test_the_list_takes_a_fixed_number_of_queries(agent_api, django_assert_max_num_queries):
    for n in range(10):
        make_item(f"srv-{n}", team=TeamFactory(), used_by_departments=[DepartmentFactory()])

    with django_assert_max_num_queries(12):
        response = agent_api.get(f"{API}/items")

    assert len(response.json()["items"]) == 10


def test_a_patch_with_a_stale_version_gets_409(agent_api, team):
    item = make_item(team=team)
    assert patch(agent_api, f"/items/{item.pk}", {"version": 1, "name": "first"}).status_code == 200

    response = patch(agent_api, f"/items/{item.pk}", {"version": 1, "name": "late"})

    assert response.status_code == 409
    assert response.json()["current_version"] == 2
    assert response.json()["code"] == "stale_version"
    assert ConfigurationItem.objects.get(pk=item.pk).name == "first"


def test_a_patch_needs_the_version(agent_api, team):
    item = make_item(team=team)

    assert error_fields(patch(agent_api, f"/items/{item.pk}", {"name": "x"}), 422) == ["version"]


def test_an_agent_cannot_change_another_teams_item(agent_api):
    item = make_item(team=TeamFactory())

    assert patch(agent_api, f"/items/{item.pk}", {"version": 1, "name": "x"}).status_code == 403


def test_a_patch_out_of_scope_is_404(client_for, requester):
    item = make_item()

    response = patch(client_for(requester), f"/items/{item.pk}", {"version": 1, "name": "x"})

    assert response.status_code == 404


def test_retire_then_delete_is_refused_while_open_records_name_it(admin_api):
    item = make_item(status=Status.IN_SERVICE)
    references.register(lambda ids: 1 if item.pk in ids else 0, label="open incidents", key="t")
    try:
        refused = admin_api.delete(f"{API}/items/{item.pk}")
    finally:
        references.unregister("t")
    retired = post(admin_api, f"/items/{item.pk}/retire", {"reason": "replaced"})

    assert refused.status_code == 409
    assert "retire it instead" in refused.json()["detail"]
    assert retired.json()["status"] == "retired"


def test_a_related_item_cannot_be_deleted(admin_api):
    a, b = make_item("a"), make_item("b")
    relate(a, RelationKindFactory(), b)

    assert admin_api.delete(f"{API}/items/{a.pk}").status_code == 409
    assert admin_api.delete(f"{API}/items/{b.pk}").status_code == 409


def test_a_mistake_can_be_deleted(admin_api):
    item = make_item()

    assert admin_api.delete(f"{API}/items/{item.pk}").status_code == 204
    assert not ConfigurationItem.objects.exists()


# --- relations and impact ----------------------------------------------------------------------


def test_relations_are_created_listed_and_removed(agent_api, team):
    kind = RelationKindFactory(code="is-on")
    app, vm = make_item("app", team=team), make_item("vm")

    created = post(agent_api, "/relations", {"source": app.pk, "target": vm.pk, "kind": "is-on"})
    listed = agent_api.get(f"{API}/relations", {"item": vm.pk}).json()
    removed = agent_api.delete(f"{API}/relations/{created.json()['id']}")

    assert created.status_code == 201, created.content
    assert created.json()["kind"]["code"] == kind.code
    assert [r["source"]["name"] for r in listed["items"]] == ["app"]
    assert removed.status_code == 204
    assert not Relation.objects.exists()


def test_a_relation_to_itself_is_422_naming_target(agent_api, team):
    app = make_item("app", team=team)
    kind = RelationKindFactory()

    response = post(agent_api, "/relations", {"source": app.pk, "target": app.pk, "kind": kind.pk})

    assert error_fields(response, 422) == ["target"]


def test_a_loop_is_refused_with_its_path(admin_api):
    kind = RelationKindFactory(acyclic=True)
    app, srv = make_item("app-1"), make_item("srv-2")
    relate(app, kind, srv)

    response = post(admin_api, "/relations", {"source": srv.pk, "target": app.pk, "kind": kind.pk})

    assert error_fields(response, 422) == ["target"]
    assert "srv-2 → app-1 → srv-2" in response.json()["errors"][0]["message"]


def test_a_relation_to_a_missing_item_or_kind_is_named(admin_api):
    app = make_item("app")

    missing_item = post(admin_api, "/relations", {"source": app.pk, "target": 999999, "kind": 1})
    missing_kind = post(
        admin_api, "/relations", {"source": app.pk, "target": app.pk, "kind": "nope"}
    )

    assert error_fields(missing_item, 422) == ["target"]
    assert error_fields(missing_kind, 422) == ["kind"]


def test_impact_returns_nodes_edges_services_and_departments(agent_api):
    finance = DepartmentFactory(name="Finance")
    service = make_item("Payroll", CITypeFactory(is_service=True), used_by_departments=[finance])
    app, vm = make_item("Pay app"), make_item("vm-1")
    uses, runs_on = RelationKindFactory(), RelationKindFactory()
    relate(service, uses, app)
    relate(app, runs_on, vm)

    up = agent_api.get(f"{API}/items/{vm.pk}/impact", {"direction": "up", "depth": 6}).json()
    down = agent_api.get(f"{API}/items/{service.number}/impact?direction=down&depth=1").json()

    assert [(n["name"], n["depth"]) for n in up["nodes"]] == [
        ("vm-1", 0),
        ("Pay app", 1),
        ("Payroll", 2),
    ]
    assert len(up["edges"]) == 2
    assert [s["name"] for s in up["services"]] == ["Payroll"]
    assert [d["name"] for d in up["departments"]] == ["Finance"]
    assert [n["name"] for n in down["nodes"]] == ["Payroll", "Pay app"]


def test_impact_with_a_bad_direction_is_named(agent_api):
    item = make_item()

    response = agent_api.get(f"{API}/items/{item.pk}/impact", {"direction": "sideways"})

    assert error_fields(response, 422) == ["direction"]


# --- history -----------------------------------------------------------------------------------


def test_history_and_as_of(agent_api, team):
    item = make_item("srv-1", team=team)
    patch(agent_api, f"/items/{item.pk}", {"version": 1, "name": "srv-1b"})

    now = agent_api.get(f"{API}/items/{item.pk}/history").json()
    then = agent_api.get(f"{API}/items/{item.pk}/history", {"as_of": "2000-01-01"}).json()
    today = agent_api.get(f"{API}/items/{item.pk}/history", {"as_of": "2999-01-01T00:00:00"}).json()

    assert [e["action"] for e in now["events"]] == ["ci.updated", "ci.created"]
    assert now["events"][0]["changes"] == {"name": ["srv-1", "srv-1b"]}
    assert now["as_of"] is None
    assert then["as_of"] is None
    assert today["as_of"]["name"] == "srv-1b"


def test_a_bad_as_of_is_named(agent_api):
    item = make_item()

    response = agent_api.get(f"{API}/items/{item.pk}/history", {"as_of": "yesterday"})

    assert error_fields(response, 422) == ["as_of"]


# --- export and import -------------------------------------------------------------------------


def test_export_streams_csv_with_the_lists_filters(agent_api):
    laptop = CITypeFactory(code="notebook")
    make_item("lt-1", laptop)
    make_item("srv")

    response = agent_api.get(f"{API}/items/export", {"type": "notebook"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert [r[2] for r in rows[1:]] == ["lt-1"]


def test_a_requester_exports_only_their_devices(client_for, requester):
    make_item("mine", assigned_to=requester)
    make_item("other")

    response = client_for(requester).get(f"{API}/items/export")

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert [r[2] for r in list(csv.reader(io.StringIO(text)))[1:]] == ["mine"]


def test_an_unknown_export_format_is_named(agent_api):
    assert error_fields(agent_api.get(f"{API}/items/export", {"format": "pdf"}), 422) == ["format"]


def upload(content: bytes, name: str = "estate.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


FILE = b"Tag,Host,RAM\nA-1,srv-1,64\nA-2,srv-2,lots\n"
MAPPING = json.dumps({"Tag": "external_id", "Host": "name", "RAM": "attributes.ram_gb"})


def test_import_columns_preview_and_run(client_for, make_user):
    lead = make_user(Role.AGENT, Role.TEAM_LEAD)
    api = client_for(lead)
    server = server_type()

    columns = api.post(f"{API}/import/columns", {"file": upload(FILE), "type": server.pk})
    preview = api.post(
        f"{API}/import/preview", {"file": upload(FILE), "mapping": MAPPING, "type": server.pk}
    )
    refused = api.post(
        f"{API}/import/run", {"file": upload(FILE), "mapping": MAPPING, "type": server.pk}
    )
    fixed = FILE.replace(b"lots", b"32")
    done = api.post(
        f"{API}/import/run", {"file": upload(fixed), "mapping": MAPPING, "type": server.pk}
    )

    assert columns.json()["columns"] == ["Tag", "Host", "RAM"]
    assert "attributes.ram_gb" in columns.json()["targets"]
    body = preview.json()
    assert (body["rows"], body["create"]) == (2, 1)
    assert [(e["row"], e["column"], e["field"]) for e in body["errors"]] == [
        (3, "RAM", "attributes.ram_gb")
    ]
    assert error_fields(refused, 422) == ["rows.3.RAM"]
    assert done.status_code == 201, done.content
    assert done.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert ConfigurationItem.objects.count() == 2


def test_import_with_a_mapping_that_is_not_json_is_named(admin_api):
    server = server_type()

    response = admin_api.post(
        f"{API}/import/preview", {"file": upload(FILE), "mapping": "Tag=id", "type": server.pk}
    )

    assert error_fields(response, 422) == ["mapping"]


def test_agents_cannot_import(agent_api):
    server = server_type()

    response = agent_api.post(
        f"{API}/import/preview", {"file": upload(FILE), "mapping": MAPPING, "type": server.pk}
    )

    assert response.status_code == 403


def test_the_type_must_exist(admin_api):
    response = admin_api.post(
        f"{API}/import/preview", {"file": upload(FILE), "mapping": MAPPING, "type": 999999}
    )

    assert error_fields(response, 422) == ["type"]
    assert not CIType.objects.filter(pk=999999).exists()


# --- who may do what ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "reads_all", "records", "defines_types", "imports"),
    [
        ([Role.REQUESTER], False, False, False, False),
        ([Role.AGENT], True, True, False, False),
        ([Role.AGENT, Role.TEAM_LEAD], True, True, False, True),
        ([Role.CHANGE_MANAGER], True, False, False, False),
        ([Role.SERVICE_OWNER], True, True, False, False),
        ([Role.AUDITOR], True, False, False, False),
        ([Role.ADMINISTRATOR], True, True, True, True),
    ],
)
def test_what_each_role_may_do(
    client_for, make_user, roles, reads_all, records, defines_types, imports
):
    api = client_for(make_user(*roles))
    server = server_type()
    make_item("someone else's", server)

    listed = api.get(f"{API}/items").json()["count"]
    recorded = post(api, "/items", {"name": "new", "type": server.pk}).status_code
    defined = post(api, "/types", {"name": "Blade", "code": "blade"}).status_code
    imported = api.post(
        f"{API}/import/preview", {"file": upload(FILE), "mapping": MAPPING, "type": server.pk}
    ).status_code

    assert listed == (1 if reads_all else 0)
    assert recorded == (201 if records else 403)
    assert defined == (201 if defines_types else 403)
    assert imported == (200 if imports else 403)


def test_kinds_can_be_changed_by_administrators_only(admin_api, agent_api):
    kind = RelationKindFactory(acyclic=False)

    assert patch(agent_api, f"/kinds/{kind.pk}", {"acyclic": True}).status_code == 403
    changed = patch(admin_api, f"/kinds/{kind.pk}", {"acyclic": True, "reverse_name": "under"})

    assert changed.status_code == 200, changed.content
    assert changed.json()["acyclic"] is True
    assert changed.json()["reverse_name"] == "under"


def test_a_taken_type_code_is_named(admin_api):
    server_type(code="blade")

    response = post(admin_api, "/types", {"name": "Other", "code": "blade"})

    assert error_fields(response, 409) == ["code"]


def test_administrators_take_a_type_out_of_use_and_back(admin_api, agent_api):
    servers = server_type()

    assert patch(agent_api, f"/types/{servers.pk}", {"is_active": False}).status_code == 403
    retired = patch(admin_api, f"/types/{servers.pk}", {"is_active": False})
    refused = post(admin_api, "/items", {"name": "srv-9", "type": servers.pk})

    assert retired.status_code == 200, retired.content
    assert retired.json()["is_active"] is False
    assert retired.json()["version"] == 1  # the definitions did not change
    assert error_fields(refused, 422) == ["type"]
    listed = {t["code"]: t["is_active"] for t in admin_api.get(f"{API}/types").json()}
    assert listed[servers.code] is False
    back = patch(admin_api, f"/types/{servers.pk}", {"is_active": True})
    assert back.json()["is_active"] is True
    assert post(admin_api, "/items", {"name": "srv-9", "type": servers.pk}).status_code == 201


def test_a_type_in_use_is_not_deleted(admin_api, agent_api):
    servers = server_type()
    make_item("srv-1", servers)
    unused = CITypeFactory(code="unused")

    assert agent_api.delete(f"{API}/types/{unused.pk}").status_code == 403
    in_use = admin_api.delete(f"{API}/types/{servers.pk}")
    deleted = admin_api.delete(f"{API}/types/{unused.pk}")

    assert error_fields(in_use, 409) == ["type"]
    assert "1 item is of this type" in in_use.json()["detail"]
    assert deleted.status_code == 204
    assert not CIType.objects.filter(pk=unused.pk).exists()
    assert CIType.objects.filter(pk=servers.pk).exists()


def test_a_kind_out_of_use_takes_no_new_relations(admin_api, agent_api):
    kind = RelationKindFactory()
    app, server = make_item("app"), make_item("server")

    assert patch(agent_api, f"/kinds/{kind.pk}", {"is_active": False}).status_code == 403
    retired = patch(admin_api, f"/kinds/{kind.pk}", {"is_active": False})
    refused = post(
        admin_api, "/relations", {"source": app.pk, "target": server.pk, "kind": kind.pk}
    )

    assert retired.status_code == 200, retired.content
    assert retired.json()["is_active"] is False
    assert error_fields(refused, 422) == ["kind"]


def test_agents_cannot_define_relation_kinds(agent_api):
    response = post(agent_api, "/kinds", {"code": "x", "name": "x", "reverse_name": "y"})

    assert response.status_code == 403


def test_export_as_xlsx(agent_api):
    openpyxl = pytest.importorskip("openpyxl")
    make_item("srv-1")

    response = agent_api.get(f"{API}/items/export", {"format": "xlsx"})

    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[1][2] == "srv-1"
