"""Incident reports: the figures over hand-made incidents and contacts (odd and even counts, an
empty scope), each filter, the monthly volume, and the median's speed at import scale."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from keel.catalog.tests.factories import ServiceFactory
from keel.core.roles import Role
from keel.incidents import reports
from keel.incidents.models import Incident, Interaction
from keel.incidents.reports import IncidentFigures, incident_figures
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def service(db):
    return ServiceFactory(name="Laptops")


@pytest.fixture
def agent(service):
    return agent_in(service.team)


def make_incident(service, *, at=START, hours=None, priority=3, reopened=0, moved=0, source=""):
    """An incident recorded at ``at``; resolved ``hours`` later when given."""
    incident = open_incident(service=service, at=at, notify_requester=False)
    Incident.objects.filter(pk=incident.pk).update(
        priority=priority,
        resolved_at=at + timedelta(hours=hours) if hours is not None else None,
        reopen_count=reopened,
        reassignment_count=moved,
        import_source=source,
    )
    return incident


def make_contact(agent, *, at=START, resolved=False, service=None, source=""):
    from keel.incidents import actions

    contact = actions.record_interaction(
        actor=agent,
        channel="phone",
        summary="Call",
        started_at=at,
        resolved_first_contact=resolved,
        service=service,
    )
    Interaction.objects.filter(pk=contact.pk).update(import_source=source)
    return contact


def test_an_empty_scope_gives_zeros_and_no_averages():
    assert incident_figures() == IncidentFigures(
        incidents=0,
        by_priority={},
        resolved=0,
        median_hours_to_resolve=None,
        mean_hours_to_resolve=None,
        reopened=0,
        mean_reassignments=None,
        interactions=0,
        first_contact_resolved=0,
        first_contact_rate=None,
    )


def test_the_figures_over_an_odd_number_of_resolved_incidents(service, agent):
    make_incident(service, hours=1, priority=2, moved=1)
    make_incident(service, hours=3, priority=3, reopened=2, moved=0)
    make_incident(service, hours=11, priority=3, moved=2)
    make_incident(service, hours=None, priority=5, moved=1)  # still open
    make_contact(agent, resolved=True)
    make_contact(agent, resolved=True)
    make_contact(agent, resolved=False)

    figures = incident_figures()

    assert figures.incidents == 4
    assert figures.by_priority == {2: 1, 3: 2, 5: 1}
    assert figures.resolved == 3
    assert figures.median_hours_to_resolve == pytest.approx(3.0)
    assert figures.mean_hours_to_resolve == pytest.approx(5.0)
    assert figures.reopened == 1
    assert figures.mean_reassignments == pytest.approx(1.0)
    assert figures.interactions == 3
    assert figures.first_contact_resolved == 2
    assert figures.first_contact_rate == pytest.approx(2 / 3)


def test_the_median_of_an_even_number_lies_between_the_middle_two(service):
    for hours in (0.5, 2, 4, 100):
        make_incident(service, hours=hours)
    figures = incident_figures()
    assert figures.median_hours_to_resolve == pytest.approx(3.0)
    assert figures.mean_hours_to_resolve == pytest.approx(26.625)


def test_minutes_and_seconds_count_exactly(service):
    make_incident(service, hours=18 + 45 / 60 + 36 / 3600)  # 18.76 h
    assert incident_figures().median_hours_to_resolve == pytest.approx(18.76, abs=1e-6)


def test_since_and_until_take_incidents_by_recording_and_contacts_by_start(service, agent):
    make_incident(service, at=START - timedelta(days=1), hours=1)
    inside = make_incident(service, at=START, hours=2)
    make_incident(service, at=START + timedelta(days=1), hours=4)
    make_contact(agent, at=START - timedelta(minutes=1), resolved=True)
    make_contact(agent, at=START + timedelta(hours=5), resolved=False)

    figures = incident_figures(since=START, until=START + timedelta(days=1))

    assert figures.incidents == 1
    assert figures.median_hours_to_resolve == pytest.approx(2.0)
    assert figures.interactions == 1
    assert figures.first_contact_rate == 0.0
    assert inside.created_at == START


def test_dates_mean_the_start_of_the_day(service, settings):
    make_incident(service, at=START, hours=1)
    assert incident_figures(since=date(2025, 3, 3), until=date(2025, 3, 4)).incidents == 1
    assert incident_figures(since=date(2025, 3, 4)).incidents == 0


def test_the_import_source_filters_both_tables(service, agent):
    make_incident(service, hours=1, source="bpic2014")
    make_incident(service, hours=9)
    make_contact(agent, resolved=True, source="bpic2014")
    make_contact(agent, resolved=False)

    imported = incident_figures(import_source="bpic2014")
    own = incident_figures(import_source="")

    assert (imported.incidents, imported.interactions, imported.first_contact_resolved) == (1, 1, 1)
    assert imported.median_hours_to_resolve == pytest.approx(1.0)
    assert (own.incidents, own.interactions, own.first_contact_resolved) == (1, 1, 0)
    assert incident_figures().incidents == 2


def test_service_and_team_narrow_incidents_and_contacts(service, agent):
    other = ServiceFactory(name="Printers")
    make_incident(service, hours=1)
    make_incident(other, hours=5)
    make_contact(agent, resolved=True, service=service)
    make_contact(agent, resolved=False, service=other)
    make_contact(agent, resolved=False)  # no service: only in the unfiltered figures

    by_service = incident_figures(service=service)
    by_team = incident_figures(team=other.team_id)

    assert (by_service.incidents, by_service.interactions, by_service.first_contact_rate) == (
        1,
        1,
        1.0,
    )
    assert by_team.incidents == 1
    assert by_team.median_hours_to_resolve == pytest.approx(5.0)
    assert by_team.interactions == 1
    assert incident_figures().interactions == 3


def test_the_monthly_volume_counts_each_month(service, agent):
    make_incident(service, at=datetime(2025, 1, 10, tzinfo=UTC), hours=1)
    make_incident(service, at=datetime(2025, 1, 20, tzinfo=UTC))
    make_incident(service, at=datetime(2025, 3, 5, tzinfo=UTC), hours=2)
    make_contact(agent, at=datetime(2025, 2, 1, 12, tzinfo=UTC))
    make_incident(service, at=datetime(2025, 5, 31, tzinfo=UTC))

    months = reports.monthly_volume()

    assert [(m.month, m.incidents, m.resolved, m.interactions) for m in months] == [
        (date(2025, 1, 1), 2, 1, 0),
        (date(2025, 2, 1), 0, 0, 1),
        (date(2025, 3, 1), 1, 1, 0),
        (date(2025, 4, 1), 0, 0, 0),  # a quiet month stays on the axis
        (date(2025, 5, 1), 1, 0, 0),
    ]


def test_the_figures_take_a_fixed_number_of_queries(service, agent, django_assert_num_queries):
    for hours in (1, 2, 3):
        make_incident(service, hours=hours)
    make_contact(agent)
    with django_assert_num_queries(4):
        incident_figures()


def test_the_median_of_45000_resolved_incidents_takes_well_under_a_second(service, make_user):
    """Import scale: the median is computed without loading the rows."""
    requester = make_user(Role.REQUESTER)
    team_id = service.team_id
    rows = [
        Incident(
            number=f"IMP-{n:06d}",
            title="Imported",
            requester=requester,
            service=service,
            team_id=team_id,
            impact=3,
            urgency=3,
            priority=1 + n % 5,
            created_at=START,
            updated_at=START,
            resolved_at=START + timedelta(minutes=n),
            import_source="bench",
        )
        for n in range(45_001)
    ]
    Incident.objects.bulk_create(rows, batch_size=2000)
    started = time.perf_counter()
    figures = incident_figures(import_source="bench")
    elapsed = time.perf_counter() - started
    assert figures.resolved == 45_001
    assert figures.median_hours_to_resolve == pytest.approx(22_500 / 60)
    limit = 1.0 if connection.vendor == "sqlite" else 2.0
    assert elapsed < limit, f"{elapsed:.2f} s"


def test_months_follow_the_readers_time_zone(service, agent):
    from django.utils import timezone

    make_incident(service, at=datetime(2025, 2, 28, 20, tzinfo=UTC))  # 1 March, 04:00 in Shanghai
    make_incident(service, at=datetime(2025, 2, 10, tzinfo=UTC))
    with timezone.override("Asia/Shanghai"):
        months = reports.monthly_volume()
    assert [(m.month, m.incidents) for m in months] == [
        (date(2025, 2, 1), 1),
        (date(2025, 3, 1), 1),
    ]
    with timezone.override("UTC"):
        assert [(m.month, m.incidents) for m in reports.monthly_volume()] == [(date(2025, 2, 1), 2)]


@pytest.mark.django_db
def test_the_report_page_filters_by_where_incidents_were_recorded(service, agent, client_for):
    make_incident(service, source="bpic2014")
    make_incident(service)
    client = client_for(agent)

    everything = client.get("/incidents/reports/").content.decode()
    imported = client.get("/incidents/reports/?import_source=bpic2014").content.decode()
    own = client.get("/incidents/reports/?import_source=keel").content.decode()

    assert "Imported from bpic2014" in everything
    figure = '<div class="stat" data-figure="incidents"><span class="stat-value">{}</span>'
    assert figure.format(2) in everything
    assert figure.format(1) in imported
    assert figure.format(1) in own


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lang", "median", "mean"),
    [("en", "1 h 15 min", "17 h 6 min"), ("zh-hans", "1 小时 15 分钟", "17 小时 6 分钟")],
)
def test_the_report_page_shows_times_to_resolve_as_durations(
    service, agent, client_for, lang, median, mean
):
    for hours in (0.06, 1.25, 50):
        make_incident(service, hours=hours)
    agent.language = lang
    agent.save(update_fields=["language"])

    page = client_for(agent).get("/incidents/reports/").content.decode()

    figure = '<div class="stat" data-figure="{}"><span class="stat-value">{}</span>'
    assert figure.format("median", median) in page
    assert figure.format("mean", mean) in page
