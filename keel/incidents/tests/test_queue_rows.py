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


def _rows_kept() -> int:
    """Queue rows in the fragment cache (the page keeps its filter choices there too)."""
    return sum(1 for key in caches["fragments"]._cache if "queue_row" in key)


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
    assert _rows_kept() == 1


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

    assert _rows_kept() == 2  # the row as it was, and as it is


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

    assert _rows_kept() == 2


def test_the_tick_box_shows_only_to_those_who_may_assign(
    client_for, desk_agent, service, make_user
):
    incident = open_incident(service=service)
    auditor = make_user(Role.AUDITOR)
    client_for(desk_agent).get(reverse(QUEUE))

    row = row_of(client_for(auditor).get(reverse(QUEUE)).content.decode(), incident.number)

    assert 'type="checkbox"' not in row


def test_the_filter_choices_are_kept_and_read_only_when_rendered(
    client_for, desk_agent, service, django_assert_max_num_queries
):
    open_incident(service=service)
    client = client_for(desk_agent)
    first = client.get(reverse(QUEUE)).content.decode()
    ServiceFactory(name="Printers")  # new choices show when the kept ones expire

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        again = client.get(reverse(QUEUE)).content.decode()

    tables = " ".join(q["sql"] for q in queries.captured_queries)
    for table in ("catalog_service", "core_team", "catalog_category"):
        assert f'FROM "{table}"' not in tables
    assert '<option value="' + str(service.pk) + '"' in again
    assert first.count("<option") == again.count("<option")
    assert "Printers" not in again
    caches["fragments"].clear()
    assert "Printers" in client.get(reverse(QUEUE)).content.decode()


def test_a_filter_choice_shows_as_selected_for_the_filter_asked_for(
    client_for, desk_agent, service
):
    client = client_for(desk_agent)
    client.get(reverse(QUEUE))

    chosen = client.get(reverse(QUEUE), {"service": service.pk}).content.decode()

    assert f'<option value="{service.pk}" selected>Laptops</option>' in chosen
    plain = client.get(reverse(QUEUE)).content.decode()
    assert f'<option value="{service.pk}" selected>' not in plain
