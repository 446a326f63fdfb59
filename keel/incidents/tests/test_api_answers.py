"""The list and the creation answer with incidents built directly (``schemas.incident_data``,
and for the list ``schemas.listed_data`` from plain rows), not through pydantic's generic path:
they must give exactly what ``IncidentOut`` gives, in every state, and recording one must read
nothing after its writes."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from keel.catalog import actions as catalog_actions
from keel.catalog import queries as catalog_queries
from keel.catalog.models import Category, Service
from keel.catalog.tests.factories import CategoryFactory, ServiceFactory
from keel.cmdb.models import ConfigurationItem
from keel.cmdb.tests.factories import make_item
from keel.core.models import Team
from keel.core.roles import Role
from keel.incidents import actions, queries
from keel.incidents.lifecycle import Status
from keel.incidents.models import Incident
from keel.incidents.schemas import IncidentOut, incident_data
from keel.incidents.tests.factories import agent_in, open_incident
from keel.incidents.tests.instances import instances_built

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_catalogue_cache():
    catalog_queries.invalidate()
    queries.forget_services()
    yield
    catalog_queries.invalidate()
    queries.forget_services()


@pytest.fixture
def service():
    return ServiceFactory(name="Laptops")


@pytest.fixture
def desk_agent(service):
    return agent_in(service.team, name="Dana Agent", time_zone="Asia/Shanghai")


def without_clock_seconds(item: dict) -> dict:
    """The seconds left tick between two reads; everything else must be equal."""
    return {**item, "sla": {**item["sla"], "seconds_left": None}}


def generic(client: Client, number: str) -> dict:
    """The incident as ``GET /incidents/{number}`` answers it (IncidentOut, the generic path)."""
    response = client.get(f"/api/v1/incidents/{number}")
    assert response.status_code == 200
    return response.json()


def listed(client: Client, number: str) -> dict:
    response = client.get("/api/v1/incidents", {"q": number})
    assert response.status_code == 200
    (item,) = response.json()["items"]
    return item


def states(agent, requester, service, manager):
    """Incidents in every state the list shows, with and without their optional parts."""
    laptop = make_item("laptop-7", assigned_to=requester)
    plain = open_incident(requester=requester, service=service, title="New <b>one</b>")
    yield plain
    rich = open_incident(
        requester=requester,
        service=service,
        category=CategoryFactory(name="Hardware"),
        cis=[laptop],
        impact=1,
        urgency=1,
    )
    actions.assign(actor=agent, incident=rich, assignee=agent)
    yield rich
    actions.start(actor=agent, incident=rich)
    actions.hold(actor=agent, incident=rich, reason="awaiting_supplier", note="Part ordered")
    yield rich
    actions.resume(actor=agent, incident=rich)
    actions.declare_major(actor=manager, incident=rich, manager=manager, reason="Many affected")
    yield rich
    closed = open_incident(requester=requester, service=service, title="Fixed")
    actions.start(actor=agent, incident=closed)
    actions.resolve(actor=agent, incident=closed, code="hardware_replaced", notes="New board")
    yield closed
    actions.confirm(actor=requester, incident=closed, rating=4, comment="Quick")
    yield closed
    cancelled = open_incident(requester=requester, service=service, title="Mistake")
    actions.cancel(actor=requester, incident=cancelled, reason="Recorded twice")
    yield cancelled


def test_the_list_answers_exactly_as_the_incident_page_does_in_every_state(
    client_for, desk_agent, requester, service, make_user
):
    manager = make_user(Role.AGENT, Role.TEAM_LEAD, Role.SERVICE_OWNER)
    agent = client_for(desk_agent)
    seen = 0
    for incident in states(desk_agent, requester, service, manager):
        assert without_clock_seconds(listed(agent, incident.number)) == without_clock_seconds(
            generic(agent, incident.number)
        ), incident.status
        seen += 1

    assert seen == 7


def test_the_direct_answer_equals_the_schemas_for_a_loaded_incident(desk_agent, service):
    incident = open_incident(service=service, category=CategoryFactory())
    loaded = queries.incident_for(desk_agent, incident.number)

    direct = incident_data(loaded)
    through_pydantic = json.loads(json.dumps(IncidentOut.model_validate(loaded).model_dump()))

    assert without_clock_seconds(direct) == without_clock_seconds(through_pydantic)


def backlog(agent, requester, service, manager) -> list[Incident]:
    """Incidents in every state at once, with and without their optional parts: a page of each
    kind, deadlines missing, shared and passed, and items listed out of their number order."""
    items = [make_item(f"laptop-{n}", assigned_to=requester) for n in (3, 1, 2)]
    plain = open_incident(requester=requester, service=service, title="New <b>one</b>")
    rich = open_incident(
        requester=requester,
        service=service,
        category=CategoryFactory(name="Hardware"),
        cis=[items[2], items[0], items[1]],
        impact=1,
        urgency=1,
    )
    actions.assign(actor=agent, incident=rich, assignee=agent)
    held = open_incident(requester=requester, service=service, title="Waiting", cis=[items[1]])
    actions.start(actor=agent, incident=held)
    actions.hold(actor=agent, incident=held, reason="awaiting_supplier", note="Part ordered")
    major = open_incident(requester=requester, service=service, title="Everyone", impact=1)
    actions.declare_major(actor=manager, incident=major, manager=manager, reason="Many affected")
    resolved = open_incident(requester=requester, service=service, title="Fixed")
    actions.start(actor=agent, incident=resolved)
    actions.resolve(actor=agent, incident=resolved, code="hardware_replaced", notes="New board")
    closed = open_incident(requester=requester, service=service, title="Closed")
    actions.resolve(actor=agent, incident=closed, code="fixed", notes="Restarted")
    actions.confirm(actor=requester, incident=closed, rating=4, comment="Quick")
    cancelled = open_incident(requester=requester, service=service, title="Mistake")
    actions.cancel(actor=requester, incident=cancelled, reason="Recorded twice")
    late = open_incident(requester=requester, service=service, at=timezone.now() - timedelta(30))
    fixed_late = open_incident(requester=requester, service=service, at=late.created_at)
    actions.resolve(actor=agent, incident=fixed_late, code="fixed", notes="Too late")
    warned = open_incident(requester=requester, service=service, title="At risk")
    no_deadline = [open_incident(requester=requester, service=service) for _ in range(3)]
    Incident.objects.filter(pk=warned.pk).update(warned=True)
    Incident.objects.filter(pk__in=[i.pk for i in no_deadline]).update(resolve_by=None)
    same = Incident.objects.get(pk=plain.pk).resolve_by
    Incident.objects.filter(pk=no_deadline[0].pk).update(resolve_by=same)
    return [
        plain,
        rich,
        held,
        major,
        resolved,
        closed,
        cancelled,
        late,
        fixed_late,
        warned,
        *no_deadline,
    ]


def test_the_list_answers_page_by_page_as_it_did_from_model_instances(
    client_for, requester, service, make_user, monkeypatch
):
    """The rows-and-dicts list against the answer built from loaded incidents (the related
    records selected, the items prefetched): the same items, cursors and clocks, to the second,
    in the reader's language and time zone."""
    manager = make_user(Role.AGENT, Role.TEAM_LEAD, Role.SERVICE_OWNER)
    reader = agent_in(service.team, language="zh-hans", time_zone="Asia/Shanghai")
    incidents = backlog(reader, requester, service, manager)
    now = timezone.now()
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)
    client = client_for(reader)

    listed, cursor, pages = [], "", 0
    while True:
        answer = client.get("/api/v1/incidents", {"limit": 3, "cursor": cursor})
        assert answer.status_code == 200
        with translation.override("zh-hans"), timezone.override(ZoneInfo("Asia/Shanghai")):
            flt = queries.IncidentFilter.parse({}, default_queue="all")
            loaded = queries.incidents_for(reader, flt).prefetch_related(
                queries.affected_cis_prefetch()
            )
            items, next_cursor = queries.page(loaded, cursor, 3)
            before = {"items": [incident_data(i, now) for i in items], "next_cursor": next_cursor}
        assert answer.json() == json.loads(json.dumps(before)), f"page {pages + 1}"
        listed += answer.json()["items"]
        pages += 1
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break

    assert sorted(i["number"] for i in listed) == sorted(i.number for i in incidents)
    assert pages == 5
    assert {i["sla"]["state"] for i in listed} == {
        "ok",
        "warning",
        "breached",
        "paused",
        "met",
        "missed",
        "na",  # withdrawn
    }
    assert sum(i["resolve_by"] is None for i in listed) == 2
    with translation.override("zh-hans"):
        assert {i["status_label"] for i in listed} >= {str(Status.NEW.label)} != {"New"}
    (rich,) = [i for i in listed if i["category"]]
    numbers = sorted(ConfigurationItem.objects.values_list("number", flat=True))
    assert [ci["number"] for ci in rich["affected_cis"]] == numbers  # given in another order
    assert len(numbers) == 3
    assert rich["created_at"].endswith("+08:00")


