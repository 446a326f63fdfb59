"""The JSON API under /api/v1/: authentication, one error shape, scope as 404, audit on writes."""

from __future__ import annotations

import json
import string
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string

from keel.core import actions, tasks
from keel.core.models import AuditEvent, PendingTask, Team, TeamMembership, User
from keel.core.roles import Role
from keel.core.tests.factories import DepartmentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


def post(client: Client, path: str, body) -> object:
    return client.post(f"{API}{path}", body, content_type="application/json")


def patch(client: Client, path: str, body) -> object:
    return client.patch(f"{API}{path}", body, content_type="application/json")


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status
    body = response.json()
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["errors"], list)
    return body


@pytest.fixture
def admin_client(client_for, administrator) -> Client:
    return client_for(administrator)


@pytest.fixture
def requester_client(client_for, requester) -> Client:
    return client_for(requester)


# Authentication


def test_request_without_authentication_is_refused(client):
    response = client.get(f"{API}/me")

    body = assert_error_shape(response, 401)
    assert body["errors"] == []
    assert response["WWW-Authenticate"] == 'Bearer realm="keel"'


def test_system_account_session_is_refused(client_for, system_actor):
    assert client_for(system_actor).get(f"{API}/me").status_code == 401


def test_me_describes_the_signed_in_person(requester_client, requester):
    body = requester_client.get(f"{API}/me").json()

    assert body["id"] == requester.pk
    assert body["username"] == requester.username
    assert body["roles"] == ["requester"]
    assert body["teams"] == []


# Health, schema and documentation


def test_health_needs_no_sign_in_and_reports_a_missing_worker(client):
    response = client.get(f"{API}/health")

    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["worker"] == {"ok": False, "detail": "no worker has reported"}
    assert body["status"] == "degraded"


def test_health_is_ok_once_a_worker_has_reported(client):
    tasks.beat()

    body = client.get(f"{API}/health").json()

    assert body["worker"]["ok"] is True
    assert body["status"] == "ok"


def test_health_is_degraded_while_queued_tasks_wait_for_the_worker(client):
    tasks.beat()
    PendingTask.objects.create(
        task="keel.incidents.notify.acknowledge", args=[1], created_at=timezone.now()
    )
    assert client.get(f"{API}/health").json()["worker"]["ok"] is True  # just queued: fine

    PendingTask.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    body = client.get(f"{API}/health").json()

    assert body["worker"]["ok"] is False
    assert "1 queued tasks wait, the oldest for 120 s" in body["worker"]["detail"]
    assert body["status"] == "degraded"


def test_openapi_schema_lists_the_endpoints(client):
    response = client.get(f"{API}/openapi.json")

    assert response.status_code == 200
    assert f"{API}/users" in response.json()["paths"]


def test_api_documentation_page_renders(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert b"openapi.json" in response.content


# Creating people


def test_administrator_creates_a_person_with_roles_and_teams(admin_client):
    team = TeamFactory()

    response = post(
        admin_client,
        "/users",
        {
            "username": "mei",
            "email": "mei@example.com",
            "roles": ["agent", "team_lead"],
            "teams": [team.pk],
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "mei"
    assert body["roles"] == ["agent", "team_lead"]
    assert [t["id"] for t in body["teams"]] == [team.pk]
    assert User.objects.get(username="mei").teams.get() == team


def test_requester_cannot_create_a_person(requester_client):
    response = post(requester_client, "/users", {"username": "mei"})

    assert_error_shape(response, 403)
    assert not User.objects.filter(username="mei").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"username": "mei", "email": "not-an-address"}, "email", id="bad-email"),
        pytest.param({"username": "mei", "roles": ["wizard"]}, "roles", id="unknown-role"),
        pytest.param({"username": "mei li"}, "username", id="username-with-space"),
        pytest.param({"email": "mei@example.com"}, "username", id="missing-username"),
        pytest.param({"username": "mei", "password": "short"}, "password", id="weak-password"),
        pytest.param(
            {"username": "mei", "time_zone": "Mars/Olympus"}, "time_zone", id="bad-time-zone"
        ),
        pytest.param({"username": "mei", "language": "fr"}, "language", id="bad-language"),
        pytest.param(
            {"username": "mei", "department": 999999}, "department", id="unknown-department"
        ),
        pytest.param({"username": "mei", "teams": [999999]}, "teams", id="unknown-team"),
    ],
)
def test_invalid_person_is_refused_naming_the_field(admin_client, body, field):
    response = post(admin_client, "/users", body)

    errors = assert_error_shape(response, 422)["errors"]
    assert errors[0]["field"] == field
    assert errors[0]["message"]
    assert not User.objects.filter(username="mei").exists()


