"""The priority matrix: impact × urgency → P1…P5, by default and as configured.

Level 1 is the most impact and the most urgent, and P1 the most urgent priority, so "worse" input
is a smaller level and a "better" priority a larger number.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.catalog import actions, queries
from keel.catalog.models import PriorityRule, PriorityScale
from keel.catalog.priority import (
    DEFAULT_TARGETS,
    default_matrix,
    default_priority,
    level_label,
    parse_priority,
    priority_code,
)
from keel.core.errors import FieldError


def is_monotone(matrix: dict[tuple[int, int], int], levels: int) -> bool:
    """No cell with a worse (smaller) impact or urgency has a better (larger) priority."""
    return all(
        matrix[(i2, u2)] <= matrix[(i, u)]
        for i in range(1, levels + 1)
        for u in range(1, levels + 1)
        for i2 in range(1, i + 1)
        for u2 in range(1, u + 1)
    )


# --- the defaults (pure) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [
        (1, 1, 1),
        (1, 2, 2),
        (1, 3, 3),
        (2, 1, 2),
        (2, 2, 3),
        (2, 3, 4),
        (3, 1, 3),
        (3, 2, 4),
        (3, 3, 5),
    ],
)
def test_default_three_level_priority_is_impact_plus_urgency_minus_one(impact, urgency, priority):
    assert default_priority(impact, urgency, 3) == priority


def test_default_five_level_spread_covers_p1_to_p5():
    matrix = default_matrix(5)

    assert set(matrix.values()) == {1, 2, 3, 4, 5}


def test_default_five_level_spread_puts_the_corners_at_p1_and_p5():
    matrix = default_matrix(5)

    assert (matrix[(1, 1)], matrix[(5, 5)]) == (1, 5)


@pytest.mark.parametrize("levels", [2, 3, 4, 5])
def test_default_spread_is_monotone(levels):
    assert is_monotone(default_matrix(levels), levels)


@pytest.mark.parametrize("levels", [2, 3, 4, 5])
def test_default_spread_is_symmetric_in_impact_and_urgency(levels):
    matrix = default_matrix(levels)

    assert all(matrix[(i, u)] == matrix[(u, i)] for i, u in matrix)


@settings(max_examples=300, deadline=None)
@given(
    levels=st.integers(2, 5),
    data=st.data(),
)
def test_priority_never_gets_better_when_impact_or_urgency_worsens(levels, data):
    level = st.integers(1, levels)
    impact, urgency = data.draw(level), data.draw(level)
    worse_impact = data.draw(st.integers(1, impact))
    worse_urgency = data.draw(st.integers(1, urgency))

    assert default_priority(worse_impact, worse_urgency, levels) <= default_priority(
        impact, urgency, levels
    )


def test_every_default_priority_has_targets_with_response_before_resolution():
    assert sorted(DEFAULT_TARGETS) == [1, 2, 3, 4, 5]
    assert all(respond <= resolve for respond, resolve in DEFAULT_TARGETS.values())


@pytest.mark.parametrize(("code", "value"), [("P2", 2), ("p5", 5), (" P1 ", 1), (3, 3), ("4", 4)])
def test_parse_priority_reads_codes_and_numbers(code, value):
    assert parse_priority(code) == value


@pytest.mark.parametrize("code", ["P0", "P6", "high", "", "P"])
def test_parse_priority_refuses_anything_outside_p1_to_p5(code):
    with pytest.raises(ValueError, match=r"."):
        parse_priority(code)


def test_priority_code_is_p_and_the_number():
    assert priority_code(4) == "P4"


def test_level_labels_follow_the_scale_in_use():
    assert (level_label(1, 3), level_label(3, 3), level_label(5, 5)) == (
        "High",
        "Low",
        "Minimal",
    )


# --- the matrix in use (database) ------------------------------------------------------------


@pytest.mark.django_db
def test_the_installed_matrix_is_the_default_three_by_three():
    assert queries.levels() == 3
    assert queries.matrix() == default_matrix(3)


@pytest.mark.django_db
def test_cells_nobody_configured_take_the_default_spread():
    PriorityRule.objects.filter(impact=3, urgency=3).delete()

    assert queries.priority_for(3, 3) == 5


@pytest.mark.django_db
def test_a_five_level_scale_without_rules_uses_the_default_five_level_spread():
    PriorityRule.objects.all().delete()
    PriorityScale.objects.update_or_create(id=1, defaults={"levels": 5})

    assert queries.matrix() == default_matrix(5)
    assert queries.priority_for(5, 5) == 5


@pytest.mark.django_db
def test_configured_rules_override_the_defaults(administrator):
    rules = default_matrix(3) | {(1, 1): 1, (1, 2): 1, (2, 1): 1}

    actions.set_priority_matrix(actor=administrator, levels=3, rules=rules)

    assert queries.priority_for(1, 2) == 1
    assert queries.priority_for(2, 1) == 1
    assert queries.priority_for(3, 3) == 5


matrices = st.integers(2, 5).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.fixed_dictionaries(
            {(i, u): st.integers(1, 5) for i in range(1, n + 1) for u in range(1, n + 1)}
        ),
    )
)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(matrix=matrices)
def test_a_matrix_is_accepted_exactly_when_worse_input_never_gets_a_better_priority(
    administrator, matrix
):
    levels, rules = matrix
    if not is_monotone(rules, levels):
        with pytest.raises(FieldError) as refused:
            actions.set_priority_matrix(actor=administrator, levels=levels, rules=rules)
        assert all(field.startswith("rules.") for field, _message in refused.value.errors)
        return

    actions.set_priority_matrix(actor=administrator, levels=levels, rules=rules)

    assert queries.matrix() == rules
