"""Every change to the CMDB: types, relation kinds, items, relations, imports and expiry reminders.

Each action is one transaction: it checks permission and scope (changing an item needs its
support team, see ``access``), validates every field and names the ones that are wrong, checks
the version the caller read (a stale write gets ``StaleVersion``, HTTP 409), writes, and records
the audit event with the full old and new value of everything it changed, so ``history.as_of``
can answer what an item looked like on any date.

The actions live in one module per job (``types``, ``kinds``, ``items``, ``relations``,
``imports``, ``reminders``); callers use ``actions.create_ci(...)``.
"""

from keel.cmdb.actions.imports import ImportResult, ImportRow, import_items
from keel.cmdb.actions.items import NUMBER_KEY, create_ci, delete_ci, retire_ci, update_ci
from keel.cmdb.actions.kinds import (
    KIND_FIELDS,
    create_relation_kind,
    set_relation_kind_active,
    update_relation_kind,
)
from keel.cmdb.actions.relations import add_relation, remove_relation
from keel.cmdb.actions.reminders import (
    DEFAULT_REMINDER_DAYS,
    note_reminder_sent,
    plan_expiry_reminders,
    reminder_days,
)
from keel.cmdb.actions.types import (
    TYPE_FIELDS,
    create_ci_type,
    delete_ci_type,
    set_ci_type_active,
    update_ci_type,
)

__all__ = [
    "DEFAULT_REMINDER_DAYS",
    "KIND_FIELDS",
    "NUMBER_KEY",
    "TYPE_FIELDS",
    "ImportResult",
    "ImportRow",
    "add_relation",
    "create_ci",
    "create_ci_type",
    "create_relation_kind",
    "delete_ci",
    "delete_ci_type",
    "import_items",
    "note_reminder_sent",
    "plan_expiry_reminders",
    "reminder_days",
    "remove_relation",
    "retire_ci",
    "set_ci_type_active",
    "set_relation_kind_active",
    "update_ci",
    "update_ci_type",
    "update_relation_kind",
]
