"""API for contacts and incident reports: who may read and write, the filters and cursor,
bad input named by field, and the report's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from keel.catalog.tests.factories import ServiceFactory
from keel.core.roles import Role
from keel.core.tests.factories import TeamFactory, UserFactory
from keel.incidents import actions
from keel.incidents.models import Incident, Interaction
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def service(db):
    return ServiceFactory(name="E-mail")


@pytest.fixture
def desk_agent(service):
    return agent_in(service.team, name="Ada Agent")


@pytest.fixture
def caller(make_user):
    return make_user(Role.REQUESTER, name="Carl Caller")


def post(client, path, body):
    return client.post(f"{API}{path}", body, content_type="application/json")


def log(agent, **values):
    return actions.record_interaction(
        actor=agent, channel=values.pop("channel", "phone"), summary="Call", **values
    )


def test_an_agent_records_a_contact_linked_to_an_incident(
    token_client_for, desk_agent, caller, service
):
    incident = open_incident(requester=caller, service=service)
    response = post(
        token_client_for(desk_agent),
        "/contacts",
        {
            "channel": "email",
            "summary": "Sent a screenshot",
            "contact": caller.pk,
            "incident": incident.number,
            "handle_seconds": 120,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == "CON-000001"
    assert body["incident"] == incident.number
    assert body["contact"]["id"] == caller.pk
    assert body["agent"]["id"] == desk_agent.pk
    assert body["channel_label"] == "E-mail"


def test_a_contact_opens_an_incident(token_client_for, desk_agent, caller, service):
    response = post(
        token_client_for(desk_agent),
        "/contacts",
        {
            "channel": "phone",
            "summary": "VPN drops every hour",
            "contact": caller.pk,
            "service": service.pk,
            "new_incident": {"impact": 3, "urgency": 2},
        },
    )
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(number=response.json()["incident"])
    assert incident.title == "VPN drops every hour"
    assert incident.requester == caller


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax", "summary": "x"}, "channel"),
        ({"channel": "phone", "summary": ""}, "summary"),
        ({"channel": "phone", "summary": "x", "handle_seconds": -5}, "handle_seconds"),
        ({"channel": "phone", "summary": "x", "contact": 999999}, "contact"),
        ({"channel": "phone", "summary": "x", "service": 999999}, "service"),
        ({"channel": "phone", "summary": "x", "ci": 999999}, "ci"),
        (
            {
                "channel": "phone",
                "summary": "x",
                "started_at": "2025-03-03T10:00:00Z",
                "ended_at": "2025-03-03T09:00:00Z",
            },
            "ended_at",
        ),
        ({"summary": "x"}, "channel"),
    ],
)
def test_bad_input_names_the_field(token_client_for, desk_agent, body, field):
    response = post(token_client_for(desk_agent), "/contacts", body)
    assert response.status_code == 422, response.content
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not Interaction.objects.exists()


def test_an_incident_out_of_scope_is_not_found(token_client_for, desk_agent, caller):
    elsewhere = open_incident(requester=caller, service=ServiceFactory(team=TeamFactory()))
    response = post(
        token_client_for(desk_agent),
        "/contacts",
        {"channel": "phone", "summary": "x", "incident": elsewhere.number},
    )
    assert response.status_code == 404
    assert not Interaction.objects.exists()


def test_requesters_neither_read_nor_record_contacts(token_client_for, desk_agent, caller):
    contact = log(desk_agent, contact=caller)
    client = token_client_for(caller)
    assert client.get(f"{API}/contacts").status_code == 403
    assert client.get(f"{API}/contacts/{contact.number}").status_code == 404
    assert post(client, "/contacts", {"channel": "phone", "summary": "x"}).status_code == 403


def test_an_auditor_reads_contacts_but_does_not_record_them(token_client_for, desk_agent, auditor):
    contact = log(desk_agent)
    client = token_client_for(auditor)
    assert client.get(f"{API}/contacts/{contact.number}").json()["number"] == contact.number
    assert post(client, "/contacts", {"channel": "phone", "summary": "x"}).status_code == 403


def test_the_list_filters_and_pages_newest_first(
    token_client_for, desk_agent, django_assert_max_num_queries
):
    now = timezone.now()
    for minutes in range(5):
        log(desk_agent, started_at=now - timedelta(minutes=minutes), resolved_first_contact=True)
    log(desk_agent, channel="chat", started_at=now - timedelta(hours=1))
    client = token_client_for(desk_agent)

    first = client.get(f"{API}/contacts", {"limit": 2, "resolved": "true"}).json()
    assert [c["number"] for c in first["items"]] == ["CON-000001", "CON-000002"]
    seen = [c["number"] for c in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        with django_assert_max_num_queries(6):
            page = client.get(
                f"{API}/contacts", {"limit": 2, "resolved": "true", "cursor": cursor}
            ).json()
        seen += [c["number"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [f"CON-00000{n}" for n in range(1, 6)]
    chats = client.get(f"{API}/contacts", {"channel": "chat"}).json()["items"]
    assert [c["number"] for c in chats] == ["CON-000006"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"resolved": "maybe"}, "resolved"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2025-03-05", "until": "2025-03-01"}, "until"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_filters_name_the_parameter(token_client_for, desk_agent, params, field):
    response = token_client_for(desk_agent).get(f"{API}/contacts", params)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


def test_the_date_range_includes_both_days(token_client_for, desk_agent):
    log(desk_agent, started_at=datetime(2025, 3, 1, 23, 30, tzinfo=UTC))
    log(desk_agent, started_at=datetime(2025, 3, 3, 0, 30, tzinfo=UTC))
    client = token_client_for(desk_agent)
    page = client.get(f"{API}/contacts", {"since": "2025-03-01", "until": "2025-03-01"}).json()
    assert [c["number"] for c in page["items"]] == ["CON-000001"]


def test_an_incidents_contacts(token_client_for, desk_agent, caller, service):
    incident = open_incident(requester=caller, service=service)
    log(desk_agent, incident=incident)
    log(desk_agent)
    client = token_client_for(desk_agent)
    body = client.get(f"{API}/incidents/{incident.number}/contacts").json()
    assert [c["number"] for c in body] == ["CON-000001"]
    # The requester may read the incident, but not its contacts.
    assert (
        token_client_for(caller).get(f"{API}/incidents/{incident.number}/contacts").status_code
        == 403
    )
    other = agent_in(TeamFactory())
    assert (
        token_client_for(other).get(f"{API}/incidents/{incident.number}/contacts").status_code
        == 404
    )


# --- reports ------------------------------------------------------------------------------------


def test_the_report_gives_the_figures(token_client_for, desk_agent, caller, service):
    incident = open_incident(requester=caller, service=service, impact=3, urgency=3)
    Incident.objects.filter(pk=incident.pk).update(
        resolved_at=incident.created_at + timedelta(hours=2)
    )
    log(desk_agent, resolved_first_contact=True)
    log(desk_agent)
    response = token_client_for(desk_agent).get(f"{API}/reports/incidents")
    assert response.status_code == 200
    body = response.json()
    assert body["incidents"] == 1
    assert body["by_priority"] == {str(incident.priority): 1}
    assert body["median_hours_to_resolve"] == pytest.approx(2.0)
    assert body["interactions"] == 2
    assert body["first_contact_rate"] == pytest.approx(0.5)
    assert len(body["months"]) == 1


def test_the_report_filters_by_service_team_and_days(token_client_for, desk_agent, service):
    open_incident(service=service)
    other = ServiceFactory()
    open_incident(service=other)
    client = token_client_for(desk_agent)
    assert client.get(f"{API}/reports/incidents", {"service": service.pk}).json()["incidents"] == 1
    assert client.get(f"{API}/reports/incidents", {"team": other.team_id}).json()["incidents"] == 1
    today = timezone.localdate().isoformat()
    assert client.get(f"{API}/reports/incidents", {"until": today}).json()["incidents"] == 2
    assert client.get(f"{API}/reports/incidents", {"until": "2000-01-01"}).json()["incidents"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [({"since": "3 March"}, "since"), ({"service": "mail"}, "service"), ({"team": "x"}, "team")],
)
def test_the_report_names_a_bad_parameter(token_client_for, desk_agent, params, field):
    response = token_client_for(desk_agent).get(f"{API}/reports/incidents", params)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_requesters_do_not_read_reports(token_client_for, caller, department_manager):
    assert token_client_for(caller).get(f"{API}/reports/incidents").status_code == 403
    assert token_client_for(department_manager).get(f"{API}/reports/incidents").status_code == 403


@pytest.mark.parametrize("role", [Role.AGENT, Role.TEAM_LEAD, Role.SERVICE_OWNER, Role.AUDITOR])
def test_staff_read_reports(token_client_for, make_user, role):
    response = token_client_for(make_user(role)).get(f"{API}/reports/incidents")
    assert response.status_code == 200


def test_an_agent_links_a_contact_to_an_incident(token_client_for, desk_agent, caller, service):
    incident = open_incident(requester=caller, service=service)
    contact = log(desk_agent)
    client = token_client_for(desk_agent)
    response = post(client, f"/contacts/{contact.number}/incident", {"incident": incident.number})
    assert response.status_code == 200
    assert response.json()["incident"] == incident.number
    elsewhere = open_incident(requester=caller, service=ServiceFactory(team=TeamFactory()))
    refused = post(client, f"/contacts/{contact.number}/incident", {"incident": elsewhere.number})
    assert refused.status_code == 404
    auditor = token_client_for(UserFactory(roles=[Role.AUDITOR.value]))
    assert (
        post(
            auditor, f"/contacts/{contact.number}/incident", {"incident": incident.number}
        ).status_code
        == 403
    )


@pytest.mark.parametrize("count", [1, 15])
def test_an_incidents_contacts_take_a_fixed_number_of_queries(
    token_client_for, desk_agent, caller, service, count, django_assert_max_num_queries
):
    incident = open_incident(requester=caller, service=service)
    for _n in range(count):
        log(desk_agent, incident=incident, contact=caller)
    client = token_client_for(desk_agent)
    with django_assert_max_num_queries(8):
        body = client.get(f"{API}/incidents/{incident.number}/contacts").json()
    assert len(body) == count
    assert {c["incident"] for c in body} == {incident.number}
