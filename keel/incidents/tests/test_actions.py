"""Incident actions: recording, changes, priority, reassignment, concurrency, the conversation,
attachments, ratings and the major-incident procedure. Each action checks permission both ways,
names the field it refuses, and leaves nothing half-written.

The lifecycle table is in ``test_lifecycle.py``, SLA clocks in ``test_sla.py``, the periodic
sweep in ``test_sweep.py`` and e-mails in ``test_notify.py``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from keel.catalog import actions as catalog_actions
from keel.catalog.priority import default_matrix
from keel.catalog.tests.factories import CategoryFactory, ServiceFactory, ServiceTargetFactory
from keel.core import actions as core_actions
from keel.core.errors import Conflict, FieldError, InvalidTransition, NotFound, StaleVersion
from keel.core.models import AuditEvent
from keel.core.roles import Role
from keel.core.tests.factories import DepartmentFactory, TeamFactory
from keel.incidents import actions, queries
from keel.incidents.lifecycle import HoldReason, Status
from keel.incidents.models import (
    Attachment,
    Channel,
    EventKind,
    Incident,
    IncidentEvent,
    PostIncidentReview,
    ReviewAction,
)
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
CJK = re.compile(r"[\u4e00-\u9fff]")


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall time in Shanghai in the week of Monday 3 March 2025."""
    return datetime(2025, 3, day, hour, minute, tzinfo=SHANGHAI)


MONDAY_10 = shanghai(3, 10)


@pytest.fixture
def office_hours(administrator):
    """Monday to Friday, 09:00–18:00 in Shanghai: 540 business minutes a day."""
    return core_actions.create_calendar(
        actor=administrator,
        name="Shanghai office",
        time_zone="Asia/Shanghai",
        periods=[(day, time(9), time(18)) for day in range(5)],
    )


@pytest.fixture
def lead(make_user):
    return make_user(Role.AGENT, Role.TEAM_LEAD, name="Lena Lead")


@pytest.fixture
def service(office_hours, lead, make_user):
    team = TeamFactory(name="Service desk", lead=lead)
    team.memberships.create(user=lead)
    return ServiceFactory(
        name="Laptops", team=team, calendar=office_hours, owner=make_user(Role.SERVICE_OWNER)
    )


@pytest.fixture
def desk(service):
    """An agent in the team the service routes to."""
    return agent_in(service.team, name="Dana Desk")


@pytest.fixture
def incident(service, requester):
    return open_incident(requester=requester, service=service, at=MONDAY_10)


def record(*, actor, **values) -> Incident:
    """Record through the action exactly as given (``service=None`` and ``requester`` included)."""
    given = {
        "title": "Laptop does not start",
        "service": None,
        "impact": 2,
        "urgency": 2,
        **values,
    }
    return actions.open_incident(actor=actor, **given)


def fields_of(error: FieldError) -> list[str]:
    return [field for field, _message in error.errors]


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-seq").first()


def counts() -> tuple[int, int, int]:
    return Incident.objects.count(), AuditEvent.objects.count(), IncidentEvent.objects.count()


def fresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def resolved(incident: Incident, by) -> Incident:
    return actions.resolve(actor=by, incident=incident, code="fixed", notes="Replaced the disk.")


# --- recording -------------------------------------------------------------------------------


def test_first_incident_is_numbered_inc_000001_and_the_next_follows(service, requester):
    first = open_incident(requester=requester, service=service)
    second = open_incident(requester=requester, service=service)

    assert (first.number, second.number) == ("INC-000001", "INC-000002")


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"), [(1, 1, 1), (1, 2, 2), (2, 2, 3), (3, 2, 4), (3, 3, 5)]
)
def test_priority_comes_from_the_default_matrix(service, requester, impact, urgency, priority):
    incident = open_incident(requester=requester, service=service, impact=impact, urgency=urgency)

    assert incident.priority == priority


def test_priority_comes_from_the_configured_matrix(service, requester, administrator):
    catalog_actions.set_priority_matrix(
        actor=administrator, levels=3, rules=default_matrix(3) | {(2, 2): 2, (2, 3): 3}
    )

    incident = open_incident(requester=requester, service=service, impact=2, urgency=2)

    assert incident.priority == 2


def test_deadlines_are_counted_in_business_minutes_on_the_services_calendar(service, requester):
    # P3 by default: respond within 120, resolve within 1,440 business minutes, warn at 75%.
    incident = open_incident(requester=requester, service=service, at=MONDAY_10)

    assert incident.respond_by == shanghai(3, 12)
    assert incident.resolve_by == shanghai(5, 16)  # Mon 480 + Tue 540 + Wed 420 minutes
    assert incident.warn_at == shanghai(5, 10)  # 1,080 minutes: Mon 480 + Tue 540 + Wed 60


def test_an_incident_recorded_out_of_hours_is_due_from_the_next_opening(service, requester):
    friday_evening = shanghai(7, 20)

    incident = open_incident(requester=requester, service=service, at=friday_evening)

    assert incident.respond_by == shanghai(10, 11)  # Monday 09:00 + 120 minutes
    assert incident.created_at == friday_evening


