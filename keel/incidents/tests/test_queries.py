"""Read paths: the filters every list shares, the queues, who sees what, keyset pages that return
every row once and in order, queue counts, and constant query counts."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.catalog.tests.factories import CategoryFactory, ServiceFactory
from keel.cmdb.tests.factories import make_item
from keel.core.errors import FieldError
from keel.core.permissions import NotFound
from keel.core.roles import Role
from keel.core.tests.factories import DepartmentFactory, TeamFactory
from keel.incidents import actions, queries
from keel.incidents.lifecycle import Status
from keel.incidents.models import Incident
from keel.incidents.queries import IncidentFilter
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
NOW = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
_numbers = itertools.count(1)


@pytest.fixture
def desk_service():
    return ServiceFactory(name="Laptops", team=TeamFactory(name="Service desk"))


@pytest.fixture
def network_service():
    return ServiceFactory(name="Network", team=TeamFactory(name="Network"))


@pytest.fixture
def desk(desk_service):
    return agent_in(desk_service.team, name="Dana Desk")


def row(service, requester, **fields) -> Incident:
    """An incident row written directly (test set-up), open and due in a day unless told."""
    values = {
        "number": f"INC-{800_000 + next(_numbers)}",
        "title": "Printer jams",
        "requester": requester,
        "department_id": requester.department_id,
        "service": service,
        "team": service.team,
        "impact": 2,
        "urgency": 2,
        "priority": 3,
        "status": Status.NEW,
        "created_at": NOW,
        "updated_at": NOW,
        "respond_by": NOW + timedelta(hours=2),
        "resolve_by": NOW + timedelta(days=1),
        **fields,
    }
    values["is_open"] = values["status"] in {"new", "assigned", "in_progress", "on_hold"}
    return Incident.objects.create(**values)


def numbers(qs) -> list[str]:
    return [i.number for i in qs]


def viewable(viewer, **params) -> list[str]:
    return numbers(queries.incidents_for(viewer, IncidentFilter.parse(params), now=NOW))


# --- the filter definition ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"queue": "somebody_elses"}, "queue"),
        ({"status": "lost"}, "status"),
        ({"priority": "P9"}, "priority"),
        ({"priority": "high"}, "priority"),
        ({"priority": "P0"}, "priority"),
        ({"service": "laptops"}, "service"),
        ({"team": "-1"}, "team"),
        ({"category": "1.5"}, "category"),
        ({"requester": "me"}, "requester"),
        ({"assignee": "bob"}, "assignee"),
        ({"major": "maybe"}, "major"),
    ],
)
def test_a_bad_filter_is_named_in_the_errors(params, field):
    found = IncidentFilter.parse(params)

    assert [name for name, _message in found.errors] == [field]
    with pytest.raises(FieldError) as refused:
        found.raise_errors()
    assert [name for name, _message in refused.value.errors] == [field]


def test_an_unknown_queue_falls_back_to_the_default():
    assert IncidentFilter.parse({"queue": "nope"}, default_queue="mine").queue == "mine"


def test_good_filters_are_read_whatever_their_case_and_spacing():
    found = IncidentFilter.parse(
        {"queue": "mine", "priority": " p2 ", "service": "7", "assignee": "none", "major": "yes"}
    )

    assert (found.queue, found.priority, found.service, found.assignee, found.major) == (
        "mine",
        2,
        7,
        "none",
        True,
    )
    assert found.errors == []


def test_filters_round_trip_through_their_parameters():
    found = IncidentFilter.parse(
        {"queue": "open", "status": "on_hold", "priority": "P1", "team": "3", "q": "printer"}
    )

    assert IncidentFilter.parse(found.as_params()) == found


def test_free_text_is_cut_to_200_characters():
    assert len(IncidentFilter.parse({"q": "x" * 500}).q) == 200


# --- scope: who sees what ----------------------------------------------------------------------


@pytest.fixture
def scope_world(desk_service, network_service, make_user):
    """Three requesters (two in Finance, one in Sales) and one incident each."""
    finance, sales = DepartmentFactory(name="Finance"), DepartmentFactory(name="Sales")
    ann = make_user(Role.REQUESTER, department=finance, name="Ann")
    ben = make_user(Role.REQUESTER, department=finance, name="Ben")
    cas = make_user(Role.REQUESTER, department=sales, name="Cas")
    manager = make_user(Role.REQUESTER, department=finance, name="Fay Finance")
    finance.manager = manager
    finance.save(update_fields=["manager"])
    return {
        "finance": finance,
        "ann": ann,
        "ben": ben,
        "cas": cas,
        "manager": manager,
        "ann's": open_incident(requester=ann, service=desk_service),
        "ben's": open_incident(requester=ben, service=desk_service),
        "cas's": open_incident(requester=cas, service=network_service),
    }


def test_requester_sees_only_their_own_incidents(scope_world):
    assert viewable(scope_world["ann"], queue="all") == [scope_world["ann's"].number]


def test_department_manager_sees_their_departments_incidents(scope_world):
    assert set(viewable(scope_world["manager"], queue="all")) == {
        scope_world["ann's"].number,
        scope_world["ben's"].number,
    }


def test_agent_sees_their_teams_incidents(scope_world, desk):
    assert set(viewable(desk, queue="all")) == {
        scope_world["ann's"].number,
        scope_world["ben's"].number,
    }


def test_agent_of_another_team_does_not_see_them(scope_world, network_service):
    network_agent = agent_in(network_service.team)

    assert viewable(network_agent, queue="all") == [scope_world["cas's"].number]


def test_filtering_on_another_team_keeps_to_the_agents_scope(
    scope_world, network_service, desk_service
):
    network_agent = agent_in(network_service.team)

    assert viewable(network_agent, queue="all", team=str(desk_service.team_id)) == []
    assert viewable(network_agent, queue="all", team=str(network_service.team_id)) == [
        scope_world["cas's"].number
    ]


def test_the_agent_who_recorded_an_incident_for_a_caller_still_sees_it_elsewhere(
    scope_world, network_service
):
    recorder = agent_in(network_service.team)
    recorded = actions.open_incident(
        actor=recorder,
        requester=scope_world["ann"],
        title="Cannot print",
        service=scope_world["ann's"].service,
        impact=2,
        urgency=2,
    )

    assert recorded.number in viewable(recorder, queue="all")
    assert scope_world["ann's"].number not in viewable(recorder, queue="all")


def test_auditor_sees_every_incident(scope_world, auditor):
    assert len(viewable(auditor, queue="all")) == 3


def test_an_inactive_person_sees_nothing(scope_world):
    ann = scope_world["ann"]
    ann.is_active = False

    assert viewable(ann, queue="all") == []


def test_an_incident_out_of_scope_is_not_found(scope_world):
    with pytest.raises(NotFound):
        queries.incident_for(scope_world["ann"], scope_world["cas's"].number)


def test_an_incident_in_scope_is_found_by_its_number_in_any_case(scope_world):
    number = scope_world["ann's"].number

    assert queries.incident_for(scope_world["ann"], f" {number.lower()} ").number == number


def test_an_unknown_number_is_not_found(scope_world, auditor):
    with pytest.raises(NotFound):
        queries.incident_for(auditor, "INC-999999")


# --- the queues --------------------------------------------------------------------------------


@pytest.fixture
def queue_world(desk_service, network_service, desk, requester):
    """Rows in every situation a queue tells apart, on the desk's team unless named."""
    other = agent_in(desk_service.team, name="Olu Other")
    return {
        "mine": row(desk_service, requester, assignee=desk, status=Status.ASSIGNED),
        "colleague's": row(desk_service, requester, assignee=other, status=Status.ASSIGNED),
        "unassigned": row(desk_service, requester),
        "breaching": row(
            desk_service, requester, assignee=other, resolve_by=NOW + timedelta(hours=3)
        ),
        "paused": row(
            desk_service,
            requester,
            assignee=other,
            status=Status.ON_HOLD,
            paused_at=NOW,
            resolve_by=NOW + timedelta(hours=1),
        ),
        "closed": row(desk_service, requester, assignee=desk, status=Status.CLOSED),
        "network": row(network_service, requester),
    }


