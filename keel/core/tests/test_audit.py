"""The audit trail: append-only, hash-chained, and verify() names the first broken link."""

from __future__ import annotations

import importlib
import itertools
import json

import pytest
from django.db import connection, transaction
from django.utils import timezone

from keel.core import audit
from keel.core.audit import GENESIS_HASH, AuditError
from keel.core.models import AuditChain, AuditEvent
from keel.core.roles import Role

pytestmark = pytest.mark.django_db

TABLE = AuditEvent._meta.db_table


@pytest.fixture
def actor(make_user):
    return make_user(Role.ADMINISTRATOR, name="Ada Admin")


@pytest.fixture
def events(actor, requester):
    """Three events written one after another, as three actions would."""
    return [
        audit.record(actor, "user.updated", requester, changes={"name": ["a", "b"]}, reason="typo")
        for _ in range(3)
    ]


def raw_sql(sql: str, params: list) -> None:
    """Change the table behind the model's back, as someone with database access could.

    ``{table}`` in ``sql`` stands for the audit table's name.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=TABLE), params)


def fail_after(work) -> None:
    """Run ``work`` in a transaction that then fails, as an action failing after it did so."""
    with transaction.atomic():
        work()
        raise RuntimeError("the action failed")


# Writing events


def test_event_describes_actor_action_object_and_changes(actor, requester):
    event = audit.record(
        actor, "user.updated", requester, changes={"name": ["a", "b"]}, reason="typo"
    )

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor_id, stored.actor_label) == (actor.pk, "Ada Admin")
    assert (stored.action, stored.object_type, stored.object_id) == (
        "user.updated",
        "core.user",
        str(requester.pk),
    )
    assert stored.object_repr == str(requester)
    assert stored.changes == {"name": ["a", "b"]}
    assert stored.reason == "typo"


def test_first_event_follows_the_genesis_hash(actor, requester):
    assert not AuditEvent.objects.exists()  # a fresh test database has only the chain head

    event = audit.record(actor, "user.updated", requester)

    assert (event.seq, event.prev_hash) == (1, GENESIS_HASH)


def test_events_get_consecutive_sequence_numbers(events):
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 3))


def test_each_event_links_to_the_hash_of_the_one_before(events):
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash


def test_chain_head_holds_the_last_events_sequence_hash_and_link(events):
    head = AuditChain.objects.get()

    assert (head.seq, head.hash) == (events[-1].seq, events[-1].hash)
    assert head.prev_hash == events[-1].prev_hash == events[-2].hash


def test_verify_finds_a_chain_head_whose_link_was_changed(events):
    AuditChain.objects.filter(id=1).update(prev_hash=events[0].hash)

    result = audit.verify()

    assert not result.ok
    assert result.broken_seq == events[-1].seq
    assert "link" in result.problem


def test_event_without_an_object_is_refused(actor):
    with pytest.raises(AuditError, match="needs an object"):
        audit.record(actor, "user.updated")


def test_event_can_name_its_object_by_type_and_id(actor):
    event = audit.record(actor, "system.started", object_type="keel.system", object_id="1")

    assert (event.object_type, event.object_id, event.object_repr) == ("keel.system", "1", "")


def test_event_written_in_a_rolled_back_transaction_gives_its_number_back(actor, requester):
    first = audit.record(actor, "user.updated", requester)
    with pytest.raises(RuntimeError, match="the action failed"):
        fail_after(lambda: audit.record(actor, "user.updated", requester))

    second = audit.record(actor, "user.updated", requester)

    assert second.seq == first.seq + 1
    assert second.prev_hash == first.hash
    assert audit.verify().ok


def test_changes_are_stored_as_json_the_hash_can_be_recomputed_from(actor, requester):
    audit.record(
        actor, "user.updated", requester, changes={"when": requester.date_joined, "n": 1.5}
    )

    assert audit.verify().ok


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused(make_user):
    person = make_user(Role.REQUESTER)

    with pytest.raises(AuditError, match="inside the action's transaction"):
        audit.record(person, "user.updated", person)


@pytest.mark.django_db(transaction=True)
def test_recording_inside_a_transaction_commits_the_event(make_user):
    person = make_user(Role.REQUESTER)

    with transaction.atomic():
        audit.record(person, "user.updated", person)

    assert AuditEvent.objects.filter(action="user.updated").count() == 1
    assert audit.verify().ok


# Verifying the chain


def test_verify_accepts_an_untouched_chain(events):
    result = audit.verify()

    assert result.ok
    assert result.checked == events[-1].seq
    assert result.broken_seq is None


def test_verify_accepts_an_empty_chain():
    assert audit.verify().ok


def test_verify_finds_an_edited_reason(events):
    target = events[1]
    raw_sql("UPDATE {table} SET reason = %s WHERE seq = %s", ["nothing to see", target.seq])

    result = audit.verify()

    assert not result.ok
    assert result.broken_seq == target.seq
    assert "altered" in result.problem


def test_verify_finds_edited_changes(events):
    target = events[0]
    raw_sql(
        "UPDATE {table} SET changes = %s WHERE seq = %s",
        [json.dumps({"name": ["a", "z"]}), target.seq],
    )

    result = audit.verify()

    assert not result.ok
    assert result.broken_seq == target.seq


def test_verify_finds_a_rewritten_hash_by_the_broken_link_after_it(events):
    target = events[1]
    raw_sql("UPDATE {table} SET reason = %s, hash = %s WHERE seq = %s", ["x", "f" * 64, target.seq])

    result = audit.verify()

    assert not result.ok
    assert result.broken_seq == target.seq


def test_verify_finds_a_deleted_event(events):
    target = events[1]
    raw_sql("DELETE FROM {table} WHERE seq = %s", [target.seq])

    result = audit.verify()

    assert not result.ok
    assert result.broken_seq == target.seq
    assert "missing" in result.problem


def test_verify_finds_the_last_event_deleted(events):
    raw_sql("DELETE FROM {table} WHERE seq = %s", [events[-1].seq])

    result = audit.verify()

    assert not result.ok
    assert result.broken_seq == events[-1].seq


# Append-only


def test_saving_an_existing_event_is_refused(events):
    event = AuditEvent.objects.get(pk=events[0].pk)
    event.reason = "rewritten"

    with pytest.raises(TypeError, match="append-only"):
        event.save()


def test_deleting_an_event_is_refused(events):
    with pytest.raises(TypeError, match="append-only"):
        events[0].delete()


def test_bulk_update_of_events_is_refused(events):
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(seq=events[0].seq).update(reason="rewritten")


def test_bulk_delete_of_events_is_refused(events):
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.all().delete()


def test_refused_changes_leave_the_chain_intact(events):
    for attempt in (lambda: events[0].delete(), lambda: AuditEvent.objects.update(reason="x")):
        with pytest.raises(TypeError):
            attempt()

    assert audit.verify().ok


# Request id


def test_event_written_during_an_api_request_carries_its_request_id(client_for, requester):
    client = client_for(requester)

    response = client.patch(
        "/api/v1/me",
        {"name": "Renamed"},
        content_type="application/json",
        headers={"X-Request-ID": "req-42.abc"},
    )

    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-42.abc"
    assert AuditEvent.objects.get(action="user.updated").request_id == "req-42.abc"


def test_unsafe_request_id_is_replaced_by_a_generated_one(client_for, requester):
    client = client_for(requester)

    response = client.patch(
        "/api/v1/me",
        {"name": "Renamed"},
        content_type="application/json",
        headers={"X-Request-ID": "<script>"},
    )

    request_id = AuditEvent.objects.get(action="user.updated").request_id
    assert request_id != "<script>"
    assert len(request_id) == 32
    assert response["X-Request-ID"] == request_id


def test_event_written_outside_a_request_has_no_request_id(actor, requester):
    assert audit.record(actor, "user.updated", requester).request_id == ""


# Helpers the actions use


def test_diff_lists_only_changed_fields_as_old_and_new(requester):
    before = audit.snapshot(requester, ["name", "email", "department"])
    requester.name = "New name"

    assert audit.diff(requester, before, ["name", "email", "department"]) == {
        "name": [before["name"], "New name"]
    }


# Writing many events at once


def entries_for(person, count: int) -> list[dict]:
    return [
        {"action": "user.updated", "obj": person, "changes": {"n": [n, n + 1]}, "reason": "bulk"}
        for n in range(count)
    ]


def test_record_many_appends_a_chain_that_verifies(actor, requester):
    written = audit.record_many(actor, entries_for(requester, 2500))

    stored = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in stored] == list(range(1, 2501))
    assert [e.hash for e in stored] == [e.hash for e in written]
    assert stored[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(stored))
    assert stored[7].changes == {"n": [7, 8]}
    assert (stored[7].actor_id, stored[7].actor_label, stored[7].reason) == (
        actor.pk,
        "Ada Admin",
        "bulk",
    )
    head = AuditChain.objects.get(id=1)
    assert (head.seq, head.hash, head.prev_hash) == (2500, stored[-1].hash, stored[-2].hash)
    assert audit.verify() == audit.VerifyResult(True, 2500)


def test_record_many_writes_the_event_record_would(actor, requester):
    """The same entry at the same place in the chain gives the same event, hash included."""
    at = timezone.now()
    entry = {"action": "user.updated", "changes": {"x": [1, 2]}, "reason": "r", "at": at}
    one: list[AuditEvent] = []
    with pytest.raises(RuntimeError, match="the action failed"):
        fail_after(lambda: one.append(audit.record(actor, obj=requester, **entry)))

    (many,) = audit.record_many(actor, [{**entry, "obj": requester}])

    fields = ["seq", "at", "actor_id", "actor_label", "action", "object_type", "object_id"]
    fields += ["object_repr", "changes", "reason", "request_id", "prev_hash", "hash"]
    assert [getattr(many, f) for f in fields] == [getattr(one[0], f) for f in fields]
    assert audit.verify().ok


def test_record_many_takes_object_type_and_id_without_an_object(actor):
    (event,) = audit.record_many(
        actor,
        [{"action": "setting.changed", "object_type": "core.setting", "object_id": 7}],
    )

    assert (event.object_type, event.object_id, event.object_repr) == ("core.setting", "7", "")
    assert audit.verify().ok


def test_record_many_refuses_an_entry_without_an_object(actor):
    with pytest.raises(AuditError, match="needs an object"):
        audit.record_many(actor, [{"action": "user.updated"}])

    assert AuditChain.objects.get(id=1).seq == 0


def test_interleaved_record_and_record_many_keep_one_chain(actor, requester):
    audit.record(actor, "user.updated", requester)
    audit.record_many(actor, entries_for(requester, 3))
    audit.record(actor, "user.updated", requester)
    audit.record_many(actor, entries_for(requester, 2))
    audit.record(actor, "user.updated", requester)

    assert list(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 9))
    assert audit.verify() == audit.VerifyResult(True, 8)


def test_record_many_of_nothing_writes_nothing(events, actor):
    head = AuditChain.objects.get(id=1)

    assert audit.record_many(actor, []) == []

    assert AuditEvent.objects.count() == 3
    assert (AuditChain.objects.get(id=1).seq, AuditChain.objects.get(id=1).hash) == (
        head.seq,
        head.hash,
    )
    assert audit.verify().ok


def test_record_many_in_a_failed_action_leaves_no_trace(events, actor, requester):
    with pytest.raises(RuntimeError, match="the action failed"):
        fail_after(lambda: audit.record_many(actor, entries_for(requester, 5)))

    assert AuditEvent.objects.count() == 3
    assert AuditChain.objects.get(id=1).seq == 3
    assert audit.verify().ok


@pytest.mark.django_db(transaction=True)
def test_record_many_outside_a_transaction_is_refused(make_user):
    person = make_user(Role.REQUESTER)

    with pytest.raises(AuditError, match="inside the action's transaction"):
        audit.record_many(person, entries_for(person, 2))

    assert not AuditEvent.objects.filter(action="user.updated").exists()


def test_an_event_is_hashed_from_exactly_its_hashed_fields():
    fields = dict.fromkeys(audit.HASHED) | {"at": timezone.now(), "seq": 1}

    assert len(audit.compute_hash(**fields)) == 64
    with pytest.raises(audit.AuditError, match="exactly these fields"):
        audit.compute_hash(**{k: v for k, v in fields.items() if k != "reason"})
    with pytest.raises(audit.AuditError, match="exactly these fields"):
        audit.compute_hash(**fields, extra="x")


def test_a_hash_filled_in_by_the_database_is_the_events_own_hash():
    """``hash_sql(…).of(values)``, the check of the database's answer, gives the hash the event
    has once the values are in it: the text between the gaps is the event's own."""
    object_mark, number_mark = audit.marker(), audit.marker()
    at = timezone.now()
    fields = {
        "at": at,
        "actor_id": 7,
        "actor_label": 'Zhang "Wei" 张伟',
        "action": "incident.opened",
        "object_type": "incidents.incident",
        "object_id": object_mark,
        "object_repr": f"{number_mark}: laptop 100% broken \\ %s",
        "changes": {"priority": [None, 2]},
        "reason": "",
        "request_id": "req-1",
    }
    filled = audit.hash_sql(
        fields,
        seq="o.seq + 1",
        prev_hash="o.hash",
        filled={object_mark: "i.id", number_mark: "i.n"},
    )
    real = {**fields, "object_id": "4711", "object_repr": "INC-000042: laptop 100% broken \\ %s"}

    assert set(filled.fills) == {"seq", "prev_hash", object_mark, number_mark}
    assert len(filled.params) == len(filled.fills) + 1
    assert filled.of(
        {"seq": "12", "prev_hash": "ab" * 32, object_mark: "4711", number_mark: "INC-000042"}
    ) == audit.compute_hash(**real, seq=12, prev_hash="ab" * 32)
    assert filled.of(
        {"seq": "13", "prev_hash": "ab" * 32, object_mark: "4711", number_mark: "INC-000042"}
    ) != audit.compute_hash(**real, seq=12, prev_hash="ab" * 32)


def test_the_migration_gives_an_existing_chain_head_its_last_event_s_link(events):
    from types import SimpleNamespace

    from django.apps import apps

    migration = importlib.import_module("keel.core.migrations.0004_audit_chain_prev_hash")
    AuditChain.objects.filter(id=1).update(prev_hash="")  # as the column was added

    migration.forwards(apps, SimpleNamespace(connection=connection))

    assert AuditChain.objects.get(id=1).prev_hash == events[-1].prev_hash
    assert audit.verify().ok
