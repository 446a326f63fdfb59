"""The major-incident API: stakeholder updates, linked incidents, the post-incident review (who may
write it, what completing it needs, closure waiting for it), assigning many incidents at once as
all or nothing, and constant query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keel.catalog.tests.factories import ServiceFactory
from keel.core.models import AuditEvent
from keel.core.roles import Role
from keel.incidents import actions
from keel.incidents.models import EventKind, Incident, IncidentEvent, PostIncidentReview
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

API = "/api/v1"
REVIEW = {
    "timeline": "09:00 switch failed; 09:40 replaced.",
    "cause": "A firmware bug in the core switch.",
    "went_well": "The standby path took over.",
    "went_badly": "Monitoring paged nobody for 20 minutes.",
}


@pytest.fixture
def service():
    return ServiceFactory(name="Network")


@pytest.fixture
def desk_agent(service):
    """An agent in the service's team: works incidents, may not run the major procedure."""
    return agent_in(service.team, name="Dana Agent")


@pytest.fixture
def other_agent(service):
    return agent_in(service.team, name="Olu Agent")


@pytest.fixture
def lead(service, make_user):
    """A team lead in the service's team: holds incidents.manage_major_incident."""
    person = agent_in(service.team, name="Lee Lead")
    person.groups.add(*make_user(Role.TEAM_LEAD).groups.all())
    return person


@pytest.fixture
def major(service, requester, lead, desk_agent):
    """A major incident reported by ``requester``, run by ``desk_agent``."""
    incident = open_incident(requester=requester, service=service, title="Network down")
    return actions.declare_major(actor=lead, incident=incident, manager=desk_agent)


def post(client: Client, path: str, body=None):
    return client.post(f"{API}{path}", body or {}, content_type="application/json")


def put(client: Client, path: str, body):
    return client.put(f"{API}{path}", body, content_type="application/json")


def error_fields(response, status: int) -> list[str]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"]
    return [e["field"] for e in body["errors"]]


def stored_review(incident: Incident) -> PostIncidentReview:
    return PostIncidentReview.objects.get(incident=incident)


# Stakeholder updates


def test_agent_posts_an_update_that_the_requester_reads(client_for, desk_agent, requester, major):
    response = post(
        client_for(desk_agent),
        f"/incidents/{major.number}/communications",
        {"body": "Engineers are replacing the switch.", "audience": "All staff"},
    )
    listed = client_for(requester).get(f"{API}/incidents/{major.number}/communications")

    assert response.status_code == 201, response.content
    event = response.json()
    assert (event["kind"], event["public"]) == ("communication", True)
    assert event["data"] == {"audience": "All staff"}
    assert event["actor"]["id"] == desk_agent.pk
    assert listed.status_code == 200
    assert [e["body"] for e in listed.json()] == ["Engineers are replacing the switch."]


