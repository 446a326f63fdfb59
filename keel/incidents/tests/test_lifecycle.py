"""The lifecycle table is the single truth: every step it allows works, every other is refused,
and who may take a step (the requester on their own incident, staff in scope) is enforced."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import product

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings
from django.utils import timezone

from keel.catalog.tests.factories import ServiceFactory
from keel.core.errors import FieldError, InvalidTransition, NotFound
from keel.core.models import AuditEvent
from keel.core.roles import Role
from keel.core.tests.factories import TeamFactory
from keel.incidents import actions, lifecycle
from keel.incidents.lifecycle import STEPS, HoldReason, Status
from keel.incidents.models import EventKind, Incident
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(make_user):
    lead = make_user(Role.AGENT, Role.TEAM_LEAD, name="Lena Lead")
    team = TeamFactory(name="Service desk", lead=lead)
    team.memberships.create(user=lead)
    return ServiceFactory(name="Laptops", team=team)


@pytest.fixture
def lead(service):
    """A team lead in the service's team: holds every incident permission a step needs."""
    return service.team.lead


@pytest.fixture
def desk(service):
    return agent_in(service.team, name="Dana Desk")


@pytest.fixture
def other(service):
    """A second agent in the team, to assign to."""
    return agent_in(service.team, name="Olu Other")


def fresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def fields_of(error: FieldError) -> list[str]:
    return [field for field, _message in error.errors]


@pytest.fixture
def incident_in(service, requester, lead, desk) -> Callable[[str], Incident]:
    """``incident_in(status)``: an incident of ``requester`` brought to ``status`` by actions."""

    def bring(status: str) -> Incident:
        incident = open_incident(requester=requester, service=service)
        if status == Status.NEW:
            return incident
        if status == Status.CANCELLED:
            return actions.cancel(actor=lead, incident=incident, reason="Recorded twice")
        actions.assign(actor=lead, incident=incident, assignee=desk)
        if status == Status.ASSIGNED:
            return incident
        actions.start(actor=desk, incident=incident)
        if status == Status.IN_PROGRESS:
            return incident
        if status == Status.ON_HOLD:
            return actions.hold(actor=desk, incident=incident, reason=HoldReason.AWAITING_SUPPLIER)
        actions.resolve(actor=desk, incident=incident, code="fixed", notes="New disk")
        if status == Status.RESOLVED:
            return incident
        return actions.confirm(actor=requester, incident=incident)

    return bring


@pytest.fixture
def take(other) -> Callable[[str, object, Incident], Incident]:
    """``take(step, actor, incident)``: take the named step with valid input."""

    def run(step: str, actor, incident: Incident) -> Incident:
        calls = {
            "assign": lambda: actions.assign(
                actor=actor, incident=incident, assignee=other, reason="Olu knows this model"
            ),
            "start": lambda: actions.start(actor=actor, incident=incident),
            "hold": lambda: actions.hold(
                actor=actor, incident=incident, reason=HoldReason.AWAITING_CHANGE
            ),
            "resume": lambda: actions.resume(actor=actor, incident=incident),
            "resolve": lambda: actions.resolve(
                actor=actor, incident=incident, code="workaround", notes="Use the spare"
            ),
            "confirm": lambda: actions.confirm(actor=actor, incident=incident),
            "reject": lambda: actions.reject(actor=actor, incident=incident, reason="Still slow"),
            "reopen": lambda: actions.reopen(actor=actor, incident=incident, reason="Back again"),
            "cancel": lambda: actions.cancel(actor=actor, incident=incident, reason="Duplicate"),
            "close": lambda: actions.close(actor=actor, incident=incident, reason="No answer"),
        }
        return calls[step]()

    return run


ALLOWED = [(s.value, name) for s, name in product(Status, STEPS) if s in STEPS[name].sources]
REFUSED = [(s.value, name) for s, name in product(Status, STEPS) if s not in STEPS[name].sources]


def test_the_table_covers_every_status_and_step():
    assert len(ALLOWED) + len(REFUSED) == len(Status) * len(STEPS)
    assert ALLOWED
    assert REFUSED


def test_the_table_names_only_known_statuses():
    assert all({*step.sources, step.target} <= set(Status.values) for step in STEPS.values())


def expected_status(status: str, step: str) -> str:
    """Where the step leads: the table's target, except that an incident on hold stays on hold
    when it changes hands (what it waits for has not arrived; its clock stays paused)."""
    if (status, step) == (Status.ON_HOLD, "assign"):
        return Status.ON_HOLD
    return STEPS[step].target


@pytest.mark.parametrize(("status", "step"), ALLOWED)
def test_every_step_the_table_allows_works(incident_in, take, lead, status, step):
    incident = incident_in(status)
    version = fresh(incident).version

    take(step, lead, incident)

    stored = fresh(incident)
    assert stored.status == expected_status(status, step)
    assert stored.is_open == lifecycle.is_open(stored.status)
    assert stored.version > version


