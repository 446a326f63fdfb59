"""The navigation: one entry per process area, shown once that area exists and the person may use it.

Apps add their entries with :func:`register`, from their AppConfig.ready() or their urls.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    key: str
    label: Any
    url_name: str
    order: int = 100
    visible: Callable[[Any], bool] = lambda user: True
    # Pages outside its own address that still belong to it (a requester's incident page).
    also_active: Callable[[Any, str], bool] = lambda user, path: False


_items: dict[str, NavItem] = {}


def register(item: NavItem) -> None:
    _items[item.key] = item


def sections_for(user: Any, path: str) -> list[dict[str, Any]]:
    """The entries ``user`` may see, with at most one marked active.

    Only one entry is highlighted: the one whose address is the longest prefix of ``path``
    (Contacts at /incidents/contacts/ beats Incidents at /incidents/; Home only matches "/"
    itself). An entry's ``also_active`` pages count only when no address matches at all.
    """
    entries: list[dict[str, Any]] = []
    best: tuple[int, int] | None = None  # (length of the matching address, index in entries)
    claimed: int | None = None  # the first entry whose also_active claims the page
    for item in sorted(_items.values(), key=lambda i: (i.order, i.key)):
        if not item.visible(user):
            continue
        url = reverse(item.url_name)
        index = len(entries)
        matches = path == url if url == "/" else path.startswith(url)
        if matches and (best is None or len(url) > best[0]):
            best = (len(url), index)
        elif claimed is None and not matches and item.also_active(user, path):
            claimed = index
        entries.append({"key": item.key, "label": item.label, "url": url, "active": False})
    winner = best[1] if best is not None else claimed
    if winner is not None:
        entries[winner]["active"] = True
    return entries


register(NavItem("home", _("Home"), "home", order=0))