def test_update_on_an_incident_that_is_not_major_is_409(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = post(
        client_for(desk_agent), f"/incidents/{incident.number}/communications", {"body": "Hello"}
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "invalid_transition"
    assert not IncidentEvent.objects.filter(kind=EventKind.COMMUNICATION).exists()


def test_requester_cannot_post_an_update_on_their_major_incident(client_for, requester, major):
    response = post(
        client_for(requester), f"/incidents/{major.number}/communications", {"body": "When?"}
    )

    assert response.status_code == 403


def test_updates_of_someone_elses_major_incident_are_404_for_a_requester(
    client_for, make_user, major
):
    response = client_for(make_user(Role.REQUESTER)).get(
        f"{API}/incidents/{major.number}/communications"
    )

    assert response.status_code == 404


def test_empty_update_is_refused_naming_the_body(client_for, desk_agent, major):
    response = post(
        client_for(desk_agent), f"/incidents/{major.number}/communications", {"body": "  "}
    )

    assert error_fields(response, 422) == ["body"]


# Linked incidents


def test_agent_links_an_incident_they_can_see_and_lists_it(client_for, desk_agent, major, service):
    child = open_incident(service=service, title="No Wi-Fi on floor 3")
    client = client_for(desk_agent)

    response = post(client, f"/incidents/{major.number}/children", {"number": child.number})
    listed = client.get(f"{API}/incidents/{major.number}/children")

    assert response.status_code == 201, response.content
    assert response.json()["number"] == child.number
    assert response.json()["parent_id"] == major.pk
    assert Incident.objects.get(pk=child.pk).parent_id == major.pk
    assert [c["number"] for c in listed.json()] == [child.number]


def test_linking_an_incident_out_of_scope_names_the_number(client_for, desk_agent, major):
    elsewhere = open_incident(service=ServiceFactory())  # another team's: invisible to the agent

    response = post(
        client_for(desk_agent), f"/incidents/{major.number}/children", {"number": elsewhere.number}
    )

    assert error_fields(response, 422) == ["number"]
    assert Incident.objects.get(pk=elsewhere.pk).parent_id is None


def test_linking_a_number_that_does_not_exist_names_the_number(client_for, desk_agent, major):
    response = post(
        client_for(desk_agent), f"/incidents/{major.number}/children", {"number": "INC-999999"}
    )

    assert error_fields(response, 422) == ["number"]


def test_requester_cannot_link_incidents(client_for, requester, major, service):
    own = open_incident(requester=requester, service=service)

    response = post(
        client_for(requester), f"/incidents/{major.number}/children", {"number": own.number}
    )

    assert response.status_code == 403
    assert Incident.objects.get(pk=own.pk).parent_id is None


def test_requester_lists_only_the_linked_incidents_they_may_see(
    client_for, desk_agent, requester, major, service
):
    own = open_incident(requester=requester, service=service)
    theirs = open_incident(service=service)
    for child in (own, theirs):
        actions.link_child(actor=desk_agent, major=major, child=child)

    listed = client_for(requester).get(f"{API}/incidents/{major.number}/children").json()
    staff = client_for(desk_agent).get(f"{API}/incidents/{major.number}/children").json()

    assert [c["number"] for c in listed] == [own.number]
    assert [c["number"] for c in staff] == [own.number, theirs.number]


# The post-incident review: who may read and write it


def test_staff_read_the_review_with_its_actions(client_for, desk_agent, lead, major):
    actions.add_review_action(
        actor=lead,
        incident=major,
        description="Page on switch loss",
        owner=desk_agent,
        due=timezone.localdate() + timedelta(days=14),
    )

    response = client_for(desk_agent).get(f"{API}/incidents/{major.number}/review")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["completed_at"] is None
    assert body["timeline"] == ""
    assert [(a["description"], a["owner"]["id"]) for a in body["actions"]] == [
        ("Page on switch loss", desk_agent.pk)
    ]
    assert body["actions"][0]["due"] == (timezone.localdate() + timedelta(days=14)).isoformat()


def test_review_of_an_incident_that_is_not_major_is_404(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = client_for(desk_agent).get(f"{API}/incidents/{incident.number}/review")

    assert response.status_code == 404


def test_requester_may_not_read_the_review_of_their_major_incident(client_for, requester, major):
    response = client_for(requester).get(f"{API}/incidents/{major.number}/review")

    assert response.status_code == 403


def test_someone_elses_review_is_404_for_a_requester(client_for, make_user, major):
    response = client_for(make_user(Role.REQUESTER)).get(f"{API}/incidents/{major.number}/review")

    assert response.status_code == 404


def test_team_lead_writes_the_review(client_for, lead, major):
    response = put(client_for(lead), f"/incidents/{major.number}/review", {"cause": "Firmware"})

    assert response.status_code == 200, response.content
    assert response.json()["cause"] == "Firmware"
    assert stored_review(major).cause == "Firmware"


def test_parts_left_out_keep_their_text(client_for, lead, major):
    client = client_for(lead)
    put(client, f"/incidents/{major.number}/review", {"cause": "Firmware", "timeline": "09:00"})

    response = put(client, f"/incidents/{major.number}/review", {"timeline": "09:00 down"})

    assert response.json()["cause"] == "Firmware"
    assert response.json()["timeline"] == "09:00 down"


def test_agent_without_the_major_incident_permission_cannot_write_the_review(
    client_for, desk_agent, major
):
    assert not desk_agent.has_perm("incidents.manage_major_incident")
    client = client_for(desk_agent)

    written = put(client, f"/incidents/{major.number}/review", {"cause": "Guess"})
    action = post(
        client,
        f"/incidents/{major.number}/review/actions",
        {"description": "Buy a new switch", "owner": desk_agent.pk},
    )

    assert written.status_code == 403
    assert action.status_code == 403
    assert stored_review(major).cause == ""
    assert not stored_review(major).actions.exists()


def test_requester_cannot_write_the_review_of_their_major_incident(client_for, requester, major):
    response = put(client_for(requester), f"/incidents/{major.number}/review", {"cause": "Me"})

    assert response.status_code == 403


def test_someone_elses_review_cannot_be_written_by_a_requester(client_for, make_user, major):
    response = put(
        client_for(make_user(Role.REQUESTER)), f"/incidents/{major.number}/review", {"cause": "X"}
    )

    assert response.status_code == 404


def test_review_of_an_incident_that_is_not_major_cannot_be_written(client_for, lead, service):
    incident = open_incident(service=service)

    response = put(client_for(lead), f"/incidents/{incident.number}/review", {"cause": "X"})

    assert response.status_code == 409
    assert not PostIncidentReview.objects.filter(incident=incident).exists()


def test_review_action_names_a_missing_owner(client_for, lead, major):
    response = post(
        client_for(lead),
        f"/incidents/{major.number}/review/actions",
        {"description": "Buy a new switch", "owner": 999_999},
    )

    assert error_fields(response, 422) == ["owner"]


def test_review_action_needs_a_description(client_for, lead, desk_agent, major):
    response = post(
        client_for(lead),
        f"/incidents/{major.number}/review/actions",
        {"description": " ", "owner": desk_agent.pk},
    )

    assert error_fields(response, 422) == ["description"]


# The post-incident review: completing it


def test_completing_an_empty_review_names_every_missing_part(client_for, lead, major):
    response = put(client_for(lead), f"/incidents/{major.number}/review", {"complete": True})

    assert error_fields(response, 422) == [
        "timeline",
        "cause",
        "went_well",
        "went_badly",
        "actions",
    ]
    assert stored_review(major).completed_at is None


def test_completing_without_an_action_is_refused_and_keeps_nothing(client_for, lead, major):
    response = put(client_for(lead), f"/incidents/{major.number}/review", {**REVIEW, "complete": 1})

    assert error_fields(response, 422) == ["actions"]
    review = stored_review(major)
    assert (review.completed_at, review.cause) == (None, "")


def test_team_lead_completes_the_review_and_it_no_longer_changes(
    client_for, lead, desk_agent, major
):
    client = client_for(lead)
    added = post(
        client,
        f"/incidents/{major.number}/review/actions",
        {"description": "Page on switch loss", "owner": desk_agent.pk},
    )

    response = put(client, f"/incidents/{major.number}/review", {**REVIEW, "complete": True})
    again = put(client, f"/incidents/{major.number}/review", {"cause": "Something else"})
    late = post(
        client,
        f"/incidents/{major.number}/review/actions",
        {"description": "Too late", "owner": desk_agent.pk},
    )

    assert added.status_code == 201, added.content
    assert added.json()["owner"]["id"] == desk_agent.pk
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["completed_at"] is not None
    assert body["completed_by"]["id"] == lead.pk
    assert body["cause"] == REVIEW["cause"]
    assert [a["description"] for a in body["actions"]] == ["Page on switch loss"]
    assert again.status_code == 409
    assert late.status_code == 409
    assert stored_review(major).cause == REVIEW["cause"]
    assert stored_review(major).actions.count() == 1


# Closure waits for the review


def test_a_major_incident_confirmed_before_its_review_closes_as_the_review_completes(
    client_for, requester, desk_agent, lead, major
):
    agent, owner = client_for(desk_agent), client_for(requester)
    resolved = post(
        agent, f"/incidents/{major.number}/resolve", {"code": "fixed", "notes": "Switch replaced"}
    )

    kept = post(owner, f"/incidents/{major.number}/confirm", {"rating": 4})

    assert resolved.status_code == 200, resolved.content
    assert kept.status_code == 200, kept.content
    assert (kept.json()["status"], kept.json()["rating"]) == ("resolved", 4)
    again = post(owner, f"/incidents/{major.number}/confirm")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"

    writer = client_for(lead)
    post(
        writer,
        f"/incidents/{major.number}/review/actions",
        {"description": "Page on switch loss", "owner": desk_agent.pk},
    )
    completed = put(writer, f"/incidents/{major.number}/review", {**REVIEW, "complete": True})

    assert completed.status_code == 200, completed.content
    assert Incident.objects.get(pk=major.pk).status == "closed"


def test_a_major_incident_confirmed_after_its_review_closes_at_once(
    client_for, requester, desk_agent, lead, major
):
    post(
        client_for(desk_agent),
        f"/incidents/{major.number}/resolve",
        {"code": "fixed", "notes": "Switch replaced"},
    )
    writer = client_for(lead)
    post(
        writer,
        f"/incidents/{major.number}/review/actions",
        {"description": "Page on switch loss", "owner": desk_agent.pk},
    )
    put(writer, f"/incidents/{major.number}/review", {**REVIEW, "complete": True})

    confirmed = post(client_for(requester), f"/incidents/{major.number}/confirm", {"rating": 4})

    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == "closed"


def test_auto_close_waits_for_the_review_then_closes(
    client_for, desk_agent, lead, major, system_actor
):
    post(
        client_for(desk_agent),
        f"/incidents/{major.number}/resolve",
        {"code": "fixed", "notes": "Replaced"},
    )
    later = timezone.now() + timedelta(days=30)

    assert actions.auto_close_resolved(actor=system_actor, now=later) == []
    assert Incident.objects.get(pk=major.pk).status == "resolved"

    actions.add_review_action(actor=lead, incident=major, description="Page", owner=desk_agent)
    put(client_for(lead), f"/incidents/{major.number}/review", {**REVIEW, "complete": True})

    assert actions.auto_close_resolved(actor=system_actor, now=later) == [major.number]
    assert Incident.objects.get(pk=major.pk).status == "closed"


# Assigning many at once


def bulk(client: Client, body: dict):
    return post(client, "/incidents/bulk-assign", body)


def test_agent_assigns_several_incidents_at_once(client_for, desk_agent, service):
    first, second = open_incident(service=service), open_incident(service=service)

    response = bulk(
        client_for(desk_agent),
        {"numbers": [first.number, second.number.lower()], "assignee": desk_agent.pk},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert [i["number"] for i in body] == [first.number, second.number]
    assert {i["assignee"]["id"] for i in body} == {desk_agent.pk}
    assert {i["status"] for i in body} == {"assigned"}
    assert set(Incident.objects.values_list("assignee_id", flat=True)) == {desk_agent.pk}


def test_bulk_assign_with_one_incident_out_of_scope_assigns_none(client_for, desk_agent, service):
    mine = open_incident(service=service)
    elsewhere = open_incident(service=ServiceFactory())  # another team's
    after = open_incident(service=service)
    audited = AuditEvent.objects.count()

    response = bulk(
        client_for(desk_agent),
        {"numbers": [mine.number, elsewhere.number, after.number], "assignee": desk_agent.pk},
    )

    assert response.status_code == 404, response.content
    body = response.json()
    assert body["number"] == elsewhere.number
    assert elsewhere.number in body["detail"]
    assert not Incident.objects.filter(assignee__isnull=False).exists()
    assert set(Incident.objects.values_list("version", flat=True)) == {1}
    assert not IncidentEvent.objects.filter(kind=EventKind.ASSIGNMENT).exists()
    assert AuditEvent.objects.count() == audited


def test_bulk_assign_answers_with_the_first_failing_incidents_field_error(
    client_for, desk_agent, other_agent, service
):
    free = open_incident(service=service)
    taken = open_incident(service=service)
    actions.assign(actor=desk_agent, incident=taken, assignee=other_agent)

    response = bulk(
        client_for(desk_agent), {"numbers": [free.number, taken.number], "assignee": desk_agent.pk}
    )

    assert error_fields(response, 422) == ["reason"]
    assert response.json()["number"] == taken.number
    assert taken.number in response.json()["detail"]
    assert Incident.objects.get(pk=free.pk).assignee_id is None
    assert Incident.objects.get(pk=taken.pk).assignee_id == other_agent.pk


def test_requester_bulk_assigning_their_own_incident_is_refused(client_for, requester, service):
    own = open_incident(requester=requester, service=service)

    response = bulk(client_for(requester), {"numbers": [own.number], "team": service.team_id})

    assert response.status_code == 403
    assert response.json()["number"] == own.number
    assert Incident.objects.get(pk=own.pk).assigned_at is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({"numbers": []}, "numbers"), ({"numbers": ["INC-1"], "team": 999_999}, "team")],
    ids=["no numbers", "missing team"],
)
def test_bulk_assign_bad_input_names_the_field(client_for, desk_agent, body, field):
    response = bulk(client_for(desk_agent), body)

    assert error_fields(response, 422) == [field]


# Query counts


def test_review_query_count_does_not_grow_with_its_actions(
    client_for, desk_agent, lead, major, django_assert_max_num_queries
):
    client = client_for(desk_agent)
    path = f"{API}/incidents/{major.number}/review"

    def add_actions(count: int) -> None:
        for n in range(count):
            owner = agent_in(major.team, name=f"Owner {n}")
            actions.add_review_action(actor=lead, incident=major, description="Act", owner=owner)

    add_actions(1)
    with django_assert_max_num_queries(12) as few:
        assert len(client.get(path).json()["actions"]) == 1
    add_actions(9)
    with django_assert_max_num_queries(12) as many:
        assert len(client.get(path).json()["actions"]) == 10

    assert len(many.captured_queries) == len(few.captured_queries)
