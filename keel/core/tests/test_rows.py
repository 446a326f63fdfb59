"""Rows written by ``keel.db.rows.insert`` read back exactly as the ORM's own save writes them."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import pytest

from keel.core.models import AuditEvent, PendingTask, WorkerHeartbeat
from keel.db import rows
from keel.incidents.models import Incident

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 29, 9, 30, 15, 123456, tzinfo=SHANGHAI)


def _event(seq: int) -> AuditEvent:
    return AuditEvent(
        seq=seq,
        at=AT,
        actor_id=None,
        actor_label="keel",
        action="thing.changed",
        object_type="core.thing",
        object_id="42",
        object_repr="Ding “42” <b>",
        changes={"title": ["旧", "新"], "nested": {"n": [1, 2.5, None, True]}},
        reason="",
        request_id="r-1",
        prev_hash="0" * 64,
        hash="1" * 64,
    )


def _stored(model, pk) -> dict:
    return model.objects.filter(pk=pk).values().get()


def test_an_inserted_row_reads_back_as_a_saved_one():
    saved = _event(1)
    saved.save(force_insert=True)
    inserted = rows.insert(_event(2))

    one, two = _stored(AuditEvent, saved.pk), _stored(AuditEvent, inserted.pk)
    for row in (one, two):
        row.pop("id")
        row.pop("seq")

    assert two == one
    assert two["at"] == AT  # the same instant, microseconds kept, whatever the zone
    assert two["changes"] == {"title": ["旧", "新"], "nested": {"n": [1, 2.5, None, True]}}


def test_an_inserted_instance_gets_its_key_and_counts_as_saved():
    task = PendingTask(task="keel.x.y", args=[1, "二"], created_at=AT)

    rows.insert(task)

    assert task.pk is not None
    assert not task._state.adding
    assert _stored(PendingTask, task.pk)["args"] == [1, "二"]


def test_a_model_keyed_by_its_own_value_keeps_that_key():
    beat = rows.insert(WorkerHeartbeat(name="host:1", seen_at=AT))

    assert beat.pk == "host:1"
    assert WorkerHeartbeat.objects.get(pk="host:1").seen_at == AT


def test_a_following_write_goes_with_the_insert_and_both_happen():
    other = rows.insert(PendingTask(task="keel.x.before", args=[], created_at=AT))
    table = PendingTask._meta.db_table

    task = rows.insert(
        PendingTask(task="keel.x.y", args=[2], created_at=AT),
        then=(f"UPDATE {table} SET task = %s WHERE id = %s", ["keel.x.after", other.pk]),  # noqa: S608
    )

    assert task.pk not in (None, other.pk)
    assert _stored(PendingTask, task.pk)["args"] == [2]
    assert PendingTask.objects.get(pk=other.pk).task == "keel.x.after"


def test_an_instance_that_already_has_a_key_is_refused():
    task = rows.insert(PendingTask(task="keel.x.y", args=[], created_at=AT))

    with pytest.raises(ValueError, match="already has a key"):
        rows.insert(task)


@pytest.mark.parametrize("model", [Incident, AuditEvent, PendingTask])
def test_nothing_listens_to_the_saves_of_models_written_this_way(model):
    # insert() sends no pre_save/post_save: a receiver added for these models would be skipped.
    assert not rows.listened_to(model)
