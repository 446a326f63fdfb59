"""The navigation highlights exactly one entry: the one whose address matches the page best."""

from __future__ import annotations

import pytest
from django.urls import reverse

from keel.web import navigation
from keel.web.navigation import NavItem


@pytest.fixture
def items(monkeypatch):
    reverse("home")  # load the URLconf first: the apps' urls.py register their real entries
    entries = {
        item.key: item
        for item in (
            NavItem("home", "Home", "home", order=0),
            NavItem("incidents", "Incidents", "incidents:queue", order=10),
            NavItem("contacts", "Contacts", "incidents:contacts", order=11),
            NavItem("incident-reports", "Incident reports", "incidents:reports", order=12),
            NavItem(
                "my-incidents",
                "My incidents",
                "portal:mine",
                order=21,
                also_active=lambda user, path: path.startswith("/incidents/"),
            ),
        )
    }
    monkeypatch.setattr(navigation, "_items", entries)


def _active(path: str) -> list[str]:
    return [entry["key"] for entry in navigation.sections_for(None, path) if entry["active"]]


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("incidents:contacts", ["contacts"]),
        ("incidents:reports", ["incident-reports"]),
        ("incidents:queue", ["incidents"]),
        ("home", ["home"]),
    ],
)
def test_only_the_longest_matching_entry_is_active(items, page, expected):
    assert _active(reverse(page)) == expected
    assert _active(reverse(page) + "anything/") == (expected if page != "home" else [])


def test_also_active_counts_only_when_no_address_matches(items, monkeypatch):
    assert _active("/incidents/42/") == ["incidents"]
    hidden = dict(navigation._items)
    hidden["incidents"] = NavItem(
        "incidents", "Incidents", "incidents:queue", order=10, visible=lambda user: False
    )
    hidden.pop("contacts")
    hidden.pop("incident-reports")
    monkeypatch.setattr(navigation, "_items", hidden)
    assert _active("/incidents/42/") == ["my-incidents"]
