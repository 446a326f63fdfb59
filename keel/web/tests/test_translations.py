"""The Simplified Chinese catalogue is complete: every message translated, none left fuzzy."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\{\s*\w+\s*\}\}")


@pytest.fixture(scope="module")
def catalogue() -> polib.POFile:
    return polib.pofile(str(CATALOGUE))


def test_every_message_has_a_chinese_translation(catalogue):
    missing = [entry.msgid for entry in catalogue.untranslated_entries()]
    assert missing == []


def test_no_translation_is_a_fuzzy_guess(catalogue):
    assert [entry.msgid for entry in catalogue.fuzzy_entries()] == []


def test_translations_keep_every_placeholder(catalogue):
    broken = []
    for entry in catalogue.translated_entries():
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        translations = (
            [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values())
        )
        broken += [
            entry.msgid for text in translations if sorted(PLACEHOLDER.findall(text)) != wanted
        ]
    assert broken == []
