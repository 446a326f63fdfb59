"""Actions own every write to people, teams and calendars: permission, validation, audit."""

from __future__ import annotations

from datetime import time

import pytest
from django.core.exceptions import PermissionDenied

from keel.core import actions, audit
from keel.core.errors import Conflict, FieldError
from keel.core.models import AuditEvent, BusinessCalendar, TeamMembership, User
from keel.core.roles import Role
from keel.core.tests.factories import BusinessCalendarFactory, DepartmentFactory, TeamFactory

pytestmark = pytest.mark.django_db

NINE, NOON, ONE, FIVE = time(9), time(12), time(13), time(17)


def fields_of(error: FieldError) -> list[str]:
    return [field for field, _message in error.errors]


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-seq").first()


# create_user


def test_create_user_gives_roles_and_teams_and_records_it(administrator):
    team = TeamFactory()

    person = actions.create_user(
        actor=administrator,
        username="mei",
        roles=[Role.AGENT],
        teams=[team],
        password="a-long-pass-phrase",
    )

    assert list(person.groups.values_list("name", flat=True)) == ["agent"]
    assert list(person.teams.all()) == [team]
    assert person.check_password("a-long-pass-phrase")
    event = last_event()
    assert (event.action, event.object_id) == ("user.created", str(person.pk))
    assert event.changes["roles"] == [None, ["agent"]]


def test_create_user_without_password_cannot_log_in(administrator):
    person = actions.create_user(actor=administrator, username="mei")

    assert not person.has_usable_password()


def test_create_user_refuses_a_short_password_naming_the_field(administrator):
    with pytest.raises(FieldError) as refused:
        actions.create_user(actor=administrator, username="mei", password="short")

    assert fields_of(refused.value) == ["password"]
    assert not User.objects.filter(username="mei").exists()


def test_create_user_refuses_a_password_like_the_user_name(administrator):
    with pytest.raises(FieldError) as refused:
        actions.create_user(actor=administrator, username="meilingzhang", password="meilingzhang1")

    assert fields_of(refused.value) == ["password"]


def test_create_user_refuses_a_common_password(administrator):
    with pytest.raises(FieldError) as refused:
        actions.create_user(actor=administrator, username="mei", password="password1234")

    assert fields_of(refused.value) == ["password"]


def test_create_user_refuses_a_taken_user_name_whatever_its_case(administrator, requester):
    with pytest.raises(Conflict) as refused:
        actions.create_user(actor=administrator, username=requester.username.upper())

    assert fields_of(refused.value) == ["username"]


def test_create_user_requires_a_user_name(administrator):
    with pytest.raises(FieldError) as refused:
        actions.create_user(actor=administrator, username="  ")

    assert "username" in fields_of(refused.value)


@pytest.mark.parametrize("username", ["mei li", "mei/li", "mei;drop"])
def test_create_user_refuses_a_user_name_with_spaces_or_symbols(administrator, username):
    with pytest.raises(FieldError) as refused:
        actions.create_user(actor=administrator, username=username)

    assert fields_of(refused.value) == ["username"]


def test_create_user_reports_every_bad_profile_field_at_once(administrator):
    with pytest.raises(FieldError) as refused:
        actions.create_user(
            actor=administrator,
            username="mei",
            email="nope",
            language="fr",
            time_zone="Mars/Olympus",
        )

    assert fields_of(refused.value) == ["email", "language", "time_zone"]


def test_create_user_refuses_an_unknown_role(administrator):
    with pytest.raises(FieldError) as refused:
        actions.create_user(actor=administrator, username="mei", roles=["wizard"])

    assert fields_of(refused.value) == ["roles"]


def test_create_user_requires_permission(agent):
    with pytest.raises(PermissionDenied):
        actions.create_user(actor=agent, username="mei")

    assert not User.objects.filter(username="mei").exists()