def names(world: dict, got: list[str]) -> set[str]:
    by_number = {incident.number: name for name, incident in world.items()}
    return {by_number[number] for number in got}


@pytest.mark.parametrize(
    ("queue", "expected"),
    [
        ("mine", {"mine"}),
        ("my_teams", {"mine", "colleague's", "unassigned", "breaching", "paused"}),
        ("unassigned", {"unassigned"}),
        ("breaching", {"breaching"}),
        ("open", {"mine", "colleague's", "unassigned", "breaching", "paused"}),
        ("all", {"mine", "colleague's", "unassigned", "breaching", "paused", "closed"}),
    ],
)
def test_each_queue_holds_the_right_incidents(queue_world, desk, queue, expected):
    assert names(queue_world, viewable(desk, queue=queue)) == expected


def test_an_auditor_sees_other_teams_in_all_open(queue_world, auditor):
    assert "network" in names(queue_world, viewable(auditor, queue="open"))


def test_queues_put_urgent_first_then_the_earliest_deadline(desk_service, desk, requester):
    late_p1 = row(desk_service, requester, priority=1, resolve_by=NOW + timedelta(hours=9))
    early_p1 = row(desk_service, requester, priority=1, resolve_by=NOW + timedelta(hours=1))
    early_p3 = row(desk_service, requester, priority=3, resolve_by=NOW - timedelta(hours=1))

    assert viewable(desk) == [early_p1.number, late_p1.number, early_p3.number]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "open"}, {"mine", "colleague's", "unassigned", "breaching", "paused"}),
        ({"status": "closed_or_cancelled"}, {"closed"}),
        ({"status": "on_hold"}, {"paused"}),
        ({"assignee": "me"}, {"mine", "closed"}),
        ({"assignee": "none"}, {"unassigned"}),
    ],
)
def test_filters_narrow_the_everything_queue(queue_world, desk, params, expected):
    assert names(queue_world, viewable(desk, queue="all", **params)) == expected


