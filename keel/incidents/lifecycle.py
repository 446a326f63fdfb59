"""An incident's states and the steps between them: the one table actions, API and pages use.

new → assigned → in progress → on hold (awaiting requester / supplier / change: the resolution
clock pauses) → resolved → closed; reopen from resolved (and from closed within a period);
cancelled. ``check()`` refuses any step the table does not allow.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from keel.core.errors import InvalidTransition


class Status(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    ON_HOLD = "on_hold", _("On hold")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class HoldReason(models.TextChoices):
    AWAITING_REQUESTER = "awaiting_requester", _("Awaiting requester")
    AWAITING_SUPPLIER = "awaiting_supplier", _("Awaiting supplier")
    AWAITING_CHANGE = "awaiting_change", _("Awaiting change")


OPEN = frozenset({Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD})
ACTIVE = frozenset({Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS})
FINAL = frozenset({Status.CLOSED, Status.CANCELLED})


@dataclass(frozen=True)
class Step:
    """One allowed step: its name, the states it starts from, the state it leads to."""

    name: str
    label: object
    sources: frozenset[str]
    target: str
    permission: str
    # Who besides holders of ``permission`` may take it: the requester on their own incident.
    requester_may: bool = False


STEPS: dict[str, Step] = {
    s.name: s
    for s in [
        Step("assign", _("Assign"), frozenset(OPEN), Status.ASSIGNED, "incidents.assign_incident"),
        Step(
            "start",
            _("Start work"),
            frozenset({Status.NEW, Status.ASSIGNED}),
            Status.IN_PROGRESS,
            "incidents.work_incident",
        ),
        Step(
            "hold",
            _("Put on hold"),
            frozenset({Status.ASSIGNED, Status.IN_PROGRESS}),
            Status.ON_HOLD,
            "incidents.work_incident",
        ),
        Step(
            "resume",
            _("Resume"),
            frozenset({Status.ON_HOLD}),
            Status.IN_PROGRESS,
            "incidents.work_incident",
        ),
        Step("resolve", _("Resolve"), frozenset(OPEN), Status.RESOLVED, "incidents.work_incident"),
        Step(
            "confirm",
            _("Confirm resolution"),
            frozenset({Status.RESOLVED}),
            Status.CLOSED,
            "incidents.work_incident",
            requester_may=True,
        ),
        Step(
            "reject",
            _("Reject resolution"),
            frozenset({Status.RESOLVED}),
            Status.IN_PROGRESS,
            "incidents.work_incident",
            requester_may=True,
        ),
        Step(
            "reopen",
            _("Reopen"),
            frozenset({Status.RESOLVED, Status.CLOSED}),
            Status.IN_PROGRESS,
            "incidents.work_incident",
            requester_may=True,
        ),
        Step("cancel", _("Cancel"), frozenset(OPEN), Status.CANCELLED, "incidents.cancel_incident"),
        Step(
            "close",
            _("Close"),
            frozenset({Status.RESOLVED}),
            Status.CLOSED,
            "incidents.work_incident",
        ),
    ]
}


def step(name: str) -> Step:
    try:
        return STEPS[name]
    except KeyError:
        raise InvalidTransition(_("There is no step called %(name)s.") % {"name": name}) from None


def check(current: str, name: str) -> Step:
    """The step ``name`` if it may be taken from ``current``; ``InvalidTransition`` otherwise."""
    found = step(name)
    if current not in found.sources:
        raise InvalidTransition(
            _("An incident that is %(status)s cannot be moved with “%(step)s”.")
            % {"status": Status(current).label, "step": found.label},
            errors=[
                (
                    "status",
                    _("Allowed from: %(sources)s.")
                    % {"sources": ", ".join(str(Status(s).label) for s in sorted(found.sources))},
                )
            ],
        )
    return found


def available(current: str) -> list[Step]:
    """Steps that may be taken from ``current``, in the table's order (for buttons and docs)."""
    return [s for s in STEPS.values() if current in s.sources]


def is_open(status: str) -> bool:
    return status in OPEN
