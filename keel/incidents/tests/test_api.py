"""The incident API: the recording contract, bad input, scope as 404, the whole lifecycle,
optimistic concurrency, the conversation, attachments, and constant query counts."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from keel.catalog import queries as catalog_queries
from keel.catalog.tests.factories import CategoryFactory, ServiceFactory
from keel.core.roles import Role
from keel.core.tests.factories import UserFactory
from keel.incidents import actions
from keel.incidents.models import Incident, IncidentEvent
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

API = "/api/v1"
OFFSET = re.compile(r"T\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")


@pytest.fixture(autouse=True)
def _fresh_catalogue_cache():
    """The catalogue caches targets and the matrix per process; each test starts from its rows."""
    catalog_queries.invalidate()
    yield
    catalog_queries.invalidate()


@pytest.fixture
def service():
    return ServiceFactory(name="Laptops")


@pytest.fixture
def desk_agent(service):
    """An agent in the team the service routes to."""
    return agent_in(service.team, name="Dana Agent")


@pytest.fixture
def other_agent(service):
    return agent_in(service.team, name="Olu Agent")


def post(client: Client, path: str, body=None):
    return client.post(f"{API}{path}", body or {}, content_type="application/json")


def patch(client: Client, path: str, body):
    return client.patch(f"{API}{path}", body, content_type="application/json")


def report(on, **fields) -> dict:
    """A request body reporting a fault with the service ``on``; ``fields`` override."""
    return {
        "title": "Laptop does not start",
        "description": "Black screen after the logo.",
        "service": on.pk,
        "impact": 2,
        "urgency": 2,
        **fields,
    }


def error_field(response, status: int) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"]
    return body["errors"][0]["field"]


def assert_offset_timestamp(value: str) -> None:
    assert OFFSET.search(value), value
    assert datetime.fromisoformat(value).utcoffset() is not None


# Recording


def test_requester_records_an_incident_and_gets_the_contract_fields(client_for, requester, service):
    response = post(client_for(requester), "/incidents", report(service))

    assert response.status_code == 201, response.content
    body = response.json()
    assert re.fullmatch(r"INC-\d+", body["number"])
    assert body["status"] == "new"
    assert body["priority"] == "P3"
    assert body["version"] == 1
    assert body["service"] == {"id": service.pk, "name": "Laptops"}
    assert body["team"]["id"] == service.team_id
    assert body["requester"]["id"] == requester.pk
    assert body["channel"] == "portal"
    assert body["sla"]["state"] == "ok"
    assert body["transitions"] == ["assign", "start", "resolve", "cancel"]
    for field in ("respond_by", "resolve_by", "created_at"):
        assert_offset_timestamp(body[field])
    assert body["respond_by"] < body["resolve_by"]


def test_requester_is_sent_the_acknowledgement_with_the_number(
    client_for, requester, service, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client_for(requester), "/incidents", report(service))

    number = response.json()["number"]
    acknowledgements = [m for m in mail.outbox if requester.email in m.to]
    assert len(acknowledgements) == 1
    assert number in acknowledgements[0].subject


def test_times_are_given_in_the_callers_time_zone_with_its_offset(client_for, make_user, service):
    person = make_user(Role.REQUESTER, time_zone="Asia/Shanghai")

    body = post(client_for(person), "/incidents", report(service)).json()

    assert body["respond_by"].endswith("+08:00")
    stored = Incident.objects.get(number=body["number"]).respond_by
    assert datetime.fromisoformat(body["respond_by"]) == stored


def test_bearer_token_records_an_incident(token_client_for, requester, service):
    response = post(token_client_for(requester), "/incidents", report(service))

    assert response.status_code == 201
    assert Incident.objects.get(number=response.json()["number"]).requester == requester


def test_agent_records_an_incident_by_phone_on_behalf_of_a_requester(
    client_for, desk_agent, requester, service
):
    body = report(service, requester=requester.pk, channel="phone")

    response = post(client_for(desk_agent), "/incidents", body)

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["requester"]["id"] == requester.pk
    assert created["reported_by_id"] == desk_agent.pk
    assert created["channel"] == "phone"


def test_requester_cannot_record_an_incident_for_someone_else(client_for, requester, service):
    someone = UserFactory(roles=[Role.REQUESTER.value])

    response = post(client_for(requester), "/incidents", report(service, requester=someone.pk))

    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_requester_naming_a_person_who_does_not_exist_learns_nothing(
    client_for, requester, service
):
    response = post(client_for(requester), "/incidents", report(service, requester=999_999))

    assert response.status_code == 403


def test_recording_without_authentication_is_refused(client, service):
    response = post(client, "/incidents", report(service))

    assert response.status_code == 401


def test_agent_naming_a_missing_requester_gets_a_field_error(client_for, desk_agent, service):
    response = post(client_for(desk_agent), "/incidents", report(service, requester=999_999))

    assert error_field(response, 422) == "requester"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"service": 999_999}, "service"),
        ({"impact": 4}, "impact"),
        ({"impact": 0}, "impact"),
        ({"urgency": 9}, "urgency"),
        ({"impact": "high"}, "impact"),
        ({"title": "x" * 201}, "title"),
        ({"title": "   "}, "title"),
        ({"channel": "pigeon"}, "channel"),
        ({"category": 999_999}, "category"),
        ({"description": "x" * 20_001}, "description"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    client_for, requester, service, change, field
):
    response = post(client_for(requester), "/incidents", report(service, **change))

    assert error_field(response, 422) == field
    assert not Incident.objects.exists()
    assert not IncidentEvent.objects.exists()


def test_missing_title_is_refused_naming_it(client_for, requester, service):
    body = report(service)
    del body["title"]

    response = post(client_for(requester), "/incidents", body)

    assert error_field(response, 422) == "title"


def test_retired_service_is_refused(client_for, requester):
    retired = ServiceFactory(is_active=False)

    response = post(client_for(requester), "/incidents", report(retired))

    assert error_field(response, 422) == "service"


def test_markup_in_the_title_is_stored_and_returned_as_plain_text(client_for, requester, service):
    title = '<script>alert("x")</script><b>bold</b>'

    created = post(client_for(requester), "/incidents", report(service, title=title)).json()

    assert created["title"] == title
    fetched = client_for(requester).get(f"{API}/incidents/{created['number']}").json()
    assert fetched["title"] == title
    assert Incident.objects.get(number=created["number"]).title == title


def test_five_level_impact_is_accepted_once_the_scale_has_five_levels(
    client_for, administrator, requester, service
):
    from keel.catalog import actions as catalog_actions
    from keel.catalog.priority import default_matrix

    catalog_actions.set_priority_matrix(actor=administrator, levels=5, rules=default_matrix(5))

    response = post(client_for(requester), "/incidents", report(service, impact=5, urgency=5))

    assert response.status_code == 201, response.content
    assert response.json()["priority"] == "P5"


# Reading: scope


def test_requester_lists_only_their_own_incidents(client_for, requester, service):
    mine = open_incident(requester=requester, service=service)
    open_incident(service=service)

    items = client_for(requester).get(f"{API}/incidents").json()["items"]

    assert [i["number"] for i in items] == [mine.number]


def test_requester_gets_404_not_403_for_another_persons_incident(client_for, requester, service):
    theirs = open_incident(service=service)

    response = client_for(requester).get(f"{API}/incidents/{theirs.number}")

    assert response.status_code == 404


def test_requester_cannot_move_another_persons_incident(client_for, requester, service):
    theirs = open_incident(service=service)

    response = post(client_for(requester), f"/incidents/{theirs.number}/cancel", {"reason": "no"})

    assert response.status_code == 404


def test_department_manager_sees_their_departments_incidents(
    client_for, department, department_manager, service
):
    colleague = UserFactory(roles=[Role.REQUESTER.value], department=department)
    theirs = open_incident(requester=colleague, service=service)
    open_incident(service=service)  # another department's

    client = client_for(department_manager)
    items = client.get(f"{API}/incidents").json()["items"]

    assert [i["number"] for i in items] == [theirs.number]
    assert client.get(f"{API}/incidents/{theirs.number}").status_code == 200


def test_agent_outside_the_team_gets_404(client_for, service):
    outsider = agent_in(ServiceFactory().team)
    incident = open_incident(service=service)

    response = client_for(outsider).get(f"{API}/incidents/{incident.number}")

    assert response.status_code == 404


def test_number_is_found_whatever_its_case(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = client_for(requester).get(f"{API}/incidents/{incident.number.lower()}")

    assert response.status_code == 200


# Reading: filters and pagination


def test_list_filters_by_team_and_open_status(client_for, desk_agent, service, administrator):
    wanted = open_incident(service=service)
    done = open_incident(service=service)
    actions.cancel(actor=administrator, incident=done, reason="Duplicate")
    open_incident()  # another team's

    response = client_for(administrator).get(
        f"{API}/incidents", {"team": service.team_id, "status": "open"}
    )

    assert response.status_code == 200
    assert [i["number"] for i in response.json()["items"]] == [wanted.number]


def test_cursor_pagination_walks_every_row_once_urgent_first_then_by_deadline(
    client_for, administrator, service
):
    for impact, urgency in [(3, 3), (1, 1), (2, 2), (1, 2), (3, 1), (2, 3), (1, 1)]:
        open_incident(service=service, impact=impact, urgency=urgency)
    client = client_for(administrator)

    seen, cursor, pages = [], "", 0
    while True:
        body = client.get(f"{API}/incidents", {"limit": 3, "cursor": cursor}).json()
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    expected = list(
        Incident.objects.order_by("priority", "resolve_by", "id").values_list("number", flat=True)
    )
    assert [i["number"] for i in seen] == expected
    assert len(set(expected)) == 7
    assert pages == 3
    assert [i["priority"] for i in seen] == sorted(i["priority"] for i in seen)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"priority": "P9"}, "priority"),
        ({"team": "network"}, "team"),
        ({"queue": "everything-ever"}, "queue"),
        ({"assignee": "bob"}, "assignee"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
    ids=lambda v: str(v),
)
def test_bad_filter_is_refused_naming_it(client_for, administrator, params, field):
    response = client_for(administrator).get(f"{API}/incidents", params)

    assert error_field(response, 422) == field


def test_list_query_count_does_not_grow_with_the_rows(
    client_for, desk_agent, service, django_assert_max_num_queries
):
    client = client_for(desk_agent)
    for _ in range(3):
        open_incident(service=service)
    # The page, its rows, and their affected items (one prefetch): the same for 3 rows or 30.
    with django_assert_max_num_queries(7) as few:
        assert len(client.get(f"{API}/incidents").json()["items"]) == 3

    for _ in range(27):
        open_incident(service=service)
    with django_assert_max_num_queries(7) as many:
        assert len(client.get(f"{API}/incidents").json()["items"]) == 30

    assert len(many.captured_queries) == len(few.captured_queries)


# The lifecycle


def test_the_whole_lifecycle_through_the_api(client_for, desk_agent, requester, service):
    agent = client_for(desk_agent)
    number = post(client_for(requester), "/incidents", report(service)).json()["number"]

    steps = [
        ("assign", {"assignee": desk_agent.pk}, "assigned"),
        ("start", None, "in_progress"),
        ("hold", {"reason": "awaiting_supplier", "note": "Part ordered"}, "on_hold"),
        ("resume", None, "in_progress"),
        ("resolve", {"code": "hardware_replaced", "notes": "New mainboard"}, "resolved"),
    ]
    for name, body, status in steps:
        response = post(agent, f"/incidents/{number}/{name}", body)
        assert response.status_code == 200, (name, response.content)
        assert response.json()["status"] == status
    response = post(
        client_for(requester), f"/incidents/{number}/confirm", {"rating": 5, "comment": "Quick"}
    )

    assert response.status_code == 200, response.content
    closed = response.json()
    assert closed["status"] == "closed"
    assert closed["rating"] == 5
    assert closed["rating_comment"] == "Quick"
    assert closed["assignee"]["id"] == desk_agent.pk
    assert closed["resolution_code"] == "hardware_replaced"
    assert closed["transitions"] == ["reopen"]
    assert_offset_timestamp(closed["closed_at"])


def test_a_step_without_a_body_needs_no_body(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = client_for(desk_agent).generic("POST", f"{API}/incidents/{incident.number}/start")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "in_progress"


def test_hold_pauses_the_clock(client_for, desk_agent, service):
    incident = open_incident(service=service)
    client = client_for(desk_agent)
    post(client, f"/incidents/{incident.number}/start")

    body = post(client, f"/incidents/{incident.number}/hold", {"reason": "awaiting_change"}).json()

    assert body["sla"]["state"] == "paused"
    assert body["hold_reason"] == "awaiting_change"


def test_hold_needs_a_known_reason(client_for, desk_agent, service):
    incident = open_incident(service=service)
    client = client_for(desk_agent)
    post(client, f"/incidents/{incident.number}/start")

    response = post(client, f"/incidents/{incident.number}/hold", {"reason": "lunch"})

    assert error_field(response, 422) == "reason"


def test_resolving_needs_a_code_and_notes(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = post(
        client_for(desk_agent), f"/incidents/{incident.number}/resolve", {"code": "fixed"}
    )

    assert error_field(response, 422) == "notes"


def test_resolving_with_blank_notes_is_refused(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = post(
        client_for(desk_agent),
        f"/incidents/{incident.number}/resolve",
        {"code": "fixed", "notes": "  "},
    )

    assert error_field(response, 422) == "notes"
    assert Incident.objects.get(pk=incident.pk).status == "new"


def test_illegal_transition_is_a_conflict_naming_the_status(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = post(client_for(desk_agent), f"/incidents/{incident.number}/resume")

    assert error_field(response, 409) == "status"
    assert response.json()["code"] == "invalid_transition"


def test_requester_may_not_start_work_on_their_own_incident(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = post(client_for(requester), f"/incidents/{incident.number}/start")

    assert response.status_code == 403


def test_requester_cancels_their_own_new_incident_with_a_reason(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = post(
        client_for(requester), f"/incidents/{incident.number}/cancel", {"reason": "Works now"}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_cancelling_without_a_reason_is_refused(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = post(client_for(requester), f"/incidents/{incident.number}/cancel", {"reason": ""})

    assert error_field(response, 422) == "reason"


def test_requester_rejects_a_resolution_with_a_reason(client_for, desk_agent, requester, service):
    incident = open_incident(requester=requester, service=service)
    actions.resolve(actor=desk_agent, incident=incident, code="fixed", notes="Rebooted")

    response = post(
        client_for(requester), f"/incidents/{incident.number}/reject", {"reason": "Still black"}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"
    assert response.json()["reopen_count"] == 1


def test_requester_rates_a_closed_incident(client_for, desk_agent, requester, service):
    incident = open_incident(requester=requester, service=service)
    actions.resolve(actor=desk_agent, incident=incident, code="fixed", notes="Rebooted")
    actions.confirm(actor=requester, incident=incident)

    response = post(
        client_for(requester), f"/incidents/{incident.number}/rate", {"rating": 4, "comment": "Ok"}
    )

    assert response.status_code == 200
    assert response.json()["rating"] == 4


def test_rating_out_of_range_is_refused(client_for, desk_agent, requester, service):
    incident = open_incident(requester=requester, service=service)
    actions.resolve(actor=desk_agent, incident=incident, code="fixed", notes="Rebooted")

    response = post(client_for(requester), f"/incidents/{incident.number}/rate", {"rating": 6})

    assert error_field(response, 422) == "rating"


# Assignment


def test_reassignment_without_a_reason_is_refused(
    client_for, desk_agent, other_agent, service, team_lead
):
    incident = open_incident(service=service)
    actions.assign(actor=desk_agent, incident=incident, assignee=desk_agent)

    response = post(
        client_for(desk_agent), f"/incidents/{incident.number}/assign", {"assignee": other_agent.pk}
    )

    assert error_field(response, 422) == "reason"
    assert Incident.objects.get(pk=incident.pk).assignee == desk_agent


def test_reassignment_with_a_reason_is_counted(client_for, desk_agent, other_agent, service):
    incident = open_incident(service=service)
    actions.assign(actor=desk_agent, incident=incident, assignee=desk_agent)

    response = post(
        client_for(desk_agent),
        f"/incidents/{incident.number}/assign",
        {"assignee": other_agent.pk, "reason": "Olu knows this model"},
    )

    assert response.status_code == 200
    assert response.json()["reassignment_count"] == 1
    assert response.json()["assignee"]["id"] == other_agent.pk


def test_assigning_to_someone_outside_the_team_is_refused(client_for, desk_agent, service):
    incident = open_incident(service=service)
    stranger = agent_in(ServiceFactory().team)

    response = post(
        client_for(desk_agent), f"/incidents/{incident.number}/assign", {"assignee": stranger.pk}
    )

    assert error_field(response, 422) == "assignee"


def test_assigning_to_a_missing_team_names_the_field(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = post(
        client_for(desk_agent), f"/incidents/{incident.number}/assign", {"team": 999_999}
    )

    assert error_field(response, 422) == "team"


# Updates and optimistic concurrency


def test_agent_updates_the_title_and_the_version_moves_on(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = patch(
        client_for(desk_agent),
        f"/incidents/{incident.number}",
        {"version": 1, "title": "Laptop dead after update"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Laptop dead after update"
    assert response.json()["version"] == 2


def test_second_agent_writing_the_same_version_gets_409_with_the_current_version(
    client_for, desk_agent, other_agent, service
):
    incident = open_incident(service=service)
    first = patch(
        client_for(desk_agent), f"/incidents/{incident.number}", {"version": 1, "title": "First"}
    )

    second = patch(
        client_for(other_agent),
        f"/incidents/{incident.number}",
        {"version": 1, "description": "Second agent's long text"},
    )

    assert first.status_code == 200
    assert error_field(second, 409) == "version"
    body = second.json()
    assert body["code"] == "stale_version"
    assert body["current_version"] == 2
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.title, stored.version) == ("First", 2)
    assert stored.description != "Second agent's long text"


def test_stale_version_on_a_transition_gets_409(client_for, desk_agent, service):
    incident = open_incident(service=service)
    client = client_for(desk_agent)
    post(client, f"/incidents/{incident.number}/start", {"version": 1})

    response = post(
        client,
        f"/incidents/{incident.number}/resolve",
        {"code": "fixed", "notes": "Rebooted", "version": 1},
    )

    assert response.status_code == 409
    assert response.json()["current_version"] == 2


def test_update_without_a_version_is_refused(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = patch(client_for(desk_agent), f"/incidents/{incident.number}", {"title": "New"})

    assert error_field(response, 422) == "version"


def test_oversized_title_on_update_is_refused(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = patch(
        client_for(desk_agent), f"/incidents/{incident.number}", {"version": 1, "title": "x" * 201}
    )

    assert error_field(response, 422) == "title"


def test_requester_cannot_edit_their_incident_through_patch(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = patch(
        client_for(requester), f"/incidents/{incident.number}", {"version": 1, "title": "Mine"}
    )

    assert response.status_code == 403


def test_reclassifying_impact_recomputes_priority(client_for, desk_agent, service):
    incident = open_incident(service=service, impact=3, urgency=3)

    response = patch(
        client_for(desk_agent),
        f"/incidents/{incident.number}",
        {"version": 1, "impact": 1, "urgency": 1},
    )

    assert response.status_code == 200, response.content
    assert response.json()["priority"] == "P1"
    assert response.json()["resolve_by"] < incident.resolve_by.isoformat()


def test_team_lead_overrides_the_priority_with_a_reason(client_for, make_user, service):
    lead = agent_in(service.team)
    lead.groups.add(*make_user(Role.TEAM_LEAD).groups.all())
    incident = open_incident(service=service)

    response = patch(
        client_for(lead),
        f"/incidents/{incident.number}",
        {"version": 1, "priority": "P2", "reason": "The CEO's laptop"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["priority"] == "P2"
    assert response.json()["priority_reason"] == "The CEO's laptop"


def test_priority_override_without_a_reason_is_refused(client_for, make_user, service):
    lead = agent_in(service.team)
    lead.groups.add(*make_user(Role.TEAM_LEAD).groups.all())
    incident = open_incident(service=service)

    response = patch(
        client_for(lead), f"/incidents/{incident.number}", {"version": 1, "priority": "P1"}
    )

    assert error_field(response, 422) == "reason"


def test_title_and_priority_change_together_or_not_at_all(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = patch(
        client_for(desk_agent),
        f"/incidents/{incident.number}",
        {"version": 1, "title": "Changed", "impact": 7},
    )

    assert error_field(response, 422) == "impact"
    assert Incident.objects.get(pk=incident.pk).title == "Laptop does not start"


# Conversation, work log and timeline


def test_requester_sees_public_comments_but_not_internal_notes(
    client_for, desk_agent, requester, service
):
    incident = open_incident(requester=requester, service=service)
    post(
        client_for(desk_agent),
        f"/incidents/{incident.number}/comments",
        {"body": "Suspect the charger", "public": False},
    )
    post(client_for(desk_agent), f"/incidents/{incident.number}/comments", {"body": "On it"})

    mine = client_for(requester).get(f"{API}/incidents/{incident.number}/comments").json()
    staff = client_for(desk_agent).get(f"{API}/incidents/{incident.number}/comments").json()

    assert [c["body"] for c in mine] == ["On it"]
    assert [c["body"] for c in staff] == ["Suspect the charger", "On it"]


def test_requester_comment_is_public_even_when_asked_otherwise(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = post(
        client_for(requester),
        f"/incidents/{incident.number}/comments",
        {"body": "It beeps three times", "public": False},
    )

    assert response.status_code == 201
    assert response.json()["public"] is True
    assert response.json()["actor"]["id"] == requester.pk


def test_empty_comment_is_refused(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = post(client_for(requester), f"/incidents/{incident.number}/comments", {"body": ""})

    assert error_field(response, 422) == "body"


def test_agent_logs_work_and_reads_it_back(client_for, desk_agent, service):
    incident = open_incident(service=service)
    client = client_for(desk_agent)

    response = post(
        client, f"/incidents/{incident.number}/worklog", {"minutes": 25, "body": "Reseated RAM"}
    )
    listed = client.get(f"{API}/incidents/{incident.number}/worklog").json()

    assert response.status_code == 201
    assert [(w["minutes"], w["body"]) for w in listed] == [(25, "Reseated RAM")]


def test_requester_cannot_log_work(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = post(client_for(requester), f"/incidents/{incident.number}/worklog", {"minutes": 5})

    assert response.status_code == 403


def test_worklog_minutes_out_of_range_are_refused(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = post(client_for(desk_agent), f"/incidents/{incident.number}/worklog", {"minutes": 0})

    assert error_field(response, 422) == "minutes"


def test_requester_timeline_has_no_internal_entries(client_for, desk_agent, requester, service):
    incident = open_incident(requester=requester, service=service)
    actions.comment(actor=desk_agent, incident=incident, body="Internal", public=False)
    actions.log_work(actor=desk_agent, incident=incident, minutes=5)
    actions.start(actor=desk_agent, incident=incident)

    events = client_for(requester).get(f"{API}/incidents/{incident.number}/events").json()
    staff = client_for(desk_agent).get(f"{API}/incidents/{incident.number}/events").json()

    assert events
    assert all(e["public"] for e in events)
    assert {"comment", "worklog"} <= {e["kind"] for e in staff}
    assert_offset_timestamp(events[0]["at"])


# Attachments


def upload(client: Client, number: str, name: str, content: bytes):
    return client.post(
        f"{API}/incidents/{number}/attachments", {"file": SimpleUploadedFile(name, content)}
    )


def test_requester_attaches_a_screenshot_and_downloads_it(
    client_for, requester, service, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    incident = open_incident(requester=requester, service=service)
    client = client_for(requester)

    response = upload(client, incident.number, "screen.png", b"\x89PNG fake")
    listed = client.get(f"{API}/incidents/{incident.number}/attachments").json()
    download = client.get(f"{API}/incidents/{incident.number}/attachments/{listed[0]['id']}")

    assert response.status_code == 201, response.content
    assert response.json()["name"] == "screen.png"
    assert [a["name"] for a in listed] == ["screen.png"]
    assert b"".join(download.streaming_content) == b"\x89PNG fake"
    assert "attachment" in download["Content-Disposition"]


@override_settings(KEEL_ATTACHMENT_MAX_BYTES=10)
def test_attachment_over_the_size_limit_is_refused(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = upload(client_for(requester), incident.number, "log.txt", b"x" * 11)

    assert error_field(response, 422) == "file"
    assert not incident.attachments.exists()


def test_attachment_of_a_forbidden_type_is_refused(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = upload(client_for(requester), incident.number, "fix.exe", b"MZ")

    assert error_field(response, 422) == "file"
    assert not incident.attachments.exists()


def test_upload_without_a_file_names_the_field(client_for, requester, service):
    incident = open_incident(requester=requester, service=service)

    response = client_for(requester).post(f"{API}/incidents/{incident.number}/attachments", {})

    assert error_field(response, 422) == "file"


def test_attachment_of_someone_elses_incident_is_404(client_for, requester, service):
    theirs = open_incident(service=service)

    response = upload(client_for(requester), theirs.number, "screen.png", b"png")

    assert response.status_code == 404


# Major incidents


def test_team_lead_declares_a_major_incident_with_a_manager(
    client_for, make_user, desk_agent, service
):
    lead = agent_in(service.team)
    lead.groups.add(*make_user(Role.TEAM_LEAD).groups.all())
    incident = open_incident(service=service)

    response = post(
        client_for(lead), f"/incidents/{incident.number}/major", {"manager": desk_agent.pk}
    )

    assert response.status_code == 200, response.content
    assert response.json()["is_major"] is True
    assert response.json()["major_manager_id"] == desk_agent.pk


def test_agent_cannot_declare_a_major_incident(client_for, desk_agent, service):
    incident = open_incident(service=service)

    response = post(
        client_for(desk_agent), f"/incidents/{incident.number}/major", {"manager": desk_agent.pk}
    )

    assert response.status_code == 403


def test_major_incident_manager_must_exist(client_for, administrator, service):
    incident = open_incident(service=service)

    response = post(
        client_for(administrator), f"/incidents/{incident.number}/major", {"manager": 999_999}
    )

    assert error_field(response, 422) == "manager"


# Documentation


def test_openapi_schema_documents_the_incident_endpoints(client):
    paths = client.get(f"{API}/openapi.json").json()["paths"]

    assert f"{API}/incidents" in paths
    assert f"{API}/incidents/{{number}}/resolve" in paths
    assert f"{API}/incidents/{{number}}/attachments" in paths


def test_category_is_resolved_and_returned(client_for, requester, service):
    category = CategoryFactory(name="Hardware")

    response = post(client_for(requester), "/incidents", report(service, category=category.pk))

    assert response.json()["category"] == {"id": category.pk, "name": "Hardware"}