def test_a_services_own_targets_set_its_deadlines(service, requester):
    ServiceTargetFactory(service=service, priority=3, respond_minutes=30, resolve_minutes=60)

    incident = open_incident(requester=requester, service=service, at=MONDAY_10)

    assert (incident.respond_by, incident.resolve_by) == (shanghai(3, 10, 30), shanghai(3, 11))


def test_deadlines_are_stored_in_utc(service, requester):
    incident = fresh(open_incident(requester=requester, service=service, at=MONDAY_10))

    assert incident.respond_by == datetime(2025, 3, 3, 4, 0, tzinfo=ZoneInfo("UTC"))


def test_a_new_incident_goes_to_the_services_team_unassigned(service, requester):
    incident = open_incident(requester=requester, service=service)

    assert (incident.team, incident.assignee, incident.status) == (
        service.team,
        None,
        Status.NEW,
    )
    assert incident.is_open
    assert incident.version == 1


def test_a_new_incident_keeps_the_requesters_department(service, make_user):
    department = DepartmentFactory()
    person = make_user(Role.REQUESTER, department=department)

    incident = open_incident(requester=person, service=service)

    assert incident.department == department


def test_a_requester_reporting_their_own_incident_uses_the_portal(service, requester):
    incident = open_incident(requester=requester, service=service)

    assert (incident.requester, incident.reported_by, incident.channel) == (
        requester,
        None,
        Channel.PORTAL,
    )


def test_recording_an_incident_writes_one_audit_event(service, requester):
    events_before = AuditEvent.objects.count()

    incident = open_incident(requester=requester, service=service, impact=1, urgency=2)

    assert AuditEvent.objects.count() == events_before + 1
    event = last_event()
    assert (event.action, event.object_id, event.actor_id) == (
        "incident.opened",
        str(incident.pk),
        requester.pk,
    )
    assert event.changes["priority"] == [None, 2]
    assert event.changes["team"] == [None, service.team_id]


def test_the_requester_is_told_the_number_and_response_time_in_their_language(
    service, requester, django_capture_on_commit_callbacks
):
    requester.language, requester.time_zone = "zh-hans", "Asia/Shanghai"
    requester.save(update_fields=["language", "time_zone"])

    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(requester=requester, service=service, at=MONDAY_10)

    [message] = mail.outbox
    assert message.to == [requester.email]
    assert incident.number in message.subject
    assert CJK.search(message.subject), message.subject
    assert CJK.search(message.body), message.body
    assert "2025-03-03 12:00" in message.body  # the respond-by time in Shanghai


