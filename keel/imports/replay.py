"""Replay: an imported source's history, planned as Keel steps in time order (reading only).

``keel replay --source bpic2014`` reads the incidents an import brought in and their timelines
(``IncidentEvent`` rows with an ``import_key``), turns each timeline activity into the Keel step
it stands for (``step_for``), and lays everything out on one timeline (``plan``): each incident's
opening at the time it was recorded, then its steps. ``Scheduler`` spaces the steps out in real
time at a speed-up. The writes are in ``keel.imports.actions.replay``.

Activities map to steps by name (a support-line suffix such as ``" (L2)"`` is ignored), then by
the timeline kind the import gave them; anything else is skipped and counted:

* Assignment, Reassignment, External Vendor (Re)assignment, Queued – Awaiting Assignment →
  assign to the event's team;
* Status Change, Accepted – In Progress / Assigned → start work (or resume one on hold);
* Pending vendor, Accepted – Wait - Vendor → hold awaiting supplier; … - User / - Customer →
  awaiting requester; … - Implementation → awaiting change;
* Resolved, Completed – Resolved / In Call → resolve; Closed, Completed – Closed → close (an
  incident still open is resolved first: the source closes without a separate resolution);
  Reopen → reopen; Completed – Cancelled → cancel;
* Operator Update, Update, Update from customer, Communication with customer / vendor, … →
  an internal comment.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from keel.incidents.lifecycle import HoldReason
from keel.incidents.models import Incident, IncidentEvent

# What a replayed incident's source id looks like: "replay:IM0000004".
REPLAY_PREFIX = "replay:"
# Steps a timeline event can become. "progress" starts work (or resumes it when on hold).
STEPS = ("assign", "progress", "hold", "resume", "resolve", "close", "reopen", "cancel", "comment")

StepArgs = tuple[str, dict[str, Any]]
_ASSIGN: StepArgs = ("assign", {})
_PROGRESS: StepArgs = ("progress", {})
_COMMENT: StepArgs = ("comment", {})
ACTIVITY_STEPS: dict[str, StepArgs] = {
    # BPIC 2014 (HP Service Manager activity log)
    "assignment": _ASSIGN,
    "reassignment": _ASSIGN,
    "external vendor assignment": _ASSIGN,
    "external vendor reassignment": _ASSIGN,
    "status change": _PROGRESS,
    "pending vendor": ("hold", {"reason": HoldReason.AWAITING_SUPPLIER}),
    "resolved": ("resolve", {}),
    "closed": ("close", {}),
    "reopen": ("reopen", {}),
    "operator update": _COMMENT,
    "update": _COMMENT,
    "update from customer": _COMMENT,
    "communication with customer": _COMMENT,
    "communication with vendor": _COMMENT,
    "external update": _COMMENT,
    "analysis/research": _COMMENT,
    "callback request": _COMMENT,
    # BPIC 2013 (Volvo IT VINST status – sub-status)
    "queued – awaiting assignment": _ASSIGN,
    "accepted – assigned": _PROGRESS,
    "accepted – in progress": _PROGRESS,
    "accepted – wait - vendor": ("hold", {"reason": HoldReason.AWAITING_SUPPLIER}),
    "accepted – wait - user": ("hold", {"reason": HoldReason.AWAITING_REQUESTER}),
    "accepted – wait - customer": ("hold", {"reason": HoldReason.AWAITING_REQUESTER}),
    "accepted – wait - implementation": ("hold", {"reason": HoldReason.AWAITING_CHANGE}),
    "completed – resolved": ("resolve", {}),
    "completed – in call": ("resolve", {}),
    "completed – closed": ("close", {}),
    "completed – cancelled": ("cancel", {}),
}
# Activities that are the incident's opening itself: the replay opens it anyway.
OPENING = frozenset({"open"})
# When the activity's name is not listed, the timeline kind the import gave it.
KIND_STEPS: dict[str, StepArgs] = {"assignment": _ASSIGN, "comment": _COMMENT}
_LINE_SUFFIX = re.compile(r"\s*\((?:L\d(?:/L\d)*)\)\s*$")


def normalise(activity: str) -> str:
    """An activity's name as the table lists it: lower case, without a support-line suffix."""
    return _LINE_SUFFIX.sub("", activity.strip()).lower()


def step_for(activity: str, kind: str = "") -> StepArgs | None:
    """The step an activity stands for and its arguments, or ``None`` when it has none."""
    name = normalise(activity)
    if name in OPENING:
        return ("open", {})
    found = ACTIVITY_STEPS.get(name) or KIND_STEPS.get(kind)
    return (found[0], dict(found[1])) if found else None


@dataclass(frozen=True)
class Original:
    """An imported incident, as much of it as the replay needs."""

    pk: int
    external_id: str
    title: str
    description: str
    service_id: int
    category_id: int | None
    impact: int
    urgency: int
    created_at: datetime
    resolution_code: str
    resolution_notes: str


