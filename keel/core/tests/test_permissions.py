"""Roles say what someone may do; object scope says on which records. Both checked both ways."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from keel.core.models import User
from keel.core.permissions import (
    NotFound,
    ScopeRules,
    can_see,
    get_visible,
    require,
    roles_of,
    visible,
)
from keel.core.roles import Role, role_permissions, sync_roles
from keel.core.tests.factories import DepartmentFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def people(viewer: User) -> set[User]:
    return set(visible(User.objects.filter(is_system=False), viewer))


@dataclass
class Ticket:
    """A stand-in for a scoped record (incidents will be one): never saved, only scoped."""

    requester_id: int | None = None
    department_id: int | None = None
    team_id: int | None = None

    scope = ScopeRules(own=("requester",), department="department", team="team")


# Scope of people (User: own=id, department=department, team=None)


def test_requester_sees_only_themselves(requester, make_user):
    make_user(Role.REQUESTER)
    make_user(Role.AGENT)

    assert people(requester) == {requester}


def test_department_manager_sees_their_departments_members(
    department_manager, department, make_user
):
    colleague = make_user(Role.REQUESTER, department=department)

    assert people(department_manager) == {department_manager, colleague}


def test_department_manager_does_not_see_another_departments_members(department_manager, make_user):
    outsider = make_user(Role.REQUESTER, department=DepartmentFactory())

    assert outsider not in people(department_manager)
    assert not can_see(department_manager, outsider)


def test_agent_sees_everyone_because_people_have_no_owning_team(agent, make_user):
    others = {make_user(Role.REQUESTER), make_user(Role.REQUESTER, department=DepartmentFactory())}

    assert people(agent) == {agent, *others}


@pytest.mark.parametrize("role", sorted(Role.values))
def test_every_role_can_see_itself(make_user, role):
    person = make_user(role)

    assert can_see(person, person)


def test_requester_cannot_see_another_person(requester, make_user):
    assert not can_see(requester, make_user(Role.REQUESTER))


def test_can_see_follows_the_same_rule_on_an_unsaved_person(department_manager, department):
    assert can_see(department_manager, User(username="new", department=department))
    assert not can_see(
        department_manager, User(username="elsewhere", department=DepartmentFactory())
    )


def test_inactive_person_sees_nothing(make_user):
    former = make_user(Role.AGENT, is_active=False)

    assert people(former) == set()
    assert not can_see(former, former)


def test_inactive_person_holds_no_roles(make_user):
    assert roles_of(make_user(Role.ADMINISTRATOR, is_active=False)) == frozenset()


def test_superuser_counts_as_an_administrator(make_user):
    root = make_user(is_superuser=True)

    assert Role.ADMINISTRATOR.value in roles_of(root)


# Scope of a record owned by a team (a stand-in record with team scope)


@pytest.fixture
def cast(make_user, department):
    """One person per reach, and the team whose records the agent works."""
    requester = make_user(Role.REQUESTER, department=department)
    manager = make_user(Role.REQUESTER)
    department.manager = manager
    department.save(update_fields=["manager"])
    agent = make_user(Role.AGENT)
    membership = TeamMembershipFactory(user=agent)
    return {
        "requester": requester,
        "manager": manager,
        "agent": agent,
        "auditor": make_user(Role.AUDITOR),
        "team": membership.team,
        "department": department,
    }


@pytest.mark.parametrize(
    ("viewer", "record", "sees"),
    [
        ("requester", "requesters", True),
        ("requester", "departments", False),
        ("requester", "teams", False),
        ("requester", "strangers", False),
        ("manager", "requesters", True),
        ("manager", "departments", True),
        ("manager", "teams", False),
        ("manager", "strangers", False),
        ("agent", "requesters", True),
        ("agent", "departments", False),
        ("agent", "teams", True),
        ("agent", "strangers", False),
        ("auditor", "strangers", True),
    ],
)
def test_scope_of_a_team_owned_record(cast, make_user, viewer, record, sees):
    stranger, other_department = make_user(Role.REQUESTER), DepartmentFactory()
    other_team = TeamMembershipFactory(user=stranger).team
    records = {
        # The requester's own, raised in the managed department, worked by the agent's team.
        "requesters": Ticket(cast["requester"].pk, cast["department"].pk, cast["team"].pk),
        # Someone else's: only the managed department, or only the agent's team, links it.
        "departments": Ticket(stranger.pk, cast["department"].pk, other_team.pk),
        "teams": Ticket(stranger.pk, other_department.pk, cast["team"].pk),
        "strangers": Ticket(stranger.pk, other_department.pk, other_team.pk),
    }

    assert can_see(cast[viewer], records[record]) is sees


def test_agent_of_another_team_cannot_see_a_teams_record(cast, make_user):
    other_agent = make_user(Role.AGENT)
    TeamMembershipFactory(user=other_agent)

    assert not can_see(other_agent, Ticket(cast["requester"].pk, None, cast["team"].pk))


def test_record_without_scope_rules_is_visible_to_anyone_signed_in(requester):
    assert can_see(requester, Group(name="anything"))


# Permissions from roles


def test_auditor_may_view_the_audit_trail(auditor):
    assert auditor.has_perm("core.view_auditevent")


def test_requester_may_not_view_the_audit_trail(requester):
    assert not requester.has_perm("core.view_auditevent")


def test_administrator_may_add_people_and_agent_may_not(administrator, agent):
    assert administrator.has_perm("core.add_user")
    assert not agent.has_perm("core.add_user")


# require() and get_visible(): 404 outside scope, 403 inside it without permission


def test_require_reports_an_out_of_scope_record_as_missing(requester, make_user):
    with pytest.raises(NotFound):
        require(requester, "core.change_user", make_user(Role.REQUESTER))


def test_require_reports_an_in_scope_record_without_permission_as_forbidden(requester):
    with pytest.raises(PermissionDenied):
        require(requester, "core.change_user", requester)


def test_require_passes_with_permission_and_scope(administrator, requester):
    require(administrator, "core.change_user", requester)  # does not raise


def test_require_without_a_record_checks_only_the_permission(agent):
    with pytest.raises(PermissionDenied):
        require(agent, "core.add_user")


def test_inactive_person_is_refused_even_with_the_permission(make_user):
    former = make_user(Role.ADMINISTRATOR, is_active=False)

    with pytest.raises(PermissionDenied):
        require(former, "core.add_user")


def test_get_visible_returns_an_in_scope_record(department_manager, department, make_user):
    colleague = make_user(Role.REQUESTER, department=department)

    assert get_visible(User.objects.all(), department_manager, pk=colleague.pk) == colleague


def test_get_visible_reports_an_out_of_scope_record_as_missing(requester, make_user):
    other = make_user(Role.REQUESTER)

    with pytest.raises(NotFound):
        get_visible(User.objects.all(), requester, pk=other.pk)


# Roles as groups


def test_every_role_has_a_group():
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)


def test_every_group_holds_exactly_its_roles_permissions():
    wanted = role_permissions()

    for group in Group.objects.filter(name__in=Role.values).prefetch_related(
        "permissions__content_type"
    ):
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert held == wanted.get(group.name, set()), group.name


def test_sync_roles_is_idempotent():
    def state():
        return {
            g.name: sorted(g.permissions.values_list("codename", flat=True))
            for g in Group.objects.filter(name__in=Role.values)
        }

    before = state()

    sync_roles()
    sync_roles()

    assert state() == before
    assert Group.objects.filter(name__in=Role.values).count() == len(Role)


def test_sync_roles_restores_a_removed_permission(auditor):
    group = Group.objects.get(name=Role.AUDITOR)
    group.permissions.clear()

    sync_roles()

    assert User.objects.get(pk=auditor.pk).has_perm("core.view_auditevent")


def test_sync_roles_recreates_a_deleted_role_group():
    Group.objects.filter(name=Role.AGENT).delete()

    sync_roles()

    assert Group.objects.filter(name=Role.AGENT).exists()


def test_factory_roles_are_the_persons_groups():
    person = UserFactory(roles=[Role.AGENT, Role.TEAM_LEAD])

    assert roles_of(person) == {Role.AGENT.value, Role.TEAM_LEAD.value}


# --- permissions come from roles, cached per role ------------------------------------------------


def test_a_role_change_takes_effect_at_once(make_user):
    from django.contrib.auth.models import Group, Permission

    from keel.core.models import User

    person = make_user(Role.AGENT)
    assert not User.objects.get(pk=person.pk).has_perm("core.add_user")

    agent_role = Group.objects.get(name=Role.AGENT.value)
    agent_role.permissions.add(Permission.objects.get(codename="add_user"))

    assert User.objects.get(pk=person.pk).has_perm("core.add_user")


def test_permissions_granted_to_one_person_directly_do_not_count(make_user):
    from django.contrib.auth.models import Permission

    from keel.core.models import User

    person = make_user(Role.REQUESTER)
    person.user_permissions.add(Permission.objects.get(codename="add_user"))

    assert not User.objects.get(pk=person.pk).has_perm("core.add_user")


def test_a_persons_permissions_are_read_in_one_query_once_roles_are_cached(
    make_user, django_assert_num_queries
):
    from keel.core.models import User

    make_user(Role.AGENT)  # warms the agent role's permissions
    User.objects.get(pk=make_user(Role.AGENT).pk).has_perm("core.view_user")
    person = User.objects.get(pk=make_user(Role.AGENT).pk)

    with django_assert_num_queries(1):
        assert person.has_perm("core.view_team")
        assert not person.has_perm("core.add_user")
