"""Business-time arithmetic: the clock every SLA deadline is measured on.

Pure Python on purpose (no Django): the SLA clock, the importers and the benchmarks all share it,
and hypothesis can hammer it without a database. ``keel.core.calendars`` builds a
:class:`CalendarSpec` from the database.

How time is measured
  Working periods are local wall-clock times in the calendar's time zone. Each local day is turned
  once into a list of UTC instants (integers, microseconds since the epoch) and cached on the spec;
  all arithmetic after that is integer arithmetic on those instants. So a period that spans a DST
  change counts the time that really elapses (01:00-04:00 is two hours on the spring-forward night
  and four on the fall-back night), a wall time that does not exist or exists twice never crashes,
  and no instant is ever counted twice.

Conventions
  * A period ending at ``00:00`` ends at midnight at the end of its day (24:00); that is the only
    way to describe a full day, since ``time`` has no 24:00.
  * A make-up working day (China moves working days onto weekends around public holidays) has
    Monday's working periods.
  * Periods are half-open: a period's end instant is not working time, but a deadline may land
    exactly on it (``add_business_minutes`` never rolls a deadline that ends a period over to the
    next morning).
  * Adding 0 minutes returns the start instant unchanged, even outside working hours.
  * Results are aware datetimes in UTC.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

__all__ = [
    "ALWAYS",
    "HORIZON_DAYS",
    "CalendarSpec",
    "add_business_minutes",
    "business_minutes_between",
    "is_working_time",
    "next_working_time",
]

Period = tuple[time, time]
WeekPeriods = tuple[tuple[Period, ...], ...]
Pause = tuple[datetime, datetime | None]

#: How far ahead (or back) a deadline search may go before giving up: a calendar whose holidays
#: swallow ten years of working time is misconfigured, and an SLA clock must never spin forever.
HORIZON_DAYS = 3653

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_MINUTE_US = 60_000_000
_MIDNIGHT = time(0, 0)
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# One local day, as cached: (start of day, start of next day, period starts, period ends,
# working microseconds). Plain tuples of ints because the hot loops index them millions of times.
_Day = tuple[int, int, tuple[int, ...], tuple[int, ...], int]


def _hm(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second or value.microsecond else "%H:%M")


def _end_key(end: time) -> tuple[int, time]:
    """Sort key that puts an end of 00:00 (midnight, 24:00) after every other time."""
    return (1, end) if end == _MIDNIGHT else (0, end)


@dataclass(frozen=True)
class CalendarSpec:
    """Working hours, holidays and a time zone, validated and immutable.

    ``week`` holds seven entries, Monday first; each is a tuple of ``(start, end)`` local wall
    times, sorted and non-overlapping (touching is fine: 09:00-12:00 and 12:00-13:00). Lists are
    accepted and normalised. ``holidays`` are days without work; ``workdays`` are make-up working
    days, which use Monday's periods. Invalid input raises ``ValueError`` naming the problem.
    """

    time_zone: str
    week: WeekPeriods
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    _tz: zoneinfo.ZoneInfo = field(init=False, repr=False, compare=False)
    _continuous: bool = field(init=False, repr=False, compare=False)
    _days: dict[int, _Day] = field(init=False, repr=False, compare=False)
    _weeks: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            tz = zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {self.time_zone!r}") from None
        week = tuple(self.week)
        if len(week) != 7:
            raise ValueError(f"week must list the periods of 7 weekdays, got {len(week)}")
        normalised: list[tuple[Period, ...]] = []
        for weekday, periods in enumerate(week):
            normalised.append(self._validate_day(_DAY_NAMES[weekday], periods))
        holidays = frozenset(self.holidays)
        workdays = frozenset(self.workdays)
        for day in holidays | workdays:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ValueError(f"holidays and make-up working days must be dates, got {day!r}")
        both = holidays & workdays
        if both:
            raise ValueError(f"{min(both).isoformat()} is both a holiday and a make-up working day")
        if not any(normalised):
            raise ValueError("the calendar has no working time: add at least one working period")
        object.__setattr__(self, "week", tuple(normalised))
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "workdays", workdays)
        object.__setattr__(self, "_tz", tz)
        full_day = ((_MIDNIGHT, _MIDNIGHT),)
        object.__setattr__(
            self, "_continuous", not holidays and all(day == full_day for day in normalised)
        )
        object.__setattr__(self, "_days", {})
        object.__setattr__(self, "_weeks", {})

    @staticmethod
    def _validate_day(day_name: str, periods: Iterable[Period]) -> tuple[Period, ...]:
        checked: list[Period] = []
        for period in periods:
            start, end = period
            if not isinstance(start, time) or not isinstance(end, time):
                raise ValueError(f"{day_name}: a period needs two times, got {period!r}")
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError(f"{day_name}: periods are local wall times, without a time zone")
            if end != _MIDNIGHT and start >= end:
                raise ValueError(
                    f"{day_name}: period {_hm(start)}-{_hm(end)} must start before it ends"
                )
            checked.append((start, end))
        checked.sort(key=lambda p: (p[0], _end_key(p[1])))
        for (start_a, end_a), (start_b, end_b) in pairwise(checked):
            if end_a == _MIDNIGHT or end_a > start_b:
                raise ValueError(
                    f"{day_name}: periods {_hm(start_a)}-{_hm(end_a)} and "
                    f"{_hm(start_b)}-{_hm(end_b)} overlap"
                )
        return tuple(checked)

    @classmethod
    def from_periods(
        cls,
        time_zone: str,
        periods: Iterable[tuple[int, time, time]],
        *,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
    ) -> CalendarSpec:
        """Build a spec from ``(weekday, start, end)`` rows, weekday 0 = Monday (as stored)."""
        week: list[list[Period]] = [[] for _ in range(7)]
        for weekday, start, end in periods:
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
            week[weekday].append((start, end))
        return cls(
            time_zone,
            tuple(tuple(day) for day in week),
            frozenset(holidays),
            frozenset(workdays),
        )

    # -- the per-day cache ---------------------------------------------------------------------

    def _local_instant(self, day: date, wall: time) -> int:
        """Microseconds since the epoch of a local wall time (fold=0 for gaps and repeats)."""
        return (datetime.combine(day, wall, tzinfo=self._tz) - _EPOCH) // _US

    def _day(self, ordinal: int) -> _Day:
        """The working intervals of one local day, computed once and cached.

        Boundaries are clamped to the day and kept non-decreasing, so a wall time inside a DST
        gap (which maps to an instant after a later wall time) cannot make intervals overlap.
        """
        cached = self._days.get(ordinal)
        if cached is not None:
            return cached
        if len(self._days) > 200_000:  # about 550 years of days: only adversarial use gets here
            self._days.clear()
            self._weeks.clear()
        day = date.fromordinal(ordinal)
        if day in self.holidays:
            periods: tuple[Period, ...] = ()
        elif day in self.workdays:
            periods = self.week[0]
        else:
            periods = self.week[day.weekday()]
        day_start = self._local_instant(day, _MIDNIGHT)
        day_end = self._local_instant(day + timedelta(days=1), _MIDNIGHT)
        starts: list[int] = []
        ends: list[int] = []
        previous = day_start
        for start, end in periods:
            s = min(max(self._local_instant(day, start), previous), day_end)
            e = day_end if end == _MIDNIGHT else min(max(self._local_instant(day, end), s), day_end)
            previous = e
            if e <= s:
                continue
            if ends and ends[-1] == s:  # touching periods: one interval is faster to walk
                ends[-1] = e
            else:
                starts.append(s)
                ends.append(e)
        total = sum(e - s for s, e in zip(starts, ends, strict=True))
        record: _Day = (day_start, day_end, tuple(starts), tuple(ends), total)
        self._days[ordinal] = record
        return record

    def _week_total(self, monday: int) -> int:
        """Working microseconds in the seven days from ``monday`` (an ordinal), cached."""
        total = self._weeks.get(monday)
        if total is None:
            total = sum(self._day(ordinal)[4] for ordinal in range(monday, monday + 7))
            self._weeks[monday] = total
        return total

    def _locate(self, instant: int) -> tuple[int, _Day]:
        """The local day whose [start, next start) holds ``instant``: its ordinal and intervals.

        Starts from the UTC date, which is at most a day away from the local one.
        """
        ordinal = instant // _DAY_US + _EPOCH_ORDINAL
        day = self._days.get(ordinal) or self._day(ordinal)
        while instant < day[0]:
            ordinal -= 1
            day = self._days.get(ordinal) or self._day(ordinal)
        while instant >= day[1]:
            ordinal += 1
            day = self._days.get(ordinal) or self._day(ordinal)
        return ordinal, day

    # -- arithmetic on instants ----------------------------------------------------------------

    def _forward(self, instant: int, amount: int) -> int:
        """The instant ``amount`` (> 0) working microseconds after ``instant``."""
        if self._continuous:
            return instant + amount
        days = self._days
        ordinal, (_, _, starts, ends, _) = self._locate(instant)
        for s, e in zip(starts, ends, strict=True):
            if instant >= e:
                continue
            if s < instant:
                s = instant
            if amount <= e - s:
                return s + amount
            amount -= e - s
        first = ordinal
        ordinal += 1
        while True:
            if ordinal - first > HORIZON_DAYS:
                raise ValueError(f"no deadline within {HORIZON_DAYS} days: too little working time")
            if ordinal % 7 == 1:  # a Monday (ordinal 1 is Monday, 1 January of year 1)
                week = self._weeks.get(ordinal)
                if week is None:
                    week = self._week_total(ordinal)
                if amount > week:
                    amount -= week
                    ordinal += 7
                    continue
            day = days.get(ordinal) or self._day(ordinal)
            if amount > day[4]:
                amount -= day[4]
            else:
                for s, e in zip(day[2], day[3], strict=True):
                    if amount <= e - s:
                        return s + amount
                    amount -= e - s
            ordinal += 1

    def _backward(self, instant: int, amount: int) -> int:
        """The instant ``amount`` (> 0) working microseconds before ``instant``."""
        if self._continuous:
            return instant - amount
        days = self._days
        ordinal, (_, _, starts, ends, _) = self._locate(instant)
        for s, e in zip(reversed(starts), reversed(ends), strict=True):
            if s >= instant:
                continue
            if e > instant:
                e = instant
            if amount <= e - s:
                return e - amount
            amount -= e - s
        first = ordinal
        ordinal -= 1
        while True:
            if first - ordinal > HORIZON_DAYS:
                raise ValueError(f"no instant within {HORIZON_DAYS} days: too little working time")
            if ordinal % 7 == 0:  # a Sunday: the whole week ending today may be skipped
                week = self._weeks.get(ordinal - 6)
                if week is None:
                    week = self._week_total(ordinal - 6)
                if amount > week:
                    amount -= week
                    ordinal -= 7
                    continue
            day = days.get(ordinal) or self._day(ordinal)
            if amount > day[4]:
                amount -= day[4]
            else:
                for s, e in zip(reversed(day[2]), reversed(day[3]), strict=True):
                    if amount <= e - s:
                        return e - amount
                    amount -= e - s
            ordinal -= 1

    def _worked(self, a: int, b: int) -> int:
        """Working microseconds in [a, b), for a <= b."""
        if self._continuous:
            return b - a
        days = self._days
        first, head = self._locate(a)
        last, tail = self._locate(b)
        if first == last:
            return _overlap(head[2], head[3], a, b)
        total = _overlap(head[2], head[3], a, head[1]) + _overlap(tail[2], tail[3], tail[0], b)
        ordinal = first + 1
        while ordinal < last:
            if ordinal % 7 == 1 and ordinal + 7 <= last:
                week = self._weeks.get(ordinal)
                total += self._week_total(ordinal) if week is None else week
                ordinal += 7
                continue
            day = days.get(ordinal) or self._day(ordinal)
            total += day[4]
            ordinal += 1
        return total


def _overlap(starts: Sequence[int], ends: Sequence[int], a: int, b: int) -> int:
    total = 0
    for s, e in zip(starts, ends, strict=True):
        if e <= a:
            continue
        if s >= b:
            break
        total += (e if e < b else b) - (s if s > a else a)
    return total


def _to_instant(value: datetime, name: str) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (it has no time zone)")
    return (value - _EPOCH) // _US


def _from_instant(instant: int) -> datetime:
    return _EPOCH + timedelta(microseconds=instant)


def _to_amount(minutes: float) -> int:
    """Minutes as whole microseconds, the unit every boundary is kept in."""
    if isinstance(minutes, int):
        return minutes * _MINUTE_US
    if not math.isfinite(minutes):
        raise ValueError(f"minutes must be a finite number, got {minutes!r}")
    return round(minutes * _MINUTE_US)


def add_business_minutes(spec: CalendarSpec, start: datetime, minutes: float) -> datetime:
    """The instant ``minutes`` of working time after ``start``, in UTC: an SLA deadline.

    Time before the first working period is skipped, so a ticket logged at night is due
    ``minutes`` after the next opening. A result that exactly uses up a period is that period's
    end, never the next day's start. Negative minutes count backwards. 0 returns ``start``.
    Raises ``ValueError`` if no working time is found within ``HORIZON_DAYS``.
    """
    instant = _to_instant(start, "start")
    amount = _to_amount(minutes)
    if amount > 0:
        instant = spec._forward(instant, amount)
    elif amount < 0:
        instant = spec._backward(instant, -amount)
    return _from_instant(instant)


def business_minutes_between(
    spec: CalendarSpec,
    a: datetime,
    b: datetime,
    pauses: Iterable[Pause] = (),
) -> float:
    """Working minutes from ``a`` to ``b``, minus the paused working time; negative if b < a.

    ``pauses`` are ``(start, end)`` intervals when the SLA clock stood still (waiting for the
    customer); ``end`` is ``None`` for a pause still running. Pauses may overlap each other or
    reach outside [a, b]; only the working time they cover inside it is removed, once.
    """
    x = _to_instant(a, "a")
    y = _to_instant(b, "b")
    sign = 1
    if y < x:
        x, y, sign = y, x, -1
    worked = spec._worked(x, y)
    for p_start, p_end in _merge_pauses(pauses, x, y):
        worked -= spec._worked(p_start, p_end)
    return sign * worked / _MINUTE_US


def _merge_pauses(pauses: Iterable[Pause], low: int, high: int) -> list[tuple[int, int]]:
    """Pauses clipped to [low, high], sorted and merged so no instant is subtracted twice."""
    clipped: list[tuple[int, int]] = []
    for p_start, p_end in pauses:
        s = _to_instant(p_start, "pause start")
        e = high if p_end is None else _to_instant(p_end, "pause end")
        if e < s:
            raise ValueError(f"a pause ends ({p_end}) before it starts ({p_start})")
        s, e = max(s, low), min(e, high)
        if s < e:
            clipped.append((s, e))
    clipped.sort()
    merged: list[tuple[int, int]] = []
    for s, e in clipped:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def is_working_time(spec: CalendarSpec, t: datetime) -> bool:
    """Whether the clock runs at ``t`` (period starts are working time, period ends are not)."""
    instant = _to_instant(t, "t")
    if spec._continuous:
        return True
    _, (_, _, starts, ends, _) = spec._locate(instant)
    return any(s <= instant < e for s, e in zip(starts, ends, strict=True))


def next_working_time(spec: CalendarSpec, t: datetime) -> datetime:
    """``t`` itself (in UTC) if it is working time, else the start of the next working period."""
    instant = _to_instant(t, "t")
    if spec._continuous:
        return _from_instant(instant)
    first = ordinal = spec._locate(instant)[0]
    while ordinal - first <= HORIZON_DAYS:
        _, _, starts, ends, _ = spec._day(ordinal)
        for s, e in zip(starts, ends, strict=True):
            if instant < e:
                return _from_instant(max(s, instant))
        ordinal += 1
    raise ValueError(f"no working time within {HORIZON_DAYS} days after {t.isoformat()}")


#: The clock of a service without a business calendar: every minute counts.
ALWAYS = CalendarSpec("UTC", tuple(((_MIDNIGHT, _MIDNIGHT),) for _ in range(7)))
