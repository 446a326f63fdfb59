"""Read paths of the catalogue: targets with their fallbacks, the cached matrix, services, categories."""

from __future__ import annotations

import pytest

from keel.catalog import queries
from keel.catalog.models import PriorityScale, ServiceTarget
from keel.catalog.priority import DEFAULT_TARGETS
from keel.catalog.tests.factories import CategoryFactory, ServiceFactory, ServiceTargetFactory

pytestmark = pytest.mark.django_db


def set_default_target(priority: int, respond: int, resolve: int) -> None:
    ServiceTarget.objects.update_or_create(
        service=None,
        priority=priority,
        defaults={"respond_minutes": respond, "resolve_minutes": resolve},
    )


# --- targets ---------------------------------------------------------------------------------


def test_a_services_own_target_wins_over_the_defaults():
    service = ServiceFactory()
    set_default_target(2, 25, 400)
    ServiceTargetFactory(service=service, priority=2, respond_minutes=10, resolve_minutes=100)

    assert queries.targets_for(service.pk, 2) == (10, 100)


def test_configured_defaults_win_over_the_built_in_fallback():
    service = ServiceFactory()
    set_default_target(2, 25, 400)

    assert queries.targets_for(service.pk, 2) == (25, 400)


def test_without_any_target_the_built_in_fallback_applies():
    ServiceTarget.objects.filter(service=None).delete()
    service = ServiceFactory()

    assert queries.targets_for(service.pk, 4) == DEFAULT_TARGETS[4]


def test_a_service_with_targets_for_some_priorities_falls_back_for_the_others():
    service = ServiceFactory()
    ServiceTargetFactory(service=service, priority=1, respond_minutes=5, resolve_minutes=60)

    assert queries.targets_for(service.pk, 1) == (5, 60)
    assert queries.targets_for(service.pk, 3) == DEFAULT_TARGETS[3]


def test_another_services_targets_do_not_apply():
    mine, other = ServiceFactory(), ServiceFactory()
    ServiceTargetFactory(service=other, priority=3, respond_minutes=1, resolve_minutes=2)

    assert queries.targets_for(mine.pk, 3) == DEFAULT_TARGETS[3]


def test_targets_are_read_once_and_then_served_from_the_cache(django_assert_num_queries):
    service = ServiceFactory()
    queries.targets_for(service.pk, 3)

    with django_assert_num_queries(0):
        assert queries.targets_for(service.pk, 1) == DEFAULT_TARGETS[1]


def test_matrix_is_read_once_and_then_served_from_the_cache(django_assert_num_queries):
    queries.priority_for(2, 2)

    with django_assert_num_queries(0):
        assert queries.priority_for(3, 3) == 5
        assert queries.levels() == 3


def test_the_cache_expires_after_its_time_to_live(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(queries.time, "monotonic", lambda: clock[0])
    assert queries.levels() == 3
    PriorityScale.objects.filter(id=1).update(levels=5)

    clock[0] += queries.TTL - 1
    assert queries.levels() == 3
    clock[0] += 2
    assert queries.levels() == 5


# --- services and categories -----------------------------------------------------------------


def test_services_lists_only_active_services_by_name():
    ServiceFactory(name="VPN")
    ServiceFactory(name="E-mail")
    ServiceFactory(name="Fax", is_active=False)

    assert [s.name for s in queries.services()] == ["E-mail", "VPN"]


def test_portal_services_leave_out_those_not_shown_in_the_portal():
    ServiceFactory(name="E-mail")
    ServiceFactory(name="Core switches", in_portal=False)

    assert [s.name for s in queries.services(portal_only=True)] == ["E-mail"]


def test_services_with_their_targets_take_constant_queries(django_assert_max_num_queries):
    for _ in range(5):
        ServiceTargetFactory()

    with django_assert_max_num_queries(2):
        assert sum(len(s.targets.all()) for s in queries.services()) == 5


def test_category_choices_show_the_path_parents_first():
    hardware = CategoryFactory(name="Hardware")
    CategoryFactory(name="Laptop", parent=hardware)
    CategoryFactory(name="Access")

    assert [label for _pk, label in queries.category_choices()] == [
        "Access",
        "Hardware",
        "Hardware › Laptop",
    ]


def test_category_choices_leave_out_inactive_categories():
    CategoryFactory(name="Fax machines", is_active=False)
    CategoryFactory(name="Printers")

    assert [label for _pk, label in queries.category_choices()] == ["Printers"]