def test_filter_by_priority_service_team_and_person(
    desk_service, network_service, desk, requester, auditor
):
    p1 = row(desk_service, requester, priority=1, assignee=desk)
    network = row(network_service, requester)

    assert viewable(auditor, priority="P1") == [p1.number]
    assert viewable(auditor, service=str(network_service.pk)) == [network.number]
    assert viewable(auditor, team=str(network_service.team_id)) == [network.number]
    assert viewable(auditor, assignee=str(desk.pk)) == [p1.number]
    assert set(viewable(auditor, requester=str(requester.pk))) == {p1.number, network.number}


def test_a_category_filter_includes_its_subcategories(desk_service, desk, requester):
    hardware = CategoryFactory(name="Hardware")
    laptop = CategoryFactory(name="Laptop", parent=hardware)
    on_laptop = row(desk_service, requester, category=laptop)
    on_hardware = row(desk_service, requester, category=hardware)
    row(desk_service, requester)

    assert set(viewable(desk, category=str(hardware.pk))) == {on_laptop.number, on_hardware.number}
    assert viewable(desk, category=str(laptop.pk)) == [on_laptop.number]


def test_major_filter(desk_service, desk, requester):
    major = row(desk_service, requester, is_major=True)
    row(desk_service, requester)

    assert viewable(desk, major="1") == [major.number]
    assert major.number not in viewable(desk, major="0")


def test_text_search_matches_titles_and_a_number(desk_service, desk, requester):
    printer = row(desk_service, requester, title="Printer on floor 3 jams")
    vpn = row(desk_service, requester, title="VPN drops")

    assert viewable(desk, q="printer") == [printer.number]
    assert viewable(desk, q=vpn.number.lower()) == [vpn.number]


def shown_queue(viewer) -> list[tuple[str, ...]]:
    """What a queue page shows of each row: requester, service, team, assignee, category."""
    viewer = type(viewer).objects.get(pk=viewer.pk)  # a fresh reader: no role or team cache
    return [
        (i.requester.name, i.service.name, i.team.name, str(i.assignee or ""), str(i.category))
        for i in queries.incidents_for(viewer, IncidentFilter(queue="open"), now=NOW)
    ]


def test_a_queue_takes_the_same_few_queries_whatever_its_length(desk_service, desk, requester):
    category = CategoryFactory()

    def add(n: int) -> None:
        for k in range(n):
            row(desk_service, requester, assignee=desk if k % 2 else None, category=category)

    add(3)
    with CaptureQueriesContext(connection) as few:
        assert len(shown_queue(desk)) == 3
    add(27)
    with CaptureQueriesContext(connection) as many:
        assert len(shown_queue(desk)) == 30

    assert len(many) == len(few) <= 5  # the viewer, their roles, departments, teams; the rows


# --- keyset pages ------------------------------------------------------------------------------


def walk(qs, size: int) -> list[int]:
    """Every page from the first to the last, as primary keys."""
    seen: list[int] = []
    cursor = ""
    for _ in range(1000):
        rows, cursor = queries.page(qs, cursor, size)
        seen += [i.pk for i in rows]
        if cursor is None:
            return seen
    raise AssertionError("the pages never end")