def test_the_list_builds_no_model_instances_and_reads_two_statements(
    client_for, desk_agent, requester, service, make_user
):
    manager = make_user(Role.AGENT, Role.TEAM_LEAD, Role.SERVICE_OWNER)
    backlog(desk_agent, requester, service, manager)
    client = client_for(desk_agent)
    client.get("/api/v1/incidents")  # the session and the reader's teams

    models = (Incident, Service, Team, Category, ConfigurationItem)
    with instances_built(*models) as built, CaptureQueriesContext(connection) as captured:
        answer = client.get("/api/v1/incidents")

    assert len(answer.json()["items"]) == 13
    assert sum(built.values()) == 0, built
    reads = [q["sql"] for q in captured.captured_queries if "incidents_incident" in q["sql"]]
    assert len(reads) == 2, reads  # the page (with its names), and the page's affected items


def test_recording_answers_as_reading_it_back_does(client_for, requester, service):
    laptop = make_item("laptop-9", assigned_to=requester)
    client = client_for(requester)

    created = client.post(
        "/api/v1/incidents",
        {
            "title": "Laptop does not start",
            "description": "Black screen",
            "service": service.pk,
            "impact": 2,
            "urgency": 3,
            "cis": [laptop.pk],
        },
        content_type="application/json",
    )

    assert created.status_code == 201
    assert created["Content-Type"].startswith("application/json")
    body = created.json()
    assert body["affected_cis"] == [{"id": laptop.pk, "number": laptop.number, "name": "laptop-9"}]
    assert without_clock_seconds(body) == without_clock_seconds(generic(client, body["number"]))


