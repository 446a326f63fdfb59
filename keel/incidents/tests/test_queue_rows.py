"""The queue's rows are kept rendered for a minute, and never show an incident as it was before a
change, or in someone else's language or time zone. A page of kept rows reads only the few
columns that name them; only the rows not kept are read whole."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.db import connection
from django.template import Context, Template, TemplateSyntaxError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from keel.catalog import queries as catalog_queries
from keel.catalog.models import Category, Service
from keel.catalog.tests.factories import CategoryFactory, ServiceFactory
from keel.core.models import Team
from keel.core.roles import Role
from keel.incidents import actions, queries
from keel.incidents.models import Incident
from keel.incidents.tests.factories import agent_in, open_incident
from keel.incidents.tests.instances import instances_built
from keel.incidents.views._queue_rows import QueueRow, queue_rows, row_key

pytestmark = pytest.mark.django_db

QUEUE = "incidents:queue"


def _rows_kept() -> int:
    """Queue rows in the fragment cache (the page keeps its filter choices there too)."""
    return sum(1 for key in caches["fragments"]._cache if "queue_row" in key)


def _forget_rows() -> None:
    """Forget the kept rows only (the page keeps its filter choices in the same cache)."""
    fragments = caches["fragments"]
    for key in [k for k in fragments._cache if "queue_row" in k]:
        fragments.delete(key.split(":", 2)[2])  # the key as given, without prefix and version


def _row_reads(captured) -> list[str]:
    """The statements that read incidents' rows (not the tabs' counts)."""
    return [
        q["sql"] for q in captured.captured_queries if '"incidents_incident"."number"' in q["sql"]
    ]


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
    shanghai = timezone.localtime(incident.respond_by, timezone.get_fixed_timezone(8 * 60))
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


def test_a_page_of_kept_rows_reads_only_their_keys(client_for, desk_agent, service):
    for n in range(3):
        open_incident(service=service, category=CategoryFactory() if n else None)
    client = client_for(desk_agent)
    client.get(reverse(QUEUE))

    models = (Incident, Service, Team, Category)
    with instances_built(*models) as built, CaptureQueriesContext(connection) as captured:
        body = client.get(reverse(QUEUE)).content.decode()

    assert body.count("<tr data-href=") == 3
    assert sum(built.values()) == 0, built
    (read,) = _row_reads(captured)
    assert "JOIN" not in read
    assert '"incidents_incident"."title"' not in read


def test_only_the_rows_not_kept_are_read_whole(client_for, desk_agent, service):
    first, second, _third = (open_incident(service=service) for _ in range(3))
    client = client_for(desk_agent)
    client.get(reverse(QUEUE))

    actions.assign(actor=desk_agent, incident=second, assignee=desk_agent)
    with instances_built(Incident) as built, CaptureQueriesContext(connection) as captured:
        body = client.get(reverse(QUEUE)).content.decode()

    assert built[Incident] == 1
    assert "Dana Agent" in row_of(body, second.number)
    assert "Unassigned" in row_of(body, first.number)
    keys, whole = _row_reads(captured)
    assert "JOIN" not in keys
    assert "JOIN" in whole  # with the records the row names, selected with it


@pytest.mark.parametrize("can_assign", [True, False])
def test_the_table_reads_the_same_kept_or_rendered(
    client_for, desk_agent, service, make_user, can_assign
):
    reader = desk_agent if can_assign else make_user(Role.AUDITOR)
    plain = open_incident(service=service, title="New <b>one</b>")
    held = open_incident(service=service, category=CategoryFactory(name="Hardware"), impact=1)
    actions.assign(actor=desk_agent, incident=held, assignee=desk_agent)
    actions.start(actor=desk_agent, incident=held)
    actions.hold(actor=desk_agent, incident=held, reason="awaiting_supplier")
    open_incident(service=service, at=timezone.now() - timedelta(days=30))  # breached
    major = open_incident(service=service, title="Everyone")
    manager = make_user(Role.AGENT, Role.TEAM_LEAD, Role.SERVICE_OWNER)
    actions.declare_major(actor=manager, incident=major, manager=manager, reason="Many affected")
    Incident.objects.filter(pk=plain.pk).update(resolve_by=None)
    client = client_for(reader)

    def table() -> str:
        body = client.get(reverse(QUEUE)).content.decode()
        return body[body.index("<tbody>") : body.index("</tbody>")]

    rendered = table()
    kept = table()
    _forget_rows()
    again = table()

    assert rendered == kept == again
    assert rendered.count("<tr data-href=") == 4
    assert ('type="checkbox"' in rendered) is can_assign
    assert _rows_kept() == 4


def test_the_queue_takes_the_same_queries_whatever_its_length_kept_or_not(
    client_for, desk_agent, service
):
    client = client_for(desk_agent)

    def statements(count: int) -> tuple[int, int]:
        while Incident.objects.count() < count:
            open_incident(service=service, category=CategoryFactory())
        client.get(reverse(QUEUE))  # the session, the tabs' counts, the filter choices
        _forget_rows()
        with CaptureQueriesContext(connection) as cold:
            assert client.get(reverse(QUEUE)).content.decode().count("<tr data-href=") == count
        with CaptureQueriesContext(connection) as warm:
            client.get(reverse(QUEUE))
        return len(cold), len(warm)

    few, many = statements(3), statements(30)

    assert few == many
    cold, warm = few
    assert cold == warm + 1  # the rows not kept, read whole in one statement


def test_a_row_that_left_the_queue_since_its_keys_were_read_is_not_shown(
    desk_agent, service, make_user
):
    staying, leaving = open_incident(service=service), open_incident(service=service)
    incidents = queries.incidents_for(desk_agent, queries.IncidentFilter(queue="my_teams"))
    page, _cursor = queries.page(queries.row_keys(incidents))
    other = ServiceFactory(name="Printers").team

    actions.assign(
        actor=make_user(Role.ADMINISTRATOR), incident=leaving, team=other, reason="Printers"
    )
    rows = queue_rows(page, incidents, minute="202511241200", can_assign=True)

    assert [r.number for r in page] == [staying.number, leaving.number]
    assert [r.number for r in rows] == [staying.number]


def test_a_row_changed_since_its_keys_were_read_is_kept_as_it_was_read_whole(desk_agent, service):
    incident = open_incident(service=service)
    incidents = queries.incidents_for(desk_agent, queries.IncidentFilter(queue="my_teams"))
    page, _cursor = queries.page(queries.row_keys(incidents))

    actions.assign(actor=desk_agent, incident=incident, assignee=desk_agent)
    (row,) = queue_rows(page, incidents, minute="202511241200", can_assign=True)

    assert row.incident is not None
    assert row.incident.version == incident.version > page[0].version
    vary = ("202511241200", translation.get_language(), timezone.get_current_timezone_name(), True)
    assert row.key == row_key(incident, vary) != row_key(page[0], vary)


def test_a_kept_row_is_shown_as_kept_and_another_rendered_and_kept():
    table = Template(
        "{% load incidents %}{% for row in rows %}{% kept_row row %}"
        "<{{ incident.number }}>{% endkept_row %}{% endfor %}"
    )
    incident = Incident(number="INC-1")
    rows = [
        QueueRow("INC-0", "kept-0", html="<kept>"),
        QueueRow("INC-1", "new-1", incident=incident),
    ]

    assert table.render(Context({"rows": rows})) == "<kept><INC-1>"
    assert caches["fragments"].get("new-1") == "<INC-1>"
    with pytest.raises(TemplateSyntaxError):
        Template("{% load incidents %}{% kept_row %}{% endkept_row %}")