@pytest.mark.parametrize(("status", "step"), REFUSED)
def test_every_step_the_table_does_not_allow_is_refused(incident_in, take, lead, status, step):
    incident = incident_in(status)
    version = fresh(incident).version
    audit_before = AuditEvent.objects.count()

    with pytest.raises(InvalidTransition) as refused:
        take(step, lead, incident)

    assert fields_of(refused.value) == ["status"]
    stored = fresh(incident)
    assert (stored.status, stored.version) == (status, version)
    assert AuditEvent.objects.count() == audit_before


def test_a_refusal_says_where_the_step_is_allowed_from():
    with pytest.raises(InvalidTransition) as refused:
        lifecycle.check(Status.NEW, "resume")

    assert "On hold" in str(refused.value.errors[0][1])


def test_an_unknown_step_is_refused():
    with pytest.raises(InvalidTransition):
        lifecycle.check(Status.NEW, "teleport")


def test_available_steps_follow_the_table_in_order():
    assert [s.name for s in lifecycle.available(Status.RESOLVED)] == [
        "confirm",
        "reject",
        "reopen",
        "close",
    ]
    assert lifecycle.available(Status.CANCELLED) == []


def test_each_step_is_recorded_in_the_timeline_and_the_audit_trail(incident_in, desk):
    incident = incident_in(Status.ASSIGNED)

    actions.start(actor=desk, incident=incident)

    event = incident.events.filter(kind=EventKind.STATUS).last()
    assert (event.public, event.data) == (True, {"old": "assigned", "new": "in_progress"})
    assert AuditEvent.objects.order_by("-seq").first().action == "incident.started"


def test_reassigning_an_incident_on_hold_keeps_it_on_hold_with_the_clock_paused(
    incident_in, lead, other
):
    incident = incident_in(Status.ON_HOLD)

    actions.assign(actor=lead, incident=incident, assignee=other, reason="Dana is away")

    stored = fresh(incident)
    assert (stored.status, stored.assignee, stored.hold_reason) == (
        Status.ON_HOLD,
        other,
        HoldReason.AWAITING_SUPPLIER,
    )
    assert stored.paused_at is not None


def test_starting_an_unassigned_incident_makes_it_the_agents(incident_in, desk):
    incident = incident_in(Status.NEW)

    actions.start(actor=desk, incident=incident)

    assert fresh(incident).assignee == desk


# --- the requester's steps -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "step", "target"),
    [
        (Status.RESOLVED, "confirm", Status.CLOSED),
        (Status.RESOLVED, "reject", Status.IN_PROGRESS),
        (Status.RESOLVED, "reopen", Status.IN_PROGRESS),
        (Status.CLOSED, "reopen", Status.IN_PROGRESS),
    ],
)
def test_requester_confirms_rejects_or_reopens_their_own_incident(
    incident_in, take, requester, status, step, target
):
    incident = incident_in(status)

    take(step, requester, incident)

    assert fresh(incident).status == target


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (Status.NEW, "assign"),
        (Status.NEW, "start"),
        (Status.IN_PROGRESS, "hold"),
        (Status.ON_HOLD, "resume"),
        (Status.IN_PROGRESS, "resolve"),
        (Status.RESOLVED, "close"),
        (Status.ASSIGNED, "cancel"),
    ],
)
def test_requester_cannot_take_staff_steps_on_their_own_incident(
    incident_in, take, requester, status, step
):
    incident = incident_in(status)

    with pytest.raises(PermissionDenied):
        take(step, requester, incident)

    assert fresh(incident).status == status


def test_requester_cancels_their_own_new_incident(incident_in, take, requester):
    incident = incident_in(Status.NEW)

    take("cancel", requester, incident)

    assert fresh(incident).status == Status.CANCELLED


@pytest.mark.parametrize(
    ("status", "step"),
    [(Status.RESOLVED, "confirm"), (Status.RESOLVED, "reject"), (Status.CLOSED, "reopen")],
)
def test_another_requester_cannot_act_on_it(incident_in, take, make_user, status, step):
    incident = incident_in(status)

    with pytest.raises(NotFound):
        take(step, make_user(Role.REQUESTER), incident)

    assert fresh(incident).status == status


def test_a_department_manager_sees_but_cannot_confirm_a_members_incident(
    service, department, department_manager, make_user, desk
):
    member = make_user(Role.REQUESTER, department=department)
    incident = open_incident(requester=member, service=service)
    actions.resolve(actor=desk, incident=incident, code="fixed", notes="Done")

    with pytest.raises(PermissionDenied):
        actions.confirm(actor=department_manager, incident=incident)

    assert fresh(incident).status == Status.RESOLVED


# --- staff out of scope or without the right ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (Status.NEW, "assign"),
        (Status.NEW, "start"),
        (Status.IN_PROGRESS, "hold"),
        (Status.ON_HOLD, "resume"),
        (Status.IN_PROGRESS, "resolve"),
        (Status.RESOLVED, "confirm"),
        (Status.RESOLVED, "reject"),
        (Status.CLOSED, "reopen"),
        (Status.NEW, "cancel"),
        (Status.RESOLVED, "close"),
    ],
)
def test_agent_of_another_team_cannot_act_because_it_is_out_of_scope(
    incident_in, take, status, step
):
    incident = incident_in(status)
    stranger = agent_in(TeamFactory(name="Network"))

    with pytest.raises(NotFound):
        take(step, stranger, incident)

    assert fresh(incident).status == status


