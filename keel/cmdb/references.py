"""Other processes say here which of their open records name a configuration item.

cmdb never imports the apps that point at it; instead each registers a counter when it starts
(in its ``AppConfig.ready``)::

    from keel.cmdb import references

    references.register(
        lambda item_ids: Incident.objects.filter(is_open=True, affected_cis__in=item_ids).count(),
        label=gettext_lazy("open incidents"),
    )

Deleting an item is refused while any counter reports open records on it: retire it instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

Counter = Callable[[list[int]], int]


@dataclass(frozen=True)
class Registered:
    counter: Counter
    label: object


_registry: dict[str, Registered] = {}


def register(counter: Counter, *, label: object, key: str | None = None) -> Counter:
    """Add ``counter(item_ids) -> number of open records naming any of them``.

    ``label`` names those records in messages ("open incidents"); ``key`` (default: the
    counter's module and name) makes registering twice harmless.
    """
    name = key or f"{counter.__module__}.{getattr(counter, '__qualname__', id(counter))}"
    _registry[name] = Registered(counter, label)
    return counter


def unregister(key: str) -> None:
    _registry.pop(key, None)


def open_references(item_ids: Iterable[int]) -> list[tuple[object, int]]:
    """``[(label, count)]`` for every kind of open record that names one of ``item_ids``."""
    ids = list(item_ids)
    found = []
    for entry in list(_registry.values()):
        count = int(entry.counter(ids))
        if count:
            found.append((entry.label, count))
    return found
