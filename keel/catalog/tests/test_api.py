"""The catalogue API: services with their effective SLA targets, who may manage them, the
category tree and the priority matrix."""

from __future__ import annotations

import pytest
from django.test import Client

from keel.catalog import actions
from keel.catalog import queries as catalog_queries
from keel.catalog.models import Service, ServiceTarget
from keel.catalog.tests.factories import CategoryFactory, ServiceFactory, ServiceTargetFactory
from keel.core.models import AuditEvent
from keel.core.roles import Role
from keel.core.tests.factories import BusinessCalendarFactory, TeamFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_catalogue_cache():
    """The catalogue caches targets and the matrix per process; each test starts from its rows."""
    catalog_queries.invalidate()
    yield
    catalog_queries.invalidate()


def post(client: Client, path: str, body):
    return client.post(f"{API}{path}", body, content_type="application/json")


def patch(client: Client, path: str, body):
    return client.patch(f"{API}{path}", body, content_type="application/json")


def error_field(response, status: int) -> str:
    assert response.status_code == status, response.content
    assert response.json()["detail"]
    return response.json()["errors"][0]["field"]


def new_service(routed_to, **fields) -> dict:
    """A request body for a service routed to the team ``routed_to``; ``fields`` override."""
    return {"name": "E-mail", "code": "email", "team": routed_to.pk, **fields}


# Reading services


def test_services_list_their_own_targets_and_the_defaults_for_the_rest(client_for, requester):
    service = ServiceFactory(name="E-mail")
    ServiceTargetFactory(service=service, priority=3, respond_minutes=60, resolve_minutes=480)

    response = client_for(requester).get(f"{API}/services")

    assert response.status_code == 200
    [listed] = response.json()
    assert listed["name"] == "E-mail"
    assert listed["team"]["id"] == service.team_id
    assert listed["targets"]["P3"] == {
        "respond_minutes": 60,
        "resolve_minutes": 480,
        "source": "service",
    }
    assert listed["targets"]["P1"] == {
        "respond_minutes": 15,
        "resolve_minutes": 240,
        "source": "default",
    }
    assert sorted(listed["targets"]) == ["P1", "P2", "P3", "P4", "P5"]


def test_configured_default_targets_apply_to_services_without_their_own(
    client_for, requester, administrator
):
    ServiceFactory()
    actions.set_service_targets(actor=administrator, service=None, targets={1: (5, 60)})
    catalog_queries.invalidate()  # the action clears the cache on commit

    [listed] = client_for(requester).get(f"{API}/services").json()

    assert listed["targets"]["P1"]["respond_minutes"] == 5
    assert listed["targets"]["P1"]["source"] == "default"


def test_services_show_team_calendar_owner_and_criticality(client_for, agent, make_user):
    owner = make_user(Role.SERVICE_OWNER, name="Sam Owner")
    calendar = BusinessCalendarFactory(name="Office hours")
    service = ServiceFactory(owner=owner, calendar=calendar, criticality="high")

    body = client_for(agent).get(f"{API}/services/{service.pk}").json()

    assert body["owner"]["name"] == "Sam Owner"
    assert body["calendar"]["name"] == "Office hours"
    assert body["criticality"] == "high"


def test_retired_services_are_not_listed(client_for, requester):
    ServiceFactory(name="Fax", is_active=False)
    ServiceFactory(name="E-mail")

    names = [s["name"] for s in client_for(requester).get(f"{API}/services").json()]

    assert names == ["E-mail"]


def test_portal_filter_lists_only_services_shown_in_the_portal(client_for, requester):
    ServiceFactory(name="Core routers", in_portal=False)
    ServiceFactory(name="E-mail")

    names = [s["name"] for s in client_for(requester).get(f"{API}/services?portal=true").json()]

    assert names == ["E-mail"]


def test_retired_service_is_404_for_a_requester_but_shown_to_an_administrator(
    client_for, requester, administrator
):
    retired = ServiceFactory(is_active=False)

    assert client_for(requester).get(f"{API}/services/{retired.pk}").status_code == 404
    assert client_for(administrator).get(f"{API}/services/{retired.pk}").status_code == 200


def test_missing_service_is_404(client_for, requester):
    assert client_for(requester).get(f"{API}/services/999999").status_code == 404


def test_services_need_authentication(client):
    assert client.get(f"{API}/services").status_code == 401


def test_services_list_query_count_does_not_grow_with_the_rows(
    client_for, requester, django_assert_max_num_queries
):
    client = client_for(requester)
    for _ in range(2):
        ServiceTargetFactory()
    client.get(f"{API}/services")  # warm the per-process target cache
    with django_assert_max_num_queries(6) as few:
        assert len(client.get(f"{API}/services").json()) == 2

    for _ in range(20):
        ServiceTargetFactory()
    with django_assert_max_num_queries(6) as many:
        assert len(client.get(f"{API}/services").json()) == 22

    assert len(many.captured_queries) == len(few.captured_queries)


# Managing services


def test_administrator_creates_a_service_with_targets(client_for, administrator):
    team = TeamFactory()
    body = new_service(
        team,
        criticality="critical",
        targets={"P1": {"respond_minutes": 10, "resolve_minutes": 120}},
    )

    response = post(client_for(administrator), "/services", body)

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["code"] == "email"
    assert created["criticality"] == "critical"
    assert created["targets"]["P1"] == {
        "respond_minutes": 10,
        "resolve_minutes": 120,
        "source": "service",
    }
    assert created["targets"]["P2"]["source"] == "default"
    assert AuditEvent.objects.filter(action="service.created").exists()


