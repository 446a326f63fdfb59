"""A configuration item's lifecycle: the one table actions, the API and pages use.

planned → in service ⇄ maintenance → retired. A plan can be dropped (planned → retired); a
retired item stays retired: it keeps its history and relations for the record, and a
replacement is a new item.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keel.core.errors import InvalidTransition


class Status(models.TextChoices):
    PLANNED = "planned", gettext_lazy("Planned")
    IN_SERVICE = "in_service", gettext_lazy("In service")
    MAINTENANCE = "maintenance", gettext_lazy("Maintenance")
    RETIRED = "retired", gettext_lazy("Retired")


# Where each status may go next.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PLANNED: frozenset({Status.IN_SERVICE, Status.RETIRED}),
    Status.IN_SERVICE: frozenset({Status.MAINTENANCE, Status.RETIRED}),
    Status.MAINTENANCE: frozenset({Status.IN_SERVICE, Status.RETIRED}),
    Status.RETIRED: frozenset(),
}
# Statuses a new item may start in (an import of a running estate starts "in service").
INITIAL = frozenset({Status.PLANNED, Status.IN_SERVICE, Status.MAINTENANCE})


def allowed(current: str, target: str) -> bool:
    return target == current or target in TRANSITIONS.get(current, frozenset())


def _label(value: str) -> str:
    return str(Status(value).label) if value in Status.values else value


def check(current: str, target: str) -> None:
    """Raise :class:`InvalidTransition` naming ``status`` unless ``current → target`` is allowed."""
    if allowed(current, target):
        return
    raise InvalidTransition(
        _("A configuration item cannot go from %(current)s to %(target)s.")
        % {"current": _label(current), "target": _label(target)},
        errors=[("status", _("Not allowed from %(current)s.") % {"current": current})],
    )
