"""Architecture rules that fail CI: writes go through actions; time is always aware."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

KEEL = Path(__file__).resolve().parents[2]
WRITE = re.compile(
    r"\.objects\.(create|bulk_create|update_or_create|get_or_create)\(|\.save\(|\.delete\(\)"
    r"|\brows\.insert\("
)
# Files allowed to write domain tables directly (besides tests and migrations).
WRITERS = {
    "actions.py",
    "calendars.py",
    "audit.py",
    "numbering.py",
    "outbox.py",
    "tokens.py",
    "tasks.py",
}
NAIVE_NOW = re.compile(r"datetime\.(now|utcnow)\(\s*\)|datetime\.today\(\)|date\.today\(\)")


def _sources():
    for path in KEEL.rglob("*.py"):
        parts = set(path.parts)
        if "migrations" in parts or "tests" in parts or "management" in parts:
            continue
        yield path


def _offences(pattern: re.Pattern[str], allowed: set[str]) -> list[str]:
    found = []
    for path in _sources():
        if path.name in allowed or (pattern is WRITE and path.parent.name == "actions"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code) and "super()." not in code:
                found.append(f"{path.relative_to(KEEL.parent)}:{number}: {line.strip()}")
    return found


def test_domain_tables_are_written_only_by_actions():
    offences = _offences(WRITE, WRITERS | {"admin.py", "demo.py"})
    assert offences == [], "write through an action instead:\n" + "\n".join(offences)


def test_no_naive_current_time():
    offences = _offences(NAIVE_NOW, set())
    assert offences == [], "use django.utils.timezone.now():\n" + "\n".join(offences)


@pytest.mark.parametrize("pattern", [WRITE, NAIVE_NOW])
def test_the_rules_catch_what_they_are_meant_to(pattern):
    sample = {WRITE: "Incident.objects.create(title='x')", NAIVE_NOW: "stamp = datetime.now()"}[
        pattern
    ]
    assert pattern.search(sample)


@pytest.mark.django_db
def test_the_migrations_describe_the_models():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit:
        pytest.fail("a model change has no migration:\n" + out.getvalue())
