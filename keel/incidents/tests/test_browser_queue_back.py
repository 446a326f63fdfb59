"""Going Back to a searched queue in a real browser shows the whole page again.

The search swaps the table in with htmx and puts the search in the address; the incident is then
opened as a page of its own. Back must bring the console (menu, tabs, filters) with the table.
"""

from __future__ import annotations

import pytest

from keel.catalog.tests.factories import ServiceFactory
from keel.incidents.tests.factories import agent_in, open_incident
from keel.incidents.tests.test_browser import log_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_back_from_an_incident_shows_the_searched_queue_whole(live_server, page):
    service = ServiceFactory(name="E-mail")
    agent = agent_in(service.team, username="ada", name="Ada Agent", language="en")
    wanted = open_incident(service=service, title="Mail does not arrive")
    open_incident(service=service, title="Printer jams")

    log_in(page, live_server, agent, {})
    page.goto(f"{live_server.url}/incidents/?queue=my_teams")
    page.fill("#queue-search", "mail")
    page.wait_for_url("**q=mail**")
    rows = page.locator("table[data-queue] tbody tr")
    rows.filter(has_text="Printer jams").wait_for(state="detached")
    assert rows.count() == 1

    rows.first.locator("a.row-link").click()
    page.wait_for_url(f"**/incidents/{wanted.number}/")
    page.go_back()
    page.wait_for_url("**q=mail**")

    assert page.locator("#sidebar").is_visible()
    assert page.locator("nav.queue-tabs").is_visible()
    assert page.locator("#queue-search").input_value() == "mail"
    assert page.locator("table[data-queue] tbody tr").count() == 1