@pytest.mark.parametrize("role", [Role.AGENT, Role.REQUESTER, Role.SERVICE_OWNER])
def test_only_administrators_create_services(client_for, make_user, role):
    response = post(client_for(make_user(role)), "/services", new_service(TeamFactory()))

    assert response.status_code == 403
    assert not Service.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"team": 999_999}, "team"),
        ({"owner": 999_999}, "owner"),
        ({"calendar": 999_999}, "calendar"),
        ({"code": "no spaces"}, "code"),
        ({"name": ""}, "name"),
        ({"criticality": "apocalyptic"}, "criticality"),
        ({"targets": {"P9": {"respond_minutes": 1, "resolve_minutes": 2}}}, "targets"),
        ({"targets": {"P1": {"respond_minutes": 90, "resolve_minutes": 60}}}, "targets.P1"),
        ({"targets": {"P2": {"respond_minutes": 0, "resolve_minutes": 60}}}, "targets.P2"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_service_input_is_refused_naming_the_field_and_writes_nothing(
    client_for, administrator, change, field
):
    body = new_service(TeamFactory(), **change)

    response = post(client_for(administrator), "/services", body)

    assert error_field(response, 422) == field
    assert not Service.objects.exists()


def test_a_second_service_with_the_same_code_is_a_conflict(client_for, administrator):
    ServiceFactory(code="email")

    response = post(client_for(administrator), "/services", new_service(TeamFactory()))

    assert error_field(response, 409) == "code"


def test_administrator_changes_a_service_and_its_targets(client_for, administrator):
    service = ServiceFactory(criticality="low")

    response = patch(
        client_for(administrator),
        f"/services/{service.pk}",
        {"criticality": "high", "targets": {"P4": {"respond_minutes": 30, "resolve_minutes": 90}}},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["criticality"] == "high"
    assert body["targets"]["P4"] == {
        "respond_minutes": 30,
        "resolve_minutes": 90,
        "source": "service",
    }
    assert ServiceTarget.objects.get(service=service, priority=4).resolve_minutes == 90


def test_service_owner_may_change_a_service(client_for, make_user):
    service = ServiceFactory()

    response = patch(
        client_for(make_user(Role.SERVICE_OWNER)), f"/services/{service.pk}", {"in_portal": False}
    )

    assert response.status_code == 200
    assert response.json()["in_portal"] is False


def test_agent_cannot_change_a_service(client_for, agent):
    service = ServiceFactory(criticality="low")

    response = patch(client_for(agent), f"/services/{service.pk}", {"criticality": "high"})

    assert response.status_code == 403
    service.refresh_from_db()
    assert service.criticality == "low"


def test_change_with_a_bad_target_changes_nothing(client_for, administrator):
    service = ServiceFactory(criticality="low")

    response = patch(
        client_for(administrator),
        f"/services/{service.pk}",
        {"criticality": "high", "targets": {"P1": {"respond_minutes": 90, "resolve_minutes": 1}}},
    )

    assert error_field(response, 422) == "targets.P1"
    service.refresh_from_db()
    assert service.criticality == "low"


def test_retiring_a_service_keeps_it_visible_to_administrators(client_for, administrator):
    service = ServiceFactory()

    response = patch(client_for(administrator), f"/services/{service.pk}", {"is_active": False})

    assert response.status_code == 200
    assert response.json()["is_active"] is False


# Categories and the priority matrix


def test_categories_form_a_tree_with_full_paths(client_for, requester):
    hardware = CategoryFactory(name="Hardware")
    CategoryFactory(name="Laptop", parent=hardware)
    CategoryFactory(name="Printer", parent=hardware)
    CategoryFactory(name="Retired", is_active=False)

    response = client_for(requester).get(f"{API}/categories")

    assert response.status_code == 200
    rows = [(c["path"], c["parent_id"]) for c in response.json()]
    assert rows == [
        ("Hardware", None),
        ("Hardware › Laptop", hardware.pk),
        ("Hardware › Printer", hardware.pk),
    ]


def test_priority_matrix_gives_levels_rules_and_labels(client_for, requester):
    response = client_for(requester).get(f"{API}/priority-matrix")

    assert response.status_code == 200
    body = response.json()
    assert body["levels"] == 3
    assert [level["label"] for level in body["impact"]] == ["High", "Medium", "Low"]
    assert body["impact"][0]["help"]
    assert len(body["rules"]) == 9
    assert {"impact": 1, "urgency": 1, "priority": "P1"} in body["rules"]
    assert {"impact": 3, "urgency": 3, "priority": "P5"} in body["rules"]
    assert body["priorities"][0] == {"priority": "P1", "label": "Critical"}


def test_priority_matrix_follows_the_configured_scale(client_for, requester, administrator):
    rules = {(i, u): 1 if i == u == 1 else 4 for i in range(1, 5) for u in range(1, 5)}
    actions.set_priority_matrix(actor=administrator, levels=4, rules=rules)

    body = client_for(requester).get(f"{API}/priority-matrix").json()

    assert body["levels"] == 4
    assert len(body["rules"]) == 16
    assert {"impact": 2, "urgency": 1, "priority": "P4"} in body["rules"]


def test_openapi_schema_documents_the_catalogue(client):
    paths = client.get(f"{API}/openapi.json").json()["paths"]

    assert {f"{API}/services", f"{API}/categories", f"{API}/priority-matrix"} <= set(paths)
