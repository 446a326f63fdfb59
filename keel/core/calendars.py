"""Business calendars from the database: the cached spec the SLA clock uses, and holiday loading.

The arithmetic itself is in :mod:`keel.core.calendar` (pure, property-tested); this module only
turns rows into a :class:`~keel.core.calendar.CalendarSpec` and writes public holidays.

Caching: computing a deadline must not cost queries, so specs are kept per process, keyed by
calendar id. Whatever changes a calendar's periods or days calls :func:`invalidate` after commit,
which refreshes this process at once; other processes (more web processes, the task
consumer) pick the change up within ``SPEC_TTL`` seconds.
"""

from __future__ import annotations

import time as clock
from collections.abc import Iterable
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any

import holidays
from django.db import transaction
from django.utils.translation import gettext as _

from keel.core import audit
from keel.core.calendar import ALWAYS, CalendarSpec
from keel.core.errors import FieldError
from keel.core.models import BusinessCalendar, CalendarDay, DayKind
from keel.core.permissions import require

if TYPE_CHECKING:
    from keel.core.models import User

__all__ = [
    "ALWAYS",
    "SPEC_TTL",
    "HolidayError",
    "invalidate",
    "load_public_holidays",
    "load_spec",
    "spec_for",
]

#: Seconds a process trusts its cached spec; bounds how stale another process can be.
SPEC_TTL = 60.0

_specs: dict[int, tuple[float, CalendarSpec]] = {}

_NAME_LENGTH = CalendarDay._meta.get_field("name").max_length or 200


