"""What recording an incident writes, on either database's path (PostgreSQL takes its number,
audit event and notices in one statement, its own transaction; SQLite one statement at a time):
the same rows, the audit chain intact, numbers in order, notices queued with the incident."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from huey.contrib.djhuey import HUEY

from keel.catalog.tests.factories import ServiceFactory
from keel.core import audit
from keel.core.models import AuditChain, AuditEvent, PendingTask, Sequence
from keel.incidents.models import Incident
from keel.incidents.tests.factories import open_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_mode():
    """Huey as in production: notices wait in the outbox for a worker."""
    HUEY.immediate = False
    yield
    HUEY.immediate = True
    HUEY.flush()


def test_the_first_incident_ever_is_number_one():
    Sequence.objects.filter(key="INC").delete()

    assert open_incident().number == "INC-000001"
    assert open_incident().number == "INC-000002"
    assert Sequence.objects.get(key="INC").value == 2


def test_numbers_grow_past_six_digits():
    Sequence.objects.update_or_create(key="INC", defaults={"value": 999_999})

    assert open_incident().number == "INC-1000000"


def test_the_incident_reads_back_as_recorded():
    incident = open_incident(impact=1, urgency=2, title="Printer on fire")

    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.number, stored.title, stored.priority) == (
        incident.number,
        "Printer on fire",
        incident.priority,
    )
    assert stored.created_at == incident.created_at
    assert stored.resolve_by == incident.resolve_by
    assert not incident._state.adding


def test_the_opened_event_is_chained_and_the_chain_verifies():
    first = open_incident()
    second = open_incident()

    events = list(
        AuditEvent.objects.filter(action="incident.opened", object_id__in=[first.pk, second.pk])
    )
    assert [e.object_repr.split(" ")[0] for e in events] == [first.number, second.number]
    assert events[1].prev_hash == events[0].hash
    assert events[1].changes["priority"] == [None, second.priority]
    head = AuditChain.objects.get(id=1)
    assert (head.seq, head.hash, head.prev_hash) == (events[1].seq, events[1].hash, events[0].hash)
    assert audit.verify().ok


def test_a_p1_queues_both_its_notices_with_the_incident(queued_mode):
    incident = open_incident(impact=1, urgency=1)

    assert incident.priority == 1
    assert sorted(PendingTask.objects.values_list("task", "args")) == [
        ("keel.incidents.notify.acknowledge", [incident.pk]),
        ("keel.incidents.notify.p1_opened", [incident.pk]),
    ]


def test_an_incident_recorded_without_telling_the_requester_queues_nothing(queued_mode):
    open_incident(notify_requester=False)

    assert not PendingTask.objects.exists()
    assert audit.verify().ok


@pytest.mark.parametrize(
    "title",
    [
        "Quotes \" and ' and a backslash \\ and %s and %(x)s and {braces}",
        "打印机坏了 — Ünïcödé 🔥",
        "Tab\tnew line\ncontrol \x01 characters",
        "keel0123456789abcdef01234567 looks like a marker",
        "x" * 200,
    ],
)
def test_the_event_of_a_hard_title_hashes_the_same_in_the_database(title):
    incident = open_incident(title=title)

    event = AuditEvent.objects.get(action="incident.opened", object_id=str(incident.pk))
    assert event.object_repr == f"{incident.number} {title}"
    assert event.hash == audit.compute_hash(**{f: getattr(event, f) for f in audit.HASHED})
    assert audit.verify().ok


def test_a_recording_inside_a_transaction_that_fails_leaves_nothing(requester):
    service = ServiceFactory()
    head = AuditChain.objects.get(id=1).seq
    counter = Sequence.objects.filter(key="INC").values_list("value", flat=True).first()

    recorded = []

    def record_then_fail():
        with transaction.atomic():
            recorded.append(open_incident(requester=requester, service=service))
            raise RuntimeError("the caller's next step failed")

    with pytest.raises(RuntimeError):
        record_then_fail()

    assert not Incident.objects.filter(pk=recorded[0].pk).exists()
    assert AuditChain.objects.get(id=1).seq == head
    assert Sequence.objects.filter(key="INC").values_list("value", flat=True).first() == counter
    assert audit.verify().ok


@pytest.mark.django_db(transaction=True)
def test_recordings_at_once_take_consecutive_numbers_and_keep_the_chain():
    service = ServiceFactory()
    requesters = [open_incident(service=service).requester for _ in range(4)]
    first = Incident.objects.count()
    failures: list[BaseException] = []

    def record(requester):
        try:
            for i in range(10):
                open_incident(requester=requester, service=service, title=f"Recorded at once {i}")
        except BaseException as exc:  # the test reports it
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(r,)) for r in requesters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    numbers = sorted(Incident.objects.values_list("number", flat=True))
    assert len(numbers) == first + 40 == len(set(numbers))
    assert numbers[-1] == f"INC-{len(numbers):06d}"
    assert audit.verify().ok


def test_a_recording_writes_in_one_statement_on_postgresql(requester):
    service = ServiceFactory()
    open_incident(requester=requester, service=service)  # the catalogue and calendar, read once

    with CaptureQueriesContext(connection) as captured:
        open_incident(requester=requester, service=service)

    writes = [
        q["sql"].split(" ", 1)[0]
        for q in captured.captured_queries
        if q["sql"].startswith(("WITH", "INSERT", "UPDATE", "DELETE"))
    ]
    if connection.vendor == "postgresql":
        assert writes == ["WITH"]
    else:
        assert writes == ["UPDATE", "INSERT", "UPDATE", "INSERT", "UPDATE", "INSERT"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's one write turn")
def test_sqlite_renders_the_rows_before_its_first_write(requester, monkeypatch):
    """Rendering the rows (Python's share of a recording) happens before the first write, so
    the write turn, from that write to the commit, is held for the statements alone."""
    from keel.db import rows

    service = ServiceFactory()
    open_incident(requester=requester, service=service)
    rendered: list[tuple[str, int]] = []  # what, and how many statements had run by then
    real_prepared, real_rows = audit.prepared, rows.prepared

    def watched_audit(*args, **kwargs):
        rendered.append(("audit event", len(captured.captured_queries)))
        return real_prepared(*args, **kwargs)

    def watched_rows(obj, **kwargs):
        rendered.append((type(obj).__name__, len(captured.captured_queries)))
        return real_rows(obj, **kwargs)

    monkeypatch.setattr(audit, "prepared", watched_audit)
    monkeypatch.setattr(rows, "prepared", watched_rows)

    with CaptureQueriesContext(connection) as captured:
        incident = open_incident(requester=requester, service=service)

    statements = [q["sql"] for q in captured.captured_queries]
    first_write = next(i for i, sql in enumerate(statements) if sql.startswith("UPDATE"))
    assert {what for what, _ in rendered} == {
        "audit event",
        "Incident",
        "AuditEvent",
        "PendingTask",
    }
    assert all(at <= first_write for _what, at in rendered), (rendered, statements)
    assert Incident.objects.get(pk=incident.pk).number == incident.number
    assert audit.verify().ok
