"""Business calendars from the database: the cached spec, and loading public holidays."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from keel.core import calendars
from keel.core.calendar import ALWAYS, add_business_minutes, is_working_time
from keel.core.calendars import (
    HolidayError,
    invalidate,
    load_public_holidays,
    load_spec,
    spec_for,
)
from keel.core.models import AuditEvent, BusinessCalendar, CalendarDay, WorkingPeriod

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _fresh_spec_cache():
    """Test databases reuse ids, so a spec cached by an earlier test must not leak into this one."""
    invalidate()
    yield
    invalidate()


@pytest.fixture
def actor(db):
    user = get_user_model().objects.create_user(username="calendar-admin", password="x")
    user.groups.add(Group.objects.get(name="administrator"))
    return get_user_model().objects.get(pk=user.pk)  # a fresh object: no stale permission cache


@pytest.fixture
def office(db) -> BusinessCalendar:
    """Shanghai, Monday to Friday 09:00-12:00 and 13:30-18:00."""
    calendar = BusinessCalendar.objects.create(
        name="Shanghai office", time_zone="Asia/Shanghai", country="CN"
    )
    for weekday in range(5):
        WorkingPeriod.objects.create(
            calendar=calendar, weekday=weekday, start=time(9), end=time(12)
        )
        WorkingPeriod.objects.create(
            calendar=calendar, weekday=weekday, start=time(13, 30), end=time(18)
        )
    return calendar


def _kinds(calendar: BusinessCalendar) -> dict[date, str]:
    return dict(CalendarDay.objects.filter(calendar=calendar).values_list("date", "kind"))


# -- the cached spec -----------------------------------------------------------------------------


def test_spec_is_loaded_with_two_queries(office, django_assert_num_queries):
    CalendarDay.objects.create(calendar=office, date=date(2025, 10, 1), kind="holiday")
    CalendarDay.objects.create(calendar=office, date=date(2025, 9, 28), kind="workday")
    with django_assert_num_queries(2):
        spec = load_spec(office.pk)
    assert spec.time_zone == "Asia/Shanghai"
    assert spec.week[0] == ((time(9), time(12)), (time(13, 30), time(18)))
    assert spec.week[5] == ()
    assert spec.holidays == frozenset({date(2025, 10, 1)})
    assert spec.workdays == frozenset({date(2025, 9, 28)})


def test_spec_is_cached_per_process(office, django_assert_num_queries):
    first = spec_for(office.pk)
    with django_assert_num_queries(0):
        assert spec_for(office.pk) is first


def test_invalidate_makes_the_next_call_reload(office, django_assert_num_queries):
    spec_for(office.pk)
    CalendarDay.objects.create(calendar=office, date=date(2025, 10, 1), kind="holiday")
    invalidate(office.pk)
    with django_assert_num_queries(2):
        assert date(2025, 10, 1) in spec_for(office.pk).holidays


def test_cached_spec_expires_so_other_processes_catch_up(office, monkeypatch):
    monkeypatch.setattr(calendars, "SPEC_TTL", 0.0)
    spec_for(office.pk)
    CalendarDay.objects.create(calendar=office, date=date(2025, 10, 1), kind="holiday")
    assert date(2025, 10, 1) in spec_for(office.pk).holidays


def test_no_calendar_means_every_minute_counts(db):
    assert spec_for(None) is ALWAYS


def test_unknown_calendar_is_not_found(db):
    with pytest.raises(BusinessCalendar.DoesNotExist):
        spec_for(987654)


def test_calendar_without_working_periods_is_named_in_the_error(db):
    empty = BusinessCalendar.objects.create(name="Empty", time_zone="UTC")
    with pytest.raises(ValueError, match=r"business calendar 'Empty': .*no working time"):
        spec_for(empty.pk)


# -- public holidays -----------------------------------------------------------------------------


def test_china_holidays_include_make_up_working_days(office, actor):
    added = load_public_holidays(calendar=office, actor=actor, country="CN", years=[2025])
    kinds = _kinds(office)
    assert added == len(kinds)
    for day in (1, 2, 3, 6, 7, 8):
        assert kinds[date(2025, 10, day)] == "holiday"
    assert kinds[date(2025, 9, 28)] == "workday"  # a Sunday
    assert kinds[date(2025, 10, 11)] == "workday"  # a Saturday
    assert kinds[date(2025, 1, 26)] == "workday"
    assert all(day.year == 2025 for day in kinds)  # nothing from the package's other years


def test_loaded_holidays_move_deadlines(office, actor, django_capture_on_commit_callbacks):
    spec_for(office.pk)  # cached before the load: the commit must refresh it
    with django_capture_on_commit_callbacks(execute=True):
        load_public_holidays(calendar=office, actor=actor, country="CN", years=[2025])
    spec = spec_for(office.pk)
    start = datetime(2025, 9, 30, 17, tzinfo=SHANGHAI)
    assert add_business_minutes(spec, start, 240) == datetime(2025, 10, 9, 12, tzinfo=SHANGHAI)
    assert is_working_time(spec, datetime(2025, 10, 11, 10, tzinfo=SHANGHAI))


def test_loading_twice_adds_nothing(office, actor):
    first = load_public_holidays(calendar=office, actor=actor, country="CN", years=[2025, 2026])
    count = CalendarDay.objects.filter(calendar=office).count()
    again = load_public_holidays(calendar=office, actor=actor, country="cn", years=[2026, 2025])
    assert first == count > 0
    assert again == 0
    assert CalendarDay.objects.filter(calendar=office).count() == count


def test_existing_day_is_updated_not_duplicated(office, actor):
    CalendarDay.objects.create(calendar=office, date=date(2025, 10, 1), kind="workday", name="x")
    load_public_holidays(calendar=office, actor=actor, country="CN", years=[2025])
    day = CalendarDay.objects.get(calendar=office, date=date(2025, 10, 1))
    assert day.kind == "holiday"
    assert day.name not in ("", "x")
    event = AuditEvent.objects.get(action="calendar.holidays_loaded")
    assert event.changes["updated"] == 1


def test_loading_writes_one_audit_event(office, actor):
    added = load_public_holidays(calendar=office, actor=actor, country="CN", years=[2025])
    event = AuditEvent.objects.get(action="calendar.holidays_loaded")
    assert event.actor_id == actor.pk
    assert event.object_id == str(office.pk)
    assert event.changes["country"] == "CN"
    assert event.changes["years"] == [2025]
    assert event.changes["added"] == added
    assert event.changes["workdays"] == 5


def test_subdivision_holidays(db, actor):
    calendar = BusinessCalendar.objects.create(name="California", time_zone="America/Los_Angeles")
    WorkingPeriod.objects.create(calendar=calendar, weekday=0, start=time(9), end=time(17))
    load_public_holidays(
        calendar=calendar, actor=actor, country="US", years=[2025], subdivision="ca"
    )
    assert _kinds(calendar)[date(2025, 3, 31)] == "holiday"  # César Chávez Day


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"country": "XX", "years": [2025]}, "country XX"),
        ({"country": "US", "years": [2025], "subdivision": "ZZ"}, "subdivision ZZ of US"),
        ({"country": "CN", "years": []}, "at least one year"),
        ({"country": "CN", "years": [25]}, "between 1900 and 2200"),
    ],
)
def test_bad_input_is_rejected_and_nothing_written(office, actor, arguments, message):
    with pytest.raises(ValueError, match=message) as caught:
        load_public_holidays(calendar=office, actor=actor, **arguments)
    assert isinstance(caught.value, HolidayError)
    assert not CalendarDay.objects.filter(calendar=office).exists()
    assert not AuditEvent.objects.filter(action="calendar.holidays_loaded").exists()


def test_loading_needs_permission_to_change_calendars(office):
    someone = get_user_model().objects.create_user(username="someone", password="x")
    with pytest.raises(PermissionDenied):
        load_public_holidays(calendar=office, actor=someone, country="CN", years=[2025])
    assert not CalendarDay.objects.filter(calendar=office).exists()
