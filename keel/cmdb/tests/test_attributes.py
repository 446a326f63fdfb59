"""Typed attribute definitions and the values checked against them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.cmdb.attributes import clean_value, clean_values, validate_definitions

DEFINITIONS, _errors = validate_definitions(
    [
        {"key": "ram_gb", "label": "RAM", "type": "integer", "required": True},
        {"key": "price", "label": "Price", "type": "decimal"},
        {"key": "virtual", "label": "Virtual", "type": "boolean"},
        {"key": "bought", "label": "Bought", "type": "date"},
        {"key": "tier", "label": "Tier", "type": "choice", "choices": ["gold", "silver"]},
        {"key": "contact", "label": "Contact", "type": "email"},
        {"key": "docs", "label": "Docs", "type": "url", "help": "Where the runbook is"},
        {"key": "notes", "label": "Notes", "type": "text"},
    ]
)


def test_the_definitions_are_valid_and_stored_tidily():
    assert _errors == []
    assert DEFINITIONS[0] == {"key": "ram_gb", "label": "RAM", "type": "integer", "required": True}
    assert DEFINITIONS[4]["choices"] == ["gold", "silver"]
    assert DEFINITIONS[6]["help"] == "Where the runbook is"


@pytest.mark.parametrize(
    ("definitions", "field"),
    [
        ("not a list", "attributes"),
        (["x"], "attributes.0"),
        ([{"key": "1x", "label": "X", "type": "text"}], "attributes.0.key"),
        (
            [
                {"key": "a", "label": "A", "type": "text"},
                {"key": "a", "label": "B", "type": "text"},
            ],
            "attributes.1.key",
        ),
        ([{"key": "a", "label": " ", "type": "text"}], "attributes.0.label"),
        ([{"key": "a", "label": "A", "type": "blob"}], "attributes.0.type"),
        ([{"key": "a", "label": "A", "type": "text", "required": "yes"}], "attributes.0.required"),
        ([{"key": "a", "label": "A", "type": "choice", "choices": []}], "attributes.0.choices"),
        (
            [{"key": "a", "label": "A", "type": "choice", "choices": ["x", "x"]}],
            "attributes.0.choices",
        ),
        ([{"key": "a", "label": "A", "type": "text", "choices": ["x"]}], "attributes.0.choices"),
        ([{"key": "a", "label": "A", "type": "text", "colour": "red"}], "attributes.0.colour"),
    ],
)
def test_bad_definitions_are_named(definitions, field):
    _cleaned, errors = validate_definitions(definitions)

    assert field in [f for f, _m in errors]


def test_values_are_cleaned_into_their_stored_form():
    cleaned, errors = clean_values(
        DEFINITIONS,
        {
            "ram_gb": " 64 ",
            "price": 12.5,
            "virtual": "No",
            "bought": datetime(2025, 1, 2, 10, 30, tzinfo=UTC),
            "tier": "GOLD",
            "contact": "ops@example.com",
            "docs": "https://wiki.example.com/runbook",
            "notes": "  spare  ",
        },
    )

    assert errors == []
    assert cleaned == {
        "ram_gb": 64,
        "price": "12.5",
        "virtual": False,
        "bought": "2025-01-02",
        "tier": "gold",
        "contact": "ops@example.com",
        "docs": "https://wiki.example.com/runbook",
        "notes": "spare",
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ram_gb", "64.5"),
        ("ram_gb", False),
        ("ram_gb", 2**60),
        ("price", "twelve"),
        ("price", "NaN"),
        ("virtual", "perhaps"),
        ("virtual", 2),
        ("bought", "02/01/2025"),
        ("bought", 20250102),
        ("tier", "bronze"),
        ("contact", "not an address"),
        ("docs", "javascript:alert(1)"),
        ("notes", 42),
        ("notes", "x" * 2001),
    ],
)
def test_a_value_of_the_wrong_type_is_named(key, value):
    _cleaned, errors = clean_values(DEFINITIONS, {"ram_gb": 1, key: value})

    assert [f for f, _m in errors] == [f"attributes.{key}"]


def test_blank_values_are_left_out_and_required_ones_missed():
    cleaned, errors = clean_values(DEFINITIONS, {"ram_gb": "", "notes": None, "tier": " "})

    assert cleaned == {}
    assert [f for f, _m in errors] == ["attributes.ram_gb"]


def test_values_must_be_an_object():
    _cleaned, errors = clean_values(DEFINITIONS, ["ram_gb"])

    assert [f for f, _m in errors] == ["attributes"]


@given(st.integers(min_value=-(2**53), max_value=2**53))
def test_any_whole_number_survives_as_text_or_number(number):
    definition = {"type": "integer"}

    assert clean_value(definition, number) == (number, None)
    assert clean_value(definition, str(number)) == (number, None)


@given(st.dates())
def test_any_date_survives_as_text(day: date):
    assert clean_value({"type": "date"}, day.isoformat()) == (day.isoformat(), None)
