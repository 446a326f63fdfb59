"""Permissions from roles, read once per person per request and cached per role per process.

Django's ModelBackend reads a person's own and their groups' permissions with two queries on
every request. In Keel permissions come only from roles (groups): each role's set is cached in
the process for a minute (and dropped at once when a role's permissions change here), and the
person's roles are the one query ``core.permissions.roles_of`` makes anyway.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete
from django.dispatch import receiver

TTL = 60.0

_role_perms: dict[int, tuple[float, frozenset[str]]] = {}


def invalidate(*_args: Any, **_kwargs: Any) -> None:
    _role_perms.clear()


def _perms_of_groups(group_ids: frozenset[int]) -> set[str]:
    now = time.monotonic()
    missing = [
        gid for gid in group_ids if gid not in _role_perms or now - _role_perms[gid][0] >= TTL
    ]
    if missing:
        found: dict[int, set[str]] = {gid: set() for gid in missing}
        rows = Permission.objects.filter(group__id__in=missing).values_list(
            "group__id", "content_type__app_label", "codename"
        )
        for gid, app_label, codename in rows:
            found[gid].add(f"{app_label}.{codename}")
        for gid, perms in found.items():
            _role_perms[gid] = (now, frozenset(perms))
    result: set[str] = set()
    for gid in group_ids:
        result |= _role_perms[gid][1]
    return result


class RoleBackend(ModelBackend):
    """Authenticates like Django's; permissions come from the person's roles only."""

    def get_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()  # Keel grants permissions through roles, never to one person directly

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        from keel.core.permissions import group_ids_of

        return _perms_of_groups(group_ids_of(user_obj))

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                user_obj._perm_cache = {
                    f"{ct}.{name}"
                    for ct, name in Permission.objects.values_list(
                        "content_type__app_label", "codename"
                    )
                }
            else:
                user_obj._perm_cache = self.get_group_permissions(user_obj)
        return user_obj._perm_cache


@receiver(m2m_changed, sender=Group.permissions.through)
def _role_changed(**kwargs: Any) -> None:
    invalidate()


@receiver(post_delete, sender=Group)
def _role_deleted(**kwargs: Any) -> None:
    invalidate()
