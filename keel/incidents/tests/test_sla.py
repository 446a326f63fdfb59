"""SLA clocks: deadlines on the service's business calendar, paused while on hold and extended by
exactly the business time on hold, recomputed on a priority change; first response and breaches;
and the clock state shown wherever an incident appears.

Time is controlled by patching ``django.utils.timezone.now``; the calendar is Monday to Friday,
09:00–18:00 in Shanghai (540 business minutes a day), and the week is that of Monday 3 March 2025.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.catalog.tests.factories import ServiceFactory
from keel.core import actions as core_actions
from keel.core import calendars
from keel.core.calendar import ALWAYS, business_minutes_between
from keel.core.tests.factories import TeamFactory
from keel.incidents import actions, sla
from keel.incidents.lifecycle import HoldReason, Status
from keel.incidents.models import Incident
from keel.incidents.sla import State
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=SHANGHAI)


MONDAY_10 = shanghai(3, 10)


class Clock:
    """What ``timezone.now()`` returns while a test runs."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when


@pytest.fixture
def clock(monkeypatch) -> Clock:
    now = Clock(MONDAY_10)
    monkeypatch.setattr(timezone, "now", now)
    return now


@pytest.fixture
def office_hours(administrator):
    return core_actions.create_calendar(
        actor=administrator,
        name="Shanghai office",
        time_zone="Asia/Shanghai",
        periods=[(day, time(9), time(18)) for day in range(5)],
    )


@pytest.fixture
def service(office_hours):
    return ServiceFactory(
        name="Laptops", team=TeamFactory(name="Service desk"), calendar=office_hours
    )


@pytest.fixture
def desk(service):
    return agent_in(service.team, name="Dana Desk")


@pytest.fixture
def incident(service, requester, clock):
    """P3 (respond within 120, resolve within 1,440 business minutes), recorded Monday 10:00."""
    return open_incident(requester=requester, service=service, at=MONDAY_10)


def fresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def held(incident: Incident, by, clock: Clock, at: datetime, reason=HoldReason.AWAITING_SUPPLIER):
    """Put on hold at ``at`` (starting work first, at the same moment, if nobody has)."""
    clock.set(at)
    if incident.status == Status.NEW:
        actions.start(actor=by, incident=incident)
    return actions.hold(actor=by, incident=incident, reason=reason)


def resumed(incident: Incident, by, clock: Clock, at: datetime) -> Incident:
    clock.set(at)
    return actions.resume(actor=by, incident=incident)


# --- deadlines -------------------------------------------------------------------------------


def test_the_recorded_deadlines_use_the_services_targets_and_calendar(incident):
    assert (incident.respond_by, incident.resolve_by, incident.warn_at) == (
        shanghai(3, 12),
        shanghai(5, 16),
        shanghai(5, 10),
    )


def test_a_service_without_a_calendar_runs_around_the_clock(requester, clock):
    saturday = datetime(2025, 3, 8, 10, tzinfo=UTC)

    incident = open_incident(requester=requester, service=ServiceFactory(), at=saturday)

    assert incident.respond_by == saturday + timedelta(minutes=120)
    assert incident.resolve_by == saturday + timedelta(minutes=1440)


def test_an_ordinary_working_day_has_the_calendars_minutes(office_hours):
    assert sla.business_day_minutes(calendars.spec_for(office_hours.pk)) == 540
    assert sla.business_day_minutes(ALWAYS) == 24 * 60


def test_remaining_minutes_count_business_time_and_go_negative_once_passed(incident, service):
    assert sla.remaining_minutes(service, shanghai(3, 11), incident.respond_by) == 60
    assert sla.remaining_minutes(service, shanghai(4, 9, 30), incident.respond_by) == -390


# --- holds pause the resolution clock ----------------------------------------------------------


def test_holding_pauses_the_resolution_clock(incident, desk, clock):
    held(incident, desk, clock, shanghai(3, 11))

    stored = fresh(incident)
    assert (stored.status, stored.paused_at) == (Status.ON_HOLD, shanghai(3, 11))
    assert sla.resolution_clock(stored, shanghai(10, 9)).state == State.PAUSED


