"""Contacts with the desk (interactions): recording, linking, opening an incident from one.
Each rule is checked both ways, each refusal names its field, and nothing is half-written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from keel.catalog.tests.factories import CategoryFactory, ServiceFactory
from keel.core.errors import FieldError, NotFound
from keel.core.models import AuditEvent, TeamMembership
from keel.core.roles import Role
from keel.core.tests.factories import TeamFactory
from keel.incidents import actions
from keel.incidents.models import EventKind, Incident, IncidentEvent, Interaction
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(db):
    return ServiceFactory(name="E-mail")


@pytest.fixture
def desk_agent(service):
    return agent_in(service.team, name="Ada Agent")


@pytest.fixture
def caller(make_user):
    return make_user(Role.REQUESTER, name="Carl Caller")


def fields_of(exc: FieldError) -> set[str]:
    return {field for field, _message in exc.errors}


def test_an_agent_records_a_call_resolved_at_first_contact(desk_agent, caller, service):
    started = timezone.now() - timedelta(minutes=10)
    contact = actions.record_interaction(
        actor=desk_agent,
        channel="phone",
        summary="Password reset",
        contact=caller,
        started_at=started,
        ended_at=started + timedelta(minutes=4),
        service=service,
        resolved_first_contact=True,
    )
    assert contact.number == "CON-000001"
    assert contact.agent == desk_agent
    assert contact.handle_seconds == 240  # from start to end when not given
    assert contact.resolved_first_contact is True
    event = AuditEvent.objects.get(action="contact.recorded")
    assert event.object_id == str(contact.pk)
    assert event.changes["channel"] == [None, "phone"]


def test_numbers_follow_each_other(desk_agent):
    first = actions.record_interaction(actor=desk_agent, channel="email", summary="Question")
    second = actions.record_interaction(actor=desk_agent, channel="chat", summary="Another")
    assert (first.number, second.number) == ("CON-000001", "CON-000002")


@pytest.mark.parametrize("role", [Role.REQUESTER, Role.AUDITOR, Role.SERVICE_OWNER])
def test_only_people_who_work_incidents_record_contacts(make_user, role):
    with pytest.raises(PermissionDenied):
        actions.record_interaction(actor=make_user(role), channel="phone", summary="Hello")
    assert not Interaction.objects.exists()


def test_a_team_lead_records_contacts(team_lead):
    contact = actions.record_interaction(actor=team_lead, channel="walk_in", summary="Came by")
    assert contact.channel == "walk_in"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"channel": "portal"}, "channel"),
        ({"summary": ""}, "summary"),
        ({"summary": "x" * (actions.interactions.SUMMARY_MAX + 1)}, "summary"),
        ({"handle_seconds": -1}, "handle_seconds"),
        ({"handle_seconds": "ten"}, "handle_seconds"),
        ({"handle_seconds": 25 * 3600}, "handle_seconds"),
        ({"started_at": "future"}, "started_at"),
        ({"ended_at": "before"}, "ended_at"),
    ],
)
def test_bad_input_is_refused_naming_the_field(desk_agent, values, field):
    now = timezone.now()
    arguments = {"actor": desk_agent, "channel": "phone", "summary": "Printer jam", **values}
    if values.get("started_at") == "future":
        arguments["started_at"] = now + timedelta(hours=1)
    if values.get("ended_at") == "before":
        arguments["started_at"] = now - timedelta(minutes=5)
        arguments["ended_at"] = now - timedelta(minutes=10)
    with pytest.raises(FieldError) as raised:
        actions.record_interaction(**arguments)
    assert field in fields_of(raised.value)
    assert not Interaction.objects.exists()


def test_the_end_before_the_start_says_so(desk_agent):
    now = timezone.now()
    with pytest.raises(FieldError) as raised:
        actions.record_interaction(
            actor=desk_agent,
            channel="phone",
            summary="Call",
            started_at=now - timedelta(minutes=5),
            ended_at=now - timedelta(minutes=6),
        )
    assert raised.value.errors == [("ended_at", "The contact cannot end before it started.")]


def test_a_summary_may_be_left_out_only_when_resolved_there_and_then(desk_agent):
    contact = actions.record_interaction(
        actor=desk_agent, channel="phone", summary="  ", resolved_first_contact=True
    )
    assert contact.summary == ""
    with pytest.raises(FieldError) as raised:
        actions.record_interaction(actor=desk_agent, channel="phone", summary="  ")
    assert fields_of(raised.value) == {"summary"}


def test_a_retired_service_an_inactive_category_and_an_inactive_contact_are_refused(
    desk_agent, make_user
):
    gone = make_user(Role.REQUESTER, is_active=False)
    with pytest.raises(FieldError) as raised:
        actions.record_interaction(
            actor=desk_agent,
            channel="phone",
            summary="Call",
            contact=gone,
            service=ServiceFactory(is_active=False),
            category=CategoryFactory(is_active=False),
        )
    assert fields_of(raised.value) == {"contact", "service", "category"}


def test_linking_to_an_incident_puts_an_internal_line_in_its_timeline(desk_agent, caller, service):
    incident = open_incident(requester=caller, service=service)
    contact = actions.record_interaction(
        actor=desk_agent,
        channel="phone",
        summary="Asked when it will be fixed",
        contact=caller,
        incident=incident,
        handle_seconds=90,
    )
    assert contact.incident == incident
    event = IncidentEvent.objects.get(incident=incident, kind=EventKind.INTERACTION)
    assert event.public is False
    assert event.body == "Asked when it will be fixed"
    assert event.data["interaction"] == contact.number
    assert event.data["handle_seconds"] == 90
    assert event.at == contact.started_at


def test_an_incident_the_agent_cannot_see_reads_as_missing(desk_agent, caller):
    elsewhere = open_incident(requester=caller, service=ServiceFactory(team=TeamFactory()))
    with pytest.raises(NotFound):
        actions.record_interaction(
            actor=desk_agent, channel="phone", summary="Call", incident=elsewhere
        )
    assert not Interaction.objects.exists()


def test_a_contact_opens_an_incident_for_the_caller_in_one_transaction(desk_agent, caller, service):
    contact = actions.record_interaction(
        actor=desk_agent,
        channel="phone",
        summary="Outlook will not start\nSince this morning.",
        contact=caller,
        service=service,
        new_incident={"impact": 3, "urgency": 2},
    )
    incident = contact.incident
    assert incident is not None
    assert incident.title == "Outlook will not start"
    assert incident.requester == caller
    assert incident.reported_by == desk_agent
    assert incident.channel == "phone"
    assert incident.service == service
    assert IncidentEvent.objects.filter(incident=incident, kind=EventKind.INTERACTION).exists()
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "incident.opened",
        "contact.recorded",
    }


def test_an_incident_that_cannot_be_opened_leaves_no_contact_behind(desk_agent, caller, service):
    with pytest.raises(FieldError) as raised:
        actions.record_interaction(
            actor=desk_agent,
            channel="phone",
            summary="Outlook will not start",
            contact=caller,
            service=service,
            new_incident={"impact": 9, "urgency": 2},
        )
    assert fields_of(raised.value) == {"new_incident.impact"}
    assert not Interaction.objects.exists()
    assert not Incident.objects.exists()


def test_opening_an_incident_needs_a_contact_person_and_a_service(desk_agent):
    with pytest.raises(FieldError) as raised:
        actions.record_interaction(
            actor=desk_agent,
            channel="phone",
            summary="Something broke",
            new_incident={"impact": 3, "urgency": 3},
        )
    assert fields_of(raised.value) == {"contact", "service"}


def test_link_or_open_not_both(desk_agent, caller, service):
    incident = open_incident(requester=caller, service=service)
    with pytest.raises(FieldError) as raised:
        actions.record_interaction(
            actor=desk_agent,
            channel="phone",
            summary="Call",
            contact=caller,
            service=service,
            incident=incident,
            new_incident={"impact": 3, "urgency": 3},
        )
    assert "incident" in fields_of(raised.value)


def test_a_contact_is_linked_afterwards_and_may_move(desk_agent, caller, service):
    first = open_incident(requester=caller, service=service)
    second = open_incident(requester=caller, service=service, title="Second")
    contact = actions.record_interaction(actor=desk_agent, channel="email", summary="Chasing")
    actions.link_interaction(actor=desk_agent, interaction=contact, incident=first)
    actions.link_interaction(actor=desk_agent, interaction=contact, incident=second)
    contact.refresh_from_db()
    assert contact.incident == second
    audit = AuditEvent.objects.filter(action="contact.linked").order_by("seq").last()
    assert audit.changes["incident"] == [first.number, second.number]
    assert IncidentEvent.objects.filter(kind=EventKind.INTERACTION).count() == 2


def test_linking_again_to_the_same_incident_changes_nothing(desk_agent, caller, service):
    incident = open_incident(requester=caller, service=service)
    contact = actions.record_interaction(
        actor=desk_agent, channel="email", summary="Chasing", incident=incident
    )
    actions.link_interaction(actor=desk_agent, interaction=contact, incident=incident)
    assert IncidentEvent.objects.filter(kind=EventKind.INTERACTION).count() == 1


def test_linking_is_for_agents_and_to_incidents_they_see(desk_agent, caller, service, make_user):
    mine = open_incident(requester=caller, service=service)
    elsewhere = open_incident(requester=caller, service=ServiceFactory(team=TeamFactory()))
    contact = actions.record_interaction(actor=desk_agent, channel="email", summary="Chasing")
    with pytest.raises(PermissionDenied):
        actions.link_interaction(actor=caller, interaction=contact, incident=mine)
    with pytest.raises(NotFound):
        actions.link_interaction(actor=desk_agent, interaction=contact, incident=elsewhere)
    contact.refresh_from_db()
    assert contact.incident is None


def test_a_team_lead_outside_the_team_cannot_link_either(make_user, caller, service):
    lead = make_user(Role.AGENT, Role.TEAM_LEAD)
    TeamMembership.objects.create(team=TeamFactory(), user=lead)
    incident = open_incident(requester=caller, service=service)
    with pytest.raises(NotFound):
        actions.record_interaction(actor=lead, channel="phone", summary="x", incident=incident)