def open_queue(viewer):
    return queries.incidents_for(viewer, IncidentFilter(queue="open"), now=NOW)


def test_pages_return_every_row_once_in_queue_order(desk_service, desk, requester):
    rnd = random.Random(20250303)
    deadlines = [None, NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=1, microseconds=1)]
    for _ in range(57):
        row(
            desk_service,
            requester,
            priority=rnd.randint(1, 5),
            resolve_by=rnd.choice(deadlines),
        )
    expected = [i.pk for i in open_queue(desk)]

    for size in (1, 2, 5, 10, 56, 57, 200):
        assert walk(open_queue(desk), size) == expected, f"page size {size}"


# Open incidents as (priority, deadline in hours from NOW or none), for the paging properties.
QUEUE_ROWS = st.lists(
    st.tuples(st.integers(1, 3), st.one_of(st.none(), st.integers(-2, 2))),
    min_size=0,
    max_size=12,
)
PROPERTY_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


def only_these_open(service, requester, rows) -> None:
    Incident.objects.all().delete()
    for priority, hours in rows:
        deadline = None if hours is None else NOW + timedelta(hours=hours)
        row(service, requester, priority=priority, resolve_by=deadline)


@settings(max_examples=40, **PROPERTY_SETTINGS)
@given(rows=QUEUE_ROWS, size=st.integers(1, 5))
def test_keyset_pages_never_skip_or_repeat_a_row(desk_service, desk, requester, rows, size):
    only_these_open(desk_service, requester, rows)

    assert walk(open_queue(desk), size) == [i.pk for i in open_queue(desk)]


def test_a_page_is_one_query(desk_service, desk, requester, django_assert_num_queries):
    for _ in range(5):
        row(desk_service, requester)
    _rows, cursor = queries.page(open_queue(desk), "", 2)

    with django_assert_num_queries(1):
        rows, _next = queries.page(open_queue(desk), cursor, 2)

    assert len(rows) == 2


def walk_listed(viewer, size: int) -> list[tuple[list[int], str | None]]:
    """Every page of :func:`queries.listed_page` from the first to the last: ids and cursor."""
    pages: list[tuple[list[int], str | None]] = []
    cursor: str | None = ""
    while cursor is not None and len(pages) < 1000:
        rows, cursor = queries.listed_page(open_queue(viewer), cursor, size)
        pages.append(([r.id for r in rows], cursor))
    return pages


def walk_instances(viewer, size: int) -> list[tuple[list[int], str | None]]:
    pages: list[tuple[list[int], str | None]] = []
    cursor: str | None = ""
    while cursor is not None and len(pages) < 1000:
        rows, cursor = queries.page(open_queue(viewer), cursor, size)
        pages.append(([i.pk for i in rows], cursor))
    return pages


def test_listed_pages_are_the_instance_pages_with_the_same_cursors(desk_service, desk, requester):
    """Missing deadlines sort last on PostgreSQL and first on SQLite: either way, the rows the
    list reads page as the queue's instances do, cursor for cursor."""
    rnd = random.Random(20251124)
    deadlines = [None, NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=1, microseconds=1)]
    for _ in range(23):
        row(desk_service, requester, priority=rnd.randint(1, 3), resolve_by=rnd.choice(deadlines))
    expected = [i.pk for i in open_queue(desk)]

    for size in (1, 2, 5, 22, 23, 200):
        pages = walk_listed(desk, size)
        assert pages == walk_instances(desk, size), f"page size {size}"
        assert [pk for ids, _cursor in pages for pk in ids] == expected


@settings(max_examples=25, **PROPERTY_SETTINGS)
@given(rows=QUEUE_ROWS, size=st.integers(1, 5))
def test_listed_pages_never_skip_or_repeat_a_row(desk_service, desk, requester, rows, size):
    only_these_open(desk_service, requester, rows)

    pages = walk_listed(desk, size)

    assert [pk for ids, _cursor in pages for pk in ids] == [i.pk for i in open_queue(desk)]
    assert pages == walk_instances(desk, size)


