"""``keel replay``: a small imported history, fed again through Keel's actions in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from huey.contrib.djhuey import HUEY

from keel.catalog.models import Service
from keel.core.actions import system_user
from keel.core.models import AuditEvent, PendingTask, Team
from keel.imports import actions as imports
from keel.imports import replay as planning
from keel.imports.actions.replay import notifications_suppressed, run_replay
from keel.imports.mapping import load
from keel.imports.targets import TARGETS
from keel.incidents import notify
from keel.incidents.models import EventKind, Incident, IncidentEvent
from keel.incidents.tests.factories import open_incident

MAPPING = """
[source]
name = "tiny"
title = "Tiny desk"
timezone = "UTC"

[[files]]
path = "incidents.csv"
target = "incident"

[files.fields]
external_id = "id"
title = "title"
status = { column = "status", values = { Closed = "closed", Open = "in_progress" } }
impact = { column = "impact", type = "int" }
urgency = { column = "urgency", type = "int" }
service = { column = "service", create_missing = true }
created_at = { column = "opened", type = "datetime", format = "%Y-%m-%d %H:%M" }
resolution_code = { column = "code", values = { Software = "fixed" }, unmapped = "default" }

[[files]]
path = "events.csv"
target = "incident.event"

[files.fields]
incident = "incident"
at = { column = "at", type = "datetime", format = "%Y-%m-%d %H:%M" }
activity = "activity"
kind = { column = "activity", unmapped = "default", default = "activity", values = { Assignment = "assignment", "Operator Update" = "comment" } }
team = { column = "team", create_missing = true }
"""

INCIDENTS = """id,title,service,impact,urgency,opened,status,code
T1,Mail is down,Mail,2,2,2024-03-04 09:00,Closed,Software
T2,Printer jams,Printing,3,3,2024-03-04 09:30,Open,
T3,Core router down,Network,1,1,2024-03-04 10:00,Open,
"""

EVENTS = """incident,at,activity,team
T1,2024-03-04 09:00,Open,Desk
T1,2024-03-04 09:05,Assignment,Mail team
T1,2024-03-04 09:10,Status Change,Mail team
T1,2024-03-04 09:20,Pending vendor,Mail team
T1,2024-03-04 10:00,Status Change,Mail team
T1,2024-03-04 10:05,Operator Update,Mail team
T1,2024-03-04 11:00,Resolved,Mail team
T1,2024-03-04 12:00,Closed,Mail team
T2,2024-03-04 09:25,Status Change,Desk
T2,2024-03-04 10:30,Closed,Desk
T2,2024-03-04 10:45,Reopen,Desk
T2,2024-03-04 10:50,Quality Indicator,Desk
T2,2024-03-04 11:30,Reopen,Desk
T2,2024-03-04 11:40,Resolved,Desk
T2,2024-03-04 11:50,Pending vendor,Desk
T3,2024-03-04 10:01,Assignment,Network team
T3,2024-03-04 10:02,Reopen,Network team
"""

START = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    (tmp_path / "tiny.toml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "incidents.csv").write_text(INCIDENTS, encoding="utf-8")
    (tmp_path / "events.csv").write_text(EVENTS, encoding="utf-8")
    summary = imports.run_import(load(tmp_path / "tiny.toml", targets=TARGETS), data_dir=tmp_path)
    assert [p.message for _path, p in summary.problems] == []
    assert Incident.objects.filter(import_source="tiny").count() == 3
    return tmp_path


def replayed(external_id: str) -> Incident:
    return Incident.objects.get(import_source="", external_id=f"replay:{external_id}")


# --- planning (pure) ----------------------------------------------------------------------------


def test_activities_map_to_steps_by_name_then_by_kind():
    assert planning.step_for("Assignment") == ("assign", {})
    assert planning.step_for("Pending vendor") == ("hold", {"reason": "awaiting_supplier"})
    assert planning.step_for("Accepted – Wait - User (L2)") == (
        "hold",
        {"reason": "awaiting_requester"},
    )
    assert planning.step_for("Completed – Closed (L2/L3)") == ("close", {})
    assert planning.step_for("Open") == ("open", {})
    assert planning.step_for("Some new thing", "comment") == ("comment", {})
    assert planning.step_for("Caused By CI", "activity") is None


def _original(pk: int, at: datetime) -> planning.Original:
    return planning.Original(pk, f"X{pk}", "t", "", 1, None, 2, 2, at, "", "")


def test_the_plan_is_one_timeline_in_history_order():
    first, second = _original(1, START), _original(2, START + timedelta(minutes=5))
    events = [
        (1, START - timedelta(minutes=1), "status", {"activity": "Status Change"}),  # too early
        (1, START + timedelta(minutes=10), "assignment", {"activity": "Assignment", "team": "N"}),
        (1, START + timedelta(minutes=11), "assignment", {"activity": "Assignment"}),  # no team
        (2, START + timedelta(minutes=5), "created", {"activity": "Open"}),
        (2, START + timedelta(minutes=7), "activity", {"activity": "Caused By CI"}),
        (9, START, "comment", {"activity": "Update"}),  # not an incident being replayed
    ]
    plan = planning.plan([first, second], events)

    assert [(p.original.pk, p.step, p.at - START) for p in plan] == [
        (1, "open", timedelta(0)),
        (1, "progress", timedelta(0)),  # moved to the opening: nothing happens before it
        (2, "open", timedelta(minutes=5)),
        (2, "skip", timedelta(minutes=7)),
        (1, "assign", timedelta(minutes=10)),
        (1, "skip", timedelta(minutes=11)),
    ]
    assert plan[4].kwargs == {"team": "N", "team_id": None}


class FakeClock:
    def __init__(self, now: float = 100.0):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_scheduler_spaces_history_out_at_the_speed_up():
    clock = FakeClock()
    scheduler = planning.Scheduler(START, 600, clock=clock, sleep=clock.sleep)

    assert scheduler.wait_for(START) == 0  # due at once
    assert scheduler.wait_for(START + timedelta(minutes=10)) == pytest.approx(1.0)
    clock.now += 0.25  # the step itself took a quarter of a second
    assert scheduler.wait_for(START + timedelta(minutes=20)) == pytest.approx(0.75)
    clock.now += 5  # a slow step: the next ones are late and are not waited for
    assert scheduler.wait_for(START + timedelta(minutes=30)) == 0
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(0.75)]
    assert scheduler.slept == pytest.approx(1.75)
    assert scheduler.offset(START + timedelta(hours=1)) == pytest.approx(6.0)
    assert scheduler.history_now() == START + timedelta(seconds=(7.0) * 600)


def test_speed_zero_never_waits_and_a_negative_speed_is_refused():
    clock = FakeClock()
    scheduler = planning.Scheduler(START, 0, clock=clock, sleep=clock.sleep)
    assert scheduler.wait_for(START + timedelta(days=30)) == 0
    assert clock.sleeps == []
    with pytest.raises(ValueError, match="-1"):
        planning.Scheduler(START, -1)


# --- replaying (database) -----------------------------------------------------------------------


@pytest.mark.django_db
def test_replay_records_new_incidents_and_takes_their_steps(imported):
    originals = dict(Incident.objects.filter(import_source="tiny").values_list("pk", "version"))
    summary = run_replay("tiny")

    assert summary.incidents == 3
    assert Incident.objects.filter(external_id__startswith="replay:").count() == 3
    # The originals are only read.
    assert dict(Incident.objects.filter(import_source="tiny").values_list("pk", "version")) == (
        originals
    )

    first = replayed("T1")
    assert first.status == "closed"
    assert first.channel == "import"
    assert first.team == Team.objects.get(name="Mail team")
    assert first.service.name == "Mail"
    assert (first.impact, first.urgency) == (2, 2)
    assert first.resolution_code == "fixed"
    assert first.requester.username == "replay-tiny"
    assert first.requester.email == ""
    timeline = list(first.events.order_by("at", "id").values_list("kind", "data"))
    assert [kind for kind, _data in timeline] == [
        EventKind.ASSIGNMENT,
        EventKind.STATUS,  # start
        EventKind.STATUS,  # hold
        EventKind.STATUS,  # resume
        EventKind.COMMENT,
        EventKind.STATUS,  # resolve
        EventKind.STATUS,  # close
    ]
    assert [d.get("new") for _k, d in timeline if "new" in d] == [
        "in_progress",
        "on_hold",
        "in_progress",
        "resolved",
        "closed",
    ]
    comment = first.events.get(kind=EventKind.COMMENT)
    assert not comment.public
    assert "Replayed from tiny T1: Operator Update" in comment.body
    # Every step was taken by the system account.
    assert set(first.events.values_list("actor", flat=True)) == {system_user().pk}

    second = replayed("T2")
    assert second.status == "resolved"
    assert second.reopen_count == 1

    third = replayed("T3")
    assert (third.status, third.priority, third.team.name) == ("assigned", 1, "Network team")

    assert dict(summary.applied) == {
        "open": 3,
        "assign": 2,
        "start": 2,
        "hold": 1,
        "resume": 1,
        "comment": 1,
        "resolve": 3,  # T1, T2 closed without a resolution (resolved first), T2 again
        "close": 2,
        "reopen": 1,
    }
    assert dict(summary.skipped) == {"Quality Indicator": 1}


@pytest.mark.django_db
def test_steps_the_lifecycle_does_not_allow_are_refused_and_counted(imported):
    summary = run_replay("tiny")

    assert sum(summary.refused.values()) == 3
    assert {step for (step, _reason) in summary.refused} == {"reopen", "hold"}
    (hold,) = [reason for (step, reason) in summary.refused if step == "hold"]
    assert "An incident that is Resolved cannot be moved with “Put on hold”" in hold
    reasons = [reason for (step, reason) in summary.refused if step == "reopen"]
    assert any("In progress cannot be moved with “Reopen”" in r for r in reasons)
    assert any("Assigned cannot be moved with “Reopen”" in r for r in reasons)
    # A refused step changes nothing: T3 stays assigned, T2 resolved.
    assert replayed("T3").status == "assigned"
    assert replayed("T2").status == "resolved"


@pytest.mark.django_db
def test_a_second_replay_leaves_replayed_incidents_alone(imported):
    run_replay("tiny")
    again = run_replay("tiny")

    assert (again.incidents, again.already, again.events) == (0, 3, 0)
    assert Incident.objects.filter(external_id__startswith="replay:").count() == 3


@pytest.mark.django_db
def test_limit_and_dates_choose_the_incidents(imported):
    summary = run_replay("tiny", since=START + timedelta(minutes=20), limit=1)

    assert summary.incidents == 1
    assert list(
        Incident.objects.filter(external_id__startswith="replay:").values_list(
            "external_id", flat=True
        )
    ) == ["replay:T2"]


@pytest.mark.django_db
def test_replay_waits_for_history_at_the_speed_up(imported):
    clock = FakeClock()
    summary = run_replay("tiny", speed=600, clock=clock, sleep=clock.sleep)

    # 09:00 → 12:00 of history is three hours: 18 s at 600 times real time.
    assert summary.history_from == START
    assert summary.history_to == START + timedelta(hours=3)
    assert sum(clock.sleeps) == pytest.approx(18.0)
    assert summary.slept == pytest.approx(18.0)


@pytest.mark.django_db
def test_nobody_is_told_anything(imported, make_user, django_capture_on_commit_callbacks):
    lead = make_user("agent", "team_lead")
    assert lead.email
    Team.objects.filter(name__in=["Mail team", "Network team"]).update(lead=lead)
    Service.objects.update(owner=lead)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        summary = run_replay("tiny")

    assert summary.incidents == 3
    assert replayed("T3").priority == 1  # a P1 tells its team lead and service owner, normally
    assert mail.outbox == []
    assert callbacks == []
    assert not IncidentEvent.objects.filter(kind=EventKind.EMAIL).exists()
    # And the incident actions tell people again once the replay is over.
    assert notify.after_commit.__name__ == "after_commit"


@pytest.mark.django_db
@pytest.mark.django_db
def test_notifications_come_back_after_the_block_even_on_error(make_user):
    incident = open_incident(requester=make_user("requester"), notify_requester=False)

    def fail_inside() -> None:
        with notifications_suppressed():
            notify.after_commit(notify.acknowledge, incident.pk)
            assert not PendingTask.objects.exists()
            raise RuntimeError("boom")

    HUEY.immediate = False  # queued notices stay in the outbox, where they can be counted
    try:
        with pytest.raises(RuntimeError, match="boom"):
            fail_inside()
        notify.after_commit(notify.acknowledge, incident.pk)
        assert list(PendingTask.objects.values_list("args", flat=True)) == [[incident.pk]]
    finally:
        HUEY.immediate = True


@pytest.mark.django_db
def test_only_administrators_may_replay(imported, agent, administrator):
    with pytest.raises(PermissionDenied):
        run_replay("tiny", actor=agent)
    assert not Incident.objects.filter(external_id__startswith="replay:").exists()

    with pytest.raises(CommandError, match="may not replay imports: an administrator is needed"):
        call_command("replay", "--source", "tiny", "--as", agent.username)

    summary = run_replay("tiny", actor=administrator)
    assert summary.incidents == 3
    assert AuditEvent.objects.filter(action="incident.opened", actor=administrator).count() == 3


@pytest.mark.django_db
def test_the_command_prints_progress_and_a_summary(imported, capsys):
    call_command("replay", "--source", "tiny")
    out = capsys.readouterr().out

    assert "Replaying tiny at full speed" in out
    assert "Incidents replayed: 3" in out
    assert "Steps applied: 16" in out
    assert "Activities skipped (no Keel step): 1" in out
    assert "Steps refused by the lifecycle: 3" in out
    assert "events/s" in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--speed", "-1"], "--speed must be 0"),
        (["--since", "yesterday"], "'yesterday' is not a date"),
        (["--since", "2024-03-05", "--until", "2024-03-04"], "--until must be after --since"),
        (["--limit", "0"], "--limit must be 1 or more"),
        (["--as", "nobody"], "No active user named 'nobody'"),
    ],
)
def test_the_command_refuses_bad_options(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("replay", "--source", "tiny", *arguments)


@pytest.mark.django_db
def test_an_unknown_source_has_nothing_to_replay(capsys):
    call_command("replay", "--source", "nothing")
    assert "Nothing to replay: no incidents imported from nothing." in capsys.readouterr().out


@pytest.mark.django_db
def test_the_replay_requester_never_has_an_address_to_write_to(imported, make_user):
    make_user(username="replay-tiny", email="someone@example.com", is_active=False)

    run_replay("tiny")

    requester = replayed("T1").requester
    assert (requester.username, requester.email, requester.is_active) == ("replay-tiny", "", True)
    assert AuditEvent.objects.filter(action="user.updated", object_id=str(requester.pk)).exists()