@pytest.mark.parametrize(("status", "step"), [(Status.NEW, "start"), (Status.RESOLVED, "close")])
def test_an_auditor_sees_everything_but_cannot_act(incident_in, take, auditor, status, step):
    incident = incident_in(status)

    with pytest.raises(PermissionDenied):
        take(step, auditor, incident)

    assert fresh(incident).status == status


# --- input each step needs -------------------------------------------------------------------


def test_cancel_needs_a_reason(incident_in, desk):
    incident = incident_in(Status.NEW)

    with pytest.raises(FieldError) as refused:
        actions.cancel(actor=desk, incident=incident, reason="  ")

    assert fields_of(refused.value) == ["reason"]
    assert fresh(incident).status == Status.NEW


@pytest.mark.parametrize("step", ["reject", "reopen"])
def test_sending_it_back_needs_a_reason(incident_in, requester, step):
    incident = incident_in(Status.RESOLVED)

    with pytest.raises(FieldError) as refused:
        getattr(actions, step)(actor=requester, incident=incident, reason="")

    assert fields_of(refused.value) == ["reason"]
    assert fresh(incident).status == Status.RESOLVED


@pytest.mark.parametrize(
    ("code", "notes", "fields"),
    [("", "Done", ["code"]), ("fixed", " ", ["notes"]), ("magic", "", ["code", "notes"])],
)
def test_resolving_needs_a_resolution_code_and_notes(incident_in, desk, code, notes, fields):
    incident = incident_in(Status.IN_PROGRESS)

    with pytest.raises(FieldError) as refused:
        actions.resolve(actor=desk, incident=incident, code=code, notes=notes)

    assert fields_of(refused.value) == fields
    assert fresh(incident).status == Status.IN_PROGRESS


def test_holding_needs_a_known_reason(incident_in, desk):
    incident = incident_in(Status.IN_PROGRESS)

    with pytest.raises(FieldError) as refused:
        actions.hold(actor=desk, incident=incident, reason="lunch")

    assert fields_of(refused.value) == ["reason"]


def test_resolving_records_the_code_notes_and_time(incident_in, desk):
    incident = incident_in(Status.IN_PROGRESS)

    actions.resolve(actor=desk, incident=incident, code="workaround", notes="Use the spare")

    stored = fresh(incident)
    assert (stored.resolution_code, stored.resolution_notes) == ("workaround", "Use the spare")
    assert stored.resolved_at is not None


def test_rejecting_counts_a_reopen_and_clears_the_resolution(incident_in, requester):
    incident = incident_in(Status.RESOLVED)

    actions.reject(actor=requester, incident=incident, reason="Still black screen")

    stored = fresh(incident)
    assert (stored.reopen_count, stored.resolution_code, stored.resolved_at) == (1, "", None)
    assert AuditEvent.objects.order_by("-seq").first().action == "incident.rejected"


# --- reopening a closed incident ---------------------------------------------------------------


def closed_days_ago(incident: Incident, days: float) -> Incident:
    Incident.objects.filter(pk=incident.pk).update(closed_at=timezone.now() - timedelta(days=days))
    return fresh(incident)


@override_settings(KEEL_INCIDENT_REOPEN_DAYS=3)
def test_a_closed_incident_reopens_within_the_reopen_period(incident_in, requester):
    incident = closed_days_ago(incident_in(Status.CLOSED), 2.9)

    actions.reopen(actor=requester, incident=incident, reason="It happened again")

    stored = fresh(incident)
    assert (stored.status, stored.closed_at, stored.reopen_count) == (Status.IN_PROGRESS, None, 1)


@override_settings(KEEL_INCIDENT_REOPEN_DAYS=3)
def test_a_closed_incident_does_not_reopen_after_the_reopen_period(incident_in, requester):
    incident = closed_days_ago(incident_in(Status.CLOSED), 3.1)

    with pytest.raises(InvalidTransition):
        actions.reopen(actor=requester, incident=incident, reason="It happened again")

    assert fresh(incident).status == Status.CLOSED


@override_settings(KEEL_INCIDENT_REOPEN_DAYS=0)
def test_with_no_reopen_period_a_closed_incident_stays_closed(incident_in, desk):
    incident = closed_days_ago(incident_in(Status.CLOSED), 0.01)

    with pytest.raises(InvalidTransition):
        actions.reopen(actor=desk, incident=incident, reason="It happened again")


def test_a_resolved_incident_reopens_whatever_the_period(incident_in, requester):
    incident = incident_in(Status.RESOLVED)
    Incident.objects.filter(pk=incident.pk).update(resolved_at=timezone.now() - timedelta(days=400))

    actions.reopen(actor=requester, incident=fresh(incident), reason="Back")

    assert fresh(incident).status == Status.IN_PROGRESS