def test_the_response_time_is_given_in_the_requesters_own_time_zone(
    service, requester, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(requester=requester, service=service, at=MONDAY_10)

    [message] = mail.outbox
    assert f"{incident.number}: Laptop does not start" in message.body
    assert "2025-03-03 04:00 UTC" in message.body


def test_no_acknowledgement_is_sent_before_the_incident_is_committed(service, requester):
    open_incident(requester=requester, service=service)

    assert mail.outbox == []


def test_agent_records_an_incident_on_behalf_of_a_caller(service, desk, requester):
    incident = record(actor=desk, requester=requester, service=service)

    assert (incident.requester, incident.reported_by, incident.channel) == (
        requester,
        desk,
        Channel.PHONE,
    )
    assert last_event().actor_id == desk.pk


def test_agent_records_the_channel_they_were_told_on(service, desk, requester):
    incident = record(actor=desk, requester=requester, service=service, channel=Channel.WALK_IN)

    assert incident.channel == "walk_in"


def test_requester_cannot_record_an_incident_for_someone_else(service, requester, make_user):
    colleague = make_user(Role.REQUESTER)
    before = counts()

    with pytest.raises(PermissionDenied):
        record(actor=requester, requester=colleague, service=service)

    assert counts() == before


def test_someone_without_the_right_to_report_cannot_record_an_incident(service, make_user):
    change_manager = make_user(Role.CHANGE_MANAGER)

    with pytest.raises(PermissionDenied):
        record(actor=change_manager, service=service)

    assert not Incident.objects.exists()


@pytest.fixture
def bad_input(service, make_user):
    """``bad_input(name)`` → the keyword arguments that make ``name`` wrong."""

    def make(name: str) -> tuple[dict, str]:
        cases = {
            "no-title": ({"title": ""}, "title"),
            "blank-title": ({"title": "   "}, "title"),
            "title-over-200": ({"title": "x" * 201}, "title"),
            "description-over-20000": ({"description": "x" * 20_001}, "description"),
            "impact-0": ({"impact": 0}, "impact"),
            "impact-6": ({"impact": 6}, "impact"),
            "impact-text": ({"impact": "high"}, "impact"),
            "impact-digit-text": ({"impact": "2"}, "impact"),
            "impact-true": ({"impact": True}, "impact"),
            "impact-none": ({"impact": None}, "impact"),
            "urgency-beyond-levels": ({"urgency": 4}, "urgency"),
            "urgency-0": ({"urgency": 0}, "urgency"),
            "no-service": ({"service": None}, "service"),
            "inactive-service": ({"service": ServiceFactory(is_active=False)}, "service"),
            "inactive-category": ({"category": CategoryFactory(is_active=False)}, "category"),
            "inactive-requester": (
                {"requester": make_user(Role.REQUESTER, is_active=False)},
                "requester",
            ),
            "system-requester": ({"requester": core_actions.system_user()}, "requester"),
            "bad-channel": ({"channel": "pigeon"}, "channel"),
        }
        return cases[name]

    return make


@pytest.mark.parametrize(
    "case",
    [
        "no-title",
        "blank-title",
        "title-over-200",
        "description-over-20000",
        "impact-0",
        "impact-6",
        "impact-text",
        "impact-digit-text",
        "impact-true",
        "impact-none",
        "urgency-beyond-levels",
        "urgency-0",
        "no-service",
        "inactive-service",
        "inactive-category",
        "inactive-requester",
        "system-requester",
        "bad-channel",
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    service, desk, requester, bad_input, case
):
    values, field = bad_input(case)
    given = {"requester": requester, "service": service, **values}
    before = counts()

    with pytest.raises(FieldError) as refused:
        record(actor=desk, **given)

    assert fields_of(refused.value) == [field]
    assert counts() == before


def test_every_bad_field_is_named_at_once(service, requester):
    with pytest.raises(FieldError) as refused:
        open_incident(requester=requester, service=service, title="", impact=9, urgency=0)

    assert fields_of(refused.value) == ["title", "impact", "urgency"]


def test_a_title_of_exactly_200_characters_is_accepted(service, requester):
    incident = open_incident(requester=requester, service=service, title="x" * 200)

    assert len(incident.title) == 200


def test_five_configured_levels_accept_urgency_five(service, requester, administrator):
    catalog_actions.set_priority_matrix(actor=administrator, levels=5, rules=default_matrix(5))

    incident = open_incident(requester=requester, service=service, impact=5, urgency=5)

    assert incident.priority == 5


def test_a_refused_incident_does_not_use_up_a_number(service, requester):
    with pytest.raises(FieldError):
        open_incident(requester=requester, service=service, title="")

    assert open_incident(requester=requester, service=service).number == "INC-000001"


# --- description changes and optimistic concurrency ------------------------------------------


def test_agent_changes_the_title_and_the_version_moves_on(incident, desk):
    actions.update_incident(actor=desk, incident=incident, version=1, title="Laptop: no display")

    stored = fresh(incident)
    assert (stored.title, stored.version) == ("Laptop: no display", 2)
    assert last_event().changes == {"title": ["Laptop does not start", "Laptop: no display"]}


def test_requester_cannot_change_the_incident_description(incident, requester):
    with pytest.raises(PermissionDenied):
        actions.update_incident(actor=requester, incident=incident, title="Mine now")

    assert fresh(incident).title == "Laptop does not start"


def test_update_with_a_stale_version_is_refused_and_changes_nothing(incident, desk):
    actions.update_incident(actor=desk, incident=incident, title="Second title")
    audit_before = AuditEvent.objects.count()

    with pytest.raises(StaleVersion) as refused:
        actions.update_incident(actor=desk, incident=incident, version=1, title="Third title")

    assert fields_of(refused.value) == ["version"]
    stored = fresh(incident)
    assert (stored.title, stored.version) == ("Second title", 2)
    assert AuditEvent.objects.count() == audit_before


def test_the_second_of_two_agents_saving_the_same_reading_fails(incident, desk, lead):
    mine, theirs = fresh(incident), fresh(incident)
    actions.update_incident(actor=desk, incident=mine, title="Mine")

    with pytest.raises(StaleVersion):
        actions.update_incident(actor=lead, incident=theirs, title="Theirs")

    assert fresh(incident).title == "Mine"


def test_two_concurrent_saves_of_the_same_version_let_only_the_first_through(incident):
    first, second = fresh(incident), fresh(incident)
    first.title, second.title = "First", "Second"

    actions._save(first, ["title"], first.updated_at)
    with pytest.raises(StaleVersion):
        actions._save(second, ["title"], second.updated_at)

    stored = fresh(incident)
    assert (stored.title, stored.version) == ("First", 2)


@pytest.mark.parametrize(
    ("values", "field"),
    [({"title": ""}, "title"), ({"title": "x" * 201}, "title"), ({"status": "closed"}, "status")],
    ids=["blank-title", "long-title", "not-changeable"],
)
def test_update_refuses_bad_input_naming_the_field(incident, desk, values, field):
    with pytest.raises(FieldError) as refused:
        actions.update_incident(actor=desk, incident=incident, **values)

    assert fields_of(refused.value) == [field]
    assert fresh(incident).version == 1


def test_update_without_a_change_writes_nothing(incident, desk):
    before = counts()

    actions.update_incident(actor=desk, incident=incident, title="Laptop does not start")

    assert counts() == before
    assert fresh(incident).version == 1


# --- priority changes ------------------------------------------------------------------------


def test_agent_reclassifies_impact_and_the_priority_follows_the_matrix(incident, desk):
    actions.change_priority(actor=desk, incident=incident, impact=1, urgency=1)

    stored = fresh(incident)
    assert (stored.impact, stored.urgency, stored.priority) == (1, 1, 1)
    event = stored.events.get(kind=EventKind.PRIORITY)
    assert event.data["priority"] == [3, 1]
    assert last_event().action == "incident.priority_changed"


def test_requester_cannot_change_the_priority(incident, requester):
    with pytest.raises(PermissionDenied):
        actions.change_priority(actor=requester, incident=incident, impact=1)

    assert fresh(incident).priority == 3


def test_agent_without_the_override_right_cannot_override_the_priority(incident, desk):
    with pytest.raises(PermissionDenied):
        actions.change_priority(actor=desk, incident=incident, priority=1, reason="VIP")

    assert fresh(incident).priority == 3


def test_team_lead_overrides_the_priority_with_a_reason(incident, lead):
    actions.change_priority(actor=lead, incident=incident, priority=1, reason="The CEO's laptop")

    stored = fresh(incident)
    assert (stored.priority, stored.priority_reason) == (1, "The CEO's laptop")


def test_overriding_the_priority_needs_a_reason(incident, lead):
    with pytest.raises(FieldError) as refused:
        actions.change_priority(actor=lead, incident=incident, priority=1, reason=" ")

    assert fields_of(refused.value) == ["reason"]
    assert fresh(incident).priority == 3


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"impact": 0}, "impact"),
        ({"urgency": 4}, "urgency"),
        ({"priority": 6, "reason": "why"}, "priority"),
        ({"priority": "P1", "reason": "why"}, "priority"),
    ],
)
def test_change_priority_refuses_bad_levels_naming_the_field(incident, lead, values, field):
    with pytest.raises(FieldError) as refused:
        actions.change_priority(actor=lead, incident=incident, **values)

    assert fields_of(refused.value) == [field]
    assert fresh(incident).version == 1


