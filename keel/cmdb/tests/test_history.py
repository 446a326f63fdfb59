"""What an item looked like on a date, read back from the audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from keel.cmdb import actions, history
from keel.cmdb.lifecycle import Status
from keel.cmdb.tests.factories import RelationKindFactory, make_item, relate, server_type
from keel.core.tests.factories import DepartmentFactory, TeamFactory

pytestmark = pytest.mark.django_db


class Clock:
    """What ``timezone.now()`` returns while a test runs."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    now = Clock(datetime(2025, 3, 1, 9, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", now)
    return now


def day(n: int) -> datetime:
    return datetime(2025, 3, n, 9, tzinfo=UTC)


@pytest.fixture
def story(clock, administrator):
    """srv-1: recorded 1 March, attributes and team changed 5 March, related 7 March, related
    elsewhere and retired 9 March."""
    team_a, team_b = TeamFactory(), TeamFactory()
    finance = DepartmentFactory()
    item = make_item(
        "srv-1",
        server_type(),
        team=team_a,
        status=Status.IN_SERVICE,
        attributes={"ram_gb": 16},
        warranty_expires=date(2026, 1, 1),
    )
    clock.now = day(5)
    actions.update_ci(
        actor=administrator,
        item=item,
        team=team_b,
        attributes={"ram_gb": 32, "os": "Debian"},
        used_by_departments=[finance],
    )
    clock.now = day(7)
    kind = RelationKindFactory(code="is-on")
    host, other = make_item("host-1"), make_item("host-2")
    first = relate(item, kind, host)
    clock.now = day(9)
    actions.remove_relation(actor=administrator, relation=first)
    relate(item, kind, other)
    actions.retire_ci(actor=administrator, item=item)
    return {
        "item": item,
        "a": team_a,
        "b": team_b,
        "host": host,
        "other": other,
        "finance": finance,
    }


def test_before_it_was_recorded_it_did_not_exist(story):
    assert history.as_of(story["item"], date(2025, 2, 28)) is None


def test_on_the_day_it_was_recorded(story):
    then = history.as_of(story["item"], date(2025, 3, 2))

    assert then["name"] == "srv-1"
    assert then["team"] == story["a"].pk
    assert then["status"] == Status.IN_SERVICE
    assert then["attributes"] == {"ram_gb": 16}
    assert then["warranty_expires"] == "2026-01-01"
    assert then["used_by_departments"] == []
    assert then["relations"] == []


def test_after_the_attributes_changed(story):
    then = history.as_of(story["item"], date(2025, 3, 6))

    assert then["team"] == story["b"].pk
    assert then["attributes"] == {"ram_gb": 32, "os": "Debian"}
    assert then["used_by_departments"] == [story["finance"].pk]


def test_relations_as_they_were(story):
    on_7th = history.as_of(story["item"], date(2025, 3, 8))
    today = history.as_of(story["item"], date(2025, 3, 10))

    assert [(r["source"], r["target"], r["kind"]) for r in on_7th["relations"]] == [
        (story["item"].pk, story["host"].pk, "is-on")
    ]
    assert [r["target"] for r in today["relations"]] == [story["other"].pk]
    assert today["status"] == Status.RETIRED


def test_a_moment_within_a_day(story):
    before = history.as_of(story["item"], datetime(2025, 3, 5, 8, tzinfo=UTC))
    after = history.as_of(story["item"], datetime(2025, 3, 5, 10, tzinfo=UTC))

    assert before["attributes"] == {"ram_gb": 16}
    assert after["attributes"] == {"ram_gb": 32, "os": "Debian"}


def test_the_events_list_the_items_and_its_relations_changes(story):
    actions_seen = [e.action for e in history.events_of(story["item"])]

    assert actions_seen == [
        "ci.retired",
        "relation.added",
        "relation.removed",
        "relation.added",
        "ci.updated",
        "ci.created",
    ]


def test_an_item_seen_from_the_other_end_of_a_relation(story):
    then = history.as_of(story["host"], date(2025, 3, 8))

    assert [r["source"] for r in then["relations"]] == [story["item"].pk]
    assert history.as_of(story["host"], date(2025, 3, 10))["relations"] == []
