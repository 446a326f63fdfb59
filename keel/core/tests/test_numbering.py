"""Record numbers (INC-000123): formatted, sequential per kind, gap-free, and unique under load."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from keel.core import numbering
from keel.core.models import Sequence

THREADS = 8
NUMBERS_PER_THREAD = 25


# Pure formatting


def test_number_has_the_key_and_six_digits():
    assert numbering.format_number("INC", 1) == "INC-000001"


def test_number_grows_past_six_digits_instead_of_wrapping():
    assert numbering.format_number("INC", 1_234_567) == "INC-1234567"


@given(
    key=st.from_regex(numbering.KEY_PATTERN, fullmatch=True),
    value=st.integers(min_value=1, max_value=10**12),
)
def test_a_formatted_number_parses_back_to_its_key_and_value(key, value):
    assert numbering.parse_number(numbering.format_number(key, value)) == (key, value)


def test_parsing_accepts_lower_case_and_surrounding_space():
    assert numbering.parse_number(" inc-000042 ") == ("INC", 42)


@pytest.mark.parametrize("text", ["INC-42", "INC000042", "I-000001", "INC-00004x", ""])
def test_parsing_rejects_what_is_not_a_number(text):
    assert numbering.parse_number(text) is None


# Handing out numbers


@pytest.mark.django_db
def test_first_number_of_a_kind_is_one():
    assert numbering.next_number("INC") == "INC-000001"


@pytest.mark.django_db
def test_numbers_of_a_kind_are_sequential():
    numbers = [numbering.next_number("INC") for _ in range(3)]

    assert numbers == ["INC-000001", "INC-000002", "INC-000003"]


@pytest.mark.django_db
def test_each_kind_counts_on_its_own():
    numbering.next_number("INC")
    numbering.next_number("INC")

    assert numbering.next_number("CHG") == "CHG-000001"
    assert numbering.next_number("INC") == "INC-000003"


def create_and_fail(key: str, handed_out: list[str]) -> None:
    """Take a number for a record whose creation then fails and is rolled back."""
    with transaction.atomic():
        handed_out.append(numbering.next_number(key))
        raise RuntimeError("the record could not be saved")


@pytest.mark.django_db
def test_rolled_back_creation_gives_its_number_back():
    numbering.next_number("INC")
    lost: list[str] = []
    with pytest.raises(RuntimeError, match="could not be saved"):
        create_and_fail("INC", lost)

    assert lost == ["INC-000002"]
    assert numbering.next_number("INC") == "INC-000002"


@pytest.mark.django_db
def test_rolled_back_first_number_rolls_back_the_counter_too():
    with pytest.raises(RuntimeError, match="could not be saved"):
        create_and_fail("PRB", [])

    assert not Sequence.objects.filter(key="PRB").exists()
    assert numbering.next_number("PRB") == "PRB-000001"


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["inc", "I", "INC1", "IN-C", "ABCDEFGHIJK", ""])
def test_malformed_key_is_refused(key):
    with pytest.raises(ValueError, match="2–10 capital letters"):
        numbering.next_value(key)


@pytest.mark.django_db(transaction=True)
def test_number_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        numbering.next_number("INC")

    assert not Sequence.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_creators_get_every_number_exactly_once():
    """Eight creators at once, each number in its own transaction: 1..200, no gap, no repeat.

    The counter does not exist yet, so the creators also race to create it.
    """
    handed_out: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def creator() -> None:
        try:
            start.wait(timeout=30)
            for _ in range(NUMBERS_PER_THREAD):
                with transaction.atomic():
                    value = numbering.next_value("INC")
                with lock:
                    handed_out.append(value)
        except BaseException as exc:  # reported by the assertion below, not lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=creator) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert sorted(handed_out) == list(range(1, THREADS * NUMBERS_PER_THREAD + 1))
    assert Sequence.objects.get(key="INC").value == THREADS * NUMBERS_PER_THREAD