def test_a_closed_incident_keeps_its_priority(incident, desk):
    actions.cancel(actor=desk, incident=incident, reason="Duplicate of INC-000002")

    with pytest.raises(InvalidTransition):
        actions.change_priority(actor=desk, incident=incident, impact=1)


# --- assignment and reassignment -------------------------------------------------------------


def test_first_assignment_needs_no_reason_and_is_not_a_reassignment(incident, lead, desk):
    actions.assign(actor=lead, incident=incident, assignee=desk)

    stored = fresh(incident)
    assert (stored.assignee, stored.status, stored.reassignment_count) == (
        desk,
        Status.ASSIGNED,
        0,
    )
    assert stored.assigned_at is not None
    assert last_event().action == "incident.assigned"


def test_moving_to_another_person_needs_a_reason(incident, lead, desk, service):
    actions.assign(actor=lead, incident=incident, assignee=desk)
    colleague = agent_in(service.team)

    with pytest.raises(FieldError) as refused:
        actions.assign(actor=lead, incident=incident, assignee=colleague)

    assert fields_of(refused.value) == ["reason"]
    stored = fresh(incident)
    assert (stored.assignee, stored.reassignment_count) == (desk, 0)


def test_moving_to_another_person_with_a_reason_is_counted(incident, lead, desk, service):
    actions.assign(actor=lead, incident=incident, assignee=desk)
    colleague = agent_in(service.team)

    actions.assign(actor=lead, incident=incident, assignee=colleague, reason="Dana is away")

    stored = fresh(incident)
    assert (stored.assignee, stored.reassignment_count) == (colleague, 1)
    event = last_event()
    assert (event.action, event.reason) == ("incident.reassigned", "Dana is away")


def test_moving_to_another_team_needs_a_reason_even_when_unassigned(incident, lead):
    network = TeamFactory(name="Network")

    with pytest.raises(FieldError) as refused:
        actions.assign(actor=lead, incident=incident, team=network)

    assert fields_of(refused.value) == ["reason"]
    assert fresh(incident).team_id != network.pk


def test_moving_to_another_team_clears_the_assignee_and_is_counted(incident, lead, desk):
    actions.assign(actor=lead, incident=incident, assignee=desk)
    network = TeamFactory(name="Network")

    actions.assign(actor=lead, incident=incident, team=network, reason="A switch is down")

    stored = fresh(incident)
    assert (stored.team, stored.assignee, stored.reassignment_count) == (network, None, 1)


def test_ping_pong_is_counted_each_time(incident, lead, service):
    network = TeamFactory(name="Network")
    network_agent = agent_in(network)
    actions.assign(actor=lead, incident=incident, team=network, reason="Looks like the network")
    actions.assign(
        actor=network_agent, incident=incident, team=service.team, reason="The network is fine"
    )

    assert fresh(incident).reassignment_count == 2


def test_the_assignee_must_be_a_member_of_the_team(incident, lead):
    outsider = agent_in(TeamFactory(name="Network"))

    with pytest.raises(FieldError) as refused:
        actions.assign(actor=lead, incident=incident, assignee=outsider)

    assert fields_of(refused.value) == ["assignee"]
    assert fresh(incident).assignee is None


def test_assigning_it_as_it_already_is_is_refused(incident, lead, desk):
    actions.assign(actor=lead, incident=incident, assignee=desk)

    with pytest.raises(FieldError) as refused:
        actions.assign(actor=lead, incident=incident, assignee=desk)

    assert fields_of(refused.value) == ["assignee"]


def test_requester_cannot_assign(incident, requester, desk):
    with pytest.raises(PermissionDenied):
        actions.assign(actor=requester, incident=incident, assignee=desk)

    assert fresh(incident).assignee is None


def test_agent_of_another_team_cannot_assign(incident, desk):
    stranger = agent_in(TeamFactory(name="Network"))

    with pytest.raises(NotFound):
        actions.assign(actor=stranger, incident=incident, assignee=desk)


