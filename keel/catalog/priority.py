"""The priority matrix as plain data: defaults, labels, and the rule impact × urgency → priority.

Level 1 is always the highest (most impact, most urgent, P1), so sources with three or five
levels import as they are.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# Business minutes: (respond, resolve) per priority when a service sets no targets of its own.
DEFAULT_TARGETS: dict[int, tuple[int, int]] = {
    1: (15, 240),
    2: (30, 480),
    3: (120, 1440),
    4: (480, 2880),
    5: (960, 7200),
}

PRIORITY_LABELS = {
    1: _("Critical"),
    2: _("High"),
    3: _("Medium"),
    4: _("Low"),
    5: _("Planning"),
}

LEVEL_LABELS = {
    2: {1: _("High"), 2: _("Low")},
    3: {1: _("High"), 2: _("Medium"), 3: _("Low")},
    4: {1: _("Critical"), 2: _("High"), 3: _("Medium"), 4: _("Low")},
    5: {1: _("Extensive"), 2: _("Significant"), 3: _("Moderate"), 4: _("Minor"), 5: _("Minimal")},
}

IMPACT_HELP = {
    1: _("Many people or a whole service cannot work"),
    2: _("A group of people or part of a service is affected"),
    3: _("One person is affected"),
}
URGENCY_HELP = {
    1: _("Work has stopped; it cannot wait"),
    2: _("Work is slowed; it should be fixed soon"),
    3: _("It can wait; there is a way around it"),
}


def default_priority(impact: int, urgency: int, levels: int) -> int:
    """Spread impact + urgency evenly over P1…P5 (3 levels: P = impact + urgency − 1)."""
    if levels == 3:
        return impact + urgency - 1
    span = 2 * (levels - 1)
    return 1 + round((impact + urgency - 2) * 4 / span)


def default_matrix(levels: int) -> dict[tuple[int, int], int]:
    return {
        (impact, urgency): default_priority(impact, urgency, levels)
        for impact in range(1, levels + 1)
        for urgency in range(1, levels + 1)
    }


def priority_code(priority: int) -> str:
    return f"P{priority}"


def parse_priority(code: str | int) -> int:
    """``"P2"`` or ``2`` → ``2``; ``ValueError`` for anything outside P1…P5."""
    text = str(code).strip().upper().removeprefix("P")
    value = int(text)
    if not 1 <= value <= 5:
        raise ValueError(f"priority must be P1 to P5, got {code!r}")
    return value


def level_label(level: int, levels: int) -> str:
    return str(LEVEL_LABELS.get(levels, LEVEL_LABELS[3]).get(level, level))