def test_resuming_extends_resolve_by_by_exactly_the_business_minutes_on_hold(incident, desk, clock):
    held(incident, desk, clock, shanghai(3, 11))

    resumed(incident, desk, clock, shanghai(4, 10))  # Mon 11–18 (420) + Tue 9–10 (60)

    stored = fresh(incident)
    assert (stored.paused_minutes, stored.paused_at) == (480, None)
    assert stored.resolve_by == shanghai(6, 15)  # Wed 16:00 + 480 business minutes
    assert stored.warn_at == shanghai(5, 18)  # Wed 10:00 + 480 business minutes
    assert stored.respond_by == shanghai(3, 12)  # the response target does not pause


def test_a_hold_over_the_weekend_counts_only_business_minutes(service, requester, desk, clock):
    incident = open_incident(requester=requester, service=service, at=shanghai(7, 10))
    deadline = incident.resolve_by
    held(incident, desk, clock, shanghai(7, 17))

    resumed(incident, desk, clock, shanghai(10, 10))  # Fri 17–18 + Mon 9–10

    stored = fresh(incident)
    assert stored.paused_minutes == 120
    assert (
        business_minutes_between(
            calendars.spec_for(service.calendar_id), deadline, stored.resolve_by
        )
        == 120
    )


def test_a_hold_outside_working_hours_does_not_move_the_deadline(incident, desk, clock):
    held(incident, desk, clock, shanghai(3, 19))

    resumed(incident, desk, clock, shanghai(4, 8))

    stored = fresh(incident)
    assert (stored.paused_minutes, stored.resolve_by) == (0, shanghai(5, 16))


def test_holds_add_up(incident, desk, clock):
    held(incident, desk, clock, shanghai(3, 11))
    resumed(incident, desk, clock, shanghai(3, 12))
    held(incident, desk, clock, shanghai(3, 14))

    resumed(incident, desk, clock, shanghai(3, 14, 30))

    stored = fresh(incident)
    assert stored.paused_minutes == 90
    assert stored.resolve_by == shanghai(5, 17, 30)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    opened=st.integers(0, 7 * 24 * 60),
    hold_after=st.integers(0, 5 * 24 * 60),
    hold_for=st.integers(0, 5 * 24 * 60),
)
def test_resolve_by_always_leaves_the_full_target_of_running_business_time(
    service, requester, desk, clock, opened, hold_after, hold_for
):
    start = MONDAY_10 + timedelta(minutes=opened)
    clock.set(start)
    incident = open_incident(requester=requester, service=service, at=start)
    first_deadline = incident.resolve_by
    pause = held(incident, desk, clock, start + timedelta(minutes=hold_after)).paused_at

    resumed(incident, desk, clock, pause + timedelta(minutes=hold_for))

    stored = fresh(incident)
    spec = calendars.spec_for(service.calendar_id)
    on_hold = business_minutes_between(spec, pause, clock.now)
    assert stored.paused_minutes == pytest.approx(on_hold)
    if pause > first_deadline:  # the time had run out before the hold: it stays missed
        assert stored.resolution_breached
    else:
        running = business_minutes_between(
            spec, start, stored.resolve_by, pauses=[(pause, clock.now)]
        )
        assert running == pytest.approx(1440)
        assert not stored.resolution_breached


# --- priority changes --------------------------------------------------------------------------


def test_a_priority_change_recomputes_the_deadlines_from_the_recording_time(incident, desk, clock):
    clock.set(shanghai(3, 15))

    actions.change_priority(actor=desk, incident=incident, impact=1, urgency=1)  # P1: 15 / 240

    stored = fresh(incident)
    assert stored.priority == 1
    assert (stored.respond_by, stored.resolve_by, stored.warn_at) == (
        shanghai(3, 10, 15),
        shanghai(3, 14),
        shanghai(3, 13),
    )


def test_a_priority_change_keeps_the_business_time_already_on_hold(incident, desk, clock):
    held(incident, desk, clock, shanghai(3, 11))
    resumed(incident, desk, clock, shanghai(4, 10))  # 480 minutes on hold

    actions.change_priority(actor=desk, incident=incident, impact=1, urgency=1)

    stored = fresh(incident)
    assert stored.resolve_by == shanghai(4, 13)  # 240 + 480 minutes after Monday 10:00
    assert stored.warn_at == shanghai(4, 12)  # 180 + 480