def test_assigning_is_the_first_response(incident, lead, desk):
    actions.assign(actor=lead, incident=incident, assignee=desk)

    assert fresh(incident).first_response_at is not None


# --- major incidents -------------------------------------------------------------------------


@pytest.fixture
def major(incident, lead):
    return actions.declare_major(actor=lead, incident=incident, manager=lead, reason="All down")


def complete_review(incident, by) -> PostIncidentReview:
    actions.add_review_action(
        actor=by, incident=incident, description="Monitor the disk controllers", owner=by
    )
    return actions.save_review(
        actor=by,
        incident=incident,
        complete=True,
        timeline="09:00 down, 11:00 up",
        cause="A failed controller",
        went_well="Fast diagnosis",
        went_badly="No spare parts",
    )


def test_team_lead_declares_a_major_incident_with_a_manager(major, lead):
    stored = fresh(major)
    assert (stored.is_major, stored.major_manager) == (True, lead)
    assert PostIncidentReview.objects.filter(incident=major, completed_at=None).exists()
    assert last_event().action == "incident.declared_major"


def test_agent_cannot_declare_a_major_incident(incident, desk, lead):
    with pytest.raises(PermissionDenied):
        actions.declare_major(actor=desk, incident=incident, manager=lead)

    assert not fresh(incident).is_major
    assert not PostIncidentReview.objects.exists()


def test_the_major_incident_manager_must_work_on_incidents(incident, lead, requester):
    with pytest.raises(FieldError) as refused:
        actions.declare_major(actor=lead, incident=incident, manager=requester)

    assert fields_of(refused.value) == ["manager"]


def test_a_closed_incident_cannot_be_declared_major(incident, lead):
    actions.cancel(actor=lead, incident=incident, reason="Recorded twice")

    with pytest.raises(InvalidTransition):
        actions.declare_major(actor=lead, incident=incident, manager=lead)


def test_stakeholder_updates_are_logged_publicly_on_a_major_incident(major, desk):
    event = actions.communicate(
        actor=desk, incident=major, body="Engineers are on site.", audience="All staff"
    )

    assert (event.kind, event.public, event.data["audience"]) == (
        EventKind.COMMUNICATION,
        True,
        "All staff",
    )


def test_stakeholder_updates_belong_to_major_incidents(incident, desk):
    with pytest.raises(InvalidTransition):
        actions.communicate(actor=desk, incident=incident, body="Engineers are on site.")


def test_a_stakeholder_update_needs_text(major, desk):
    with pytest.raises(FieldError) as refused:
        actions.communicate(actor=desk, incident=major, body="  ")

    assert fields_of(refused.value) == ["body"]


def test_requester_cannot_send_stakeholder_updates(major, requester):
    with pytest.raises(PermissionDenied):
        actions.communicate(actor=requester, incident=major, body="Hello everyone")


def test_incidents_with_the_same_cause_are_linked_to_the_major_incident(major, desk, service):
    child = open_incident(service=service)

    actions.link_child(actor=desk, major=major, child=child)

    assert fresh(child).parent == major
    assert list(queries.children(major, desk)) == [child]


def test_linking_the_same_child_twice_changes_nothing(major, desk, service):
    child = actions.link_child(actor=desk, major=major, child=open_incident(service=service))
    version = fresh(child).version

    actions.link_child(actor=desk, major=major, child=fresh(child))

    assert fresh(child).version == version


def test_a_child_of_another_major_incident_is_not_taken_over(major, desk, lead, service):
    other = actions.declare_major(actor=lead, incident=open_incident(service=service), manager=lead)
    child = actions.link_child(actor=desk, major=other, child=open_incident(service=service))

    with pytest.raises(Conflict):
        actions.link_child(actor=desk, major=major, child=fresh(child))

    assert fresh(child).parent == other


def test_a_closed_incident_is_not_linked(major, desk, service):
    child = open_incident(service=service)
    actions.cancel(actor=desk, incident=child, reason="Duplicate")

    with pytest.raises(FieldError) as refused:
        actions.link_child(actor=desk, major=major, child=fresh(child))

    assert fields_of(refused.value) == ["child"]


def test_incidents_link_only_to_a_major_incident(incident, desk, service):
    child = open_incident(service=service)

    with pytest.raises(InvalidTransition):
        actions.link_child(actor=desk, major=incident, child=child)

    assert fresh(child).parent is None


def test_a_major_incident_is_declared_once(major, lead):
    with pytest.raises(Conflict):
        actions.declare_major(actor=lead, incident=fresh(major), manager=lead)


def test_a_review_action_needs_an_active_owner_and_a_future_due_date(major, lead, make_user):
    gone = make_user(Role.AGENT, is_active=False)

    with pytest.raises(FieldError) as refused:
        actions.add_review_action(
            actor=lead,
            incident=major,
            description="Add monitoring",
            owner=gone,
            due=date(2020, 1, 1),
        )

    assert fields_of(refused.value) == ["owner", "due"]


def test_a_comment_does_not_turn_an_agents_next_save_into_a_conflict(incident, desk):
    read_at = fresh(incident).version

    actions.comment(actor=incident.requester, incident=fresh(incident), body="More details")
    actions.update_incident(
        actor=desk, incident=fresh(incident), version=read_at, title="Laptop black screen"
    )

    assert fresh(incident).title == "Laptop black screen"