def test_recording_reads_nothing_after_its_writes(token_client_for, requester, service):
    client = token_client_for(requester)
    body = {"title": "Printer jam", "service": service.pk, "impact": 3, "urgency": 3}
    assert (
        client.post("/api/v1/incidents", body, content_type="application/json").status_code == 201
    )

    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/incidents", body, content_type="application/json")

    assert response.status_code == 201
    statements = [q["sql"].split(" ", 1)[0].upper() for q in captured.captured_queries]
    # The token and the service were read moments ago: only the writes of one transaction.
    assert "SELECT" not in statements, captured.captured_queries


def record(client: Client, service_id: int):
    body = {"title": "Printer jam", "service": service_id, "impact": 3, "urgency": 3}
    return client.post("/api/v1/incidents", body, content_type="application/json")


def service_reads(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if 'FROM "catalog_service"' in q["sql"]]


def test_the_service_named_is_read_once_for_many_recordings(token_client_for, requester, service):
    client = token_client_for(requester)
    with CaptureQueriesContext(connection) as first:
        assert record(client, service.pk).status_code == 201
    with CaptureQueriesContext(connection) as second:
        assert record(client, service.pk).status_code == 201

    assert len(service_reads(first)) == 1
    assert service_reads(second) == []


def test_a_service_retired_here_is_refused_at_once(
    token_client_for, requester, service, administrator
):
    client = token_client_for(requester)
    assert record(client, service.pk).status_code == 201

    catalog_actions.update_service(actor=administrator, service=service, is_active=False)
    response = record(client, service.pk)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["service"]


def test_a_service_routed_to_another_team_here_routes_new_incidents_at_once(
    token_client_for, requester, service, administrator
):
    client = token_client_for(requester)
    assert record(client, service.pk).status_code == 201
    other = ServiceFactory(name="Printers").team

    catalog_actions.update_service(actor=administrator, service=service, team=other)

    assert record(client, service.pk).json()["team"]["id"] == other.pk


def test_a_missing_service_is_named(token_client_for, requester):
    response = record(token_client_for(requester), 999_999)

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "service", "message": "No service with id 999999."}
    ]