def test_a_priority_change_clears_an_earlier_warning(incident, desk, clock):
    Incident.objects.filter(pk=incident.pk).update(warned=True)

    actions.change_priority(actor=desk, incident=fresh(incident), impact=3, urgency=3)

    assert fresh(incident).warned is False


def test_reclassifying_without_a_new_priority_keeps_the_deadlines(incident, desk):
    actions.change_priority(actor=desk, incident=incident, impact=1, urgency=3)  # still P3

    stored = fresh(incident)
    assert (stored.priority, stored.resolve_by) == (3, shanghai(5, 16))


# --- resolution against the deadline -----------------------------------------------------------


def test_resolving_after_the_deadline_marks_the_resolution_breached(incident, desk, clock):
    clock.set(shanghai(5, 16, 1))

    actions.resolve(actor=desk, incident=incident, code="fixed", notes="Late")

    stored = fresh(incident)
    assert stored.resolution_breached
    assert sla.resolution_clock(stored, clock.now).state == State.MISSED


def test_resolving_by_the_deadline_meets_it(incident, desk, clock):
    clock.set(shanghai(5, 16))

    actions.resolve(actor=desk, incident=incident, code="fixed", notes="Just in time")

    stored = fresh(incident)
    assert not stored.resolution_breached
    assert sla.resolution_clock(stored, shanghai(10, 9)).state == State.MET


def test_time_on_hold_keeps_a_late_looking_resolution_within_target(incident, desk, clock):
    held(incident, desk, clock, shanghai(3, 11))
    resumed(incident, desk, clock, shanghai(4, 10))
    clock.set(shanghai(6, 9))  # after the first deadline, before the extended one

    actions.resolve(actor=desk, incident=incident, code="fixed", notes="Done")

    assert not fresh(incident).resolution_breached


def test_holding_an_incident_already_past_its_deadline_keeps_it_missed(incident, desk, clock):
    held(incident, desk, clock, shanghai(5, 16, 1))
    resumed(incident, desk, clock, shanghai(7, 9))
    clock.set(shanghai(7, 10))  # before the deadline the hold moved out

    actions.resolve(actor=desk, incident=incident, code="fixed", notes="Done")

    stored = fresh(incident)
    assert stored.resolution_breached
    assert sla.resolution_clock(stored, clock.now).state == State.MISSED


def test_resolving_from_hold_adds_the_hold_to_the_clock_first(incident, desk, clock):
    held(incident, desk, clock, shanghai(3, 11))
    clock.set(shanghai(6, 9))

    actions.resolve(actor=desk, incident=incident, code="supplier_fixed", notes="Part arrived")

    stored = fresh(incident)
    assert stored.paused_minutes == 420 + 540 + 540
    assert not stored.resolution_breached


def test_a_rejected_resolution_resumes_the_clock_where_it_stood(incident, desk, requester, clock):
    clock.set(shanghai(3, 11))
    actions.resolve(actor=desk, incident=incident, code="fixed", notes="Rebooted")
    clock.set(shanghai(3, 14))

    actions.reject(actor=requester, incident=incident, reason="Black screen again")

    stored = fresh(incident)
    assert (stored.status, stored.paused_minutes, stored.paused_at) == (
        Status.IN_PROGRESS,
        180,
        None,
    )
    assert stored.resolve_by == shanghai(6, 10)  # Wed 16:00 + 180 business minutes


# --- first response ----------------------------------------------------------------------------


def test_the_first_staff_action_is_the_first_response(incident, desk, clock):
    clock.set(shanghai(3, 10, 20))

    actions.start(actor=desk, incident=incident)

    stored = fresh(incident)
    assert (stored.first_response_at, stored.response_breached) == (shanghai(3, 10, 20), False)


def test_only_the_first_staff_action_counts(incident, desk, clock):
    clock.set(shanghai(3, 10, 20))
    actions.start(actor=desk, incident=incident)
    clock.set(shanghai(3, 15))

    actions.comment(actor=desk, incident=incident, body="Ordered a part")

    assert fresh(incident).first_response_at == shanghai(3, 10, 20)


def test_the_requesters_own_comment_is_not_a_response(incident, requester, clock):
    clock.set(shanghai(3, 10, 20))

    actions.comment(actor=requester, incident=incident, body="Also the fan is loud")

    assert fresh(incident).first_response_at is None