def test_a_major_incident_is_not_its_own_child(major, desk):
    with pytest.raises(FieldError) as refused:
        actions.link_child(actor=desk, major=major, child=major)

    assert fields_of(refused.value) == ["child"]


def test_requester_cannot_link_incidents(major, requester, service):
    child = open_incident(requester=requester, service=service)

    with pytest.raises(PermissionDenied):
        actions.link_child(actor=requester, major=major, child=child)

    assert fresh(child).parent is None


def test_completing_the_review_needs_every_part_and_an_action(major, lead):
    with pytest.raises(FieldError) as refused:
        actions.save_review(actor=lead, incident=major, complete=True, cause="A failed controller")

    assert fields_of(refused.value) == ["timeline", "went_well", "went_badly", "actions"]
    assert PostIncidentReview.objects.get(incident=major).completed_at is None


def test_completing_the_review_with_every_part_but_no_action_is_refused(major, lead):
    with pytest.raises(FieldError) as refused:
        actions.save_review(
            actor=lead,
            incident=major,
            complete=True,
            timeline="t",
            cause="c",
            went_well="w",
            went_badly="b",
        )

    assert fields_of(refused.value) == ["actions"]


def test_a_review_with_every_part_and_an_action_completes(major, lead):
    review = complete_review(major, lead)

    assert (review.completed_by, review.cause) == (lead, "A failed controller")
    assert review.completed_at is not None
    assert last_event().action == "incident.review_completed"


def test_a_completed_review_can_no_longer_change(major, lead):
    complete_review(major, lead)

    with pytest.raises(InvalidTransition):
        actions.save_review(actor=lead, incident=major, cause="Something else")


def test_a_review_can_be_saved_in_parts_before_completion(major, lead):
    actions.save_review(actor=lead, incident=major, cause="A failed controller")

    review = PostIncidentReview.objects.get(incident=major)
    assert (review.cause, review.completed_at) == ("A failed controller", None)


def test_agent_cannot_write_the_review(major, desk):
    with pytest.raises(PermissionDenied):
        actions.save_review(actor=desk, incident=major, cause="A failed controller")


def test_a_review_action_needs_an_owner(major, lead):
    with pytest.raises(FieldError) as refused:
        actions.add_review_action(actor=lead, incident=major, description="Buy spares", owner=None)

    assert fields_of(refused.value) == ["owner"]
    assert not ReviewAction.objects.exists()


def test_agent_cannot_add_review_actions(major, desk):
    with pytest.raises(PermissionDenied):
        actions.add_review_action(actor=desk, incident=major, description="x", owner=desk)

    assert not ReviewAction.objects.exists()


def test_review_actions_belong_to_major_incidents(incident, lead):
    with pytest.raises(InvalidTransition):
        actions.add_review_action(actor=lead, incident=incident, description="x", owner=lead)


def test_a_major_incident_confirmed_before_its_review_stays_resolved_with_the_word_kept(
    major, lead, requester
):
    resolved(major, lead)

    actions.confirm(actor=requester, incident=major, rating=4, comment="Back to work")

    stored = fresh(major)
    assert stored.status == Status.RESOLVED
    assert stored.confirmed_at is not None
    assert (stored.rating, stored.rating_comment) == (4, "Back to work")
    assert last_event().action == "incident.confirmed"
    line = IncidentEvent.objects.filter(incident=major, kind=EventKind.STATUS).last()
    assert (line.data["awaiting_review"], line.public) == (True, True)
    with pytest.raises(InvalidTransition):  # once is enough
        actions.confirm(actor=requester, incident=fresh(major))


def test_completing_the_review_closes_a_major_incident_its_requester_confirmed(
    major, lead, requester
):
    resolved(major, lead)
    actions.confirm(actor=requester, incident=fresh(major))

    complete_review(fresh(major), lead)

    stored = fresh(major)
    assert stored.status == Status.CLOSED
    assert stored.closed_at is not None
    assert last_event().action == "incident.closed"
    assert last_event().changes["status"] == [Status.RESOLVED, Status.CLOSED]


def test_completing_the_review_of_an_unconfirmed_major_incident_leaves_it_resolved(major, lead):
    resolved(major, lead)

    complete_review(fresh(major), lead)

    assert fresh(major).status == Status.RESOLVED


def test_a_rejected_resolution_forgets_the_earlier_confirmation(major, lead, requester):
    resolved(major, lead)
    actions.confirm(actor=requester, incident=fresh(major))
    actions.reject(actor=requester, incident=fresh(major), reason="It failed again")
    resolved(fresh(major), lead)

    complete_review(fresh(major), lead)

    stored = fresh(major)
    assert (stored.status, stored.confirmed_at) == (Status.RESOLVED, None)


def test_a_major_incident_cannot_be_closed_before_its_review(major, lead):
    resolved(major, lead)

    with pytest.raises(InvalidTransition):
        actions.close(actor=lead, incident=major)

    assert fresh(major).status == Status.RESOLVED


def test_a_major_incident_closes_once_its_review_is_completed(major, lead, requester):
    resolved(major, lead)
    complete_review(major, lead)

    actions.confirm(actor=requester, incident=major)

    assert fresh(major).status == Status.CLOSED


# --- ratings ---------------------------------------------------------------------------------


