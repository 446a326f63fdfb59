"""CMDB pages: the list, the item page with impact and history, the import steps, my devices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from keel.cmdb.lifecycle import Status
from keel.cmdb.models import ConfigurationItem
from keel.cmdb.tests.factories import RelationKindFactory, make_item, relate, server_type
from keel.core.roles import Role

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def lead(make_user):
    return make_user(Role.AGENT, Role.TEAM_LEAD)


@pytest.fixture
def servers(db):
    return server_type()


def item_url(item):
    return reverse("cmdb:item", args=[item.pk])


# --- who may open what ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cmdb:list", "cmdb:import", "cmdb:my-devices", "cmdb:export"])
def test_pages_send_anonymous_people_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("name", "staff_status", "requester_status"),
    [("cmdb:list", 200, 403), ("cmdb:import", 200, 403), ("cmdb:my-devices", 200, 200)],
)
def test_each_page_renders_for_its_role_and_is_refused_to_others(
    client_for, lead, requester, name, staff_status, requester_status
):
    assert client_for(lead).get(reverse(name)).status_code == staff_status
    assert client_for(requester).get(reverse(name)).status_code == requester_status


def test_an_agent_without_the_import_permission_is_refused_the_import(client_for, agent):
    assert client_for(agent).get(reverse("cmdb:import")).status_code == 403


def test_a_requester_sees_their_own_item_but_not_someone_elses(
    client_for, requester, make_user, servers
):
    mine = make_item("my-laptop", servers, assigned_to=requester)
    theirs = make_item("their-laptop", servers, assigned_to=make_user(Role.REQUESTER))
    client = client_for(requester)
    own = client.get(item_url(mine))
    assert own.status_code == 200
    assert b"my-laptop" in own.content
    assert b"impact-graph" not in own.content  # no impact analysis or history for requesters
    assert client.get(item_url(theirs)).status_code == 404


def test_navigation_offers_configuration_to_staff_and_my_devices_to_everyone(
    client_for, agent, requester
):
    staff_page = client_for(agent).get(reverse("cmdb:my-devices")).content.decode()
    assert 'data-key="cmdb"' in staff_page
    assert 'data-key="my-devices"' in staff_page
    portal_page = client_for(requester).get(reverse("cmdb:my-devices")).content.decode()
    assert 'data-key="cmdb"' not in portal_page
    assert 'data-key="my-devices"' in portal_page


# --- the list --------------------------------------------------------------------------------


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("cmdb:list"))
    assert response.status_code == 200
    return len(captured)


def test_the_list_costs_the_same_queries_for_3_items_as_for_30(client_for, agent, servers):
    client = client_for(agent)
    client.get(reverse("cmdb:list"))  # the first request of a session also stores the session
    for n in range(3):
        make_item(f"srv-{n}", servers, owner=agent)
    few = _list_queries(client)
    for n in range(3, 30):
        make_item(f"srv-{n}", servers, owner=agent)
    assert _list_queries(client) == few


def test_the_list_filters_by_type_status_and_text_and_marks_expiry(client_for, agent, servers):
    soon = timezone.localdate() + timedelta(days=10)
    live = Status.IN_SERVICE
    make_item("db-primary", servers, warranty_expires=soon, status=live)
    make_item("web-frontend", servers, status=live)
    other = make_item("laptop-7", status=Status.PLANNED)
    client = client_for(agent)
    page = client.get(reverse("cmdb:list"), {"q": "db-"}, headers=HTMX).content.decode()
    assert "db-primary" in page
    assert "web-frontend" not in page
    assert "expiry-soon" in page
    by_type = client.get(reverse("cmdb:list"), {"type": servers.code}).content.decode()
    assert "laptop-7" not in by_type
    assert "web-frontend" in by_type
    by_status = client.get(reverse("cmdb:list"), {"status": "planned"}).content.decode()
    assert other.name in by_status
    assert "web-frontend" not in by_status


def test_export_returns_the_filtered_list_as_csv(client_for, agent, servers):
    make_item("db-primary", servers)
    make_item("web-frontend", servers)
    response = client_for(agent).get(reverse("cmdb:export"), {"format": "csv", "q": "db-"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "db-primary" in body
    assert "web-frontend" not in body


# --- the item page ---------------------------------------------------------------------------


def test_the_item_page_shows_attributes_relations_and_the_impact_table(client_for, agent, servers):
    kind = RelationKindFactory()
    server = make_item("srv-db", servers, attributes={"ram_gb": 64, "os": "Debian"})
    app = make_item("payroll-app")
    portal = make_item("payroll-portal")
    relate(app, kind, server)
    relate(portal, kind, app)
    page = client_for(agent).get(item_url(server), {"direction": "up", "depth": "3"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "RAM (GB)" in html
    assert "64" in html
    assert "Debian" in html
    assert 'id="graph-data"' in html
    assert 'id="impact-graph"' in html
    assert "cmdb-graph.js" in html
    impact = page.context["impact"]
    assert [(n["name"], n["depth"]) for n in impact["reached"]] == [
        ("payroll-app", 1),
        ("payroll-portal", 2),
    ]
    table = html.split("data-impact-table", 1)[1]
    assert "payroll-app" in table
    assert "payroll-portal" in table
    down = client_for(agent).get(item_url(portal), {"direction": "down"}).context["impact"]
    assert {n["name"] for n in down["reached"]} == {"payroll-app", "srv-db"}


def test_the_item_page_shows_what_it_looked_like_on_a_date(client_for, agent, servers):
    item = make_item("srv-old-name", servers)
    today = timezone.localdate().isoformat()
    page = client_for(agent).get(item_url(item), {"as_of": today})
    assert page.status_code == 200
    assert page.context["as_of_state"] is not None
    assert "srv-old-name" in page.content.decode().split("data-as-of", 1)[1]
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    before = client_for(agent).get(item_url(item), {"as_of": yesterday})
    assert before.context["as_of_missing"]
    bad = client_for(agent).get(item_url(item), {"as_of": "not-a-date"})
    assert bad.context["as_of_error"]


# --- import ----------------------------------------------------------------------------------


def _upload(client, servers, content: bytes, name="estate.csv"):
    return client.post(
        reverse("cmdb:import"),
        {"ci_type": servers.pk, "file": SimpleUploadedFile(name, content, "text/csv")},
    )


CSV = b"Asset tag,Host,Memory\nA-1,srv-imported-1,16\nA-2,srv-imported-2,lots\n"


def test_import_maps_columns_previews_bad_rows_and_writes_nothing(client_for, lead, servers):
    client = client_for(lead)
    response = _upload(client, servers, CSV)
    assert response.status_code == 302
    mapping_page = client.get(response.url)
    assert mapping_page.status_code == 200
    assert b"Asset tag" in mapping_page.content
    preview = client.post(
        response.url,
        {"map-0": "external_id", "map-1": "name", "map-2": "attributes.ram_gb", "step": "preview"},
    )
    assert preview.status_code == 200
    errors = preview.context["preview"].errors
    assert [(e.row, e.column) for e in errors] == [(3, "Memory")]
    assert "data-row-errors" in preview.content.decode()
    assert b"Confirm the import" not in preview.content
    refused = client.post(
        response.url,
        {"map-0": "external_id", "map-1": "name", "map-2": "attributes.ram_gb", "step": "confirm"},
    )
    assert refused.status_code == 200
    assert refused.context["errors"]
    assert not ConfigurationItem.objects.filter(name__startswith="srv-imported").exists()


def test_import_confirm_writes_the_rows(client_for, lead, servers):
    client = client_for(lead)
    step = _upload(client, servers, b"external_id,name,attributes.ram_gb\nA-1,srv-new,16\n").url
    guessed = client.get(step)
    assert [r["target"] for r in guessed.context["rows"]] == [
        "external_id",
        "name",
        "attributes.ram_gb",
    ]
    mapping = {"map-0": "external_id", "map-1": "name", "map-2": "attributes.ram_gb"}
    preview = client.post(step, {**mapping, "step": "preview"})
    assert preview.context["preview"].create == 1
    assert not ConfigurationItem.objects.filter(external_id="A-1").exists()
    done = client.post(step, {**mapping, "step": "confirm"})
    assert done.status_code == 302
    item = ConfigurationItem.objects.get(external_id="A-1")
    assert item.name == "srv-new"
    assert item.attributes["ram_gb"] == 16
    gone = client.get(step)  # the upload is gone: back to step 1, saying why
    assert gone.status_code == 302
    assert gone.url == reverse("cmdb:import")


def test_an_import_in_progress_belongs_to_whoever_uploaded_it(client_for, lead, make_user, servers):
    step = _upload(client_for(lead), servers, CSV).url
    other = make_user(Role.AGENT, Role.TEAM_LEAD)
    assert client_for(other).get(step).status_code == 404


def test_an_unreadable_upload_is_refused_on_the_form(client_for, lead, servers):
    response = _upload(client_for(lead), servers, b"   ")
    assert response.status_code == 200
    assert response.context["form"].errors["file"]


# --- my devices ------------------------------------------------------------------------------


def test_my_devices_lists_only_my_items(client_for, requester, make_user, servers):
    make_item("my-laptop", servers, assigned_to=requester)
    make_item("their-laptop", servers, assigned_to=make_user(Role.REQUESTER))
    html = client_for(requester).get(reverse("cmdb:my-devices")).content.decode()
    assert "my-laptop" in html
    assert "their-laptop" not in html


# --- in a real browser -----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_impact_graph_draws_in_a_browser_without_csp_errors(live_server, page):
    from keel.core.tests.factories import PASSWORD, UserFactory
    from keel.testing.browser import screenshot

    lead = UserFactory(roles=[Role.AGENT.value, Role.TEAM_LEAD.value], username="lee")
    servers = server_type()
    apps = server_type(name="Payroll component", code="payroll-component", attributes=[])
    kind = RelationKindFactory()
    db = make_item("srv-db-01", servers, status=Status.IN_SERVICE, attributes={"ram_gb": 64})
    soon = timezone.localdate() + timedelta(days=12)
    for n in range(3):
        app = make_item(f"app-{n}", apps, status=Status.IN_SERVICE, warranty_expires=soon)
        relate(app, kind, db)
        relate(make_item(f"portal-{n}", apps), kind, app)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", lead.username)
    page.fill("#id_password", PASSWORD)
    page.locator(".card-centered form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}{reverse('cmdb:list')}")
    screenshot(page, "cmdb-list")
    page.goto(f"{live_server.url}{item_url(db)}")
    page.wait_for_selector("#impact-graph[data-graph-ready='7'] canvas")
    screenshot(page, "cmdb-item")
    assert page.csp_violations == []


# --- create, edit, retire -----------------------------------------------------------------------


def _item_post(**overrides):
    data = {
        "name": "db-9",
        "status": "planned",
        "attributes.ram_gb": "64",
        "attributes.os": "Linux",
    }
    data.update(overrides)
    return data


def test_staff_create_an_item_with_typed_attributes_from_the_list(client_for, agent, servers):
    client = client_for(agent)
    assert reverse("cmdb:new").encode() in client.get(reverse("cmdb:list")).content
    page = client.get(reverse("cmdb:new"), {"type": servers.code}).content.decode()
    assert 'name="attributes.ram_gb"' in page
    assert 'name="attributes.environment"' in page
    response = client.post(
        reverse("cmdb:new"),
        {"type": servers.code, **_item_post(**{"attributes.environment": "production"})},
    )
    item = ConfigurationItem.objects.get(name="db-9")
    assert response.status_code == 302
    assert response.url == item_url(item)
    assert item.type == servers
    assert item.attributes == {"ram_gb": 64, "os": "Linux", "environment": "production"}


def test_a_bad_attribute_is_named_next_to_its_field_and_nothing_is_written(
    client_for, agent, servers
):
    response = client_for(agent).post(
        reverse("cmdb:new"), {"type": servers.code, **_item_post(**{"attributes.ram_gb": "lots"})}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="id_attributes.ram_gb_error"' in page
    assert "Expected a whole number." in page
    assert 'value="lots"' in page
    assert not ConfigurationItem.objects.filter(name="db-9").exists()


@pytest.mark.parametrize("role", [Role.REQUESTER, Role.AUDITOR])
def test_people_without_the_permission_cannot_create_items(client_for, make_user, servers, role):
    client = client_for(make_user(role))
    assert client.get(reverse("cmdb:new")).status_code == 403
    response = client.post(reverse("cmdb:new"), {"type": servers.code, **_item_post()})
    assert response.status_code == 403
    assert not ConfigurationItem.objects.filter(name="db-9").exists()


def test_staff_edit_an_item_and_its_attributes(client_for, agent, servers):
    item = make_item("db-1", servers, attributes={"ram_gb": 16})
    client = client_for(agent)
    page = client.get(reverse("cmdb:edit", args=[item.pk])).content.decode()
    assert 'value="16"' in page
    assert f'name="version" value="{item.version}"' in page
    response = client.post(
        reverse("cmdb:edit", args=[item.pk]),
        _item_post(name="db-1", status="in_service", version=item.version),
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.attributes["ram_gb"], item.version) == ("in_service", 64, 2)


def test_an_items_cost_and_currency_are_on_its_form(client_for, agent, servers):
    item = make_item("db-1", servers, cost="10.50", currency="EUR")
    client = client_for(agent)
    page = client.get(reverse("cmdb:edit", args=[item.pk])).content.decode()
    assert 'name="cost" value="10.50"' in page
    assert 'name="currency" value="EUR"' in page

    response = client.post(
        reverse("cmdb:edit", args=[item.pk]),
        _item_post(name="db-1", cost="1899.5", currency="cny", version=item.version),
    )

    assert response.status_code == 302
    item.refresh_from_db()
    assert (str(item.cost), item.currency) == ("1899.50", "CNY")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"cost": "12,50", "currency": "EUR"}, "cost", "Expected an amount"),
        ({"cost": "-3", "currency": "EUR"}, "cost", "from 0"),
        ({"cost": "1.005", "currency": "EUR"}, "cost", "two decimal places"),
        ({"cost": "100", "currency": ""}, "currency", "currency of the cost"),
        ({"cost": "100", "currency": "E1"}, "currency", "three-letter"),
    ],
)
def test_a_bad_cost_is_named_next_to_its_field(client_for, agent, servers, values, field, message):
    response = client_for(agent).post(
        reverse("cmdb:new"), {"type": servers.code, **_item_post(**values)}
    )

    assert response.status_code == 422
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert not ConfigurationItem.objects.filter(name="db-9").exists()


def test_a_stale_edit_is_refused_with_the_typed_values_kept(client_for, agent, servers):
    item = make_item("db-1", servers)
    client = client_for(agent)
    response = client.post(
        reverse("cmdb:edit", args=[item.pk]),
        _item_post(name="db-renamed-by-me", version=item.version + 5),
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "data-stale" in page
    assert 'value="db-renamed-by-me"' in page
    assert f'name="version" value="{item.version}"' in page
    item.refresh_from_db()
    assert item.name == "db-1"


def test_edit_is_refused_outside_the_team_and_hidden_outside_the_scope(
    client_for, agent, requester, make_user, servers
):
    from keel.core.tests.factories import TeamFactory

    theirs = make_item("db-2", servers, team=TeamFactory())
    assert client_for(agent).get(reverse("cmdb:edit", args=[theirs.pk])).status_code == 403
    post = client_for(agent).post(
        reverse("cmdb:edit", args=[theirs.pk]), _item_post(version=theirs.version)
    )
    assert post.status_code == 403
    assert client_for(requester).get(reverse("cmdb:edit", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "db-2"


def test_retire_takes_an_item_out_of_use(client_for, agent, requester, servers):
    item = make_item("db-3", servers)
    url = reverse("cmdb:retire", args=[item.pk])
    assert client_for(requester).post(url, {"version": item.version}).status_code == 404
    assert client_for(agent).get(url).status_code == 405
    response = client_for(agent).post(url, {"version": item.version, "reason": "broken"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == Status.RETIRED


# --- relations on the item page ----------------------------------------------------------------


def test_staff_add_and_remove_a_relation_from_the_item_page(client_for, agent, servers):
    app, host = make_item("app", servers), make_item("host", servers)
    kind = RelationKindFactory(name="page-runs-on")
    client = client_for(agent)
    assert b"data-relation-form" in client.get(item_url(app)).content
    response = client.post(
        reverse("cmdb:relation-add", args=[host.pk]),
        {"kind": kind.pk, "direction": "in", "other": app.number.lower()},
    )
    assert response.status_code == 302
    relation = app.relations_out.get()
    assert (relation.target, relation.kind) == (host, kind)
    remove = reverse("cmdb:relation-remove", args=[app.pk, relation.pk])
    assert remove in client.get(item_url(app)).content.decode()
    assert client.post(remove).status_code == 302
    assert not app.relations_out.exists()


def test_relations_are_refused_to_people_without_the_permission(
    client_for, make_user, requester, servers
):
    app, host = make_item("app", servers), make_item("host", servers)
    kind = RelationKindFactory()
    auditor = client_for(make_user(Role.AUDITOR))
    assert b"data-relation-form" not in auditor.get(item_url(app)).content
    data = {"kind": kind.pk, "direction": "out", "other": host.number}
    assert auditor.post(reverse("cmdb:relation-add", args=[app.pk]), data).status_code == 403
    assert client_for(requester).post(
        reverse("cmdb:relation-add", args=[app.pk]), data
    ).status_code in (403, 404)
    relation = relate(app, kind, host)
    remove = reverse("cmdb:relation-remove", args=[app.pk, relation.pk])
    assert auditor.post(remove).status_code == 403
    assert app.relations_out.exists()


def test_a_self_relation_and_a_loop_are_refused_with_the_path(client_for, agent, servers):
    a, b, c = (
        make_item("a-node", servers),
        make_item("b-node", servers),
        make_item("c-node", servers),
    )
    kind = RelationKindFactory(name="page-feeds", acyclic=True)
    relate(a, kind, b)
    relate(b, kind, c)
    client = client_for(agent)
    url = reverse("cmdb:relation-add", args=[c.pk])
    itself = client.post(url, {"kind": kind.pk, "direction": "out", "other": c.number})
    assert itself.status_code == 422
    assert "An item cannot be related to itself." in itself.content.decode()
    loop = client.post(url, {"kind": kind.pk, "direction": "out", "other": a.number})
    assert loop.status_code == 422
    page = loop.content.decode()
    assert "cannot loop back" in page
    assert "c-node → a-node → b-node → c-node" in page
    assert not c.relations_out.exists()


def test_a_kind_not_allowed_between_the_types_is_named(client_for, agent, servers):
    from keel.cmdb.tests.factories import CITypeFactory

    laptops = CITypeFactory(name="Page laptop")
    app, laptop = make_item("app", servers), make_item("lap", laptops)
    kind = RelationKindFactory(name="page-hosted-by")
    kind.target_types.set([servers])
    response = client_for(agent).post(
        reverse("cmdb:relation-add", args=[app.pk]),
        {"kind": kind.pk, "direction": "out", "other": laptop.number},
    )
    assert response.status_code == 422
    assert "allowed: Rack server" in response.content.decode()
