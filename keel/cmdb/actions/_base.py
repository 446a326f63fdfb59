"""What the CMDB actions share: the stale-version error, change lists, paths of items."""

from __future__ import annotations

import re
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


CODE_PATTERN = re.compile(r"^[-a-zA-Z0-9_]+$")
CODE_MAX = 40
NAME_MAX = 100
DESCRIPTION_MAX = 2000


def _clean_text(
    values: dict[str, Any],
    name: str,
    limit: int,
    errors: list[tuple[str, Any]],
    *,
    required: bool = True,
) -> None:
    """Strip ``values[name]`` in place, noting an error when it is missing or too long."""
    if name not in values:
        return
    raw = values[name]
    text = raw.strip() if isinstance(raw, str) else ""
    if raw is not None and not isinstance(raw, str):
        errors.append((name, _("Expected text.")))
    elif required and not text:
        errors.append((name, _("This field is required.")))
    elif len(text) > limit:
        errors.append((name, _("At most %(n)s characters.") % {"n": f"{limit:,}"}))
    values[name] = text


def _clean_code(values: dict[str, Any], errors: list[tuple[str, Any]]) -> None:
    """A code names a record in the API, imports and filters: letters, digits, - and _."""
    before = len(errors)
    _clean_text(values, "code", CODE_MAX, errors)
    if len(errors) == before and "code" in values and not CODE_PATTERN.match(values["code"]):
        errors.append(
            ("code", _("Use letters, digits, hyphens and underscores only, such as web-server."))
        )
