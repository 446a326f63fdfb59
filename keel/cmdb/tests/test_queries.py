"""Impact analysis on a small hand-made estate, cycle paths, the item list and its scope.

The estate (arrows point from the dependent item to what it needs)::

    Payroll (business service, used by Finance)
      ├─uses→ HR app ─runs on→ vm-1 ←hosts─ host-1
      └─uses→ Pay app ─runs on→ vm-1            │
                 └─uses→ pay-db ─runs on→ vm-2 ←hosts┘
    HR app ─uses→ Pay app ─uses→ HR app   (a loop; "uses" allows loops)
    vm-1 ─connects to─ switch              (no dependency: never followed)
"""

from __future__ import annotations

from datetime import date

import pytest

from keel.cmdb import queries
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import Dependency
from keel.cmdb.tests.factories import CITypeFactory, RelationKindFactory, make_item, relate
from keel.core.errors import FieldError
from keel.core.permissions import NotFound
from keel.core.tests.factories import DepartmentFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate():
    finance = DepartmentFactory(name="Finance")
    service_type = CITypeFactory(name="Business capability", code="biz", is_service=True)
    uses = RelationKindFactory(dependency=Dependency.SOURCE_ON_TARGET)
    runs_on = RelationKindFactory(dependency=Dependency.SOURCE_ON_TARGET, acyclic=True)
    hosts = RelationKindFactory(dependency=Dependency.TARGET_ON_SOURCE, acyclic=True)
    connects = RelationKindFactory(dependency=Dependency.NONE)
    e = {
        "payroll": make_item("Payroll", service_type, used_by_departments=[finance]),
        "hr": make_item("HR app"),
        "pay": make_item("Pay app"),
        "db": make_item("pay-db"),
        "vm1": make_item("vm-1"),
        "vm2": make_item("vm-2"),
        "host": make_item("host-1"),
        "switch": make_item("switch"),
    }
    relate(e["payroll"], uses, e["hr"])
    relate(e["payroll"], uses, e["pay"])
    relate(e["hr"], runs_on, e["vm1"])
    relate(e["pay"], runs_on, e["vm1"])
    relate(e["pay"], uses, e["db"])
    relate(e["db"], runs_on, e["vm2"])
    relate(e["host"], hosts, e["vm1"])
    relate(e["host"], hosts, e["vm2"])
    relate(e["hr"], uses, e["pay"])
    relate(e["pay"], uses, e["hr"])
    relate(e["vm1"], connects, e["switch"])
    e["finance"] = finance
    e["runs_on"] = runs_on
    return e


def by_name(estate, reached: dict[int, int]) -> dict[str, int]:
    names = {v.pk: k for k, v in estate.items() if hasattr(v, "number")}
    return {names[pk]: depth for pk, depth in reached.items()}


def test_up_from_a_host_reaches_everything_that_needs_it(estate):
    reached = queries.impact_set(estate["host"].pk, "up", 6)

    assert by_name(estate, reached) == {
        "host": 0,
        "vm1": 1,
        "vm2": 1,
        "hr": 2,
        "pay": 2,
        "db": 2,
        "payroll": 3,
    }


def test_the_depth_limit_stops_the_walk(estate):
    reached = queries.impact_set(estate["host"].pk, "up", 2)

    assert "payroll" not in by_name(estate, reached)
    assert max(reached.values()) == 2


def test_down_from_a_service_is_what_it_is_made_of(estate):
    reached = queries.impact_set(estate["payroll"].pk, "down", 6)

    assert by_name(estate, reached) == {
        "payroll": 0,
        "hr": 1,
        "pay": 1,
        "vm1": 2,
        "db": 2,
        "vm2": 3,
        "host": 3,
    }


def test_a_diamond_is_reached_once_at_its_nearest_distance(estate):
    reached = queries.impact(estate["vm1"].pk, "up", 6)

    names = [r.id for r in reached]
    assert len(names) == len(set(names))
    assert by_name(estate, {r.id: r.depth for r in reached})["payroll"] == 2


def test_a_loop_in_a_kind_that_allows_loops_ends(estate):
    reached = queries.impact_set(estate["hr"].pk, "up", 12)

    assert by_name(estate, reached) == {"hr": 0, "pay": 1, "payroll": 1}


def test_relations_without_a_dependency_are_not_followed(estate):
    assert by_name(estate, queries.impact_set(estate["switch"].pk, "up", 6)) == {"switch": 0}
    assert "switch" not in by_name(estate, queries.impact_set(estate["vm1"].pk, "down", 6))


def test_each_item_says_which_relation_reached_it(estate):
    reached = {r.id: r for r in queries.impact(estate["host"].pk, "up", 6)}

    assert reached[estate["host"].pk].via is None
    vm1 = reached[estate["vm1"].pk]
    from keel.cmdb.models import Relation

    relation = Relation.objects.get(pk=vm1.via)
    assert (relation.source_id, relation.target_id) == (estate["host"].pk, estate["vm1"].pk)


