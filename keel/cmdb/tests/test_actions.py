"""CMDB actions: items checked against their type, versions, lifecycle, relations and the faults
the issue names (wrong attribute type, a relation to itself, a kind not allowed between two
types, a loop in "runs on", deleting an item open records name) — each refused and named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from keel.cmdb import actions, references
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import CITypeVersion, ConfigurationItem, Dependency, Relation
from keel.cmdb.tests.factories import (
    CITypeFactory,
    RelationKindFactory,
    make_item,
    relate,
    server_type,
)
from keel.core.errors import Conflict, FieldError, InvalidTransition, StaleVersion
from keel.core.models import AuditEvent, TeamMembership
from keel.core.permissions import NotFound
from keel.core.roles import Role
from keel.core.tests.factories import DepartmentFactory, TeamFactory

pytestmark = pytest.mark.django_db


def fields_of(exc: pytest.ExceptionInfo) -> list[str]:
    return [f for f, _m in exc.value.errors]


def message_of(exc: pytest.ExceptionInfo, field: str) -> str:
    return next(str(m) for f, m in exc.value.errors if f == field)


@pytest.fixture
def team():
    return TeamFactory()


@pytest.fixture
def team_agent(make_user, team):
    agent = make_user(Role.AGENT)
    TeamMembership.objects.create(team=team, user=agent)
    return agent


# --- creating and checking attributes ----------------------------------------------------------


def test_a_new_item_gets_a_number_and_its_types_version(administrator):
    server = server_type()

    item = actions.create_ci(
        actor=administrator,
        name="srv-1",
        ci_type=server,
        attributes={"ram_gb": "64", "virtual": "yes", "environment": "Production"},
    )

    assert item.number.startswith("CI-")
    assert item.type_version == 1
    assert item.attributes == {"ram_gb": 64, "virtual": True, "environment": "production"}


def test_an_attribute_of_the_wrong_type_is_refused_naming_it(administrator):
    with pytest.raises(FieldError) as exc:
        actions.create_ci(
            actor=administrator,
            name="srv-1",
            ci_type=server_type(),
            attributes={"ram_gb": "lots", "virtual": "perhaps"},
        )

    assert fields_of(exc) == ["attributes.ram_gb", "attributes.virtual"]
    assert not ConfigurationItem.objects.exists()


@pytest.mark.parametrize("value", [True, 1.5, "12GB", [64]])
def test_an_integer_attribute_refuses_what_is_not_a_whole_number(administrator, value):
    with pytest.raises(FieldError) as exc:
        actions.create_ci(
            actor=administrator, name="srv-1", ci_type=server_type(), attributes={"ram_gb": value}
        )

    assert fields_of(exc) == ["attributes.ram_gb"]


def test_a_required_attribute_must_be_given(administrator):
    laptop = CITypeFactory(
        attributes=[{"key": "serial", "label": "Serial", "type": "text", "required": True}]
    )

    with pytest.raises(FieldError) as exc:
        actions.create_ci(actor=administrator, name="lt-1", ci_type=laptop, attributes={})

    assert fields_of(exc) == ["attributes.serial"]


def test_an_attribute_the_type_does_not_declare_is_refused(administrator):
    with pytest.raises(FieldError) as exc:
        actions.create_ci(
            actor=administrator, name="srv-1", ci_type=server_type(), attributes={"colour": "red"}
        )

    assert fields_of(exc) == ["attributes.colour"]


def test_every_bad_field_is_named_at_once(administrator):
    with pytest.raises(FieldError) as exc:
        actions.create_ci(
            actor=administrator,
            name=" ",
            ci_type=server_type(),
            cost="-3",
            currency="euro",
            warranty_expires="31/12/2026",
            status="lost",
        )

    assert set(fields_of(exc)) == {"name", "cost", "currency", "warranty_expires", "status"}


def test_an_external_id_names_one_item(administrator):
    make_item(external_id="asset-1")

    with pytest.raises(Conflict) as exc:
        make_item(name="other", external_id="asset-1")

    assert fields_of(exc) == ["external_id"]


def test_creation_is_audited_with_every_value(administrator):
    department = DepartmentFactory()
    item = actions.create_ci(
        actor=administrator,
        name="srv-1",
        ci_type=server_type(),
        cost=Decimal("1200.50"),
        warranty_expires=date(2027, 1, 31),
        attributes={"ram_gb": 64},
        used_by_departments=[department],
    )

    event = AuditEvent.objects.get(object_type="cmdb.configurationitem", object_id=str(item.pk))
    assert event.action == "ci.created"
    assert event.actor == administrator
    assert event.changes["name"] == [None, "srv-1"]
    assert event.changes["cost"] == [None, "1200.50"]
    assert event.changes["warranty_expires"] == [None, "2027-01-31"]
    assert event.changes["attributes"] == [None, {"ram_gb": 64}]
    assert event.changes["used_by_departments"] == [None, [department.pk]]


def test_a_requester_cannot_record_items(requester):
    with pytest.raises(PermissionDenied):
        actions.create_ci(actor=requester, name="mine", ci_type=CITypeFactory())


# --- changing items ----------------------------------------------------------------------------


def test_an_update_records_full_old_and_new_values(administrator):
    item = make_item(ci_type=server_type(), attributes={"ram_gb": 16, "os": "Debian 12"})

    actions.update_ci(
        actor=administrator,
        item=item,
        version=1,
        name="srv-1b",
        attributes={"ram_gb": 32, "os": "Debian 12"},
    )

    item.refresh_from_db()
    assert item.version == 2
    event = AuditEvent.objects.filter(action="ci.updated").get()
    assert event.changes == {
        "name": ["srv-1", "srv-1b"],
        "attributes": [{"ram_gb": 16, "os": "Debian 12"}, {"ram_gb": 32, "os": "Debian 12"}],
    }


def test_a_stale_version_is_refused(administrator):
    item = make_item()
    actions.update_ci(actor=administrator, item=item, version=1, name="first")

    with pytest.raises(StaleVersion) as exc:
        actions.update_ci(
            actor=administrator,
            item=ConfigurationItem.objects.get(pk=item.pk),
            version=1,
            name="late",
        )

    assert fields_of(exc) == ["version"]
    assert ConfigurationItem.objects.get(pk=item.pk).name == "first"


def test_an_update_that_changes_nothing_writes_nothing(administrator):
    item = make_item(location="Room 1")

    actions.update_ci(actor=administrator, item=item, version=1, location="Room 1")

    assert ConfigurationItem.objects.get(pk=item.pk).version == 1
    assert not AuditEvent.objects.filter(action="ci.updated").exists()


def test_status_follows_the_lifecycle(administrator):
    item = make_item(status=Status.PLANNED)

    with pytest.raises(InvalidTransition) as exc:
        actions.update_ci(actor=administrator, item=item, status=Status.MAINTENANCE)

    assert fields_of(exc) == ["status"]


def test_a_retired_item_stays_retired(administrator):
    item = make_item(status=Status.IN_SERVICE)
    actions.retire_ci(actor=administrator, item=item, reason="replaced")

    with pytest.raises(InvalidTransition):
        actions.update_ci(actor=administrator, item=item, status=Status.IN_SERVICE)

    assert item.status == Status.RETIRED
    assert AuditEvent.objects.filter(action="ci.retired", reason="replaced").exists()


def test_changing_the_type_rechecks_the_attributes(administrator):
    item = make_item(ci_type=server_type(), attributes={"ram_gb": 16})
    laptop = CITypeFactory(
        attributes=[{"key": "serial", "label": "Serial", "type": "text", "required": True}]
    )

    with pytest.raises(FieldError) as exc:
        actions.update_ci(actor=administrator, item=item, type=laptop)

    assert set(fields_of(exc)) >= {"attributes.ram_gb", "attributes.serial"}


def test_an_agent_changes_their_teams_items(team_agent, team):
    item = make_item(team=team)

    actions.update_ci(actor=team_agent, item=item, location="Rack 4")

    assert ConfigurationItem.objects.get(pk=item.pk).location == "Rack 4"


def test_an_agent_cannot_change_another_teams_items(team_agent):
    item = make_item(team=TeamFactory())

    with pytest.raises(PermissionDenied):
        actions.update_ci(actor=team_agent, item=item, location="Rack 4")


def test_a_requester_cannot_change_even_their_own_device(requester):
    item = make_item(assigned_to=requester)

    with pytest.raises(PermissionDenied):
        actions.update_ci(actor=requester, item=item, name="my laptop")


def test_a_requester_is_told_nothing_of_other_peoples_items(requester):
    item = make_item()

    with pytest.raises(NotFound):
        actions.update_ci(actor=requester, item=item, name="x")


# --- types -------------------------------------------------------------------------------------


def test_changing_a_type_raises_its_version_and_keeps_the_old_definitions(administrator):
    server = actions.create_ci_type(
        actor=administrator,
        name="Blade",
        code="blade",
        attributes=[{"key": "ram_gb", "label": "RAM", "type": "integer"}],
    )
    old = make_item(ci_type=server, attributes={"ram_gb": 8})

    actions.update_ci_type(
        actor=administrator,
        ci_type=server,
        version=1,
        attributes=[
            {"key": "ram_gb", "label": "RAM", "type": "integer"},
            {"key": "rack", "label": "Rack", "type": "text", "required": True},
        ],
    )

    server.refresh_from_db()
    assert server.version == 2
    versions = dict(CITypeVersion.objects.filter(type=server).values_list("version", "attributes"))
    assert [d["key"] for d in versions[1]] == ["ram_gb"]
    assert [d["key"] for d in versions[2]] == ["ram_gb", "rack"]
    assert ConfigurationItem.objects.get(pk=old.pk).type_version == 1
    assert AuditEvent.objects.filter(action="citype.updated").get().changes["version"] == [1, 2]


def test_bad_attribute_definitions_are_named_by_position(administrator):
    with pytest.raises(FieldError) as exc:
        actions.create_ci_type(
            actor=administrator,
            name="Blade",
            code="blade",
            attributes=[
                {"key": "RAM", "label": "RAM", "type": "integer"},
                {"key": "size", "label": "Size", "type": "huge"},
                {"key": "tier", "label": "Tier", "type": "choice"},
            ],
        )

    assert fields_of(exc) == ["attributes.0.key", "attributes.1.type", "attributes.2.choices"]


def test_a_stale_type_version_is_refused(administrator):
    server = actions.create_ci_type(actor=administrator, name="Blade", code="blade")
    actions.update_ci_type(actor=administrator, ci_type=server, version=1, description="v2")

    with pytest.raises(StaleVersion):
        actions.update_ci_type(actor=administrator, ci_type=server, version=1, description="v3")


def test_only_administrators_define_types(agent):
    with pytest.raises(PermissionDenied):
        actions.create_ci_type(actor=agent, name="Blade", code="blade")


# --- relations ---------------------------------------------------------------------------------


def test_a_relation_stores_who_depends_on_whom():
    runs_on = RelationKindFactory(dependency=Dependency.SOURCE_ON_TARGET)
    hosts = RelationKindFactory(dependency=Dependency.TARGET_ON_SOURCE)
    connects = RelationKindFactory(dependency=Dependency.NONE)
    app, vm, host = make_item("app"), make_item("vm"), make_item("host")

    first = relate(app, runs_on, vm)
    second = relate(host, hosts, vm)
    third = relate(app, connects, host)

    assert (first.dependent_id, first.dependency_id) == (app.pk, vm.pk)
    assert (second.dependent_id, second.dependency_id) == (vm.pk, host.pk)
    assert (third.dependent_id, third.dependency_id) == (None, None)


def test_a_relation_to_itself_is_refused(administrator):
    item = make_item()

    with pytest.raises(FieldError) as exc:
        actions.add_relation(
            actor=administrator, source=item, target=item, kind=RelationKindFactory()
        )

    assert fields_of(exc) == ["target"]
    assert not Relation.objects.exists()


def test_a_kind_not_allowed_between_these_types_is_refused_naming_kind(administrator):
    server, laptop, application = server_type(), CITypeFactory(name="Notebook"), CITypeFactory()
    runs_on = RelationKindFactory(name="is installed on")
    runs_on.source_types.set([application])
    runs_on.target_types.set([server])
    app, srv = make_item("app", application), make_item("srv", server)
    lt = make_item("lt", laptop)

    relate(app, runs_on, srv)
    with pytest.raises(FieldError) as exc:
        actions.add_relation(actor=administrator, source=app, target=lt, kind=runs_on)

    assert fields_of(exc) == ["kind"]
    assert "Notebook" in message_of(exc, "kind")
    assert "Rack server" in message_of(exc, "kind")


def test_a_loop_in_an_acyclic_kind_is_refused_with_the_path(administrator):
    runs_on = RelationKindFactory(name="is deployed on", acyclic=True)
    app, srv, host = make_item("app-1"), make_item("srv-2"), make_item("host-3")
    relate(app, runs_on, srv)
    relate(srv, runs_on, host)

    with pytest.raises(FieldError) as exc:
        actions.add_relation(actor=administrator, source=host, target=app, kind=runs_on)

    assert fields_of(exc) == ["target"]
    assert "host-3 → app-1 → srv-2 → host-3" in message_of(exc, "target")
    assert Relation.objects.count() == 2


def test_the_shortest_loop_is_shown():
    runs_on = RelationKindFactory(acyclic=True)
    a, b, c, d = (make_item(n) for n in ("a", "b", "c", "d"))
    relate(a, runs_on, b)
    relate(b, runs_on, c)
    relate(c, runs_on, d)
    relate(a, runs_on, d)

    with pytest.raises(FieldError) as exc:
        relate(d, runs_on, a)

    assert "d → a → d" in message_of(exc, "target")


def test_loops_are_fine_in_kinds_that_allow_them():
    uses = RelationKindFactory(acyclic=False)
    a, b = make_item("a"), make_item("b")
    relate(a, uses, b)

    relate(b, uses, a)

    assert Relation.objects.count() == 2


def test_a_loop_through_another_kind_is_not_a_loop_of_this_kind():
    runs_on, uses = RelationKindFactory(acyclic=True), RelationKindFactory()
    a, b = make_item("a"), make_item("b")
    relate(a, uses, b)

    relate(b, runs_on, a)

    assert Relation.objects.count() == 2


def test_the_same_relation_twice_is_a_conflict():
    kind = RelationKindFactory()
    a, b = make_item("a"), make_item("b")
    relate(a, kind, b)

    with pytest.raises(Conflict):
        relate(a, kind, b)


def test_a_retired_item_takes_no_new_relations(administrator):
    a, b = make_item("a"), make_item("b", status=Status.IN_SERVICE)
    actions.retire_ci(actor=administrator, item=b)

    with pytest.raises(FieldError) as exc:
        relate(a, RelationKindFactory(), b)

    assert fields_of(exc) == ["target"]


def test_relation_changes_are_audited_with_both_ends(administrator):
    kind = RelationKindFactory(code="is-on")
    a, b = make_item("a"), make_item("b")
    relation = actions.add_relation(actor=administrator, source=a, target=b, kind=kind)

    actions.remove_relation(actor=administrator, relation=relation, reason="moved")

    added, removed = AuditEvent.objects.filter(object_type="cmdb.relation").order_by("seq")
    assert added.changes == {
        "source": [None, a.pk],
        "target": [None, b.pk],
        "kind": [None, "is-on"],
    }
    assert removed.changes == {
        "source": [a.pk, None],
        "target": [b.pk, None],
        "kind": ["is-on", None],
    }
    assert removed.reason == "moved"


def test_an_agent_relates_only_their_teams_items(team_agent, team):
    kind = RelationKindFactory()
    ours, theirs = make_item("ours", team=team), make_item("theirs", team=TeamFactory())

    actions.add_relation(actor=team_agent, source=ours, target=theirs, kind=kind)
    with pytest.raises(PermissionDenied):
        actions.add_relation(actor=team_agent, source=theirs, target=ours, kind=kind)


def test_a_new_dependency_direction_repoints_the_kinds_relations(administrator):
    kind = RelationKindFactory(dependency=Dependency.SOURCE_ON_TARGET)
    a, b = make_item("a"), make_item("b")
    relation = relate(a, kind, b)

    actions.update_relation_kind(
        actor=administrator, kind=kind, dependency=Dependency.TARGET_ON_SOURCE
    )

    relation.refresh_from_db()
    assert (relation.dependent_id, relation.dependency_id) == (b.pk, a.pk)


def test_a_kind_cannot_become_acyclic_over_a_loop(administrator):
    kind = RelationKindFactory(acyclic=False)
    a, b = make_item("a"), make_item("b")
    relate(a, kind, b)
    relate(b, kind, a)

    with pytest.raises(FieldError) as exc:
        actions.update_relation_kind(actor=administrator, kind=kind, acyclic=True)

    assert fields_of(exc) == ["acyclic"]
    kind.refresh_from_db()
    assert kind.acyclic is False


# --- deleting ----------------------------------------------------------------------------------


def test_an_unrelated_unreferenced_item_can_be_deleted(administrator):
    item = make_item()

    actions.delete_ci(actor=administrator, item=item, reason="duplicate")

    assert not ConfigurationItem.objects.exists()
    assert AuditEvent.objects.filter(action="ci.deleted", reason="duplicate").exists()


def test_deleting_a_related_item_is_refused(administrator):
    a, b = make_item("a"), make_item("b")
    relate(a, RelationKindFactory(), b)

    with pytest.raises(Conflict) as exc:
        actions.delete_ci(actor=administrator, item=a)

    assert "retire it instead" in str(exc.value.message)
    assert ConfigurationItem.objects.count() == 2


def test_deleting_an_item_open_records_name_is_refused(administrator):
    item = make_item()
    references.register(
        lambda ids: 2 if item.pk in ids else 0, label="open incidents", key="test.incidents"
    )
    try:
        with pytest.raises(Conflict) as exc:
            actions.delete_ci(actor=administrator, item=item)
    finally:
        references.unregister("test.incidents")

    assert "2 open incidents" in str(exc.value.message)
    assert "retire it instead" in str(exc.value.message)
    assert ConfigurationItem.objects.filter(pk=item.pk).exists()


def test_agents_cannot_delete_items(agent):
    item = make_item()

    with pytest.raises(PermissionDenied):
        actions.delete_ci(actor=agent, item=item)
