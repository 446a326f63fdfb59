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
    entries = []
    for item in sorted(_items.values(), key=lambda i: (i.order, i.key)):
        if not item.visible(user):
            continue
        url = reverse(item.url_name)
        active = path == url if url == "/" else path.startswith(url)
        active = active or item.also_active(user, path)
        entries.append({"key": item.key, "label": item.label, "url": url, "active": active})
    return entries


register(NavItem("home", _("Home"), "home", order=0))