def test_dependencies_of_several_items_at_once(estate):
    found = queries.dependencies_of([estate["db"].pk, estate["hr"].pk])

    assert by_name(estate, dict.fromkeys(found, 0)).keys() == {
        "db",
        "vm2",
        "host",
        "hr",
        "vm1",
        "pay",
    }


def test_the_graph_has_nodes_edges_services_and_departments(estate):
    graph = queries.impact_graph(estate["vm2"].pk, "up", 6)

    names = {n["name"]: n["depth"] for n in graph["nodes"]}
    assert names == {"vm-2": 0, "pay-db": 1, "Pay app": 2, "Payroll": 3, "HR app": 3}
    ids = {n["id"] for n in graph["nodes"]}
    assert graph["edges"]
    assert all(e["source"] in ids and e["target"] in ids for e in graph["edges"])
    assert [s["name"] for s in graph["services"]] == ["Payroll"]
    assert [d["name"] for d in graph["departments"]] == ["Finance"]
    assert graph["total"] == 5
    assert graph["truncated"] is False


def test_a_large_graph_is_cut_to_the_nearest_nodes(estate):
    graph = queries.impact_graph(estate["host"].pk, "up", 6, max_nodes=3)

    assert graph["truncated"] is True
    assert graph["total"] == 7
    assert [n["depth"] for n in graph["nodes"]] == [0, 1, 1]
    assert [s["name"] for s in graph["services"]] == ["Payroll"]


def test_impact_runs_in_one_query(estate, django_assert_num_queries):
    with django_assert_num_queries(1):
        queries.impact(estate["host"].pk, "up", 6)


def test_the_graph_takes_a_fixed_number_of_queries(estate, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        queries.impact_graph(estate["host"].pk, "up", 6)


@pytest.mark.parametrize(
    ("direction", "depth", "field"),
    [("sideways", 3, "direction"), ("up", 0, "depth"), ("up", 99, "depth")],
)
def test_bad_direction_or_depth_is_named(estate, direction, depth, field):
    with pytest.raises(FieldError) as exc:
        queries.impact(estate["host"].pk, direction, depth)

    assert [f for f, _m in exc.value.errors] == [field]


def test_path_between_follows_one_kind_source_to_target(estate):
    path = queries.path_between(estate["hr"].pk, estate["vm1"].pk, estate["runs_on"])

    assert path == [estate["hr"].pk, estate["vm1"].pk]
    assert queries.path_between(estate["vm1"].pk, estate["hr"].pk, estate["runs_on"]) is None
    assert queries.path_between(estate["hr"].pk, estate["vm2"].pk, estate["runs_on"]) is None


# --- lists and scope ---------------------------------------------------------------------------


def test_a_requester_lists_only_what_is_assigned_to_them(requester):
    mine = make_item("my laptop", assigned_to=requester)
    make_item("someone else's")

    assert list(queries.items_for(requester)) == [mine]


def test_a_department_manager_sees_the_departments_items(department_manager, department):
    theirs = make_item("finance printer", department=department)
    make_item("elsewhere", department=DepartmentFactory())

    assert list(queries.items_for(department_manager)) == [theirs]


def test_staff_read_every_item(agent):
    make_item("a", team=TeamFactory())
    make_item("b")

    assert queries.items_for(agent).count() == 2


def test_an_item_out_of_scope_is_not_found(requester):
    item = make_item()

    with pytest.raises(NotFound):
        queries.item_for(requester, item.pk)


def test_items_are_found_by_number(agent):
    item = make_item()

    assert queries.item_for(agent, item.number.lower()) == item


def test_the_list_filters(agent):
    laptop = CITypeFactory(code="notebook")
    old = make_item("old", laptop, warranty_expires=date(2025, 1, 1), status=Status.IN_SERVICE)
    make_item("new", laptop, warranty_expires=date(2030, 1, 1))
    make_item("server")

    flt = queries.ItemFilter.parse({"type": "notebook", "expires_before": "2026-01-01"})

    assert list(queries.items_for(agent, flt)) == [old]


def test_bad_filters_are_named():
    flt = queries.ItemFilter.parse({"status": "lost", "team": "x", "expires_before": "soon"})

    assert [f for f, _m in flt.errors] == ["status", "team", "expires_before"]


def test_the_list_takes_a_fixed_number_of_queries(agent, django_assert_max_num_queries):
    for n in range(5):
        make_item(f"item {n}", team=TeamFactory(), used_by_departments=[DepartmentFactory()])

    with django_assert_max_num_queries(3):
        items = list(queries.items_for(agent))
        for item in items:
            _ = (item.type.name, item.team.name, list(item.used_by_departments.all()))


def test_devices_of_a_person_leave_out_retired_ones(requester, administrator):
    from keel.cmdb import actions

    laptop = make_item("laptop", assigned_to=requester, status=Status.IN_SERVICE)
    old = make_item("old laptop", assigned_to=requester, status=Status.IN_SERVICE)
    actions.retire_ci(actor=administrator, item=old)

    assert list(queries.devices_of(requester)) == [laptop]
