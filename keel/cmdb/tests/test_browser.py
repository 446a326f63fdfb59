"""The administrators' CMDB pages in a real browser, at 1280 px, in English and Chinese.

An administrator defines a CI type with a choice attribute (its choices appear once "choice" is
picked), adds a row, is told about a duplicate key next to the field, publishes version 2, finds
the type cannot be deleted while an item uses it and takes it out of use; then defines a relation
kind whose target types must be ticked once "only these types" is chosen; and records an item's
cost. Screenshots go to ``var/screenshots/``.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from keel.cmdb.models import CIType, ConfigurationItem, RelationKind
from keel.cmdb.tests.factories import make_item, server_type
from keel.core.roles import Role
from keel.core.tests.factories import PASSWORD, UserFactory
from keel.testing.browser import screenshot


def log_in(page, live_server, user):
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.locator(".card-centered form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_an_administrator_defines_types_and_relation_kinds(live_server, page, lang):
    admin = UserFactory(roles=[Role.ADMINISTRATOR.value], username="root", language=lang)
    servers = server_type(name="Rack server", code="rack-server")
    make_item("srv-01", servers)
    log_in(page, live_server, admin)

    # From the item list, the tabs lead to the CI types.
    page.goto(f"{live_server.url}{reverse('cmdb:list')}")
    screenshot(page, f"cmdb-list-tabs-{lang}")
    page.locator(".ci-tabs [data-tab='types']").click()
    page.wait_for_url(f"**{reverse('cmdb:types')}")
    assert page.locator("tr[data-type='rack-server']").count() == 1
    screenshot(page, f"cmdb-types-{lang}")

    # A new type: the choices box appears once "choice" is picked; one more row on request.
    page.goto(f"{live_server.url}{reverse('cmdb:type-new')}")
    page.fill("#id_name", "Switch")
    page.fill("#id_code", "switch")
    page.fill("#id_description", "A network switch in a rack.")
    page.fill("#id_attr-0-key", "ports")
    page.fill("#id_attr-0-label", "Ports")
    page.select_option("#id_attr-0-type", "integer")
    assert not page.locator("#id_attr-0-choices").is_visible()
    submit(page, "[data-add-attribute]")
    assert page.locator("[data-attribute-row]").count() == 2
    assert page.input_value("#id_attr-0-key") == "ports"
    page.fill("#id_attr-1-key", "ports")  # the same key twice
    page.fill("#id_attr-1-label", "Speed")
    page.select_option("#id_attr-1-type", "choice")
    assert page.locator("#id_attr-1-choices").is_visible()
    page.fill("#id_attr-1-choices", "1 Gbit/s\n10 Gbit/s\n25 Gbit/s")
    submit(page, "[data-type-form] button.button-primary")
    # The message (“Another attribute already uses this key.”) sits under the second key.
    assert page.locator("[data-attribute-row='0'] .field-errors").count() == 0
    assert page.locator("[data-attribute-row='1'] .has-error #id_attr-1-key").count() == 1
    assert page.locator("[data-invalid]").count() == 1
    screenshot(page, f"cmdb-type-error-{lang}")
    page.fill("#id_attr-1-key", "speed")
    submit(page, "[data-type-form] button.button-primary")
    switch = CIType.objects.get(code="switch")
    assert page.url.endswith(reverse("cmdb:type", args=[switch.pk]))
    assert [d["key"] for d in switch.attributes] == ["ports", "speed"]
    assert switch.attributes[1]["choices"] == ["1 Gbit/s", "10 Gbit/s", "25 Gbit/s"]

    # Editing publishes version 2.
    page.fill("#id_attr-1-label", "Port speed")
    page.check("#id_attr-1-required")
    submit(page, "[data-type-form] button.button-primary")
    switch.refresh_from_db()
    assert switch.version == 2
    assert switch.attributes[1]["required"] is True
    assert page.locator("[data-versions] li").count() == 2
    screenshot(page, f"cmdb-type-{lang}")

    # A type items use cannot be deleted; it is taken out of use instead.
    page.goto(f"{live_server.url}{reverse('cmdb:type', args=[servers.pk])}")
    assert page.locator("[data-type-delete] button").count() == 0
    page.once("dialog", lambda dialog: dialog.accept())
    submit(page, "[data-type-use] button")
    servers.refresh_from_db()
    assert servers.is_active is False
    screenshot(page, f"cmdb-type-retired-{lang}")

    # A relation kind: "only these types" needs at least one ticked.
    page.goto(f"{live_server.url}{reverse('cmdb:kinds')}")
    screenshot(page, f"cmdb-kinds-{lang}")
    page.goto(f"{live_server.url}{reverse('cmdb:kind-new')}")
    page.fill("#id_code", "uplinks-to")
    page.fill("#id_name", "uplinks to")
    page.fill("#id_reverse_name", "is uplink of")
    page.check("#id_acyclic")
    assert not page.locator("#id_target_types").is_visible()
    page.check("#id_target_mode_1")
    assert page.locator("#id_target_types").is_visible()
    submit(page, "[data-kind-form] button.button-primary")
    assert page.locator("#id_target_types.has-error .field-errors").count() == 1
    screenshot(page, f"cmdb-kind-error-{lang}")
    page.locator("#id_target_types label", has_text="Switch").click()
    submit(page, "[data-kind-form] button.button-primary")
    kind = RelationKind.objects.get(code="uplinks-to")
    assert [t.code for t in kind.target_types.all()] == ["switch"]
    assert kind.acyclic is True
    screenshot(page, f"cmdb-kind-{lang}")

    # An item's cost and currency on its form.
    item = ConfigurationItem.objects.get(name="srv-01")
    page.goto(f"{live_server.url}{reverse('cmdb:edit', args=[item.pk])}")
    page.fill("#id_cost", "1899.5")
    page.fill("#id_currency", "eur")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"cmdb-item-cost-{lang}")
    submit(page, "form.form-stack button.button-primary")
    item.refresh_from_db()
    assert str(item.cost) == "1899.50"
    assert item.currency == "EUR"
    assert page.csp_violations == []
