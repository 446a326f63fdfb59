"""Administrators define CI types and relation kinds: the actions (duplicates named by field,
versions, taking out of use, deleting only what nothing uses) and the pages (who may open them,
each bad input named next to its field)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from keel.cmdb import actions, importing, queries
from keel.cmdb.models import CIType, CITypeVersion, ConfigurationItem, Relation, RelationKind
from keel.cmdb.tests.factories import (
    CITypeFactory,
    RelationKindFactory,
    make_item,
    relate,
    server_type,
)
from keel.core.errors import Conflict, FieldError
from keel.core.models import AuditEvent
from keel.core.roles import Role

pytestmark = pytest.mark.django_db


def fields_of(exc: pytest.ExceptionInfo) -> list[str]:
    return [f for f, _m in exc.value.errors]


def message_of(exc: pytest.ExceptionInfo, field: str) -> str:
    return next(str(m) for f, m in exc.value.errors if f == field)


@pytest.fixture
def servers(db):
    return server_type()


# --- CI types: the actions ------------------------------------------------------------------------


def test_a_taken_code_or_name_is_named(administrator, servers):
    with pytest.raises(Conflict) as code:
        actions.create_ci_type(actor=administrator, name="Blade", code=servers.code)
    with pytest.raises(Conflict) as both:
        actions.create_ci_type(actor=administrator, name=servers.name, code=servers.code)
    other = actions.create_ci_type(actor=administrator, name="Blade", code="blade")
    with pytest.raises(Conflict) as renamed:
        actions.update_ci_type(actor=administrator, ci_type=other, name=servers.name)

    assert fields_of(code) == ["code"]
    assert servers.code in message_of(code, "code")
    assert fields_of(both) == ["code", "name"]
    assert fields_of(renamed) == ["name"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"code": "rack server"}, "code"),
        ({"code": "x" * 41}, "code"),
        ({"code": "  "}, "code"),
        ({"name": "n" * 101}, "name"),
        ({"name": ""}, "name"),
        ({"description": "d" * 2001}, "description"),
    ],
)
def test_bad_type_fields_are_named(administrator, values, field):
    arguments = {"name": "Blade", "code": "blade", **values}

    with pytest.raises(FieldError) as exc:
        actions.create_ci_type(actor=administrator, **arguments)

    assert fields_of(exc) == [field]


def test_bad_attribute_definitions_name_the_row_and_property(administrator):
    with pytest.raises(FieldError) as exc:
        actions.create_ci_type(
            actor=administrator,
            name="Blade",
            code="blade",
            attributes=[
                {"key": "slots", "label": "Slots", "type": "integer"},
                {"key": "slots", "label": "Slots again", "type": "integer"},
                {"key": "9lives", "label": "Lives", "type": "integer"},
                {"key": "tier", "label": "Tier", "type": "choice"},
            ],
        )

    assert fields_of(exc) == ["attributes.1.key", "attributes.2.key", "attributes.3.choices"]
    assert "already uses this key" in message_of(exc, "attributes.1.key")


def test_items_keep_validating_across_versions(administrator, servers):
    item = make_item("srv-1", servers, attributes={"ram_gb": 16, "os": "Linux"})
    old_version = servers.version
    actions.update_ci_type(
        actor=administrator,
        ci_type=servers,
        attributes=[
            {"key": "ram_gb", "label": "Memory (GB)", "type": "integer"},
            {"key": "rack", "label": "Rack", "type": "text"},
        ],
    )
    servers.refresh_from_db()
    item.refresh_from_db()
    assert item.type_version == old_version  # untouched until edited
    assert item.attributes == {"ram_gb": 16, "os": "Linux"}

    # Edited without its attributes, it stays as it is; given them, it moves to the new version.
    actions.update_ci(actor=administrator, item=item, location="Room 2")
    item.refresh_from_db()
    assert item.type_version == old_version
    actions.update_ci(actor=administrator, item=item, attributes={"ram_gb": 32, "rack": "R1"})
    item.refresh_from_db()
    assert item.type_version == servers.version
    assert item.attributes == {"ram_gb": 32, "rack": "R1"}


def test_a_type_out_of_use_keeps_its_items_but_takes_no_new_ones(administrator, servers, tmp_path):
    item = make_item("srv-1", servers)

    actions.set_ci_type_active(actor=administrator, ci_type=servers, active=False)
    servers.refresh_from_db()

    assert servers.is_active is False
    assert AuditEvent.objects.filter(action="citype.deactivated").count() == 1
    with pytest.raises(FieldError) as new:
        make_item("srv-2", servers)
    assert fields_of(new) == ["type"]
    assert "no longer in use" in message_of(new, "type")
    with pytest.raises(FieldError) as retyped:
        actions.update_ci(actor=administrator, item=make_item("other"), type=servers)
    assert fields_of(retyped) == ["type"]
    with pytest.raises(FieldError) as imported:
        importing.preview(b"name\nsrv-3\n", {"name": "name"}, servers, actor=administrator)
    assert fields_of(imported) == ["type"]
    # Its items are still edited as before.
    actions.update_ci(actor=administrator, item=item, name="srv-1b")

    actions.set_ci_type_active(actor=administrator, ci_type=servers, active=True)
    servers.refresh_from_db()
    make_item("srv-2", servers)


def test_a_type_in_use_cannot_be_deleted(administrator, servers):
    make_item("srv-1", servers)

    with pytest.raises(Conflict) as exc:
        actions.delete_ci_type(actor=administrator, ci_type=servers)

    assert "1 item is of this type" in str(exc.value.message)
    assert "out of use" in str(exc.value.message)
    assert CIType.objects.filter(pk=servers.pk).exists()


def test_a_type_relation_kinds_allow_cannot_be_deleted(administrator, servers):
    kind = RelationKindFactory(name="sits on")
    kind.target_types.set([servers])

    with pytest.raises(Conflict) as exc:
        actions.delete_ci_type(actor=administrator, ci_type=servers)

    assert "“sits on”" in str(exc.value.message)


def test_an_unused_type_is_deleted_with_its_versions(administrator):
    blade = actions.create_ci_type(actor=administrator, name="Blade", code="blade")

    actions.delete_ci_type(actor=administrator, ci_type=blade)

    assert not CIType.objects.filter(code="blade").exists()
    assert not CITypeVersion.objects.filter(type_id=blade.pk).exists()
    assert AuditEvent.objects.filter(action="citype.deleted").count() == 1


@pytest.mark.parametrize("role", [Role.AGENT, Role.TEAM_LEAD, Role.SERVICE_OWNER])
def test_only_administrators_change_retire_or_delete_types(make_user, servers, role):
    actor = make_user(role)
    with pytest.raises(PermissionDenied):
        actions.update_ci_type(actor=actor, ci_type=servers, name="x")
    with pytest.raises(PermissionDenied):
        actions.set_ci_type_active(actor=actor, ci_type=servers, active=False)
    with pytest.raises(PermissionDenied):
        actions.delete_ci_type(actor=actor, ci_type=servers)


# --- relation kinds: the actions -----------------------------------------------------------------


def test_a_taken_kind_code_or_name_is_named(administrator):
    RelationKindFactory(code="sits-on", name="sits on")

    with pytest.raises(Conflict) as code:
        actions.create_relation_kind(
            actor=administrator, code="sits-on", name="lies on", reverse_name="holds"
        )
    with pytest.raises(Conflict) as name:
        actions.create_relation_kind(
            actor=administrator, code="lies-on", name="sits on", reverse_name="holds"
        )
    with pytest.raises(FieldError) as bad:
        actions.create_relation_kind(
            actor=administrator, code="sits on", name="sits on", reverse_name=""
        )

    assert fields_of(code) == ["code"]
    assert fields_of(name) == ["name"]
    assert fields_of(bad) == ["code", "reverse_name"]


def test_a_kind_out_of_use_keeps_its_relations_but_takes_no_new_ones(administrator):
    kind = RelationKindFactory()
    app, server, other = make_item("app"), make_item("server"), make_item("other")
    relate(app, kind, server)

    actions.set_relation_kind_active(actor=administrator, kind=kind, active=False)

    with pytest.raises(FieldError) as exc:
        relate(other, kind, server)
    assert fields_of(exc) == ["kind"]
    assert "no longer in use" in message_of(exc, "kind")
    # The relation it has still counts for impact analysis.
    assert {n["name"] for n in queries.impact_graph(server.pk, queries.UP, 3)["nodes"]} == {
        "server",
        "app",
    }
    assert AuditEvent.objects.filter(action="relationkind.deactivated").count() == 1


def test_allowing_fewer_types_is_refused_while_relations_break_it(administrator, servers):
    kind = RelationKindFactory(name="sits on")
    vm_type = CITypeFactory(name="Virtual machine", code="vm")
    relate(make_item("app"), kind, make_item("vm-1", vm_type))

    with pytest.raises(FieldError) as exc:
        actions.update_relation_kind(actor=administrator, kind=kind, target_types=[servers])

    assert fields_of(exc) == ["target_types"]
    assert "1 relation of this kind" in message_of(exc, "target_types")
    assert list(RelationKind.objects.get(pk=kind.pk).target_types.all()) == []
    actions.update_relation_kind(actor=administrator, kind=kind, target_types=[servers, vm_type])


def test_only_administrators_change_relation_kinds(agent):
    kind = RelationKindFactory()
    with pytest.raises(PermissionDenied):
        actions.create_relation_kind(actor=agent, code="x", name="x", reverse_name="y")
    with pytest.raises(PermissionDenied):
        actions.set_relation_kind_active(actor=agent, kind=kind, active=False)


# --- the pages: who may open them ------------------------------------------------------------


def _pages(servers, kind):
    return [
        reverse("cmdb:types"),
        reverse("cmdb:type-new"),
        reverse("cmdb:type", args=[servers.pk]),
        reverse("cmdb:kinds"),
        reverse("cmdb:kind-new"),
        reverse("cmdb:kind", args=[kind.pk]),
    ]


def test_administrators_open_every_page(client_for, administrator, servers):
    client = client_for(administrator)
    for url in _pages(servers, RelationKindFactory()):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "roles",
    [
        [Role.REQUESTER],
        [Role.AGENT],
        [Role.AGENT, Role.TEAM_LEAD],
        [Role.SERVICE_OWNER],
        [Role.CHANGE_MANAGER],
        [Role.AUDITOR],
    ],
)
def test_everyone_else_is_refused_every_page_and_change(client_for, make_user, servers, roles):
    client = client_for(make_user(*roles))
    kind = RelationKindFactory()
    for url in _pages(servers, kind):
        assert client.get(url).status_code == 403, url
    for url in (
        reverse("cmdb:type-new"),
        reverse("cmdb:type", args=[servers.pk]),
        reverse("cmdb:type-active", args=[servers.pk]),
        reverse("cmdb:type-delete", args=[servers.pk]),
        reverse("cmdb:kind-new"),
        reverse("cmdb:kind", args=[kind.pk]),
        reverse("cmdb:kind-active", args=[kind.pk]),
    ):
        assert client.post(url, {"name": "x", "code": "x", "active": "0"}).status_code == 403, url
    servers.refresh_from_db()
    assert servers.is_active
    assert servers.name == "Rack server"
    assert RelationKind.objects.get(pk=kind.pk).is_active


def test_anonymous_people_are_sent_to_log_in(client):
    response = client.get(reverse("cmdb:types"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_type_that_does_not_exist_is_404(client_for, administrator):
    assert client_for(administrator).get(reverse("cmdb:type", args=[99999])).status_code == 404


def test_the_item_list_links_the_pages_for_administrators_only(client_for, administrator, agent):
    admin_page = client_for(administrator).get(reverse("cmdb:list")).content.decode()
    agent_page = client_for(agent).get(reverse("cmdb:list")).content.decode()

    assert f'href="{reverse("cmdb:types")}"' in admin_page
    assert f'href="{reverse("cmdb:kinds")}"' in admin_page
    assert reverse("cmdb:types") not in agent_page
    assert reverse("cmdb:kinds") not in agent_page


# --- the type pages ----------------------------------------------------------------------------


def type_post(*rows, **fields):
    """The type form as posted: own fields, then one ``attr-<n>-…`` group per row."""
    data = {
        "name": "Switch",
        "code": "switch",
        "description": "",
        "attr-TOTAL_FORMS": str(len(rows)),
        "attr-INITIAL_FORMS": "0",
        **fields,
    }
    for n, row in enumerate(rows):
        values = {"key": "", "label": "", "type": "text", "choices": "", "help": "", **row}
        for name, value in values.items():
            if name in ("required", "DELETE"):
                if value:
                    data[f"attr-{n}-{name}"] = "on"
            else:
                data[f"attr-{n}-{name}"] = value
    return data


def row_errors(response, n: int) -> dict[str, list[str]]:
    return {k: [str(m) for m in v] for k, v in response.context["rows"].forms[n].errors.items()}


def test_the_list_shows_each_types_items_and_status(client_for, administrator, servers):
    make_item("srv-1", servers)
    make_item("srv-2", servers)
    retired = CITypeFactory(name="Fax machine", code="fax", is_active=False)

    response = client_for(administrator).get(reverse("cmdb:types"))

    rows = {t.code: t for t in response.context["types"]}
    assert rows[servers.code].item_count == 2
    assert rows["fax"].item_count == 0
    html = response.content.decode()
    assert f'data-type="{servers.code}"' in html
    assert html.index(f'data-type="{servers.code}"') < html.index(f'data-type="{retired.code}"')
    assert "Not in use" in html


def test_an_administrator_defines_a_type_with_attributes(client_for, administrator):
    response = client_for(administrator).post(
        reverse("cmdb:type-new"),
        type_post(
            {"key": "ports", "label": "Ports", "type": "integer", "required": True},
            {"key": "speed", "label": "Speed", "type": "choice", "choices": "1G\n\n10G \n"},
            {},  # the spare row, left blank
            {"key": "gone", "label": "Removed", "DELETE": True},
            description="A network switch.",
            is_service="",
        ),
    )

    switch = CIType.objects.get(code="switch")
    assert response.status_code == 302
    assert response.url == reverse("cmdb:type", args=[switch.pk])
    assert switch.attributes == [
        {"key": "ports", "label": "Ports", "type": "integer", "required": True},
        {
            "key": "speed",
            "label": "Speed",
            "type": "choice",
            "required": False,
            "choices": ["1G", "10G"],
        },
    ]
    assert switch.description == "A network switch."
    assert switch.versions.count() == 1


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"key": "Ports", "label": "Ports"}, "key", "lower-case letters"),
        ({"key": "ports", "label": ""}, "label", "label"),
        ({"key": "tier", "label": "Tier", "type": "choice"}, "choices", "choices"),
        ({"key": "tier", "label": "Tier", "choices": "a\nb"}, "choices", "Only choice"),
    ],
)
def test_a_bad_attribute_is_named_on_its_row(client_for, administrator, row, field, message):
    response = client_for(administrator).post(
        reverse("cmdb:type-new"), type_post({"key": "ok", "label": "OK"}, row)
    )

    assert response.status_code == 422
    assert row_errors(response, 0) == {}
    errors = row_errors(response, 1)
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert not CIType.objects.filter(code="switch").exists()


def test_a_duplicated_key_is_named_on_the_second_row(client_for, administrator):
    response = client_for(administrator).post(
        reverse("cmdb:type-new"),
        type_post({"key": "ports", "label": "Ports"}, {}, {"key": "ports", "label": "Again"}),
    )

    assert response.status_code == 422
    assert row_errors(response, 0) == {}
    assert row_errors(response, 2) == {"key": ["Another attribute already uses this key."]}
    assert 'data-attribute-row="2"' in response.content.decode()


def test_a_duplicate_code_is_named_on_its_field(client_for, administrator, servers):
    response = client_for(administrator).post(
        reverse("cmdb:type-new"), type_post(name="Other", code=servers.code)
    )

    assert response.status_code == 409
    assert list(response.context["form"].errors) == ["code"]
    assert servers.code in response.context["form"].errors["code"][0]
    assert "data-invalid" in response.content.decode()


def test_another_row_is_added_without_saving(client_for, administrator):
    response = client_for(administrator).post(
        reverse("cmdb:type-new"), {**type_post({"key": "ports", "label": "Ports"}), "more": "1"}
    )

    assert response.status_code == 200
    assert len(response.context["rows"].forms) == 2
    assert 'value="ports"' in response.content.decode()
    assert not CIType.objects.filter(code="switch").exists()


def test_editing_publishes_a_new_version(client_for, administrator, servers):
    item = make_item("srv-1", servers, attributes={"ram_gb": 8})
    client = client_for(administrator)
    page = client.get(reverse("cmdb:type", args=[servers.pk]))
    rows = page.context["rows"]
    assert [f.initial["key"] for f in rows.forms[: len(servers.attributes)]] == [
        d["key"] for d in servers.attributes
    ]
    assert "data-type-delete" in page.content.decode()
    assert "1 item is of this type" in page.content.decode()

    response = client.post(
        reverse("cmdb:type", args=[servers.pk]),
        type_post(
            {"key": "ram_gb", "label": "Memory (GB)", "type": "integer"},
            {"key": "rack", "label": "Rack", "type": "text"},
            name=servers.name,
            code=servers.code,
            version=servers.version,
        ),
    )

    assert response.status_code == 302
    servers.refresh_from_db()
    assert servers.version == 2
    assert [d["label"] for d in servers.attributes] == ["Memory (GB)", "Rack"]
    item.refresh_from_db()
    assert item.type_version == 1
    assert client.get(reverse("cmdb:item", args=[item.pk])).status_code == 200
    edited = client.post(
        reverse("cmdb:edit", args=[item.pk]),
        {
            "name": "srv-1",
            "status": "planned",
            "attributes.ram_gb": "16",
            "attributes.rack": "R2",
            "version": item.version,
        },
    )
    assert edited.status_code == 302
    item.refresh_from_db()
    assert (item.type_version, item.attributes) == (2, {"ram_gb": 16, "rack": "R2"})


def test_a_stale_type_edit_keeps_what_was_typed(client_for, administrator, servers):
    actions.update_ci_type(actor=administrator, ci_type=servers, description="changed first")

    response = client_for(administrator).post(
        reverse("cmdb:type", args=[servers.pk]),
        type_post(
            {"key": "ram_gb", "label": "Typed", "type": "integer"}, code="rack-server", version=1
        ),
    )

    assert response.status_code == 409
    assert "data-stale" in response.content.decode()
    assert 'value="Typed"' in response.content.decode()
    assert response.context["form"]["version"].value() == "2"


def test_a_type_is_taken_out_of_use_and_back(client_for, administrator, servers):
    client = client_for(administrator)

    out = client.post(reverse("cmdb:type-active", args=[servers.pk]), {"active": "0"})
    servers.refresh_from_db()
    assert out.status_code == 302
    assert servers.is_active is False
    new_item = client.get(reverse("cmdb:new")).context["chooser"]
    assert servers not in new_item.fields["type"].queryset

    client.post(reverse("cmdb:type-active", args=[servers.pk]), {"active": "1"})
    servers.refresh_from_db()
    assert servers.is_active is True


def test_deleting_a_type_in_use_is_refused_with_the_reason(client_for, administrator, servers):
    make_item("srv-1", servers)
    client = client_for(administrator)

    response = client.post(reverse("cmdb:type-delete", args=[servers.pk]), follow=True)

    assert CIType.objects.filter(pk=servers.pk).exists()
    messages = [str(m) for m in response.context["messages"]]
    assert any("cannot be deleted: 1 item is of this type" in m for m in messages)
    assert any("out of use" in m for m in messages)


def test_an_unused_type_is_deleted_from_its_page(client_for, administrator):
    blade = CITypeFactory(name="Blade", code="blade")

    response = client_for(administrator).post(reverse("cmdb:type-delete", args=[blade.pk]))

    assert response.status_code == 302
    assert response.url == reverse("cmdb:types")
    assert not CIType.objects.filter(pk=blade.pk).exists()


# --- the relation kind pages ---------------------------------------------------------------------


def kind_post(**fields):
    return {
        "code": "uplinks-to",
        "name": "uplinks to",
        "reverse_name": "is uplink of",
        "dependency": "source_on_target",
        "source_mode": "any",
        "target_mode": "any",
        **fields,
    }


def test_an_administrator_defines_a_relation_kind(client_for, administrator, servers):
    response = client_for(administrator).post(
        reverse("cmdb:kind-new"),
        kind_post(acyclic="on", target_mode="only", target_types=[servers.pk]),
    )

    kind = RelationKind.objects.get(code="uplinks-to")
    assert response.status_code == 302
    assert response.url == reverse("cmdb:kind", args=[kind.pk])
    assert kind.acyclic is True
    assert list(kind.source_types.all()) == []
    assert list(kind.target_types.all()) == [servers]


def test_only_these_types_with_none_ticked_is_named(client_for, administrator, servers):
    response = client_for(administrator).post(
        reverse("cmdb:kind-new"), kind_post(source_mode="only", target_mode="only")
    )

    assert response.status_code == 422
    errors = response.context["form"].errors
    assert set(errors) == {"source_types", "target_types"}
    assert "Tick at least one type" in errors["target_types"][0]
    assert not RelationKind.objects.filter(code="uplinks-to").exists()


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"code": "sits-on"}, 409, "code"),
        ({"name": "sits on"}, 409, "name"),
        ({"code": "up links"}, 422, "code"),
        ({"reverse_name": ""}, 422, "reverse_name"),
        ({"dependency": "sideways"}, 422, "dependency"),
    ],
)
def test_bad_kind_input_is_named_on_its_field(client_for, administrator, fields, status, field):
    RelationKindFactory(code="sits-on", name="sits on")

    response = client_for(administrator).post(reverse("cmdb:kind-new"), kind_post(**fields))

    assert response.status_code == status
    assert list(response.context["form"].errors) == [field]


def test_editing_a_kind_and_taking_it_out_of_use(client_for, administrator, servers):
    kind = RelationKindFactory(code="sits-on", name="sits on", acyclic=False)
    client = client_for(administrator)
    page = client.get(reverse("cmdb:kind", args=[kind.pk]))
    assert "code" not in page.context["form"].fields  # the code stays

    response = client.post(
        reverse("cmdb:kind", args=[kind.pk]),
        kind_post(
            name="sits on",
            reverse_name="runs",
            dependency="source_on_target",
            acyclic="on",
            source_mode="any",
            target_mode="only",
            target_types=[servers.pk],
        ),
    )
    assert response.status_code == 302
    kind.refresh_from_db()
    assert (kind.reverse_name, kind.acyclic) == ("runs", True)
    assert list(kind.target_types.all()) == [servers]

    client.post(reverse("cmdb:kind-active", args=[kind.pk]), {"active": "0"})
    kind.refresh_from_db()
    assert kind.is_active is False
    item = make_item("srv", servers)
    form = client.get(reverse("cmdb:item", args=[item.pk])).context["relation_form"]
    assert kind not in form.fields["kind"].queryset


def test_narrowing_a_kind_over_relations_that_break_it_is_named(client_for, administrator, servers):
    kind = RelationKindFactory(code="sits-on", name="sits on")
    relate(make_item("app"), kind, make_item("not-a-server"))

    response = client_for(administrator).post(
        reverse("cmdb:kind", args=[kind.pk]),
        kind_post(name="sits on", target_mode="only", target_types=[servers.pk]),
    )

    assert response.status_code == 422
    assert list(response.context["form"].errors) == ["target_types"]
    assert Relation.objects.filter(kind=kind).count() == 1
    assert list(RelationKind.objects.get(pk=kind.pk).target_types.all()) == []


def test_the_kind_list_counts_relations(client_for, administrator):
    kind = RelationKindFactory(code="sits-on", name="sits on")
    relate(make_item("a"), kind, make_item("b"))

    response = client_for(administrator).get(reverse("cmdb:kinds"))

    counts = {k.code: k.relation_count for k in response.context["kinds"]}
    assert counts["sits-on"] == 1
    assert ConfigurationItem.objects.count() == 2
