"""How many model instances a piece of code builds, per model (the hot read paths build none, or
only those they cannot answer without)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.models.signals import post_init


@contextmanager
def instances_built(*models: Any) -> Iterator[Counter[Any]]:
    """Count the instances of ``models`` built inside the block (``counts[Model]``)."""
    built: Counter[Any] = Counter()

    def count(sender: Any, **_kwargs: Any) -> None:
        built[sender] += 1

    for model in models:
        post_init.connect(count, sender=model, weak=False, dispatch_uid=f"count-{model}")
    try:
        yield built
    finally:
        for model in models:
            post_init.disconnect(sender=model, dispatch_uid=f"count-{model}")
