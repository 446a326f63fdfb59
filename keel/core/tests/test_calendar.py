"""Business-time arithmetic: worked examples, then properties hypothesis checks on random calendars.

Pure tests: no database, so they run even while migrations are in flux.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from keel.core.calendar import (
    ALWAYS,
    HORIZON_DAYS,
    CalendarSpec,
    add_business_minutes,
    business_minutes_between,
    is_working_time,
    next_working_time,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
US = timedelta(microseconds=1)
MIDNIGHT = time(0)


def office_hours(time_zone: str = "Europe/Berlin", **kwargs: frozenset[date]) -> CalendarSpec:
    """Monday to Friday, 09:00-18:00."""
    return CalendarSpec.from_periods(
        time_zone, [(day, time(9), time(18)) for day in range(5)], **kwargs
    )


def with_lunch(time_zone: str = "Asia/Shanghai", **kwargs: frozenset[date]) -> CalendarSpec:
    """Monday to Friday, 09:00-12:00 and 13:30-18:00 (a Chinese office with a lunch break)."""
    periods = [(day, time(9), time(12)) for day in range(5)]
    periods += [(day, time(13, 30), time(18)) for day in range(5)]
    return CalendarSpec.from_periods(time_zone, periods, **kwargs)


def nights(time_zone: str) -> CalendarSpec:
    """Every day 01:00-04:00 and 22:00-24:00: periods that DST transitions cut through."""
    periods = [(day, time(1), time(4)) for day in range(7)]
    periods += [(day, time(22), MIDNIGHT) for day in range(7)]
    return CalendarSpec.from_periods(time_zone, periods)


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)


# China, around National Day 2025: 1-8 October off, Sunday 28 September and Saturday 11 October
# are make-up working days.
NATIONAL_DAY_2025 = frozenset(date(2025, 10, day) for day in (1, 2, 3, 6, 7, 8))
MAKE_UP_2025 = frozenset({date(2025, 9, 28), date(2025, 10, 11)})


# -- worked examples -----------------------------------------------------------------------------


def test_friday_afternoon_plus_two_hours_is_monday_ten():
    deadline = add_business_minutes(office_hours(), local(BERLIN, 2025, 6, 13, 17), 120)
    assert deadline == local(BERLIN, 2025, 6, 16, 10)
    assert deadline.tzinfo is UTC


def test_deadline_that_uses_up_a_period_is_its_end_not_the_next_morning():
    deadline = add_business_minutes(office_hours(), local(BERLIN, 2025, 6, 13, 17), 60)
    assert deadline == local(BERLIN, 2025, 6, 13, 18)


def test_ticket_logged_at_night_is_due_after_the_next_opening():
    deadline = add_business_minutes(office_hours(), local(BERLIN, 2025, 6, 10, 22), 30)
    assert deadline == local(BERLIN, 2025, 6, 11, 9, 30)


def test_lunch_break_does_not_count():
    deadline = add_business_minutes(with_lunch(), local(SHANGHAI, 2025, 6, 10, 11, 30), 60)
    assert deadline == local(SHANGHAI, 2025, 6, 10, 14)


def test_morning_deadline_ends_at_lunch_not_after_it():
    deadline = add_business_minutes(with_lunch(), local(SHANGHAI, 2025, 6, 10, 11), 60)
    assert deadline == local(SHANGHAI, 2025, 6, 10, 12)


def test_china_national_day_holidays_are_skipped():
    spec = with_lunch(holidays=NATIONAL_DAY_2025, workdays=MAKE_UP_2025)
    # Tuesday 30 September, 17:00: one hour that day, then nothing until Thursday 9 October.
    deadline = add_business_minutes(spec, local(SHANGHAI, 2025, 9, 30, 17), 240)
    assert deadline == local(SHANGHAI, 2025, 10, 9, 12)


def test_china_make_up_sunday_is_a_working_day_with_mondays_hours():
    spec = with_lunch(holidays=NATIONAL_DAY_2025, workdays=MAKE_UP_2025)
    deadline = add_business_minutes(spec, local(SHANGHAI, 2025, 9, 27, 10), 60)
    assert deadline == local(SHANGHAI, 2025, 9, 28, 10)
    assert is_working_time(spec, local(SHANGHAI, 2025, 10, 11, 14))
    assert not is_working_time(spec, local(SHANGHAI, 2025, 10, 11, 12, 30))


def test_china_national_day_counts_no_working_minutes():
    spec = with_lunch(holidays=NATIONAL_DAY_2025, workdays=MAKE_UP_2025)
    start, end = local(SHANGHAI, 2025, 10, 1), local(SHANGHAI, 2025, 10, 9)
    assert business_minutes_between(spec, start, end) == 0
    # The make-up Saturday after the holiday counts like a Monday: 7.5 hours.
    saturday = local(SHANGHAI, 2025, 10, 11)
    assert business_minutes_between(spec, saturday, saturday + timedelta(days=1)) == 450


def test_adding_zero_minutes_outside_working_hours_does_not_move():
    saturday = local(BERLIN, 2025, 6, 14, 3)
    assert add_business_minutes(office_hours(), saturday, 0) == saturday


def test_negative_minutes_count_backwards_and_stop_at_a_period_start():
    spec = office_hours()
    assert add_business_minutes(spec, local(BERLIN, 2025, 6, 16, 10), -120) == local(
        BERLIN, 2025, 6, 13, 17
    )
    assert add_business_minutes(spec, local(BERLIN, 2025, 6, 16, 10), -60) == local(
        BERLIN, 2025, 6, 16, 9
    )


def test_fractional_minutes():
    deadline = add_business_minutes(office_hours(), local(BERLIN, 2025, 6, 16, 9), 1.5)
    assert deadline == local(BERLIN, 2025, 6, 16, 9, 1, 30)


def test_five_business_days_over_a_weekend():
    deadline = add_business_minutes(office_hours(), local(BERLIN, 2025, 6, 11, 12), 5 * 540)
    assert deadline == local(BERLIN, 2025, 6, 18, 12)


def test_long_amounts_skip_whole_weeks_correctly():
    christmas = frozenset({date(2025, 12, 25), date(2025, 12, 26)})
    spec = office_hours(holidays=christmas)
    start = local(BERLIN, 2025, 6, 2, 9)
    deadline = add_business_minutes(spec, start, 200 * 540)
    # Oracle: the 200th working day, counted by hand, ends at 18:00.
    day, counted = date(2025, 6, 2), 0
    while True:
        if day.weekday() < 5 and day not in christmas:
            counted += 1
            if counted == 200:
                break
        day += timedelta(days=1)
    assert deadline == datetime.combine(day, time(18), tzinfo=BERLIN)
    assert business_minutes_between(spec, start, deadline) == 200 * 540


def test_between_is_signed():
    spec = office_hours()
    a, b = local(BERLIN, 2025, 6, 16, 9), local(BERLIN, 2025, 6, 16, 11)
    assert business_minutes_between(spec, a, b) == 120
    assert business_minutes_between(spec, b, a) == -120


def test_pauses_are_excluded_once_even_when_they_overlap():
    spec = office_hours()
    a, b = local(BERLIN, 2025, 6, 16, 9), local(BERLIN, 2025, 6, 16, 18)
    pauses = [
        (local(BERLIN, 2025, 6, 16, 10), local(BERLIN, 2025, 6, 16, 12)),
        (local(BERLIN, 2025, 6, 16, 11), local(BERLIN, 2025, 6, 16, 13)),
        (local(BERLIN, 2025, 6, 15, 8), local(BERLIN, 2025, 6, 16, 9, 30)),
    ]
    assert business_minutes_between(spec, a, b, pauses) == 540 - 180 - 30


def test_a_running_pause_stops_the_clock_until_the_end():
    spec = office_hours()
    a, b = local(BERLIN, 2025, 6, 16, 9), local(BERLIN, 2025, 6, 17, 18)
    assert business_minutes_between(spec, a, b, [(local(BERLIN, 2025, 6, 16, 12), None)]) == 180


def test_a_pause_that_ends_before_it_starts_is_rejected():
    spec = office_hours()
    a, b = local(BERLIN, 2025, 6, 16, 9), local(BERLIN, 2025, 6, 16, 18)
    with pytest.raises(ValueError, match="before it starts"):
        business_minutes_between(spec, a, b, [(b, a)])


def test_next_working_time():
    spec = office_hours()
    assert next_working_time(spec, local(BERLIN, 2025, 6, 14, 12)) == local(BERLIN, 2025, 6, 16, 9)
    assert next_working_time(spec, local(BERLIN, 2025, 6, 13, 18)) == local(BERLIN, 2025, 6, 16, 9)
    inside = local(BERLIN, 2025, 6, 16, 12)
    assert next_working_time(spec, inside) == inside


def test_period_start_is_working_time_and_period_end_is_not():
    spec = office_hours()
    assert is_working_time(spec, local(BERLIN, 2025, 6, 16, 9))
    assert not is_working_time(spec, local(BERLIN, 2025, 6, 16, 18))


def test_period_ending_at_midnight_runs_to_the_end_of_the_day():
    spec = CalendarSpec.from_periods(
        "Europe/Berlin", [(0, time(22), MIDNIGHT), (1, time(0), time(2))]
    )
    deadline = add_business_minutes(spec, local(BERLIN, 2025, 6, 16, 23), 120)
    assert deadline == local(BERLIN, 2025, 6, 17, 1)
    assert add_business_minutes(spec, local(BERLIN, 2025, 6, 16, 23), 60) == local(
        BERLIN, 2025, 6, 17
    )


def test_always_counts_every_minute():
    start = local(NEW_YORK, 2025, 3, 8, 12)
    # Real elapsed time: 9 March is 23 hours long in New York, so this is 13:00 local.
    assert add_business_minutes(ALWAYS, start, 1440) == start.astimezone(UTC) + timedelta(days=1)
    later = start.astimezone(UTC) + timedelta(hours=30)
    assert business_minutes_between(ALWAYS, start, later) == 1800
    assert is_working_time(ALWAYS, start)


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="aware"):
        add_business_minutes(office_hours(), datetime(2025, 6, 16, 9), 10)  # noqa: DTZ001


def test_a_calendar_without_working_time_in_reach_raises_instead_of_looping():
    mondays = frozenset(date(2025, 6, 16) + timedelta(weeks=n) for n in range(600))
    spec = CalendarSpec.from_periods("UTC", [(0, time(9), time(10))], holidays=mondays)
    with pytest.raises(ValueError, match="no deadline"):
        add_business_minutes(spec, local(BERLIN, 2025, 6, 16, 8), 1)
    with pytest.raises(ValueError, match="no working time"):
        next_working_time(spec, local(BERLIN, 2025, 6, 16, 8))


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        (
            [(0, time(9), time(12)), (0, time(11), time(14))],
            "Monday: periods 09:00-12:00 and 11:00-14:00 overlap",
        ),
        ([(2, time(18), time(9))], "Wednesday: period 18:00-09:00 must start before it ends"),
        ([(4, time(9), time(9))], "Friday: period 09:00-09:00 must start before it ends"),
        (
            [(6, time(20), MIDNIGHT), (6, time(22), time(23))],
            "Sunday: periods 20:00-00:00 and 22:00-23:00 overlap",
        ),
        ([], "no working time"),
        ([(7, time(9), time(10))], "weekday must be 0"),
    ],
)
def test_invalid_periods_are_rejected_with_a_clear_message(periods, message):
    with pytest.raises(ValueError, match=message):
        CalendarSpec.from_periods("UTC", periods)


def test_touching_periods_are_allowed():
    spec = CalendarSpec.from_periods("UTC", [(0, time(9), time(12)), (0, time(12), time(13))])
    start = datetime(2025, 6, 16, 9, tzinfo=UTC)
    assert add_business_minutes(spec, start, 240) == datetime(2025, 6, 16, 13, tzinfo=UTC)


def test_unknown_time_zone_is_rejected():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        office_hours("Mars/Olympus")


def test_a_day_cannot_be_both_holiday_and_make_up_day():
    day = date(2025, 10, 11)
    with pytest.raises(ValueError, match="2025-10-11 is both"):
        office_hours(holidays=frozenset({day}), workdays=frozenset({day}))


def test_specs_are_values():
    assert office_hours() == office_hours()
    assert hash(office_hours()) == hash(office_hours())
    assert office_hours() != office_hours("Asia/Shanghai")


# -- daylight saving time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "minutes"),
    [
        # 01:00-04:00 loses the hour that does not exist, gains the hour that happens twice.
        (NEW_YORK, date(2025, 3, 9), 120 + 120),
        (NEW_YORK, date(2025, 11, 2), 240 + 120),
        (BERLIN, date(2025, 3, 30), 120 + 120),
        (BERLIN, date(2025, 10, 26), 240 + 120),
        (BERLIN, date(2025, 6, 16), 180 + 120),
    ],
)
def test_working_time_across_dst_is_real_elapsed_time(tz, day, minutes):
    spec = nights(str(tz))
    start = datetime.combine(day, MIDNIGHT, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), MIDNIGHT, tzinfo=tz)
    assert business_minutes_between(spec, start, end) == minutes
    assert add_business_minutes(spec, start, minutes) == end


def test_period_boundaries_inside_the_dst_gap_never_double_count():
    # 02:00-03:00 does not exist in New York on Sunday 9 March 2025: 01:00-04:00 is two hours.
    start, end = local(NEW_YORK, 2025, 3, 9), local(NEW_YORK, 2025, 3, 10)
    touching = CalendarSpec.from_periods(
        "America/New_York", [(6, time(1), time(2, 30)), (6, time(2, 30), time(4))]
    )
    assert business_minutes_between(touching, start, end) == 120
    apart = CalendarSpec.from_periods(
        "America/New_York", [(6, time(1), time(2, 30)), (6, time(2, 45), time(4))]
    )
    assert 0 < business_minutes_between(apart, start, end) <= 120


def test_ambiguous_wall_time_does_not_crash():
    spec = CalendarSpec.from_periods("America/New_York", [(6, time(1, 30), time(1, 45))])
    first = local(NEW_YORK, 2025, 11, 2, 1, 40)
    assert is_working_time(spec, first)
    deadline = add_business_minutes(spec, local(NEW_YORK, 2025, 11, 2), 15)
    # The first 01:45 (EDT); compared in UTC because Python never equates an ambiguous wall time
    # with an instant in another zone (PEP 495).
    assert deadline == local(NEW_YORK, 2025, 11, 2, 1, 45).astimezone(UTC)


# -- properties ----------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Shanghai",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "America/Santiago",  # DST changes at midnight
    "Asia/Kolkata",
]
DST_DAYS = [
    datetime(2025, 3, 9, tzinfo=UTC),
    datetime(2025, 11, 2, tzinfo=UTC),
    datetime(2025, 3, 30, tzinfo=UTC),
    datetime(2025, 10, 26, tzinfo=UTC),
    datetime(2025, 4, 6, tzinfo=UTC),
    datetime(2025, 9, 7, tzinfo=UTC),
    datetime(2025, 10, 5, tzinfo=UTC),
]


def _quarter(n: int) -> time:
    return MIDNIGHT if n == 96 else time(n // 4, n % 4 * 15)


@st.composite
def specs(draw: st.DrawFn) -> CalendarSpec:
    """Random calendars: 0-3 periods a day on quarter hours, holidays and make-up days."""
    week = []
    for _ in range(7):
        points = sorted(draw(st.lists(st.integers(0, 96), max_size=6, unique=True)))
        points = points[: len(points) // 2 * 2]
        week.append(
            tuple(
                (_quarter(a), _quarter(b)) for a, b in zip(points[::2], points[1::2], strict=True)
            )
        )
    if not any(week):
        week[0] = ((time(9), time(17)),)
    days = st.dates(date(2024, 12, 1), date(2026, 3, 31))
    holidays = draw(st.frozensets(days, max_size=25))
    workdays = draw(st.frozensets(days, max_size=5)) - holidays
    return CalendarSpec(draw(st.sampled_from(ZONES)), tuple(week), holidays, workdays)


ordinary = st.datetimes(  # hypothesis wants naive bounds and adds the zone itself
    min_value=datetime(2024, 12, 1),  # noqa: DTZ001
    max_value=datetime(2026, 3, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
near_dst = st.builds(
    lambda day, minutes: day + timedelta(minutes=minutes),
    st.sampled_from(DST_DAYS),
    st.integers(-36 * 60, 36 * 60),
)
instants = st.one_of(ordinary, near_dst)
amounts = st.integers(0, 5000)
calendars = st.one_of(
    specs(),
    st.sampled_from(
        [office_hours(), with_lunch(), nights("America/New_York"), nights("Europe/Berlin"), ALWAYS]
    ),
)

props = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@props
@given(calendars, instants, amounts, amounts)
def test_more_minutes_never_give_an_earlier_deadline(spec, start, a, b):
    low, high = sorted((a, b))
    assert add_business_minutes(spec, start, low) <= add_business_minutes(spec, start, high)


@props
@given(calendars, instants, amounts, amounts)
@example(  # 15 minutes a week: 7831 minutes lie 522 weeks out, past one search's horizon
    spec=CalendarSpec("UTC", ((),) * 6 + (((MIDNIGHT, time(0, 15)),),)),
    start=datetime(2025, 3, 10, 9, 44, tzinfo=UTC),
    a=2831,
    b=5000,
)
def test_adding_in_two_steps_equals_adding_at_once(spec, start, a, b):
    try:
        once = add_business_minutes(spec, start, a + b)
    except ValueError:
        # HORIZON_DAYS bounds each search, not the sum of two: two steps may each stay within
        # it and still end further out than one search may look. Then that is where they end.
        try:
            twice = add_business_minutes(spec, add_business_minutes(spec, start, a), b)
        except ValueError:
            return
        assert twice > start + timedelta(days=HORIZON_DAYS - 1)
        return
    assert add_business_minutes(spec, add_business_minutes(spec, start, a), b) == once


@props
@given(calendars, instants, st.integers(1, 5000))
def test_deadline_lands_in_working_time_or_on_a_period_end(spec, start, minutes):
    deadline = add_business_minutes(spec, start, minutes)
    assert deadline > start
    assert is_working_time(spec, deadline - US)


@props
@given(calendars, instants, amounts)
def test_minutes_between_start_and_deadline_are_the_minutes_added(spec, start, minutes):
    assert (
        business_minutes_between(spec, start, add_business_minutes(spec, start, minutes)) == minutes
    )


@props
@given(calendars, instants, st.integers(1, 5000))
def test_subtracting_minutes_is_the_mirror_of_adding(spec, start, minutes):
    earlier = add_business_minutes(spec, start, -minutes)
    assert earlier < start
    assert business_minutes_between(spec, start, earlier) == -minutes
    assert is_working_time(spec, earlier)


@props
@given(calendars, instants, instants, instants)
def test_between_adds_up_over_consecutive_intervals(spec, a, b, c):
    a, b, c = sorted((a, b, c))
    whole = business_minutes_between(spec, a, c)
    parts = business_minutes_between(spec, a, b) + business_minutes_between(spec, b, c)
    assert whole == pytest.approx(parts, abs=1e-6)
    assert whole >= 0
    assert business_minutes_between(spec, c, a) == -whole


@props
@given(calendars, instants, instants, instants, instants)
def test_a_pause_removes_exactly_the_working_time_it_covers(spec, a, b, p, q):
    a, b = sorted((a, b))
    p, q = sorted((p, q))
    covered = business_minutes_between(spec, max(a, p), min(b, q)) if max(a, p) < min(b, q) else 0
    paused = business_minutes_between(spec, a, b, [(p, q), (p, q)])
    assert paused == pytest.approx(business_minutes_between(spec, a, b) - covered, abs=1e-6)


@props
@given(calendars, instants)
def test_next_working_time_is_the_instant_itself_only_in_working_time(spec, t):
    following = next_working_time(spec, t)
    assert following >= t
    assert (following == t) == is_working_time(spec, t)
    assert is_working_time(spec, following)
    assert add_business_minutes(spec, t, 1) == add_business_minutes(spec, following, 1)


def _oracle_is_working(spec: CalendarSpec, t: datetime) -> bool:
    """Working time by reading the wall clock, the way a person would."""
    wall = t.astimezone(ZoneInfo(spec.time_zone))
    day = wall.date()
    if day in spec.holidays:
        return False
    periods = spec.week[0] if day in spec.workdays else spec.week[day.weekday()]
    clock = wall.time().replace(tzinfo=None, fold=0)
    return any(start <= clock and (end == MIDNIGHT or clock < end) for start, end in periods)


@props
@given(calendars, ordinary)
def test_working_time_matches_the_wall_clock_on_days_without_a_dst_change(spec, t):
    tz = ZoneInfo(spec.time_zone)
    day = t.astimezone(tz).date()
    midnight = datetime.combine(day, MIDNIGHT, tzinfo=tz)
    next_midnight = datetime.combine(day + timedelta(days=1), MIDNIGHT, tzinfo=tz)
    assume(midnight.utcoffset() == next_midnight.utcoffset())
    assert is_working_time(spec, t) == _oracle_is_working(spec, t)


@props
@given(specs(), near_dst, st.integers(1, 3000))
def test_dst_transitions_keep_every_invariant(spec, start, minutes):
    deadline = add_business_minutes(spec, start, minutes)
    assert business_minutes_between(spec, start, deadline) == minutes
    assert is_working_time(spec, deadline - US)
    day = start - timedelta(hours=12)
    for hour in range(0, 48):
        a, b = day + timedelta(hours=hour), day + timedelta(hours=hour + 1)
        assert 0 <= business_minutes_between(spec, a, b) <= 60


@pytest.mark.parametrize(
    ("spec", "start"),
    [
        # The first step ends exactly on a period end (04:00, then midnight) on DST nights.
        (nights("America/New_York"), local(NEW_YORK, 2025, 3, 9)),
        (nights("America/New_York"), local(NEW_YORK, 2025, 11, 2)),
        (nights("Europe/Berlin"), local(BERLIN, 2025, 10, 26)),
        # Santiago changes clocks at midnight: periods that end at 00:00 meet the transition.
        (nights("America/Santiago"), datetime(2025, 9, 6, 12, tzinfo=UTC)),
        (nights("America/Santiago"), datetime(2025, 4, 5, 12, tzinfo=UTC)),
    ],
)
def test_two_steps_meeting_on_a_period_end_equal_one_step(spec, start):
    for a in (60, 120, 180, 240, 300, 360):
        for b in (1, 59, 60, 120, 300):
            two_steps = add_business_minutes(spec, add_business_minutes(spec, start, a), b)
            assert two_steps == add_business_minutes(spec, start, a + b), (a, b)