def test_an_internal_note_is_not_a_response(incident, desk, clock):
    actions.comment(actor=desk, incident=incident, body="Check warranty", public=False)

    assert fresh(incident).first_response_at is None


def test_internal_work_is_not_a_response_and_work_shown_to_the_requester_is(incident, desk, clock):
    actions.log_work(actor=desk, incident=incident, minutes=5, body="Checked the logs")
    assert fresh(incident).first_response_at is None

    clock.set(shanghai(3, 11))
    actions.log_work(
        actor=desk, incident=fresh(incident), minutes=5, body="Replaced the cable", public=True
    )
    assert fresh(incident).first_response_at == shanghai(3, 11)


def test_a_public_reply_from_an_agent_is_a_response(incident, desk, clock):
    clock.set(shanghai(3, 11))

    actions.comment(actor=desk, incident=incident, body="We are looking at it")

    assert fresh(incident).first_response_at == shanghai(3, 11)


def test_an_agents_action_on_their_own_incident_is_not_a_response(service, clock):
    agent = agent_in(service.team)
    incident = open_incident(requester=agent, service=service)

    actions.start(actor=agent, incident=incident)

    assert fresh(incident).first_response_at is None


def test_a_first_response_after_respond_by_breaches_the_response_target(incident, desk, clock):
    clock.set(shanghai(3, 12, 1))

    actions.start(actor=desk, incident=incident)

    stored = fresh(incident)
    assert (stored.first_response_at, stored.response_breached) == (shanghai(3, 12, 1), True)


def test_a_first_response_exactly_at_respond_by_is_in_time(incident, desk, clock):
    clock.set(shanghai(3, 12))

    actions.start(actor=desk, incident=incident)

    assert fresh(incident).response_breached is False


# --- the clock shown on lists and pages --------------------------------------------------------


def test_the_clock_is_ok_before_the_warning_time(incident):
    clock_now = sla.resolution_clock(incident, shanghai(5, 9, 59))

    assert (clock_now.state, clock_now.css) == (State.OK, "sla-ok")
    assert clock_now.seconds_left == (shanghai(5, 16) - shanghai(5, 9, 59)).total_seconds()


def test_the_clock_warns_from_the_warning_time(incident):
    assert sla.resolution_clock(incident, shanghai(5, 10)).state == State.WARNING


def test_the_clock_warns_once_the_sweep_has_warned(incident):
    incident.warned = True

    assert sla.resolution_clock(incident, shanghai(3, 11)).state == State.WARNING


def test_the_clock_is_breached_after_the_deadline(incident):
    state = sla.resolution_clock(incident, shanghai(5, 16, 1))

    assert (state.state, state.seconds_left) == (State.BREACHED, -60)


def test_the_clock_stays_breached_once_marked_even_if_the_deadline_moves(incident):
    incident.resolution_breached = True

    assert sla.resolution_clock(incident, shanghai(3, 11)).state == State.BREACHED


def test_the_clock_is_paused_on_hold(incident, desk, clock):
    held(incident, desk, clock, shanghai(3, 11))

    assert sla.resolution_clock(fresh(incident), shanghai(20, 9)).state == State.PAUSED


def test_a_resolution_after_the_deadline_shows_as_missed():
    done = SimpleNamespace(
        resolve_by=shanghai(5, 16),
        status="closed",
        is_open=False,
        resolved_at=shanghai(5, 17),
        closed_at=None,
        cancelled_at=None,
        resolution_breached=False,
    )

    assert sla.resolution_clock(done, shanghai(6, 9)).state == State.MISSED


def test_a_withdrawn_incident_owed_nothing_unless_its_target_was_already_missed(
    incident, requester, clock
):
    clock.now = shanghai(3, 11)
    withdrawn = actions.cancel(actor=requester, incident=incident, reason="It works again")

    assert sla.resolution_clock(withdrawn, shanghai(20, 9)).state == State.NOT_APPLICABLE
    withdrawn.resolution_breached = True  # the sweep had marked it before the withdrawal
    assert sla.resolution_clock(withdrawn, shanghai(20, 9)).state == State.MISSED


def test_an_incident_without_deadlines_shows_ok():
    undated = SimpleNamespace(resolve_by=None)

    assert sla.resolution_clock(undated, MONDAY_10) == sla.Clock(State.OK, None, None)
