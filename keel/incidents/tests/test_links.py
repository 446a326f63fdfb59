"""Incidents naming configuration items: recording with them (API and forms), who may name
which, retired items refused, "is this already known?", and deleting a named item refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from keel.catalog import queries as catalog_queries
from keel.catalog.tests.factories import ServiceFactory
from keel.cmdb import actions as cmdb_actions
from keel.cmdb.models import ConfigurationItem
from keel.cmdb.tests.factories import RelationKindFactory, make_item, relate
from keel.core.actions import system_user
from keel.core.errors import Conflict, FieldError, StaleVersion
from keel.core.roles import Role
from keel.core.tests.factories import UserFactory
from keel.incidents import actions, queries
from keel.incidents.models import EventKind, Incident
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_catalogue_cache():
    catalog_queries.invalidate()
    yield
    catalog_queries.invalidate()


@pytest.fixture
def service():
    return ServiceFactory(name="Laptops")


@pytest.fixture
def desk_agent(service):
    return agent_in(service.team, name="Dana Agent")


@pytest.fixture
def person():
    return UserFactory(roles=[Role.REQUESTER.value])


@pytest.fixture
def laptop(person):
    return make_item("laptop-7", assigned_to=person)


@pytest.fixture
def graph():
    """app runs on vm runs on host; "other" stands alone."""
    kind = RelationKindFactory()
    host, vm, app, other = (make_item(n) for n in ("host-1", "vm-1", "app-1", "other-1"))
    relate(app, kind, vm)
    relate(vm, kind, host)
    return {"host": host, "vm": vm, "app": app, "other": other}


def post(client: Client, path: str, body):
    return client.post(f"{API}{path}", body, content_type="application/json")


def body(service, **fields):
    return {"title": "Laptop is dead", "service": service.pk, "impact": 2, "urgency": 2, **fields}


def errors_of(response) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


# Recording with items


def test_requester_reports_on_own_device_through_the_api(client_for, person, laptop, service):
    response = post(client_for(person), "/incidents", body(service, cis=[laptop.pk]))
    assert response.status_code == 201, response.content
    assert response.json()["affected_cis"] == [
        {"id": laptop.pk, "number": laptop.number, "name": "laptop-7"}
    ]
    incident = Incident.objects.get(number=response.json()["number"])
    assert list(incident.affected_cis.all()) == [laptop]


def test_requester_cannot_name_someone_elses_device(client_for, person, service):
    theirs = make_item("their-laptop", assigned_to=UserFactory(roles=[Role.REQUESTER.value]))
    response = post(client_for(person), "/incidents", body(service, cis=[theirs.pk]))
    assert response.status_code == 422
    assert errors_of(response) == {"cis"}
    assert not Incident.objects.exists()


def test_unknown_and_retired_items_are_refused(client_for, desk_agent, service):
    retired = make_item("old-srv")
    ConfigurationItem.objects.filter(pk=retired.pk).update(status="retired")
    client = client_for(desk_agent)
    for cis in ([retired.pk], [999_999], ["x"]):
        response = post(client, "/incidents", body(service, cis=cis))
        assert response.status_code == 422, cis
        assert {f.split(".")[0] for f in errors_of(response)} == {"cis"}
    with pytest.raises(FieldError) as caught:
        actions.open_incident(
            actor=desk_agent, title="t", service=service, impact=2, urgency=2, cis=[retired]
        )
    assert [f for f, _m in caught.value.errors] == ["cis"]


def test_agent_changes_the_items_with_the_version(client_for, desk_agent, laptop, graph):
    incident = open_incident(service=ServiceFactory(team=desk_agent.teams.first()))
    client = client_for(desk_agent)
    response = client.patch(
        f"{API}/incidents/{incident.number}",
        {"version": incident.version, "cis": [laptop.pk, graph["vm"].pk]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert [c["number"] for c in response.json()["affected_cis"]] == sorted(
        [laptop.number, graph["vm"].number]
    )
    assert response.json()["version"] == incident.version + 1
    event = incident.events.get(kind=EventKind.LINK)
    assert set(event.data["cis_added"]) == {laptop.number, graph["vm"].number}
    stale = client.patch(
        f"{API}/incidents/{incident.number}",
        {"version": incident.version, "cis": []},
        content_type="application/json",
    )
    assert stale.status_code == 409


def test_requester_may_not_change_items_afterwards(person, laptop, service):
    incident = open_incident(requester=person, service=service)
    with pytest.raises(PermissionDenied):
        actions.set_affected_cis(actor=person, incident=incident, cis=[laptop])
    with pytest.raises(StaleVersion):
        actions.set_affected_cis(actor=system_user(), incident=incident, cis=[laptop], version=99)


def test_portal_form_offers_my_devices_and_records_one(client_for, person, laptop, service):
    client = client_for(person)
    page = client.get("/portal/report/")
    assert "Which device?" in page.content.decode()
    assert f"laptop-7 ({laptop.number})" in page.content.decode()
    theirs = make_item("their-laptop", assigned_to=UserFactory(roles=[Role.REQUESTER.value]))
    assert "their-laptop" not in page.content.decode()
    form = {"service": service.pk, "title": "Dead", "urgency": 2, "impact": 2}
    refused = client.post("/portal/report/", {**form, "ci": theirs.pk})
    assert refused.status_code == 422
    assert not Incident.objects.exists()
    response = client.post("/portal/report/", {**form, "ci": laptop.pk})
    assert response.status_code == 302
    assert list(Incident.objects.get().affected_cis.all()) == [laptop]


def test_agent_form_takes_a_ci_number(client_for, desk_agent, person, laptop, service):
    client = client_for(desk_agent)
    form = {
        "requester": person.username,
        "channel": "phone",
        "service": service.pk,
        "title": "Dead",
        "urgency": 2,
        "impact": 2,
    }
    bad = client.post("/incidents/new/", {**form, "ci": "CI-999999"})
    assert bad.status_code == 422
    assert "no configuration item" in bad.content.decode()
    response = client.post("/incidents/new/", {**form, "ci": laptop.number})
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert list(incident.affected_cis.all()) == [laptop]
    page = client.get(f"/incidents/{incident.number}/").content.decode()
    assert laptop.number in page
    assert "Change the affected items" in page

    changed = client.post(
        f"/incidents/{incident.number}/cis/", {"version": incident.version, "cis": "CI-000999"}
    )
    assert changed.status_code == 422
    emptied = client.post(f"/incidents/{incident.number}/cis/", {"version": incident.version})
    assert emptied.status_code == 302
    assert not incident.affected_cis.exists()


# Is this already known?


def test_known_issues_on_the_item_and_on_what_it_depends_on(desk_agent, graph, service):
    on_host = open_incident(
        service=service, title="Host down", cis=[graph["host"]], actor=system_user()
    )
    on_app = open_incident(
        service=service, title="App slow", cis=[graph["app"]], actor=system_user()
    )
    open_incident(service=service, title="Elsewhere", cis=[graph["other"]], actor=system_user())
    closed = open_incident(service=service, title="Old", cis=[graph["vm"]], actor=system_user())
    Incident.objects.filter(pk=closed.pk).update(status="closed", is_open=False)

    found = queries.known_issues([graph["app"].pk], desk_agent)
    assert [(k.incident, k.ci, k.direct) for k in found] == [
        (on_app, graph["app"], True),
        (on_host, graph["host"], False),
    ]
    # Dependencies run one way: the host does not depend on the app.
    assert [k.incident for k in queries.known_issues([graph["host"].pk], desk_agent)] == [on_host]


def test_known_issues_keep_to_what_the_viewer_may_see(person, laptop, service):
    mine = open_incident(requester=person, service=service, cis=[laptop])
    open_incident(service=service, cis=[laptop], actor=system_user())
    assert [k.incident for k in queries.known_issues([laptop.pk], person)] == [mine]
    stranger = UserFactory(roles=[Role.REQUESTER.value])
    assert queries.known_issues([laptop.pk], stranger) == []


def test_known_issues_api_and_panel(client_for, desk_agent, graph, service):
    open_incident(service=service, title="Host down", cis=[graph["host"]], actor=system_user())
    client = client_for(desk_agent)
    response = client.get(f"{API}/incidents/known-issues", {"cis": f"{graph['app'].pk}"})
    assert response.status_code == 200, response.content
    [row] = response.json()
    assert row["ci"]["number"] == graph["host"].number
    assert row["direct"] is False
    bad = client.get(f"{API}/incidents/known-issues", {"cis": "1,x"})
    assert bad.status_code == 422
    assert errors_of(bad) == {"cis"}
    panel = client.get("/incidents/known-issues/", {"ci": graph["app"].number})
    assert "Is this already known?" in panel.content.decode()
    assert "Host down" in panel.content.decode()


def test_known_issues_query_count_is_constant(
    client_for, desk_agent, graph, service, django_assert_max_num_queries
):
    client = client_for(desk_agent)
    url = f"{API}/incidents/known-issues"
    cis = f"{graph['app'].pk}"
    open_incident(service=service, cis=[graph["host"]], actor=system_user())
    client.get(url, {"cis": cis})  # warm the session and permission caches
    with django_assert_max_num_queries(12) as few:
        assert len(client.get(url, {"cis": cis}).json()) == 1
    for _ in range(8):
        open_incident(
            service=service, cis=[graph["vm"], graph["host"], graph["app"]], actor=system_user()
        )
    with django_assert_max_num_queries(12) as many:
        assert len(client.get(url, {"cis": cis}).json()) == 9
    assert len(many.captured_queries) == len(few.captured_queries)


# Deleting a named item


def test_deleting_an_item_an_open_incident_names_is_refused(service):
    admin = UserFactory(roles=[Role.ADMINISTRATOR.value])
    item = make_item("printer-3")
    incident = open_incident(service=service, cis=[item], actor=system_user())
    with pytest.raises(Conflict) as caught:
        cmdb_actions.delete_ci(actor=admin, item=item)
    assert "open incidents" in str(caught.value.message)
    Incident.objects.filter(pk=incident.pk).update(status="closed", is_open=False)
    cmdb_actions.delete_ci(actor=admin, item=item)
    assert not ConfigurationItem.objects.filter(pk=item.pk).exists()
