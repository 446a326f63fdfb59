"""Who may change which configuration item.

Reading follows ``ConfigurationItem.scope`` (staff read everything, requesters their own
devices). Changing needs the permission and, for team-scoped staff (agents, team leads), an
item their team supports or one no team supports yet; roles that see every record (service
owners, administrators) change any item.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from keel.core.permissions import require, sees_all, team_ids_of


def may_change_team(user: Any, team_id: int | None) -> bool:
    """Whether ``user``'s teams allow changing an item supported by ``team_id``."""
    return team_id is None or sees_all(user) or team_id in team_ids_of(user)


def require_change(user: Any, perm: str, item: Any) -> None:
    """Raise unless ``user`` holds ``perm`` and may change ``item`` (404 out of read scope)."""
    require(user, perm, item)
    if not may_change_team(user, item.team_id):
        raise PermissionDenied(perm)