def spec_for(calendar_id: int | None) -> CalendarSpec:
    """The spec of a calendar, from the process cache when fresh; ``ALWAYS`` for no calendar.

    Raises ``BusinessCalendar.DoesNotExist`` for an unknown id and ``ValueError`` (naming the
    calendar) when its rows do not make a valid calendar, such as one without working periods.
    """
    if calendar_id is None:
        return ALWAYS
    now = clock.monotonic()
    cached = _specs.get(calendar_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    spec = load_spec(calendar_id)
    _specs[calendar_id] = (now + SPEC_TTL, spec)
    return spec


def invalidate(calendar_id: int | None = None) -> None:
    """Forget the cached spec of one calendar (all calendars when ``None``).

    Call it through ``transaction.on_commit`` from every action that changes a calendar's time
    zone, periods or days, so a rolled-back change never evicts a good spec for a bad one.
    """
    if calendar_id is None:
        _specs.clear()
    else:
        _specs.pop(calendar_id, None)


def load_spec(calendar_id: int) -> CalendarSpec:
    """Build a spec from the database, bypassing the cache: two queries.

    The calendar and its periods come in one query (a left join, so a calendar without periods
    still gives its time zone), its holidays and make-up days in the second.
    """
    rows = list(
        BusinessCalendar.objects.filter(pk=calendar_id).values_list(
            "name", "time_zone", "periods__weekday", "periods__start", "periods__end"
        )
    )
    if not rows:
        raise BusinessCalendar.DoesNotExist(f"no business calendar with id {calendar_id}")
    name, time_zone = rows[0][0], rows[0][1]
    periods = [(row[2], row[3], row[4]) for row in rows if row[2] is not None]
    holidays_: list[date] = []
    workdays: list[date] = []
    for day, kind in CalendarDay.objects.filter(calendar_id=calendar_id).values_list(
        "date", "kind"
    ):
        (workdays if kind == DayKind.WORKDAY else holidays_).append(day)
    try:
        return CalendarSpec.from_periods(time_zone, periods, holidays=holidays_, workdays=workdays)
    except ValueError as exc:
        raise ValueError(f"business calendar {name!r}: {exc}") from None


class HolidayError(FieldError, ValueError):
    """Holidays asked for a country, subdivision or year that cannot be loaded.

    A ``FieldError`` so pages and the API name the field; a ``ValueError`` for callers that
    only care that the input was bad.
    """


def _public_days(
    country: str, subdivision: str | None, years: list[int]
) -> dict[date, tuple[str, str]]:
    """``{date: (kind, name)}`` for the public holidays and make-up working days of ``years``."""
    try:
        table = holidays.country_holidays(country, subdiv=subdivision, years=years)
    except NotImplementedError:
        raise HolidayError(
            "subdivision",
            _("No public holidays are known for subdivision %(subdivision)s of %(country)s.")
            % {"subdivision": subdivision, "country": country},
        ) from None
    days = {day: (DayKind.HOLIDAY.value, name) for day, name in table.items()}
    # Make-up working days (China, and other countries that move working days onto weekends).
    # The package keeps some from other years (moved across New Year); keep the ones that
    # belong to the years asked for, including late-December days moved for a January holiday.
    wanted = set(years)
    for day in getattr(table, "weekend_workdays", set()):
        belongs = (
            day.year in wanted
            or (day.month == 12 and day.year + 1 in wanted)
            or (day.month == 1 and day.year - 1 in wanted)
        )
        if belongs and day not in days:
            days[day] = (DayKind.WORKDAY.value, _("Make-up working day"))
    return days


@transaction.atomic
def load_public_holidays(
    *,
    calendar: BusinessCalendar,
    actor: User,
    country: str,
    years: Iterable[int],
    subdivision: str | None = None,
) -> int:
    """Write a country's public holidays (and, for China, make-up working days) into a calendar.

    Idempotent: a date the calendar already has is updated to the published kind and name,
    never duplicated, so loading a year twice changes nothing. Requires
    ``core.change_businesscalendar``. Writes one ``calendar.holidays_loaded`` audit event and
    refreshes the cached spec after commit. Returns the number of days added.
    Raises :class:`HolidayError` (a ``ValueError``) naming an unknown country or subdivision.
    """
    require(actor, "core.change_businesscalendar")
    code = country.strip().upper()
    supported = holidays.list_supported_countries(include_aliases=True)
    if code not in supported:
        raise HolidayError(
            "country",
            _("No public holidays are known for country %(country)s (use a code such as CN).")
            % {"country": country},
        )
    year_set = set(years)
    if not year_set:
        raise HolidayError("years", _("Choose at least one year."))
    if any(not isinstance(year, int) or not 1900 <= year <= 2200 for year in year_set):
        raise HolidayError("years", _("Years must be between 1900 and 2200."))
    year_list = sorted(year_set)
    subdiv: str | None = None
    if subdivision and subdivision.strip():
        known = {name.upper(): name for name in supported[code]}
        subdiv = known.get(subdivision.strip().upper())
        if subdiv is None:
            raise HolidayError(
                "subdivision",
                _("No public holidays are known for subdivision %(subdivision)s of %(country)s.")
                % {"subdivision": subdivision, "country": code},
            )

    published = _public_days(code, subdiv, year_list)
    existing = {
        day: (kind, name)
        for day, kind, name in CalendarDay.objects.filter(
            calendar=calendar, date__in=list(published)
        ).values_list("date", "kind", "name")
    }
    rows: list[CalendarDay] = []
    added = updated = 0
    for day, (kind, name) in sorted(published.items()):
        name = str(name)[:_NAME_LENGTH]
        if day not in existing:
            added += 1
        elif existing[day] != (kind, name):
            updated += 1
        else:
            continue
        rows.append(CalendarDay(calendar=calendar, date=day, kind=kind, name=name))
    if rows:
        # Upsert: a concurrent load of the same year cannot create duplicates or fail.
        CalendarDay.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["calendar", "date"],
            update_fields=["kind", "name"],
        )
    changes: dict[str, Any] = {
        "country": code,
        "subdivision": subdiv,
        "years": year_list,
        "added": added,
        "updated": updated,
        "holidays": sum(kind == DayKind.HOLIDAY for kind, _name in published.values()),
        "workdays": sum(kind == DayKind.WORKDAY for kind, _name in published.values()),
    }
    audit.record(actor, "calendar.holidays_loaded", calendar, changes=changes)
    transaction.on_commit(partial(invalidate, calendar.pk))
    return added