def test_administrator_role_gives_access_to_the_admin_site(administrator):
    person = actions.create_user(actor=administrator, username="root2", roles=[Role.ADMINISTRATOR])

    assert person.is_staff


# update_user


def test_person_updates_their_own_profile(requester):
    old_name = requester.name

    actions.update_user(actor=requester, user=requester, name="Mei Li", language="zh-hans")

    requester.refresh_from_db()
    assert (requester.name, requester.language) == ("Mei Li", "zh-hans")
    assert last_event().changes == {"name": [old_name, "Mei Li"], "language": ["en", "zh-hans"]}


@pytest.mark.parametrize(
    ("field", "value"),
    [("is_active", False), ("username", "renamed"), ("department", None), ("manager", None)],
)
def test_person_cannot_change_their_own_account_fields(requester, field, value):
    with pytest.raises(PermissionDenied):
        actions.update_user(actor=requester, user=requester, **{field: value})


def test_person_cannot_update_someone_else(requester, make_user):
    other = make_user(Role.REQUESTER)

    with pytest.raises(PermissionDenied):
        actions.update_user(actor=requester, user=other, name="Renamed")


def test_administrator_moves_a_person_to_another_department(administrator, requester):
    department = DepartmentFactory()

    actions.update_user(actor=administrator, user=requester, department=department)

    requester.refresh_from_db()
    assert requester.department == department
    assert last_event().changes == {"department": [None, department.pk]}


def test_update_without_a_change_records_nothing(requester):
    before = AuditEvent.objects.count()

    actions.update_user(actor=requester, user=requester, language=requester.language)

    assert AuditEvent.objects.count() == before


def test_person_cannot_be_their_own_manager(administrator, requester):
    with pytest.raises(FieldError) as refused:
        actions.update_user(actor=administrator, user=requester, manager=requester)

    assert fields_of(refused.value) == ["manager"]


def test_update_refuses_fields_that_cannot_be_changed_here(administrator, requester):
    with pytest.raises(FieldError) as refused:
        actions.update_user(actor=administrator, user=requester, is_superuser=True)

    assert fields_of(refused.value) == ["is_superuser"]


# set_roles


def test_set_roles_replaces_the_roles_and_records_both_sides(administrator, requester):
    actions.set_roles(
        actor=administrator, user=requester, roles=[Role.AGENT], reason="joined the desk"
    )

    assert list(requester.groups.values_list("name", flat=True)) == ["agent"]
    event = last_event()
    assert event.changes == {"roles": [["requester"], ["agent"]]}
    assert event.reason == "joined the desk"


def test_set_roles_to_the_same_roles_records_nothing(administrator, requester):
    before = AuditEvent.objects.count()

    actions.set_roles(actor=administrator, user=requester, roles=[Role.REQUESTER])

    assert AuditEvent.objects.count() == before


def test_team_lead_cannot_set_roles(team_lead, requester):
    with pytest.raises(PermissionDenied):
        actions.set_roles(actor=team_lead, user=requester, roles=[Role.AGENT])


# Teams


def test_create_team_makes_the_lead_a_member(administrator, team_lead):
    team = actions.create_team(actor=administrator, name="Network", code="net", lead=team_lead)

    assert list(team.members.all()) == [team_lead]


def test_create_team_refuses_a_taken_code(administrator):
    TeamFactory(code="net")

    with pytest.raises(Conflict):
        actions.create_team(actor=administrator, name="Network", code="net")


def test_team_lead_adds_a_member_to_their_own_team(team_lead, agent):
    team = TeamFactory(lead=team_lead)

    actions.add_team_member(actor=team_lead, team=team, user=agent)

    assert team.members.filter(pk=agent.pk).exists()
    assert last_event().action == "team.member_added"


def test_lead_of_another_team_cannot_add_a_member(make_user, team_lead, agent):
    team = TeamFactory(lead=make_user(Role.AGENT, Role.TEAM_LEAD))

    with pytest.raises(PermissionDenied):
        actions.add_team_member(actor=team_lead, team=team, user=agent)