@dataclass(frozen=True)
class Planned:
    """One thing to do at one moment of history: open an incident, or take a step on it."""

    at: datetime
    order: int  # ties in time keep the source's order
    original: Original
    step: str  # "open", one of STEPS, or "skip" (no step: counted under ``activity``)
    activity: str = ""
    args: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)


_ORIGINAL_FIELDS = (
    "pk",
    "external_id",
    "title",
    "description",
    "service_id",
    "category_id",
    "impact",
    "urgency",
    "created_at",
    "resolution_code",
    "resolution_notes",
)


def originals(
    source: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[Original]:
    """The source's imported incidents recorded in [since, until), oldest first (``limit``)."""
    rows = Incident.objects.filter(import_source=source).exclude(external_id="")
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    rows = rows.order_by("created_at", "pk").values_list(*_ORIGINAL_FIELDS)
    if limit is not None:
        rows = rows[:limit]
    return [Original(*row) for row in rows]  # type: ignore[misc]


def replayed_already(external_ids: Iterable[str]) -> set[str]:
    """The source ids among ``external_ids`` whose incidents an earlier replay recorded."""
    wanted = [REPLAY_PREFIX + key for key in external_ids]
    found: set[str] = set()
    for start in range(0, len(wanted), 2000):
        found.update(
            Incident.objects.filter(import_source="", external_id__in=wanted[start : start + 2000])
            .order_by()
            .values_list("external_id", flat=True)
        )
    return {key.removeprefix(REPLAY_PREFIX) for key in found}


def timeline_rows(pks: list[int], *, until: datetime | None = None) -> Iterator[tuple[Any, ...]]:
    """(incident, at, kind, data) of the imported timeline of incidents ``pks``, in order."""
    for start in range(0, len(pks), 2000):
        rows = IncidentEvent.objects.filter(incident_id__in=pks[start : start + 2000]).exclude(
            import_key=""
        )
        if until is not None:
            rows = rows.filter(at__lt=until)
        yield from rows.order_by("incident_id", "at", "id").values_list(
            "incident_id", "at", "kind", "data"
        )


def plan(
    incidents: list[Original], events: Iterable[tuple[int, datetime, str, dict[str, Any]]]
) -> list[Planned]:
    """Every opening and step, in the order history had them (pure).

    An event stamped before its incident was recorded (the logs have a few) happens right after
    the opening: an incident has no history before it exists.
    """
    by_pk = {original.pk: original for original in incidents}
    planned = [
        Planned(original.created_at, order, original, "open")
        for order, original in enumerate(incidents)
    ]
    order = len(planned)
    for pk, at, kind, data in events:
        original = by_pk.get(pk)
        if original is None:
            continue
        activity = str((data or {}).get("activity") or kind)
        found = step_for(activity, kind)
        if found is not None and found[0] == "open":
            continue
        args: dict[str, Any] = {}
        step = "skip"
        if found is not None:
            step, args = found
            if step == "assign":
                team = (data or {}).get("team")
                if not team and not (data or {}).get("team_id"):
                    step = "skip"  # an assignment that names no team
                args = {"team": team or "", "team_id": (data or {}).get("team_id")}
        order += 1
        planned.append(
            Planned(
                max(at, original.created_at),
                order,
                original,
                step,
                activity,
                tuple(sorted(args.items())),
            )
        )
    planned.sort(key=lambda p: (p.at, p.order))
    return planned


class Scheduler:
    """When each moment of history is due in real time, at ``speed`` times real time.

    ``speed`` 600 plays ten minutes of history per second; 0 plays as fast as it can. ``clock``
    and ``sleep`` are ``time.monotonic`` and ``time.sleep`` unless a test gives its own.
    """

    def __init__(
        self,
        start: datetime,
        speed: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if speed < 0:
            raise ValueError(speed)
        self.start = start
        self.speed = speed
        self.clock = clock
        self.sleep = sleep
        self.origin = clock()
        self.slept = 0.0

    def offset(self, at: datetime) -> float:
        """Seconds after the replay began that history's moment ``at`` is due."""
        if self.speed == 0:
            return 0.0
        return max(0.0, (at - self.start).total_seconds() / self.speed)

    def wait_for(self, at: datetime) -> float:
        """Sleep until ``at`` is due (not at all when it is due or late); the seconds slept."""
        delay = self.origin + self.offset(at) - self.clock()
        if delay <= 0:
            return 0.0
        self.sleep(delay)
        self.slept += delay
        return delay

    def history_now(self) -> datetime:
        """The moment of history the replay has reached by the clock (the start when speed 0)."""
        if self.speed == 0:
            return self.start
        return self.start + timedelta(seconds=(self.clock() - self.origin) * self.speed)