def test_missing_body_is_reported_as_the_body(admin_client):
    response = admin_client.post(f"{API}/users", "", content_type="application/json")

    assert assert_error_shape(response, 422)["errors"][0]["field"] == "body"


def test_unreadable_json_is_a_bad_request(admin_client):
    response = post(admin_client, "/users", '{"username": ')

    assert_error_shape(response, 400)


def test_duplicate_username_is_a_conflict(admin_client, requester):
    response = post(admin_client, "/users", {"username": requester.username.upper()})

    body = assert_error_shape(response, 409)
    assert body["code"] == "conflict"
    assert body["errors"][0]["field"] == "username"


# Reading people: out of scope is missing, never forbidden


def test_requester_gets_not_found_for_another_person(requester_client, make_user):
    other = make_user(Role.REQUESTER)

    response = requester_client.get(f"{API}/users/{other.pk}")

    assert_error_shape(response, 404)


def test_out_of_scope_person_looks_exactly_like_a_missing_one(requester_client, make_user):
    other = make_user(Role.REQUESTER)

    hidden = requester_client.get(f"{API}/users/{other.pk}")
    missing = requester_client.get(f"{API}/users/{other.pk + 1000}")

    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())


def test_agent_can_read_another_person(client_for, agent, requester):
    response = client_for(agent).get(f"{API}/users/{requester.pk}")

    assert response.status_code == 200
    assert response.json()["username"] == requester.username


def test_department_manager_can_read_a_member_of_the_department(
    client_for, department_manager, department, make_user
):
    member = make_user(Role.REQUESTER, department=department)

    assert client_for(department_manager).get(f"{API}/users/{member.pk}").status_code == 200


def test_department_manager_gets_not_found_outside_the_department(
    client_for, department_manager, make_user
):
    outsider = make_user(Role.REQUESTER, department=DepartmentFactory())

    assert client_for(department_manager).get(f"{API}/users/{outsider.pk}").status_code == 404


def test_requester_lists_only_themselves(requester_client, requester, make_user):
    make_user(Role.REQUESTER)

    body = requester_client.get(f"{API}/users").json()

    assert [u["id"] for u in body["items"]] == [requester.pk]
    assert body["count"] == 1


def test_people_list_filters_by_role(client_for, agent, make_user):
    auditor = make_user(Role.AUDITOR)

    body = client_for(agent).get(f"{API}/users", {"role": "auditor"}).json()

    assert [u["id"] for u in body["items"]] == [auditor.pk]


@pytest.mark.parametrize("people", [3, 30])
def test_people_list_takes_the_same_queries_however_many_people(
    client_for, agent, django_assert_max_num_queries, people
):
    team = TeamFactory()
    for person in UserFactory.create_batch(people, roles=[Role.REQUESTER, Role.AGENT]):
        TeamMembership.objects.create(team=team, user=person)
    client = client_for(agent)

    with django_assert_max_num_queries(7):
        response = client.get(f"{API}/users")

    assert response.json()["count"] == people + 1


# Changing people


def test_person_changes_their_own_language(requester_client, requester):
    response = patch(requester_client, "/me", {"language": "zh-hans"})

    assert response.status_code == 200
    assert response.json()["language"] == "zh-hans"
    requester.refresh_from_db()
    assert requester.language == "zh-hans"


def test_unknown_language_is_refused_naming_the_field(requester_client):
    response = patch(requester_client, "/me", {"language": "klingon"})

    assert assert_error_shape(response, 422)["errors"][0]["field"] == "language"


def test_requester_gets_not_found_changing_another_person(requester_client, make_user):
    other = make_user(Role.REQUESTER)

    response = patch(requester_client, f"/users/{other.pk}", {"name": "Renamed"})

    assert_error_shape(response, 404)
    other.refresh_from_db()
    assert other.name != "Renamed"


def test_requester_cannot_deactivate_themselves(requester_client, requester):
    response = patch(requester_client, f"/users/{requester.pk}", {"is_active": False})

    assert_error_shape(response, 403)
    requester.refresh_from_db()
    assert requester.is_active