def test_a_listed_page_is_one_statement_joined_only_for_its_rows(
    desk_service, desk, requester, django_assert_num_queries
):
    category = CategoryFactory(name="Printers")
    for n in range(5):
        row(desk_service, requester, assignee=desk if n % 2 else None, category=category)
    _rows, cursor = queries.listed_page(open_queue(desk), "", 2)

    with django_assert_num_queries(1) as captured:
        rows, _next = queries.listed_page(open_queue(desk), cursor, 2)

    assert [(r.service__name, r.team__name, r.category__name) for r in rows] == [
        ("Laptops", "Service desk", "Printers")
    ] * 2
    assert {r.assignee__name for r in rows} == {"Dana Desk", None}
    # The page is picked on the incidents alone; the joins are for the page's rows only.
    (sql,) = [q["sql"] for q in captured.captured_queries]
    picked = sql[sql.index("(SELECT") :]
    assert "JOIN" in sql[: sql.index("(SELECT")]
    assert "JOIN" not in picked
    assert "LIMIT 3" in picked


def test_the_affected_items_of_a_page_are_read_at_once(
    desk_service, requester, django_assert_num_queries
):
    first, second = make_item("srv-1"), make_item("srv-2")
    both = row(desk_service, requester)
    both.affected_cis.set([second, first])
    one = row(desk_service, requester)
    one.affected_cis.set([second])
    none = row(desk_service, requester)

    with django_assert_num_queries(1):
        found = queries.affected_cis_of([both.pk, one.pk, none.pk])

    assert sorted(found[both.pk]) == sorted(
        [(first.pk, first.number, "srv-1"), (second.pk, second.number, "srv-2")]
    )
    assert found[one.pk] == [(second.pk, second.number, "srv-2")]
    assert none.pk not in found
    with django_assert_num_queries(0):
        assert queries.affected_cis_of([]) == {}


@pytest.mark.parametrize("cursor", ["garbage", "eyJ4IjogMX0", "W10"])
def test_a_bad_cursor_is_refused_naming_it(desk, cursor):
    with pytest.raises(FieldError) as refused:
        queries.page(open_queue(desk), cursor)

    assert [f for f, _m in refused.value.errors] == ["cursor"]


@pytest.mark.parametrize("size", [0, 201])
def test_a_page_size_out_of_range_is_refused(desk, size):
    with pytest.raises(FieldError) as refused:
        queries.page(open_queue(desk), "", size)

    assert [f for f, _m in refused.value.errors] == ["limit"]


# --- counts and the incident page --------------------------------------------------------------


def test_queue_counts_match_the_queues(queue_world, desk, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # the counts; the viewer's roles, departments, teams
        counts = queries.queue_counts(desk, now=NOW)

    assert counts == {
        queue: len(viewable(desk, queue=queue))
        for queue in ("mine", "my_teams", "unassigned", "breaching", "open")
    }


def test_queue_counts_of_someone_in_no_team(scope_world):
    counts = queries.queue_counts(scope_world["ann"], now=NOW)

    assert counts == {"mine": 0, "my_teams": 0, "unassigned": 1, "breaching": 0, "open": 1}


def test_the_timeline_is_oldest_first(desk_service, desk, requester, monkeypatch):
    incident = open_incident(requester=requester, service=desk_service, at=NOW)
    for minutes, text in ((30, "second"), (10, "first")):
        monkeypatch.setattr(timezone, "now", lambda m=minutes: NOW + timedelta(minutes=m))
        actions.comment(actor=desk, incident=incident, body=text)

    assert [e.body for e in queries.timeline(incident, staff=True)] == ["first", "second"]


def test_satisfaction_averages_ratings_per_service(desk_service, network_service, requester):
    row(desk_service, requester, status=Status.CLOSED, rating=5, rated_at=NOW)
    row(desk_service, requester, status=Status.CLOSED, rating=4, rated_at=NOW)
    row(network_service, requester, status=Status.CLOSED, rating=2, rated_at=NOW)
    row(network_service, requester, status=Status.CLOSED)

    assert queries.satisfaction(by="service") == [
        {"id": desk_service.pk, "name": "Laptops", "average": 4.5, "ratings": 2},
        {"id": network_service.pk, "name": "Network", "average": 2.0, "ratings": 1},
    ]


def test_satisfaction_per_team_counts_only_recent_ratings(desk_service, requester):
    row(desk_service, requester, status=Status.CLOSED, rating=1, rated_at=NOW - timedelta(days=90))
    row(desk_service, requester, status=Status.CLOSED, rating=5, rated_at=NOW)

    assert queries.satisfaction(by="team", since=NOW - timedelta(days=30)) == [
        {"id": desk_service.team_id, "name": "Service desk", "average": 5.0, "ratings": 1}
    ]
