"""factory_boy factories for services and categories (test set-up only)."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from keel.catalog.models import Category, Service, ServiceTarget
from keel.core.tests.factories import TeamFactory


class ServiceFactory(DjangoModelFactory):
    """A service routed to a new team, on no calendar (around the clock) unless given one."""

    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    code = factory.Sequence(lambda n: f"service-{n}")
    team = factory.SubFactory(TeamFactory)


class ServiceTargetFactory(DjangoModelFactory):
    class Meta:
        model = ServiceTarget

    service = factory.SubFactory(ServiceFactory)
    priority = 3
    respond_minutes = 60
    resolve_minutes = 480


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    code = factory.Sequence(lambda n: f"category-{n}")
