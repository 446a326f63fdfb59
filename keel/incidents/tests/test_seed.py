"""``keel seed_incidents``: realistic bulk test data that leaves numbering and audit consistent."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command
from django.db.models import F

from keel.catalog.models import Service
from keel.core import audit
from keel.core.actions import system_user
from keel.core.models import AuditEvent, Sequence, Team, TeamMembership, User
from keel.incidents import actions
from keel.incidents.lifecycle import OPEN, Status
from keel.incidents.models import Incident

pytestmark = pytest.mark.django_db


def seed(count: int, **options) -> None:
    options = {
        "teams": 6,
        "services": 10,
        "requesters": 80,
        "batch": 200,
        "seed": 7,
        "jobs": 1,
        "verbosity": 0,
        **options,
    }
    call_command("seed_incidents", count=count, **options)


def test_seeds_realistic_incidents_without_audit_events():
    events_before = AuditEvent.objects.count()

    seed(500)

    incidents = Incident.objects.all()
    assert incidents.count() == 500
    open_share = incidents.filter(is_open=True).count() / 500
    assert 0.04 <= open_share <= 0.18
    assert set(incidents.filter(is_open=True).values_list("status", flat=True)) <= {
        s.value for s in OPEN
    }
    by_priority = Counter(incidents.values_list("priority", flat=True))
    assert by_priority[4] > by_priority[5] > by_priority[3] > by_priority[2] >= by_priority[1]
    # Deadlines come after recording, in order; closed ones carry their milestones.
    assert not incidents.filter(respond_by__lt=F("created_at")).exists()
    assert not incidents.filter(resolve_by__lt=F("respond_by")).exists()
    assert not incidents.filter(warn_at__gt=F("resolve_by")).exists()
    assert not incidents.filter(status=Status.CLOSED, closed_at__isnull=True).exists()
    assert not incidents.filter(status=Status.CLOSED, resolved_at__lt=F("created_at")).exists()
    assert not incidents.filter(status=Status.NEW, assignee__isnull=False).exists()
    # Teams have members and services are routed to the seeded teams.
    teams = Team.objects.filter(code__startswith="seed-")
    assert teams.count() == 6
    assert all(TeamMembership.objects.filter(team=t).exists() for t in teams)
    assert set(
        Service.objects.filter(code__startswith="seed-").values_list("team_id", flat=True)
    ) <= set(teams.values_list("pk", flat=True))
    assert set(incidents.values_list("requester__username", flat=True)) <= set(
        User.objects.filter(username__startswith="seed-user-").values_list("username", flat=True)
    )
    # Seeded rows write no audit events, and the chain still verifies.
    assert AuditEvent.objects.count() == events_before
    assert audit.verify().ok


def test_numbering_continues_gap_free_after_seeding():
    seed(500)

    numbers = sorted(Incident.objects.values_list("number", flat=True))
    assert numbers[0] == "INC-000001"
    assert numbers[-1] == "INC-000500"
    assert len(set(numbers)) == 500
    assert Sequence.objects.get(key="INC").value == 500

    requester = User.objects.filter(username__startswith="seed-user-").first()
    service = Service.objects.filter(code__startswith="seed-").first()
    incident = actions.open_incident(
        actor=requester,
        title="Laptop does not start",
        service=service,
        impact=2,
        urgency=2,
        notify_requester=False,
    )
    assert incident.number == "INC-000501"
    assert AuditEvent.objects.filter(action="incident.opened").count() == 1
    assert audit.verify().ok


def test_a_second_run_reuses_the_organisation_and_continues_numbers():
    seed(100)
    teams, people = Team.objects.count(), User.objects.count()

    seed(150, seed=8)

    assert Incident.objects.count() == 250
    assert Team.objects.count() == teams
    assert User.objects.count() == people
    assert Incident.objects.order_by("-number").first().number == "INC-000250"


def test_sla_flags_are_as_the_sweep_would_have_left_them():
    seed(300, open_fraction=0.5)

    report = actions.sweep_sla(actor=system_user())

    # Only what came due in the seconds since seeding (usually nothing) is left to the sweep.
    assert sum(len(pks) for pks in report.values()) <= 3


def test_refuses_bad_options():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="open-fraction"):
        seed(10, open_fraction=1.5)
    with pytest.raises(CommandError, match="count"):
        seed(-1)