def test_administrator_adds_a_member_to_any_team(administrator, agent):
    team = TeamFactory()

    actions.add_team_member(actor=administrator, team=team, user=agent)

    assert team.members.filter(pk=agent.pk).exists()


def test_adding_an_existing_member_records_nothing(administrator, agent):
    team = TeamFactory()
    TeamMembership.objects.create(team=team, user=agent)
    before = AuditEvent.objects.count()

    actions.add_team_member(actor=administrator, team=team, user=agent)

    assert AuditEvent.objects.count() == before


def test_team_lead_removes_a_member_from_their_own_team(team_lead, agent):
    team = TeamFactory(lead=team_lead)
    TeamMembership.objects.create(team=team, user=agent)

    actions.remove_team_member(actor=team_lead, team=team, user=agent)

    assert not team.members.filter(pk=agent.pk).exists()


# Calendars


def test_create_calendar_stores_its_working_periods(administrator):
    calendar = actions.create_calendar(
        actor=administrator,
        name="Shanghai office",
        time_zone="Asia/Shanghai",
        periods=[(0, NINE, NOON), (0, ONE, FIVE), (1, NINE, FIVE)],
    )

    assert sorted(calendar.periods.values_list("weekday", "start", "end")) == [
        (0, NINE, NOON),
        (0, ONE, FIVE),
        (1, NINE, FIVE),
    ]
    assert last_event().action == "calendar.created"


def test_create_calendar_refuses_overlapping_periods(administrator):
    with pytest.raises(FieldError) as refused:
        actions.create_calendar(
            actor=administrator, name="Office", periods=[(0, NINE, ONE), (0, NOON, FIVE)]
        )

    assert fields_of(refused.value) == ["periods"]
    assert not BusinessCalendar.objects.filter(name="Office").exists()


@pytest.mark.parametrize(("start", "end"), [(FIVE, NINE), (NINE, NINE)], ids=["reversed", "empty"])
def test_create_calendar_refuses_a_period_that_does_not_start_before_it_ends(
    administrator, start, end
):
    with pytest.raises(FieldError) as refused:
        actions.create_calendar(actor=administrator, name="Office", periods=[(0, start, end)])

    assert fields_of(refused.value) == ["periods"]


def test_create_calendar_refuses_a_weekday_outside_the_week(administrator):
    with pytest.raises(FieldError) as refused:
        actions.create_calendar(actor=administrator, name="Office", periods=[(7, NINE, FIVE)])

    assert fields_of(refused.value) == ["periods"]


def test_create_calendar_refuses_an_unknown_time_zone(administrator):
    with pytest.raises(FieldError) as refused:
        actions.create_calendar(
            actor=administrator, name="Office", time_zone="Mars/Olympus", periods=[(0, NINE, FIVE)]
        )

    assert fields_of(refused.value) == ["time_zone"]


def test_create_calendar_refuses_a_taken_name(administrator):
    BusinessCalendarFactory(name="Office")

    with pytest.raises(Conflict):
        actions.create_calendar(actor=administrator, name="Office", periods=[(0, NINE, FIVE)])


def test_create_calendar_requires_permission(agent):
    with pytest.raises(PermissionDenied):
        actions.create_calendar(actor=agent, name="Office", periods=[(0, NINE, FIVE)])


# The system actor


def test_system_user_is_one_account_that_cannot_log_in():
    first = actions.system_user()

    assert actions.system_user() == first
    assert first.is_system
    assert not first.has_usable_password()


def test_every_action_leaves_a_verifiable_chain(administrator, requester, team_lead):
    team = actions.create_team(actor=administrator, name="Desk", code="desk", lead=team_lead)
    actions.add_team_member(actor=team_lead, team=team, user=requester)
    actions.update_user(actor=requester, user=requester, phone="+86 21 5555")

    assert audit.verify().ok