def test_requester_rates_a_resolved_incident(incident, desk, requester):
    resolved(incident, desk)

    actions.rate(actor=requester, incident=incident, rating=5, comment="Quick, thank you")

    stored = fresh(incident)
    assert (stored.rating, stored.rating_comment) == (5, "Quick, thank you")
    assert stored.rated_at is not None
    assert stored.events.filter(kind=EventKind.RATING, public=True).exists()
    assert last_event().changes == {"rating": [None, 5]}


def test_requester_rates_when_confirming(incident, desk, requester):
    resolved(incident, desk)

    actions.confirm(actor=requester, incident=incident, rating=4, comment="Fine")

    stored = fresh(incident)
    assert (stored.status, stored.rating) == (Status.CLOSED, 4)


def test_requester_rates_a_closed_incident(incident, desk, requester):
    resolved(incident, desk)
    actions.confirm(actor=requester, incident=incident)

    actions.rate(actor=requester, incident=incident, rating=1)

    assert fresh(incident).rating == 1


def test_agent_cannot_rate_for_the_requester(incident, desk):
    resolved(incident, desk)

    with pytest.raises(PermissionDenied):
        actions.rate(actor=desk, incident=incident, rating=5)

    assert fresh(incident).rating is None


def test_another_requester_cannot_rate_it(incident, desk, make_user):
    resolved(incident, desk)

    with pytest.raises(NotFound):
        actions.rate(actor=make_user(Role.REQUESTER), incident=incident, rating=5)


@pytest.mark.parametrize("rating", [0, 6, "5", 4.5, True, None])
def test_ratings_run_from_1_to_5(incident, desk, requester, rating):
    resolved(incident, desk)

    with pytest.raises(FieldError) as refused:
        actions.rate(actor=requester, incident=incident, rating=rating)

    assert fields_of(refused.value) == ["rating"]
    assert fresh(incident).rating is None


def test_an_open_incident_cannot_be_rated(incident, requester):
    with pytest.raises(InvalidTransition):
        actions.rate(actor=requester, incident=incident, rating=5)


# --- the conversation ------------------------------------------------------------------------


def test_a_requesters_comment_is_always_public(incident, requester):
    event = actions.comment(actor=requester, incident=incident, body="Still broken", public=False)

    assert event.public


def test_an_internal_comment_is_hidden_from_the_requesters_timeline(incident, desk):
    note = actions.comment(actor=desk, incident=incident, body="Check the warranty", public=False)

    assert note not in queries.timeline(incident, staff=False)
    assert note in queries.timeline(incident, staff=True)


def test_a_public_comment_shows_in_the_requesters_timeline(incident, desk):
    reply = actions.comment(actor=desk, incident=incident, body="We are on it")

    assert reply in queries.timeline(incident, staff=False)


def test_a_requesters_reply_resumes_an_incident_awaiting_them(incident, desk, requester):
    actions.start(actor=desk, incident=incident)
    actions.hold(actor=desk, incident=incident, reason=HoldReason.AWAITING_REQUESTER)

    actions.comment(actor=requester, incident=incident, body="The serial is 12345")

    stored = fresh(incident)
    assert (stored.status, stored.hold_reason, stored.paused_at) == (Status.IN_PROGRESS, "", None)


def test_a_requesters_reply_does_not_resume_an_incident_awaiting_a_supplier(
    incident, desk, requester
):
    actions.start(actor=desk, incident=incident)
    actions.hold(actor=desk, incident=incident, reason=HoldReason.AWAITING_SUPPLIER)

    actions.comment(actor=requester, incident=incident, body="Any news?")

    assert fresh(incident).status == Status.ON_HOLD


def test_an_agents_comment_does_not_resume_an_incident_awaiting_the_requester(incident, desk):
    actions.start(actor=desk, incident=incident)
    actions.hold(actor=desk, incident=incident, reason=HoldReason.AWAITING_REQUESTER)

    actions.comment(actor=desk, incident=incident, body="Reminder: we need the serial")

    assert fresh(incident).status == Status.ON_HOLD


@pytest.mark.parametrize("ending", ["confirm", "cancel"])
def test_comments_on_a_closed_incident_are_refused(incident, desk, requester, ending):
    if ending == "confirm":
        resolved(incident, desk)
        actions.confirm(actor=requester, incident=incident)
    else:
        actions.cancel(actor=desk, incident=incident, reason="Recorded twice")
    before = counts()

    with pytest.raises(InvalidTransition):
        actions.comment(actor=requester, incident=incident, body="One more thing")

    assert counts() == before


def test_a_comment_needs_text(incident, requester):
    with pytest.raises(FieldError) as refused:
        actions.comment(actor=requester, incident=incident, body=" ")

    assert fields_of(refused.value) == ["body"]


def test_another_requester_cannot_comment(incident, make_user):
    with pytest.raises(NotFound):
        actions.comment(actor=make_user(Role.REQUESTER), incident=incident, body="Me too")


def test_a_department_manager_who_sees_the_incident_cannot_comment_on_it(
    service, department, department_manager, make_user
):
    member = make_user(Role.REQUESTER, department=department)
    incident = open_incident(requester=member, service=service)

    with pytest.raises(PermissionDenied):
        actions.comment(actor=department_manager, incident=incident, body="Any news?")


