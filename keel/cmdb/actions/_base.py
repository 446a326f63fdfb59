"""What the CMDB actions share: the stale-version error, change lists, paths of items."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from keel.cmdb import queries
from keel.core.errors import StaleVersion


def _stale(what: str, sent: int, now: int) -> StaleVersion:
    return StaleVersion(
        _("Someone else changed %(what)s after you opened it. Reload it and try again.")
        % {"what": what},
        errors=[
            (
                "version",
                _("You sent version %(sent)s; it is now at %(now)s.") % {"sent": sent, "now": now},
            )
        ],
    )


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def _path_text(ids: list[int]) -> str:
    names = queries.names_of(ids)
    return " → ".join(names.get(i, str(i)) for i in ids)