def test_requester_cannot_give_themselves_a_role(requester_client, requester):
    response = patch(requester_client, f"/users/{requester.pk}", {"roles": ["administrator"]})

    assert_error_shape(response, 403)
    assert list(requester.groups.values_list("name", flat=True)) == ["requester"]


def test_agent_cannot_change_another_person(client_for, agent, requester):
    response = patch(client_for(agent), f"/users/{requester.pk}", {"name": "Renamed"})

    assert_error_shape(response, 403)


def test_administrator_changes_a_persons_department_and_roles(admin_client, requester):
    department = DepartmentFactory()

    response = patch(
        admin_client, f"/users/{requester.pk}", {"department": department.pk, "roles": ["agent"]}
    )

    assert response.status_code == 200
    assert response.json()["department_id"] == department.pk
    assert response.json()["roles"] == ["agent"]


# Teams


def test_staff_list_teams_with_their_members(client_for, agent):
    team = TeamFactory()
    TeamMembership.objects.create(team=team, user=agent)

    body = client_for(agent).get(f"{API}/teams").json()

    assert [(t["id"], [m["id"] for m in t["members"]]) for t in body] == [(team.pk, [agent.pk])]


@pytest.mark.parametrize("path", ["teams", "departments", "calendars", "roles"])
def test_requester_cannot_list_the_organisations_reference_data(client_for, requester, path):
    response = client_for(requester).get(f"{API}/{path}")

    assert response.status_code == 403
    assert response.json()["detail"]


@pytest.mark.parametrize("path", ["teams", "departments", "calendars", "roles"])
def test_agent_lists_the_organisations_reference_data(client_for, agent, path):
    assert client_for(agent).get(f"{API}/{path}").status_code == 200