def test_comment_text_is_stored_as_written_for_escaping_on_display(incident, requester):
    event = actions.comment(actor=requester, incident=incident, body="<script>alert(1)</script>")

    assert event.body == "<script>alert(1)</script>"


# --- work log --------------------------------------------------------------------------------


def test_agent_logs_time_spent(incident, desk):
    event = actions.log_work(actor=desk, incident=incident, minutes=45, body="Reimaged")

    assert (event.kind, event.minutes, event.public) == (EventKind.WORKLOG, 45, False)


@pytest.mark.parametrize("minutes", [0, -5, 1441, "30", 1.5, True])
def test_work_is_logged_in_whole_minutes_up_to_a_day(incident, desk, minutes):
    with pytest.raises(FieldError) as refused:
        actions.log_work(actor=desk, incident=incident, minutes=minutes)

    assert fields_of(refused.value) == ["minutes"]
    assert not IncidentEvent.objects.filter(kind=EventKind.WORKLOG).exists()


def test_requester_cannot_log_work(incident, requester):
    with pytest.raises(PermissionDenied):
        actions.log_work(actor=requester, incident=incident, minutes=10)


# --- attachments -----------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(name: str = "screen.png", content: bytes = b"\x89PNG....") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/png")


def test_an_allowed_file_is_stored_under_the_media_root(incident, requester, media):
    attachment = actions.add_attachment(actor=requester, incident=incident, upload=upload())

    path = Path(attachment.file.path)
    assert path.is_relative_to(media)
    assert path.read_bytes() == b"\x89PNG...."
    assert path.parent.name == str(incident.pk)
    assert (attachment.name, attachment.size, attachment.content_type) == (
        "screen.png",
        8,
        "image/png",
    )
    assert incident.events.filter(kind=EventKind.ATTACHMENT).count() == 1


def test_a_requesters_attachment_is_always_public(incident, requester, media):
    attachment = actions.add_attachment(
        actor=requester, incident=incident, upload=upload(), public=False
    )

    assert attachment.public


def test_an_agent_may_attach_an_internal_file(incident, desk, media):
    attachment = actions.add_attachment(
        actor=desk, incident=incident, upload=upload("trace.log"), public=False
    )

    assert attachment not in queries.attachments(incident, staff=False)
    assert attachment in queries.attachments(incident, staff=True)


@override_settings(KEEL_ATTACHMENT_MAX_BYTES=10)
def test_a_file_over_the_size_limit_is_refused(incident, requester, media):
    before = counts()

    with pytest.raises(FieldError) as refused:
        actions.add_attachment(actor=requester, incident=incident, upload=upload(content=b"x" * 11))

    assert fields_of(refused.value) == ["file"]
    assert not Attachment.objects.exists()
    assert counts() == before
    assert not Path(media).exists() or not any(Path(media).rglob("*.png"))


@override_settings(KEEL_ATTACHMENT_MAX_BYTES=10)
def test_a_file_of_exactly_the_size_limit_is_accepted(incident, requester, media):
    actions.add_attachment(actor=requester, incident=incident, upload=upload(content=b"x" * 10))

    assert Attachment.objects.count() == 1


@pytest.mark.parametrize("name", ["setup.exe", "script.js", "page.html", "README", "x.png.bat"])
def test_a_file_of_a_forbidden_type_is_refused(incident, requester, media, name):
    with pytest.raises(FieldError) as refused:
        actions.add_attachment(actor=requester, incident=incident, upload=upload(name))

    assert fields_of(refused.value) == ["file"]
    assert not Attachment.objects.exists()


def test_the_extension_is_checked_whatever_its_case(incident, requester, media):
    attachment = actions.add_attachment(actor=requester, incident=incident, upload=upload("A.PNG"))

    assert attachment.name == "A.PNG"


def test_a_path_in_the_file_name_is_dropped(incident, requester, media):
    attachment = actions.add_attachment(
        actor=requester, incident=incident, upload=upload("../../etc/screen.png")
    )

    assert attachment.name == "screen.png"
    assert Path(attachment.file.path).is_relative_to(media)


def test_files_cannot_be_attached_to_a_closed_incident(incident, desk, media):
    actions.cancel(actor=desk, incident=incident, reason="Recorded twice")

    with pytest.raises(InvalidTransition):
        actions.add_attachment(actor=desk, incident=incident, upload=upload())

    assert not Attachment.objects.exists()


def test_another_requester_cannot_attach_files(incident, make_user, media):
    with pytest.raises(NotFound):
        actions.add_attachment(actor=make_user(Role.REQUESTER), incident=incident, upload=upload())


def test_a_department_manager_cannot_attach_files_to_a_members_incident(
    service, department, department_manager, make_user, media
):
    incident = open_incident(
        requester=make_user(Role.REQUESTER, department=department), service=service
    )

    with pytest.raises(PermissionDenied):
        actions.add_attachment(actor=department_manager, incident=incident, upload=upload())


def test_the_system_user_records_sent_emails_in_the_timeline(incident):
    event = actions.note_email(incident=incident, to=["a@example.com"], kind="acknowledge")

    assert (event.kind, event.data, event.actor) == (
        EventKind.EMAIL,
        {"to": ["a@example.com"], "template": "acknowledge"},
        core_actions.system_user(),
    )
