"""Contacts and reports in a real browser: an agent logs a call that is settled at once and one
that opens an incident, sees them on the incident page, and a team lead reads the report with
its charts drawn. Screenshots go to ``var/screenshots/``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from keel.catalog.tests.factories import ServiceFactory
from keel.core.models import TeamMembership
from keel.core.roles import Role
from keel.core.tests.factories import PASSWORD, UserFactory
from keel.incidents import actions
from keel.incidents.models import Incident, Interaction
from keel.incidents.tests.factories import agent_in, open_incident
from keel.testing.browser import SCREENSHOTS, screenshot


def log_in(page, live_server, user):
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.locator(".card-centered form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_agent_logs_calls_and_a_lead_reads_the_report(live_server, page):
    service = ServiceFactory(name="Laptops and desktops")
    agent = agent_in(service.team, username="ada", name="Ada Agent")
    lead = UserFactory(
        roles=[Role.AGENT.value, Role.TEAM_LEAD.value], username="lee", name="Lee Lead"
    )
    TeamMembership.objects.create(team=service.team, user=lead)
    caller = UserFactory(roles=[Role.REQUESTER.value], username="li.na", name="Li Na")
    # Some history, so the lists and charts have something to show.
    now = timezone.now()
    for days, hours in ((70, 3), (40, 30), (12, 1), (5, 8)):
        old = open_incident(
            requester=caller,
            service=service,
            title="Docking station flickers",
            at=now - timedelta(days=days),
            notify_requester=False,
        )
        Incident.objects.filter(pk=old.pk).update(
            resolved_at=old.created_at + timedelta(hours=hours)
        )
    for n, channel in enumerate(["email", "chat", "walk_in", "phone"]):
        actions.record_interaction(
            actor=agent,
            channel=channel,
            summary=f"Question number {n} about the VPN client",
            contact=caller,
            started_at=now - timedelta(days=n * 9, minutes=5),
            handle_seconds=180 + n * 60,
            resolved_first_contact=n % 2 == 0,
        )

    # The agent logs a call settled at once, then one that opens an incident.
    log_in(page, live_server, agent)
    page.locator('.nav-link[data-key="contacts"]').click()
    page.wait_for_url("**/incidents/contacts/")
    page.check("#id_channel_0")
    page.fill("#id_contact", "li.na")
    page.fill("#id_summary", "Forgot the password; reset it and checked she can log in.")
    page.fill("#id_minutes", "4")
    page.get_by_role("button", name="Log contact").click()
    page.get_by_text("Contact CON-000005 recorded.").wait_for()
    first_row = page.locator("table[data-contacts] tbody tr").first
    assert "CON-000005" in first_row.inner_text()
    screenshot(page, "contacts-agent")

    page.fill("#id_contact", "li.na")
    page.fill("#id_summary", "Laptop will not charge\nTried another charger; same.")
    page.select_option("#id_service", str(service.pk))
    page.locator("label[for='id_outcome_1']").click()
    page.locator("summary", has_text="Incident details").click()
    page.select_option("#id_impact", "3")
    page.select_option("#id_urgency", "2")
    page.get_by_role("button", name="Log contact").click()
    page.wait_for_url("**/incidents/INC-*/")
    incident = Incident.objects.get(title="Laptop will not charge")
    assert Interaction.objects.get(number="CON-000006").incident == incident
    panel = page.locator("#contacts")
    assert "CON-000006" in panel.inner_text()

    # A follow-up call on the incident page.
    panel.locator("summary", has_text="Log a contact").click()
    panel.locator("label[for='id_contact_channel_1']").click()
    page.fill("#id_contact_summary", "She asked when the new charger arrives.")
    page.fill("#id_contact_minutes", "2")
    panel.screenshot(path=str(SCREENSHOTS / "incident-contact-form-agent.png"))
    panel.get_by_role("button", name="Log contact").click()
    page.wait_for_url(f"**/incidents/{incident.number}/#contacts")
    assert page.locator("#contacts .contact-item").count() == 2
    page.locator("#contacts").screenshot(path=str(SCREENSHOTS / "incident-contacts-panel.png"))
    screenshot(page, "incident-contacts-agent")
    assert page.csp_violations == []

    # The requester's page of the same incident says nothing of contacts.
    log_in(page, live_server, caller)
    page.goto(f"{live_server.url}/incidents/{incident.number}/")
    assert page.locator("#contacts").count() == 0
    assert "new charger" not in page.content()

    # The team lead reads the report; both charts are drawn.
    log_in(page, live_server, lead)
    page.locator('.nav-link[data-key="incident-reports"]').click()
    page.wait_for_url("**/incidents/reports/")
    page.locator("#priority-chart[data-chart-ready]").wait_for()
    page.locator("#volume-chart[data-chart-ready]").wait_for()
    assert page.locator('[data-figure="incidents"] .stat-value').inner_text() == "5"
    screenshot(page, "reports-lead")
    page.select_option("#report-service", str(service.pk))
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/incidents/reports/?*service=*")
    assert page.csp_violations == []

    # The lead's view of the contacts, the opened incident's number beside its contact.
    page.goto(f"{live_server.url}/incidents/contacts/")
    row = page.locator("table[data-contacts] tbody tr", has_text="CON-000006")
    assert incident.number in row.inner_text()
    screenshot(page, "contacts-lead")
    assert page.csp_violations == []
