"""The periodic SLA sweep (warnings, breaches, escalation, unassigned work) and auto-closing
resolutions nobody confirmed. Both run as the system user and are safe to run again.

Unless a test says otherwise the service runs around the clock (no calendar), so a P3 incident
recorded at ``T0`` must be answered by T0 + 120 min, warns at T0 + 1,080 and is due at T0 + 1,440.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from keel.catalog.tests.factories import ServiceFactory
from keel.core import actions as core_actions
from keel.core.errors import StaleVersion
from keel.core.models import AuditEvent
from keel.core.roles import Role
from keel.core.tests.factories import TeamFactory
from keel.incidents import actions, tasks
from keel.incidents.lifecycle import HoldReason, Status
from keel.incidents.models import EventKind, Incident, IncidentEvent
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.fixture
def clock(monkeypatch):
    """``clock.now`` is what ``timezone.now()`` returns; tests move it."""

    class Clock:
        now = T0

        def __call__(self) -> datetime:
            return self.now

    fixed = Clock()
    monkeypatch.setattr(timezone, "now", fixed)
    return fixed


@pytest.fixture
def lead(make_user):
    return make_user(Role.AGENT, Role.TEAM_LEAD, name="Lena Lead")


@pytest.fixture
def owner(make_user):
    return make_user(Role.SERVICE_OWNER, name="Omar Owner")


@pytest.fixture
def service(lead, owner):
    team = TeamFactory(name="Service desk", lead=lead)
    team.memberships.create(user=lead)
    return ServiceFactory(name="Laptops", team=team, owner=owner)


@pytest.fixture
def second_line(make_user):
    """The team the service desk escalates to."""
    lead = make_user(Role.AGENT, Role.TEAM_LEAD, name="Sam Second")
    team = TeamFactory(name="Second line", lead=lead)
    team.memberships.create(user=lead)
    return team


@pytest.fixture
def desk(service):
    return agent_in(service.team, name="Dana Desk")


@pytest.fixture
def incident(service, requester, clock):
    return open_incident(requester=requester, service=service, at=T0)


@pytest.fixture
def worked(incident, desk, clock):
    """The incident, assigned to Dana and answered in time (so only the resolution clock runs)."""
    clock.now = minutes(5)
    actions.assign(actor=desk, incident=incident, assignee=desk)
    return incident


def sweep(at: datetime) -> dict[str, list[int]]:
    return actions.sweep_sla(actor=core_actions.system_user(), now=at)


def fresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def sla_states(incident: Incident) -> list[str]:
    return [
        e.data.get("state") or e.data.get("kind")
        for e in fresh(incident).events.filter(kind__in=[EventKind.SLA, EventKind.ESCALATION])
    ]


# --- warnings and breaches ---------------------------------------------------------------------


def test_the_sweep_warns_once_three_quarters_of_the_time_has_gone(worked):
    report = sweep(minutes(1080))

    assert report["warning"] == [worked.pk]
    stored = fresh(worked)
    assert (stored.warned, stored.resolution_breached) == (True, False)
    assert sla_states(worked) == ["warning"]


def test_the_sweep_does_not_warn_before_the_warning_time(worked):
    report = sweep(minutes(1079))

    assert report["warning"] == []
    assert not fresh(worked).warned


def test_the_sweep_marks_a_missed_response(incident):
    report = sweep(minutes(121))

    assert report["response_breached"] == [incident.pk]
    assert fresh(incident).response_breached
    assert "response_breached" in sla_states(incident)


def test_an_answered_incident_has_no_response_breach(worked):
    report = sweep(minutes(121))

    assert report["response_breached"] == []
    assert not fresh(worked).response_breached


def test_the_sweep_marks_a_missed_resolution(worked):
    report = sweep(minutes(1441))

    assert report["breached"] == [worked.pk]
    stored = fresh(worked)
    assert (stored.resolution_breached, stored.warned) == (True, True)
    assert sla_states(worked) == ["breached"]


def test_a_swept_change_moves_the_version_on_so_a_stale_form_conflicts(worked, desk):
    sweep(minutes(1441))

    with pytest.raises(StaleVersion):
        actions.update_incident(actor=desk, incident=worked, title="Edited on a stale page")


def test_an_incident_on_hold_is_neither_warned_nor_breached(worked, desk, clock):
    clock.now = minutes(10)
    actions.start(actor=desk, incident=worked)
    actions.hold(actor=desk, incident=worked, reason=HoldReason.AWAITING_REQUESTER)

    report = sweep(minutes(5000))

    assert (report["warning"], report["breached"]) == ([], [])
    stored = fresh(worked)
    assert (stored.warned, stored.resolution_breached) == (False, False)


def test_resolved_and_cancelled_incidents_are_not_swept(service, requester, desk, clock):
    done = open_incident(requester=requester, service=service, at=T0)
    actions.resolve(actor=desk, incident=done, code="fixed", notes="Done")
    dropped = open_incident(requester=requester, service=service, at=T0)
    actions.cancel(actor=desk, incident=dropped, reason="Recorded twice")

    report = sweep(minutes(10_000))

    assert not any(report.values())


# --- escalation --------------------------------------------------------------------------------


def test_a_breached_incident_moves_to_the_next_level_team(worked, service, second_line):
    service.team.next_level = second_line
    service.team.save(update_fields=["next_level"])

    report = sweep(minutes(1441))

    assert report["escalated"] == [worked.pk]
    stored = fresh(worked)
    assert (stored.team, stored.assignee, stored.escalation_level, stored.reassignment_count) == (
        second_line,
        None,
        1,
        1,
    )
    assert sla_states(worked) == ["breached", "functional"]


def test_a_team_without_a_next_level_keeps_its_breached_incident(worked, service, desk):
    report = sweep(minutes(1441))

    assert report["escalated"] == []
    stored = fresh(worked)
    assert (stored.team, stored.assignee, stored.escalation_level) == (service.team, desk, 0)


@override_settings(KEEL_UNASSIGNED_ESCALATION_MINUTES=30)
def test_an_incident_unassigned_for_too_long_escalates(incident):
    report = sweep(minutes(30))

    assert report["unassigned"] == [incident.pk]
    assert fresh(incident).escalation_level == 1
    assert "unassigned" in sla_states(incident)


@override_settings(KEEL_UNASSIGNED_ESCALATION_MINUTES=30)
def test_an_incident_unassigned_for_less_than_the_limit_waits(incident):
    report = sweep(minutes(29))

    assert report["unassigned"] == []
    assert fresh(incident).escalation_level == 0


@override_settings(KEEL_UNASSIGNED_ESCALATION_MINUTES=30)
def test_an_unassigned_incident_escalates_only_once(incident):
    sweep(minutes(30))

    report = sweep(minutes(90))

    assert report["unassigned"] == []
    assert fresh(incident).escalation_level == 1


@override_settings(KEEL_UNASSIGNED_ESCALATION_MINUTES=30)
def test_an_assigned_incident_does_not_escalate_as_unassigned(worked):
    report = sweep(minutes(60))

    assert report["unassigned"] == []


# --- safe to run again -------------------------------------------------------------------------


def test_a_second_sweep_at_the_same_moment_changes_nothing(incident, worked, service, second_line):
    service.team.next_level = second_line
    service.team.save(update_fields=["next_level"])
    sweep(minutes(1441))
    before = (
        list(Incident.objects.values_list("pk", "version", "team_id", "escalation_level")),
        AuditEvent.objects.count(),
        IncidentEvent.objects.count(),
    )

    report = sweep(minutes(1441))

    assert not any(report.values())
    after = (
        list(Incident.objects.values_list("pk", "version", "team_id", "escalation_level")),
        AuditEvent.objects.count(),
        IncidentEvent.objects.count(),
    )
    assert after == before


def test_one_audit_event_records_the_whole_sweep(service, requester, desk, clock):
    late = [open_incident(requester=requester, service=service, at=T0) for _ in range(3)]
    events_before = AuditEvent.objects.count()

    sweep(minutes(1441))

    assert AuditEvent.objects.count() == events_before + 1
    event = AuditEvent.objects.order_by("-seq").first()
    assert (event.action, event.actor_label) == ("incident.sla_swept", "Keel")
    assert sorted(event.changes["breached"][1]) == sorted(i.pk for i in late)


def test_a_sweep_with_nothing_due_writes_no_audit_event(worked):
    events_before = AuditEvent.objects.count()

    report = sweep(minutes(60))

    assert not any(report.values())
    assert AuditEvent.objects.count() == events_before


# --- notices -----------------------------------------------------------------------------------


def recipients() -> dict[str, set[str]]:
    """``{e-mail template subject word: {addresses}}`` of everything sent."""
    sent: dict[str, set[str]] = {}
    for message in mail.outbox:
        sent.setdefault(message.subject.split("] ", 1)[1].split(":")[0], set()).update(message.to)
    return sent


def test_a_warning_is_sent_to_the_assignee_and_the_team_lead(
    worked, desk, lead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sweep(minutes(1080))

    assert recipients() == {"Deadline approaching": {desk.email, lead.email}}


def test_a_breach_is_sent_to_the_assignee_the_team_lead_and_the_service_owner(
    worked, desk, lead, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sweep(minutes(1441))

    assert recipients() == {"Deadline missed": {desk.email, lead.email, owner.email}}
    assert fresh(worked).events.filter(kind=EventKind.EMAIL).exists()


def test_an_escalation_is_sent_to_the_next_level_team(
    worked, service, second_line, django_capture_on_commit_callbacks
):
    service.team.next_level = second_line
    service.team.save(update_fields=["next_level"])

    with django_capture_on_commit_callbacks(execute=True):
        sweep(minutes(1441))

    assert recipients()["Escalated to your team"] == {second_line.lead.email}


@override_settings(KEEL_UNASSIGNED_ESCALATION_MINUTES=30)
def test_an_unassigned_escalation_is_sent_to_the_team(
    incident, lead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sweep(minutes(31))

    assert recipients() == {"Escalated to your team": {lead.email}}


def test_a_sweep_with_nothing_due_sends_nothing(worked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sweep(minutes(60))

    assert mail.outbox == []


# --- scale -------------------------------------------------------------------------------------


def test_a_sweep_over_2000_due_incidents_takes_a_bounded_number_of_queries(
    service, requester, desk, django_assert_max_num_queries
):
    Incident.objects.bulk_create(
        [
            Incident(
                number=f"INC-{900_000 + n}",
                title=f"Incident {n}",
                requester=requester,
                service=service,
                team=service.team,
                assignee=desk,
                impact=2,
                urgency=2,
                priority=3,
                status=Status.IN_PROGRESS,
                created_at=T0,
                updated_at=T0,
                first_response_at=minutes(1),
                respond_by=minutes(120),
                warn_at=minutes(1080),
                resolve_by=minutes(1440),
            )
            for n in range(2000)
        ]
    )

    system = core_actions.system_user()

    with django_assert_max_num_queries(30):
        report = actions.sweep_sla(actor=system, now=minutes(1441))

    assert len(report["breached"]) == 2000
    assert Incident.objects.filter(resolution_breached=True).count() == 2000
    assert IncidentEvent.objects.filter(kind=EventKind.SLA).count() == 2000


# --- auto-closing unconfirmed resolutions ------------------------------------------------------


@pytest.fixture
def office_service(administrator, service):
    """A service of the same team on Monday–Friday, 09:00–18:00 in Shanghai."""
    calendar = core_actions.create_calendar(
        actor=administrator,
        name="Shanghai office",
        time_zone="Asia/Shanghai",
        periods=[(day, time(9), time(18)) for day in range(5)],
    )
    return ServiceFactory(name="ERP", team=service.team, calendar=calendar)


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def resolved_monday(office_service, requester, lead, clock):
    """Resolved on Monday 3 March 2025 at 10:00 in Shanghai."""
    clock.now = shanghai(3, 9, 30)
    incident = open_incident(requester=requester, service=office_service)
    clock.now = shanghai(3, 10)
    return actions.resolve(actor=lead, incident=incident, code="fixed", notes="Done")


def auto_close(clock, at: datetime) -> list[str]:
    clock.now = at
    return actions.auto_close_resolved(actor=core_actions.system_user(), now=at)


@override_settings(KEEL_INCIDENT_AUTO_CLOSE_DAYS=2)
def test_an_unconfirmed_resolution_closes_after_the_business_days(resolved_monday, clock):
    closed = auto_close(clock, shanghai(5, 10))  # Mon 10:00 + 2 × 540 business minutes

    assert closed == [resolved_monday.number]
    stored = fresh(resolved_monday)
    assert (stored.status, stored.is_open) == (Status.CLOSED, False)
    event = AuditEvent.objects.order_by("-seq").first()
    assert (event.action, event.actor_label) == ("incident.closed", "Keel")


@override_settings(KEEL_INCIDENT_AUTO_CLOSE_DAYS=2)
def test_an_unconfirmed_resolution_stays_open_to_confirmation_until_then(resolved_monday, clock):
    closed = auto_close(clock, shanghai(5, 9, 59))

    assert closed == []
    assert fresh(resolved_monday).status == Status.RESOLVED


@override_settings(KEEL_INCIDENT_AUTO_CLOSE_DAYS=1)
def test_the_weekend_does_not_count_towards_the_confirmation_period(
    office_service, requester, lead, clock
):
    clock.now = shanghai(7, 17)  # Friday
    incident = open_incident(requester=requester, service=office_service)
    actions.resolve(actor=lead, incident=incident, code="fixed", notes="Done")

    assert auto_close(clock, shanghai(9, 17)) == []  # Sunday: two calendar days later
    assert auto_close(clock, shanghai(10, 17)) == [incident.number]  # Monday: one business day


@override_settings(KEEL_INCIDENT_AUTO_CLOSE_DAYS=2)
def test_a_major_incident_without_a_completed_review_is_not_auto_closed(
    office_service, requester, lead, clock
):
    clock.now = shanghai(3, 9, 30)
    major = open_incident(requester=requester, service=office_service)
    actions.declare_major(actor=lead, incident=major, manager=lead)
    actions.resolve(actor=lead, incident=major, code="fixed", notes="Done")

    closed = auto_close(clock, shanghai(12, 10))

    assert closed == []
    assert fresh(major).status == Status.RESOLVED


@override_settings(KEEL_INCIDENT_AUTO_CLOSE_DAYS=2)
def test_auto_close_leaves_open_incidents_alone(office_service, requester, clock):
    clock.now = shanghai(3, 9, 30)
    incident = open_incident(requester=requester, service=office_service)

    assert auto_close(clock, shanghai(20, 10)) == []
    assert fresh(incident).status == Status.NEW


# --- the periodic tasks ------------------------------------------------------------------------


def test_the_periodic_sla_task_sweeps_as_the_system_user(service, requester):
    incident = open_incident(
        requester=requester, service=service, at=timezone.now() - timedelta(days=2)
    )

    tasks.sla_sweep()

    assert fresh(incident).resolution_breached
    assert AuditEvent.objects.order_by("-seq").first().actor_label == "Keel"


@override_settings(KEEL_INCIDENT_AUTO_CLOSE_DAYS=1)
def test_the_periodic_auto_close_task_closes_old_resolutions(service, requester, desk):
    incident = open_incident(requester=requester, service=service)
    actions.resolve(actor=desk, incident=incident, code="fixed", notes="Done")
    Incident.objects.filter(pk=incident.pk).update(resolved_at=timezone.now() - timedelta(days=2))

    tasks.auto_close()

    assert fresh(incident).status == Status.CLOSED