def test_invalid_json_gets_a_readable_400(admin_client):
    response = admin_client.post(f"{API}/users", data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"] == "The request body is not valid JSON."


def test_a_bearer_token_wins_over_a_session_cookie_without_csrf(client_for, requester, make_user):
    administrator = make_user(Role.ADMINISTRATOR)
    _token, raw = actions.create_api_token(actor=administrator, user=administrator)
    client = client_for(requester, enforce_csrf_checks=True)

    response = client.post(
        f"{API}/users",
        data={"username": "made-by-token", "email": "t@example.com"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )

    assert response.status_code == 201


def test_administrator_creates_a_team_with_its_lead_as_member(admin_client, team_lead):
    response = post(
        admin_client, "/teams", {"name": "Network", "code": "net", "lead": team_lead.pk}
    )

    assert response.status_code == 201
    assert response.json()["lead_id"] == team_lead.pk
    assert [m["id"] for m in response.json()["members"]] == [team_lead.pk]


def test_team_lead_cannot_create_a_team(client_for, team_lead):
    response = post(client_for(team_lead), "/teams", {"name": "Network", "code": "net"})

    assert_error_shape(response, 403)
    assert not Team.objects.exists()


def test_team_lead_adds_a_member_to_their_own_team(client_for, team_lead, agent):
    team = TeamFactory(lead=team_lead)

    response = post(client_for(team_lead), f"/teams/{team.pk}/members", {"user": agent.pk})

    assert response.status_code == 201
    assert agent.pk in [m["id"] for m in response.json()["members"]]


def test_another_teams_lead_cannot_add_a_member(client_for, make_user, agent):
    team = TeamFactory(lead=make_user(Role.AGENT, Role.TEAM_LEAD))
    other_lead = make_user(Role.AGENT, Role.TEAM_LEAD)

    response = post(client_for(other_lead), f"/teams/{team.pk}/members", {"user": agent.pk})

    assert_error_shape(response, 403)
    assert not team.members.exists()


def test_agent_cannot_add_a_member(client_for, agent, requester):
    team = TeamFactory()

    response = post(client_for(agent), f"/teams/{team.pk}/members", {"user": requester.pk})

    assert_error_shape(response, 403)


def test_adding_a_member_to_a_missing_team_is_not_found(admin_client, agent):
    assert post(admin_client, "/teams/999999/members", {"user": agent.pk}).status_code == 404


# CSRF on session writes


def test_session_write_without_csrf_token_is_refused(client_for, administrator):
    client = client_for(administrator, enforce_csrf_checks=True)

    response = post(client, "/users", {"username": "mei"})

    assert_error_shape(response, 403)
    assert not User.objects.filter(username="mei").exists()


def test_session_write_with_csrf_token_is_accepted(client_for, administrator):
    client = client_for(administrator, enforce_csrf_checks=True)
    secret = get_random_string(32, string.ascii_letters + string.digits)
    client.cookies["csrftoken"] = secret

    response = client.post(
        f"{API}/users",
        json.dumps({"username": "mei"}),
        content_type="application/json",
        headers={"X-CSRFToken": secret},
    )

    assert response.status_code == 201


def test_session_read_needs_no_csrf_token(client_for, requester):
    assert client_for(requester, enforce_csrf_checks=True).get(f"{API}/me").status_code == 200


# Every write leaves an audit event


@pytest.fixture
def world(administrator, make_user) -> dict[str, int]:
    """Ids the writes below refer to: ``{team}`` in a path, ``"$team"`` in a body."""
    person, newcomer = make_user(Role.REQUESTER), make_user(Role.REQUESTER)
    team = TeamFactory(lead=administrator)
    TeamMembership.objects.create(team=team, user=person)
    organisation = DepartmentFactory().organisation
    return {
        "person": person.pk,
        "newcomer": newcomer.pk,
        "team": team.pk,
        "organisation": organisation.pk,
    }


WRITES = [
    ("post", "/users", {"username": "mei"}, "user.created"),
    ("patch", "/me", {"name": "Ada"}, "user.updated"),
    ("patch", "/users/{person}", {"phone": "+86 21 1234"}, "user.updated"),
    ("patch", "/users/{person}", {"roles": ["agent"]}, "user.roles_changed"),
    ("post", "/teams", {"name": "Desk", "code": "desk"}, "team.created"),
    ("post", "/teams/{team}/members", {"user": "$newcomer"}, "team.member_added"),
    ("delete", "/teams/{team}/members/{person}", None, "team.member_removed"),
    (
        "post",
        "/departments",
        {"name": "Finance", "code": "fin", "organisation": "$organisation"},
        "department.created",
    ),
    ("post", "/tokens", {"name": "ci"}, "api_token.created"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "action"), WRITES, ids=[f"{w[0]}-{w[3]}" for w in WRITES]
)
def test_every_write_records_an_audit_event(
    admin_client, administrator, world, method, path, body, action
):
    before = AuditEvent.objects.count()
    kwargs = {}
    if body is not None:
        data = {k: world[v[1:]] if str(v).startswith("$") else v for k, v in body.items()}
        kwargs = {"data": data, "content_type": "application/json"}

    response = getattr(admin_client, method)(f"{API}{path.format(**world)}", **kwargs)

    assert response.status_code in {200, 201, 204}, response.content
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-seq").first()
    assert (event.action, event.actor_id) == (action, administrator.pk)


def test_revoking_a_token_records_an_audit_event(admin_client):
    token_id = post(admin_client, "/tokens", {"name": "ci"}).json()["id"]

    response = admin_client.delete(f"{API}/tokens/{token_id}")

    assert response.status_code == 204
    assert AuditEvent.objects.order_by("-seq").first().action == "api_token.revoked"


def test_refused_write_records_nothing(requester_client):
    before = AuditEvent.objects.count()

    post(requester_client, "/users", {"username": "mei"})

    assert AuditEvent.objects.count() == before


def test_answers_are_the_json_ninja_would_write():
    import uuid
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from django.utils.translation import gettext_lazy
    from ninja.renderers import JSONRenderer

    from keel.api import JsonRenderer

    data = {
        "at": datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=UTC),
        "day": date(2026, 11, 24),
        "cost": Decimal("1234.50"),
        "label": gettext_lazy("Not found."),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "title": "打印机 “卡纸” <b>&",
        1: [None, True, 2.5, {"nested": ["x"]}],
    }

    ours = JsonRenderer().render(None, data, response_status=200)
    theirs = JSONRenderer().render(None, data, response_status=200)

    assert json.loads(ours) == json.loads(theirs)
    assert json.loads(ours)["at"] == "2026-11-24T09:30:15.123Z"  # ninja's milliseconds
    assert "打印机".encode() in ours  # UTF-8, not \\u escapes


def test_an_api_answer_in_chinese_reads_back(client, make_user):
    user = make_user("requester", name="王小明")
    client.force_login(user)

    response = client.get(f"{API}/me")

    assert response["Content-Type"].startswith("application/json")
    assert response.json()["name"] == "王小明"
