"""The queue tabs' counts are kept for a few seconds; the list under them never is."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from keel.catalog import queries as catalog_queries
from keel.catalog.tests.factories import ServiceFactory
from keel.core import actions as core_actions
from keel.core.roles import Role
from keel.incidents import queries
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

QUEUE = "incidents:queue"


@pytest.fixture(autouse=True)
def _fresh_caches():
    catalog_queries.invalidate()
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def service():
    return ServiceFactory(name="Laptops")


@pytest.fixture
def desk_agent(service):
    return agent_in(service.team)


def tabs(response) -> dict[str, int]:
    return {t["key"]: t["count"] for t in response.context["tabs"]}


def counting_statements(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if 'COUNT("incidents_incident"' in q["sql"]]


def test_a_new_incident_shows_in_the_list_at_once_while_the_counts_may_lag(
    client_for, desk_agent, service
):
    client = client_for(desk_agent)
    first = open_incident(service=service, title="First")
    assert tabs(client.get(reverse(QUEUE)))["open"] == 1

    second = open_incident(service=service, title="Second")
    response = client.get(reverse(QUEUE))

    assert [r.number for r in response.context["rows"]] == [first.number, second.number]
    assert tabs(response)["open"] == 1  # counted a moment ago
    assert "The counts are at most 20 seconds old" in response.content.decode()


def test_the_counts_are_read_once_within_their_seconds(client_for, desk_agent, service):
    open_incident(service=service)
    client = client_for(desk_agent)
    with CaptureQueriesContext(connection) as first:
        client.get(reverse(QUEUE))
    with CaptureQueriesContext(connection) as second:
        client.get(reverse(QUEUE))

    assert len(counting_statements(first)) == 1
    assert counting_statements(second) == []


def test_the_counts_are_counted_again_after_their_seconds(desk_agent, service, monkeypatch):
    open_incident(service=service)
    kept: dict[str, dict] = {}
    monkeypatch.setattr(queries.cache, "get", lambda key: kept.get(key))
    monkeypatch.setattr(queries.cache, "set", lambda key, value, seconds: kept.update({key: value}))
    assert queries.recent_queue_counts(desk_agent)["open"] == 1
    open_incident(service=service)

    kept.clear()  # what the cache does once the seconds have passed

    assert queries.recent_queue_counts(desk_agent)["open"] == 2


@override_settings(KEEL_QUEUE_COUNTS_SECONDS=0)
def test_with_no_seconds_the_counts_are_always_current(client_for, desk_agent, service):
    client = client_for(desk_agent)
    open_incident(service=service)
    assert tabs(client.get(reverse(QUEUE)))["open"] == 1

    open_incident(service=service)
    response = client.get(reverse(QUEUE))

    assert tabs(response)["open"] == 2
    assert "The counts are at most" not in response.content.decode()


def test_joining_a_team_counts_afresh_at_once(client_for, desk_agent, service, administrator):
    other = ServiceFactory(name="Printers")
    open_incident(service=other)
    client = client_for(desk_agent)
    assert tabs(client.get(reverse(QUEUE)))["my_teams"] == 0

    core_actions.add_team_member(actor=administrator, team=other.team, user=desk_agent)

    assert tabs(client.get(reverse(QUEUE)))["my_teams"] == 1


def test_people_do_not_see_each_others_counts(client_for, desk_agent, service, make_user):
    open_incident(service=service)
    assert tabs(client_for(desk_agent).get(reverse(QUEUE)))["open"] == 1

    outsider = make_user(Role.AGENT)

    assert tabs(client_for(outsider).get(reverse(QUEUE)))["open"] == 0
