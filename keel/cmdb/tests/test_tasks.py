"""Expiry reminders: warranties and licences ending within the window are e-mailed to the
owner and the support team's lead, once per expiry date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from keel.cmdb import actions, tasks
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import ExpiryReminder
from keel.cmdb.tests.factories import make_item
from keel.core.models import AuditEvent
from keel.core.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the sweep as the worker does: its e-mails go out once its transaction commits."""

    def run(actor, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return actions.plan_expiry_reminders(actor=actor, **kwargs)

    return run


TODAY = date(2026, 3, 1)


@pytest.fixture
def owner():
    return UserFactory(email="owner@example.com")


@pytest.fixture
def team():
    return TeamFactory(lead=UserFactory(email="lead@example.com"), email="ops@example.com")


def test_a_warranty_ending_within_30_days_is_reminded_once(sweep, system_actor, owner, team):
    item = make_item("srv-1", owner=owner, team=team, warranty_expires=TODAY + timedelta(days=20))

    first = sweep(system_actor, today=TODAY)
    again = sweep(system_actor, today=TODAY + timedelta(days=1))

    assert len(first) == 1
    assert again == []
    assert len(mail.outbox) == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["lead@example.com", "owner@example.com"]
    assert "srv-1" in mail.outbox[0].subject
    assert item.number in mail.outbox[0].subject
    reminder = ExpiryReminder.objects.get()
    assert reminder.sent_at is not None
    assert sorted(reminder.sent_to) == ["lead@example.com", "owner@example.com"]
    assert AuditEvent.objects.filter(action="ci.expiry_reminder").count() == 1


def test_later_expiries_and_retired_items_are_left_alone(sweep, system_actor, owner):
    make_item("far", owner=owner, licence_expires=TODAY + timedelta(days=31))
    make_item("past", owner=owner, licence_expires=TODAY - timedelta(days=1))
    old = make_item("old", owner=owner, status=Status.IN_SERVICE, licence_expires=TODAY)
    actions.retire_ci(actor=system_actor, item=old)

    assert sweep(system_actor, today=TODAY) == []
    assert mail.outbox == []


def test_warranty_and_licence_are_reminded_separately(sweep, system_actor, owner):
    make_item(
        "laptop",
        owner=owner,
        warranty_expires=TODAY + timedelta(days=3),
        licence_expires=TODAY + timedelta(days=4),
    )

    assert len(sweep(system_actor, today=TODAY)) == 2
    assert {r.kind for r in ExpiryReminder.objects.all()} == {"warranty", "licence"}


def test_a_renewed_date_is_reminded_again(sweep, system_actor, owner):
    item = make_item("srv", owner=owner, warranty_expires=TODAY + timedelta(days=5))
    sweep(system_actor, today=TODAY)
    actions.update_ci(actor=system_actor, item=item, warranty_expires=TODAY + timedelta(days=25))

    assert len(sweep(system_actor, today=TODAY)) == 1


def test_without_people_the_teams_address_is_used(sweep, system_actor):
    team = TeamFactory(email="desk@example.com")
    make_item("srv", team=team, warranty_expires=TODAY)

    sweep(system_actor, today=TODAY)

    assert [m.to for m in mail.outbox] == [["desk@example.com"]]


@override_settings(KEEL_CMDB_REMINDER_DAYS=60)
def test_the_window_can_be_set(sweep, system_actor, owner):
    make_item("srv", owner=owner, warranty_expires=TODAY + timedelta(days=45))

    assert len(sweep(system_actor, today=TODAY)) == 1


def test_a_rolled_back_sweep_sends_nothing(sweep, system_actor, owner, monkeypatch):
    make_item("srv", owner=owner, warranty_expires=TODAY)
    from keel.core import audit

    def broken(*args, **kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(audit, "record", broken)
    monkeypatch.setattr(audit, "record_many", broken)
    with pytest.raises(RuntimeError, match="audit down"):
        sweep(system_actor, today=TODAY)

    assert mail.outbox == []
    assert not ExpiryReminder.objects.exists()


def test_the_periodic_task_runs_the_sweep(owner, django_capture_on_commit_callbacks):
    make_item("srv", owner=owner, warranty_expires=timezone.localdate() + timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.expiry_reminders.call_local()

    assert len(mail.outbox) == 1
