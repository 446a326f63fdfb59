"""Time the business-calendar math the SLA clock runs on every ticket.

Run: ``.venv/bin/python bench/calendar_bench.py``. Pure Python, no Django. Prints one JSON object
per line: ``{"figure": ..., "value": seconds, "unit": "s", "target": seconds}``.

The workload is what a busy desk asks for: deadlines of 30 minutes to 5 business days from
random instants over two years, on a Monday-Friday 09:00-18:00 calendar in Shanghai with the
2025-2026 public holidays and make-up working days. The calendar's day cache is warmed first,
as it is in a long-running worker.
"""

from __future__ import annotations

import json
import random
import sys
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from keel.core.calendar import (
    CalendarSpec,
    add_business_minutes,
    business_minutes_between,
)

CALLS = 100_000

# China 2025-2026 as published (the holidays package gives the same dates).
HOLIDAYS = [
    *(date(2025, 1, 1), date(2025, 1, 28), date(2025, 1, 29), date(2025, 1, 30)),
    *(date(2025, 1, 31), date(2025, 2, 3), date(2025, 2, 4), date(2025, 4, 4)),
    *(date(2025, 5, 1), date(2025, 5, 2), date(2025, 5, 5), date(2025, 6, 2)),
    *(date(2025, 10, 1), date(2025, 10, 2), date(2025, 10, 3), date(2025, 10, 6)),
    *(date(2025, 10, 7), date(2025, 10, 8), date(2026, 1, 1), date(2026, 1, 2)),
    *(date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18), date(2026, 2, 19)),
    *(date(2026, 2, 20), date(2026, 2, 23), date(2026, 4, 6), date(2026, 5, 1)),
    *(date(2026, 5, 4), date(2026, 5, 5), date(2026, 6, 19), date(2026, 9, 25)),
    *(date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5), date(2026, 10, 6)),
    date(2026, 10, 7),
]
WORKDAYS = [
    *(date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28)),
    *(date(2025, 10, 11), date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28)),
    *(date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)),
]
SLA_MINUTES = [30, 60, 120, 240, 480, 540, 1080, 1620, 2700]  # 30 min ... 5 business days


def _spec() -> CalendarSpec:
    periods = [(weekday, time(9), time(18)) for weekday in range(5)]
    return CalendarSpec.from_periods("Asia/Shanghai", periods, holidays=HOLIDAYS, workdays=WORKDAYS)


def _timed(figure: str, target: float, run: Callable[[], None]) -> None:
    started = clock.perf_counter()
    run()
    elapsed = clock.perf_counter() - started
    line = {"figure": figure, "value": round(elapsed, 4), "unit": "s", "target": target}
    print(json.dumps(line), flush=True)


def main() -> None:
    spec = _spec()
    rng = random.Random(20000)
    origin = datetime(2025, 1, 1, tzinfo=UTC)
    span = int(timedelta(days=700).total_seconds())
    starts = [origin + timedelta(seconds=rng.randrange(span)) for _ in range(CALLS)]
    minutes = [rng.choice(SLA_MINUTES) for _ in range(CALLS)]
    ends = [start + timedelta(minutes=rng.randrange(1, 20_000)) for start in starts]

    for start, amount in zip(starts[:5000], minutes, strict=False):  # warm the day cache
        add_business_minutes(spec, start, amount)

    def add_all() -> None:
        for start, amount in zip(starts, minutes, strict=True):
            add_business_minutes(spec, start, amount)

    def between_all() -> None:
        for start, end in zip(starts, ends, strict=True):
            business_minutes_between(spec, start, end)

    def between_paused_all() -> None:
        for start, end in zip(starts, ends, strict=True):
            pause = start + (end - start) / 3
            business_minutes_between(spec, start, end, [(pause, pause + timedelta(hours=5))])

    _timed("calendar_add_100k", 1.0, add_all)
    _timed("calendar_between_100k", 1.0, between_all)
    _timed("calendar_between_paused_100k", 2.0, between_paused_all)


if __name__ == "__main__":
    main()
