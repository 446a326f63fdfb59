"""Actions own every change to services, targets, the priority matrix and categories."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from keel.catalog import actions, queries
from keel.catalog.models import (
    Category,
    Criticality,
    PriorityRule,
    PriorityScale,
    Service,
    ServiceTarget,
)
from keel.catalog.priority import default_matrix
from keel.catalog.tests.factories import CategoryFactory, ServiceFactory
from keel.core.errors import Conflict, FieldError
from keel.core.models import AuditEvent
from keel.core.roles import Role
from keel.core.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def service_owner(make_user):
    return make_user(Role.SERVICE_OWNER)


def fields_of(error: FieldError) -> list[str]:
    return [field for field, _message in error.errors]


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-seq").first()


# --- services --------------------------------------------------------------------------------


def test_administrator_creates_a_service_routed_to_a_team_and_it_is_audited(administrator):
    team = TeamFactory()

    service = actions.create_service(
        actor=administrator, name="E-mail", code="email", team=team, criticality="high"
    )

    assert (service.team, service.criticality, service.is_active) == (team, "high", True)
    event = last_event()
    assert (event.action, event.object_id) == ("service.created", str(service.pk))
    assert event.changes["team"] == [None, team.pk]


def test_agent_cannot_create_a_service(agent):
    with pytest.raises(PermissionDenied):
        actions.create_service(actor=agent, name="E-mail", code="email", team=TeamFactory())

    assert not Service.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "  "}, "name"),
        ({"code": ""}, "code"),
        ({"team": None}, "team"),
        ({"criticality": "apocalyptic"}, "criticality"),
        ({"colour": "red"}, "colour"),
    ],
    ids=["blank-name", "blank-code", "no-team", "bad-criticality", "unknown-field"],
)
def test_create_service_refuses_bad_input_naming_the_field(administrator, values, field):
    given = {"name": "E-mail", "code": "email", "team": TeamFactory(), **values}
    events_before = AuditEvent.objects.count()

    with pytest.raises(FieldError) as refused:
        actions.create_service(actor=administrator, **given)

    assert fields_of(refused.value) == [field]
    assert not Service.objects.exists()
    assert AuditEvent.objects.count() == events_before


def test_create_service_refuses_a_name_or_code_in_use(administrator):
    ServiceFactory(name="E-mail", code="email")

    with pytest.raises(Conflict) as refused:
        actions.create_service(actor=administrator, name="Mail", code="email", team=TeamFactory())

    assert fields_of(refused.value) == ["code"]


def test_service_owner_updates_a_service_and_the_change_is_audited(service_owner):
    service = ServiceFactory(criticality=Criticality.LOW)

    actions.update_service(actor=service_owner, service=service, criticality="critical")

    service.refresh_from_db()
    assert service.criticality == "critical"
    assert last_event().changes == {"criticality": ["low", "critical"]}


def test_agent_cannot_update_a_service(agent):
    service = ServiceFactory(criticality=Criticality.LOW)

    with pytest.raises(PermissionDenied):
        actions.update_service(actor=agent, service=service, criticality="critical")

    service.refresh_from_db()
    assert service.criticality == "low"


def test_update_service_refuses_an_unknown_field(administrator):
    service = ServiceFactory()

    with pytest.raises(FieldError) as refused:
        actions.update_service(actor=administrator, service=service, colour="red")

    assert fields_of(refused.value) == ["colour"]


def test_update_service_without_a_change_writes_no_audit_event(administrator):
    service = ServiceFactory(name="E-mail")
    events_before = AuditEvent.objects.count()

    actions.update_service(actor=administrator, service=service, name="E-mail")

    assert AuditEvent.objects.count() == events_before


# --- service-level targets -------------------------------------------------------------------


def test_service_owner_sets_a_services_targets(service_owner):
    service = ServiceFactory()

    actions.set_service_targets(actor=service_owner, service=service, targets={2: (20, 300)})

    assert list(service.targets.values_list("priority", "respond_minutes", "resolve_minutes")) == [
        (2, 20, 300)
    ]
    assert last_event().changes == {"P2": [None, [20, 300]]}


def test_new_targets_apply_in_this_process_once_committed(
    service_owner, django_capture_on_commit_callbacks
):
    service = ServiceFactory()
    assert queries.targets_for(service.pk, 2) == (30, 480)  # the defaults, now cached

    with django_capture_on_commit_callbacks(execute=True):
        actions.set_service_targets(actor=service_owner, service=service, targets={2: (20, 300)})

    assert queries.targets_for(service.pk, 2) == (20, 300)


def test_setting_targets_again_updates_them_in_place(service_owner):
    service = ServiceFactory()
    actions.set_service_targets(actor=service_owner, service=service, targets={2: (20, 300)})

    actions.set_service_targets(actor=service_owner, service=service, targets={2: (10, 200)})

    assert ServiceTarget.objects.filter(service=service).count() == 1
    assert last_event().changes == {"P2": [[20, 300], [10, 200]]}


def test_agent_cannot_set_a_services_targets(agent):
    service = ServiceFactory()

    with pytest.raises(PermissionDenied):
        actions.set_service_targets(actor=agent, service=service, targets={2: (20, 300)})

    assert not service.targets.exists()


def test_administrator_sets_the_default_targets(administrator):
    actions.set_service_targets(actor=administrator, service=None, targets={1: (5, 120)})

    assert ServiceTarget.objects.filter(service=None, priority=1).count() == 1
    assert ServiceTarget.objects.get(service=None, priority=1).resolve_minutes == 120
    event = last_event()
    assert (event.object_type, event.object_id) == ("catalog.servicetarget", "defaults")


def test_service_owner_cannot_set_the_default_targets(service_owner):
    with pytest.raises(PermissionDenied):
        actions.set_service_targets(actor=service_owner, service=None, targets={1: (5, 120)})

    assert ServiceTarget.objects.get(service=None, priority=1).resolve_minutes == 240


@pytest.mark.parametrize(
    ("targets", "field"),
    [
        ({2: (500, 300)}, "targets.P2"),
        ({2: (0, 300)}, "targets.P2"),
        ({2: (20, -1)}, "targets.P2"),
        ({6: (20, 300)}, "targets.P6"),
        ({0: (20, 300)}, "targets.P0"),
        ({2: ("20", 300)}, "targets.P2"),
        ({2: (20,)}, "targets.P2"),
        ({2: None}, "targets.P2"),
    ],
    ids=[
        "respond-after-resolve",
        "zero",
        "negative",
        "P6",
        "P0",
        "text",
        "one-number",
        "nothing",
    ],
)
def test_set_service_targets_refuses_bad_targets_naming_the_priority(administrator, targets, field):
    service = ServiceFactory()
    events_before = AuditEvent.objects.count()

    with pytest.raises(FieldError) as refused:
        actions.set_service_targets(actor=administrator, service=service, targets=targets)

    assert fields_of(refused.value) == [field]
    assert not service.targets.exists()
    assert AuditEvent.objects.count() == events_before


def test_set_service_targets_refuses_all_or_nothing(administrator):
    service = ServiceFactory()

    with pytest.raises(FieldError):
        actions.set_service_targets(
            actor=administrator, service=service, targets={1: (10, 100), 2: (500, 300)}
        )

    assert not service.targets.exists()


# --- the priority matrix ---------------------------------------------------------------------


def five_level_rules() -> dict[tuple[int, int], int]:
    return default_matrix(5)


def stored_matrix() -> list[tuple[int, int, int]]:
    return list(PriorityRule.objects.values_list("impact", "urgency", "priority"))


def stored_levels() -> int:
    return PriorityScale.objects.get().levels


def test_administrator_sets_a_five_level_matrix(administrator):
    actions.set_priority_matrix(actor=administrator, levels=5, rules=five_level_rules())

    assert stored_levels() == 5
    assert len(stored_matrix()) == 25
    assert queries.levels() == 5
    assert queries.priority_for(5, 5) == 5


def test_changing_the_matrix_clears_the_cached_matrix_at_once(administrator):
    assert queries.priority_for(1, 2) == 2  # the default, now cached

    actions.set_priority_matrix(
        actor=administrator, levels=3, rules=default_matrix(3) | {(1, 2): 1, (2, 1): 1}
    )

    assert queries.priority_for(1, 2) == 1


def test_changing_the_matrix_is_audited_with_before_and_after(administrator):
    actions.set_priority_matrix(
        actor=administrator, levels=3, rules=default_matrix(3) | {(1, 2): 1, (2, 1): 1}
    )

    event = last_event()
    assert event.action == "priority_matrix.changed"
    assert event.changes["levels"] == [3, 3]
    before, after = event.changes["rules"]
    assert (before["1x2"], after["1x2"]) == (2, 1)


def test_a_smaller_matrix_replaces_a_larger_one(administrator):
    actions.set_priority_matrix(actor=administrator, levels=5, rules=five_level_rules())

    actions.set_priority_matrix(actor=administrator, levels=2, rules=default_matrix(2))

    assert PriorityRule.objects.count() == 4
    assert queries.matrix() == {(1, 1): 1, (1, 2): 3, (2, 1): 3, (2, 2): 5}


@pytest.mark.parametrize("role", [Role.AGENT, Role.SERVICE_OWNER, Role.TEAM_LEAD])
def test_only_administrators_change_the_matrix(make_user, role):
    before = stored_matrix()

    with pytest.raises(PermissionDenied):
        actions.set_priority_matrix(
            actor=make_user(role), levels=3, rules=default_matrix(3) | {(1, 2): 1}
        )

    assert stored_matrix() == before


@pytest.mark.parametrize("levels", [1, 6, 0, "3", 3.0, None, True])
def test_set_priority_matrix_refuses_a_bad_number_of_levels(administrator, levels):
    before = stored_matrix()

    with pytest.raises(FieldError) as refused:
        actions.set_priority_matrix(actor=administrator, levels=levels, rules=default_matrix(3))

    assert fields_of(refused.value) == ["levels"]
    assert (stored_levels(), stored_matrix()) == (3, before)


@pytest.mark.parametrize("value", [0, 6, "2", None, 2.0, True])
def test_set_priority_matrix_refuses_a_bad_cell_naming_it(administrator, value):
    rules = default_matrix(3) | {(2, 3): value}
    before, events_before = stored_matrix(), AuditEvent.objects.count()

    with pytest.raises(FieldError) as refused:
        actions.set_priority_matrix(actor=administrator, levels=3, rules=rules)

    assert fields_of(refused.value) == ["rules.2.3"]
    assert stored_matrix() == before
    assert AuditEvent.objects.count() == events_before


def test_set_priority_matrix_refuses_a_missing_cell(administrator):
    rules = default_matrix(3)
    del rules[(3, 1)]

    with pytest.raises(FieldError) as refused:
        actions.set_priority_matrix(actor=administrator, levels=3, rules=rules)

    assert fields_of(refused.value) == ["rules.3.1"]


def test_set_priority_matrix_refuses_a_worse_impact_with_a_better_priority(administrator):
    rules = default_matrix(3) | {(1, 3): 5}  # more impact than (2, 3) → P4, yet P5
    before = stored_matrix()

    with pytest.raises(FieldError) as refused:
        actions.set_priority_matrix(actor=administrator, levels=3, rules=rules)

    assert fields_of(refused.value) == ["rules.1.3"]
    assert stored_matrix() == before


def test_set_priority_matrix_refuses_a_worse_urgency_with_a_better_priority(administrator):
    rules = default_matrix(3) | {(3, 1): 5}  # more urgent than (3, 2) → P4, yet P5

    with pytest.raises(FieldError) as refused:
        actions.set_priority_matrix(actor=administrator, levels=3, rules=rules)

    assert fields_of(refused.value) == ["rules.3.1"]


def test_set_priority_matrix_accepts_flat_rows(administrator):
    rules = dict.fromkeys(default_matrix(3), 3)

    actions.set_priority_matrix(actor=administrator, levels=3, rules=rules)

    assert set(queries.matrix().values()) == {3}


# --- categories ------------------------------------------------------------------------------


def test_administrator_creates_a_category_under_a_parent(administrator):
    hardware = CategoryFactory(name="Hardware")

    laptop = actions.create_category(
        actor=administrator, name=" Laptop ", code="laptop", parent=hardware
    )

    assert (laptop.name, laptop.parent) == ("Laptop", hardware)
    assert last_event().action == "category.created"


def test_agent_cannot_create_a_category(agent):
    with pytest.raises(PermissionDenied):
        actions.create_category(actor=agent, name="Laptop", code="laptop")

    assert not Category.objects.exists()


def test_create_category_refuses_a_blank_name(administrator):
    with pytest.raises(FieldError) as refused:
        actions.create_category(actor=administrator, name="  ", code="laptop")

    assert fields_of(refused.value) == ["name"]


def test_create_category_refuses_a_code_in_use(administrator):
    CategoryFactory(code="laptop")

    with pytest.raises(Conflict) as refused:
        actions.create_category(actor=administrator, name="Laptop", code="laptop")

    assert fields_of(refused.value) == ["code"]


def test_create_category_refuses_the_same_name_under_the_same_parent(administrator):
    hardware = CategoryFactory(name="Hardware")
    CategoryFactory(name="Laptop", parent=hardware)

    with pytest.raises(Conflict) as refused:
        actions.create_category(
            actor=administrator, name="Laptop", code="laptop-2", parent=hardware
        )

    assert fields_of(refused.value) == ["name"]
