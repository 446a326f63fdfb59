"""The queue's rows are kept rendered for a minute, and never show an incident as it was before a
change, or in someone else's language or time zone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone

from keel.catalog import queries as catalog_queries
from keel.catalog.tests.factories import ServiceFactory
from keel.core.roles import Role
from keel.incidents import actions
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

QUEUE = "incidents:queue"


@pytest.fixture(autouse=True)
def _fresh_caches():
    catalog_queries.invalidate()
    caches["fragments"].clear()
    yield
    caches["fragments"].clear()


@pytest.fixture
def service():
    return ServiceFactory(name="Laptops")


@pytest.fixture
def desk_agent(service):
    return agent_in(service.team, name="Dana Agent")


def row_of(body: str, number: str) -> str:
    start = body.index(f'data-href="/incidents/{number}/"')
    return body[start : body.index("</tr>", start)]


def test_a_row_shown_again_is_the_same(client_for, desk_agent, service):
    incident = open_incident(service=service)
    client = client_for(desk_agent)

    first = client.get(reverse(QUEUE)).content.decode()
    again = client.get(reverse(QUEUE)).content.decode()

    assert row_of(first, incident.number) == row_of(again, incident.number)
    assert len(caches["fragments"]._cache) == 1


def test_a_change_shows_in_the_row_at_once(client_for, desk_agent, service):
    incident = open_incident(service=service, title="Laptop")
    client = client_for(desk_agent)
    assert "Unassigned" in row_of(client.get(reverse(QUEUE)).content.decode(), incident.number)

    actions.assign(actor=desk_agent, incident=incident, assignee=desk_agent)
    row = row_of(client.get(reverse(QUEUE)).content.decode(), incident.number)

    assert "Dana Agent" in row
    assert "Unassigned" not in row
    assert "status-assigned" in row


def test_a_comment_that_does_not_move_the_version_still_renews_the_row(
    client_for, desk_agent, service
):
    incident = open_incident(service=service)
    client = client_for(desk_agent)
    client.get(reverse(QUEUE))

    actions.comment(actor=desk_agent, incident=incident, body="Looking at it", public=True)
    client.get(reverse(QUEUE))

    assert len(caches["fragments"]._cache) == 2  # the row as it was, and as it is


def test_rows_follow_the_readers_language_and_time_zone(client_for, desk_agent, service, make_user):
    incident = open_incident(service=service)
    colleague = agent_in(service.team, language="zh-hans", time_zone="Asia/Shanghai")

    english = row_of(client_for(desk_agent).get(reverse(QUEUE)).content.decode(), incident.number)
    chinese = row_of(client_for(colleague).get(reverse(QUEUE)).content.decode(), incident.number)

    assert "Unassigned" in english
    assert "Unassigned" not in chinese
    shanghai = timezone.localtime(incident.resolve_by, timezone.get_fixed_timezone(8 * 60))
    assert shanghai.strftime("%Y-%m-%d %H:%M") in chinese


def test_the_sla_clock_of_a_row_is_renewed_each_minute(
    client_for, desk_agent, service, monkeypatch
):
    open_incident(service=service)
    client = client_for(desk_agent)
    client.get(reverse(QUEUE))
    later = timezone.now() + timedelta(minutes=1)
    monkeypatch.setattr("keel.incidents.views.console.timezone.now", lambda: later)

    client.get(reverse(QUEUE))

    assert len(caches["fragments"]._cache) == 2


def test_the_tick_box_shows_only_to_those_who_may_assign(
    client_for, desk_agent, service, make_user
):
    incident = open_incident(service=service)
    auditor = make_user(Role.AUDITOR)
    client_for(desk_agent).get(reverse(QUEUE))

    row = row_of(client_for(auditor).get(reverse(QUEUE)).content.decode(), incident.number)

    assert 'type="checkbox"' not in row
