"""Test set-up for the CMDB: types and kinds as rows, items and relations through the actions
(so numbers, versions and the audit trail are real). Nothing here is autouse: the default types
and kinds of the data migration are gone after a ``transaction=True`` test's flush, so every test
creates what it needs.
"""

from __future__ import annotations

from typing import Any

import factory
from factory.django import DjangoModelFactory

from keel.cmdb import actions
from keel.cmdb.models import CIType, ConfigurationItem, Dependency, Relation, RelationKind
from keel.core.actions import system_user

SERVER_ATTRIBUTES = [
    {"key": "ram_gb", "label": "RAM (GB)", "type": "integer", "required": False},
    {"key": "os", "label": "Operating system", "type": "text", "required": False},
    {"key": "virtual", "label": "Virtual", "type": "boolean", "required": False},
    {
        "key": "environment",
        "label": "Environment",
        "type": "choice",
        "required": False,
        "choices": ["production", "test"],
    },
]


class CITypeFactory(DjangoModelFactory):
    class Meta:
        model = CIType

    name = factory.Sequence(lambda n: f"Type {n}")
    code = factory.Sequence(lambda n: f"type-{n}")
    attributes = factory.LazyFunction(list)
    version = 1


class RelationKindFactory(DjangoModelFactory):
    """A kind in which the source depends on the target (like "runs on"), loops allowed."""

    class Meta:
        model = RelationKind
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"kind-{n}")
    name = factory.Sequence(lambda n: f"kind {n}")
    reverse_name = factory.LazyAttribute(lambda o: f"{o.name} (reverse)")
    dependency = Dependency.SOURCE_ON_TARGET
    acyclic = False


def server_type(**fields: Any) -> CIType:
    return CITypeFactory(
        name=fields.pop("name", "Rack server"),
        code=fields.pop("code", "rack-server"),
        attributes=fields.pop("attributes", SERVER_ATTRIBUTES),
        **fields,
    )


def make_item(
    name: str = "srv-1", ci_type: CIType | None = None, **values: Any
) -> ConfigurationItem:
    """An item recorded by the system account (any team, any type)."""
    return actions.create_ci(
        actor=values.pop("actor", None) or system_user(),
        name=name,
        ci_type=ci_type or CITypeFactory(),
        **values,
    )


def relate(source: ConfigurationItem, kind: RelationKind, target: ConfigurationItem) -> Relation:
    return actions.add_relation(actor=system_user(), source=source, target=target, kind=kind)
