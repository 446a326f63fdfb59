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


# Reserving many numbers at once

BATCHES_PER_THREAD = 10
BATCH = 7


@pytest.mark.django_db
def test_first_reservation_of_a_kind_starts_at_one():
    assert numbering.next_values("CI", 5) == range(1, 6)
    assert Sequence.objects.get(key="CI").value == 5


@pytest.mark.django_db
def test_reservations_are_consecutive_and_continue_single_numbers():
    assert numbering.next_value("CI") == 1
    assert numbering.next_values("CI", 3) == range(2, 5)
    assert numbering.next_values("CI", 1000) == range(5, 1005)
    assert numbering.next_number("CI") == "CI-001005"


@pytest.mark.django_db
def test_reserved_numbers_are_formatted():
    numbering.next_number("CI")

    assert numbering.next_numbers("CI", 3) == ["CI-000002", "CI-000003", "CI-000004"]


@pytest.mark.django_db
def test_reserving_none_takes_nothing():
    numbering.next_values("CI", 2)

    assert numbering.next_values("CI", 0) == range(0)
    assert numbering.next_numbers("CI", 0) == []
    assert Sequence.objects.get(key="CI").value == 2


@pytest.mark.django_db
@pytest.mark.parametrize("count", [-1, 1.5, True, "3"])
def test_reserving_a_bad_count_is_refused(count):
    with pytest.raises(ValueError, match="count"):
        numbering.next_values("CI", count)


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["ci", "C", "CI1", ""])
def test_reserving_with_a_malformed_key_is_refused(key):
    with pytest.raises(ValueError, match="2–10 capital letters"):
        numbering.next_values(key, 2)


def reserve_and_fail(key: str, count: int, handed_out: list[range]) -> None:
    with transaction.atomic():
        handed_out.append(numbering.next_values(key, count))
        raise RuntimeError("the import could not be saved")


@pytest.mark.django_db
def test_rolled_back_reservation_gives_its_numbers_back():
    numbering.next_values("CI", 3)
    lost: list[range] = []
    with pytest.raises(RuntimeError, match="could not be saved"):
        reserve_and_fail("CI", 10, lost)

    assert lost == [range(4, 14)]
    assert numbering.next_values("CI", 2) == range(4, 6)


@pytest.mark.django_db
def test_rolled_back_first_reservation_rolls_back_the_counter_too():
    with pytest.raises(RuntimeError, match="could not be saved"):
        reserve_and_fail("CI", 10, [])

    assert not Sequence.objects.filter(key="CI").exists()
    assert numbering.next_values("CI", 2) == range(1, 3)


@pytest.mark.django_db(transaction=True)
def test_reservation_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        numbering.next_values("CI", 3)

    assert not Sequence.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_overlap():
    """Eight importers at once reserving ranges (and single numbers) of a counter that does not
    exist yet: every value is handed out exactly once, with no gap."""
    handed_out: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def importer(index: int) -> None:
        try:
            start.wait(timeout=30)
            for batch in range(BATCHES_PER_THREAD):
                with transaction.atomic():
                    if (index + batch) % 3 == 0:
                        values = [numbering.next_value("CI")]
                    else:
                        values = list(numbering.next_values("CI", BATCH))
                with lock:
                    handed_out.extend(values)
        except BaseException as exc:  # reported by the assertion below, not lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=importer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert len(handed_out) == len(set(handed_out))
    assert sorted(handed_out) == list(range(1, len(handed_out) + 1))
    assert Sequence.objects.get(key="CI").value == len(handed_out)
