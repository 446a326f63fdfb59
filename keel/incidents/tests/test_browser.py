"""The whole incident story in a real browser, as people would live it, in English and Chinese.

A requester reports a broken laptop in the portal and sees the committed response time; an agent
finds it at the top of the queue, assigns it to themself, starts and resolves it; the requester
confirms and rates it 5; the agent sees the rating. Screenshots go to ``var/screenshots/``.
"""

from __future__ import annotations

import re

import pytest

from keel.catalog.tests.factories import ServiceFactory
from keel.core.models import Department, Organisation
from keel.core.roles import Role
from keel.core.tests.factories import PASSWORD, UserFactory
from keel.incidents.models import Incident
from keel.incidents.tests.factories import agent_in, open_incident
from keel.testing.browser import screenshot

TEXT = {
    "en": {
        "report": "Report a problem",
        "send": "Send report",
        "recorded": "recorded; we will respond by",
        "assign_me": "Assign to me",
        "start": "Start work",
        "resolve": "Resolve",
        "fixed": "Yes, it is fixed",
        "thanks": "Thank you. The incident is closed.",
        "rating": "5 out of 5",
    },
    "zh-hans": {
        "report": "报告问题",
        "send": "提交报告",
        "recorded": "已记录；我们将在",
        "assign_me": "分配给我",
        "start": "开始处理",
        "resolve": "解决",
        "fixed": "是的，已经修好",
        "thanks": "谢谢。事件已关闭。",
        "rating": "5 分（满分 5 分）",
    },
}


def log_in(page, live_server, user, words):
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    # The log-in page speaks the browser's language until the person is known.
    page.locator(".card-centered form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_a_broken_laptop_from_report_to_rating(live_server, page, lang):
    words = TEXT[lang]
    organisation = Organisation.objects.create(name="Acme", code="acme")
    department = Department.objects.create(organisation=organisation, name="Sales", code="sales")
    service = ServiceFactory(name="Laptops and desktops" if lang == "en" else "笔记本和台式机")
    requester = UserFactory(
        roles=[Role.REQUESTER.value],
        username="li.na",
        name="Li Na" if lang == "en" else "李娜",
        language=lang,
        time_zone="Asia/Shanghai",
        department=department,
    )
    agent = agent_in(
        service.team,
        username="ada",
        name="Ada Agent" if lang == "en" else "王芳",
        language=lang,
        time_zone="Asia/Shanghai",
    )

    # The requester reports the broken laptop in the portal.
    log_in(page, live_server, requester, words)
    page.get_by_role("link", name=words["report"]).first.click()
    page.select_option("#id_service", str(service.pk))
    title = "Laptop does not start" if lang == "en" else "笔记本电脑无法开机"
    page.fill("#id_title", title)
    page.fill("#id_description", "Black screen after the logo; the power light blinks.")
    page.check("#id_urgency_0")
    page.check("#id_impact_2")
    page.get_by_role("button", name=words["send"]).click()
    banner = page.locator(".recorded-title")
    banner.wait_for()
    incident = Incident.objects.get()
    assert incident.number in banner.inner_text()
    assert words["recorded"] in banner.inner_text()
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", banner.inner_text())
    screenshot(page, f"incident-recorded-{lang}")

    # The agent finds it at the top of the queue, takes it, works it and resolves it.
    log_in(page, live_server, agent, words)
    page.goto(f"{live_server.url}/incidents/")
    first_row = page.locator("table[data-queue] tbody tr").first
    assert incident.number in first_row.inner_text()
    assert first_row.locator(".sla").count() == 1
    screenshot(page, f"queue-{lang}")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/incidents/{incident.number}/")
    page.locator('[data-step="assign-me"]').click()
    page.wait_for_load_state()
    page.locator('[data-step="start"]').click()
    page.wait_for_load_state()
    page.locator('summary[data-step="resolve"]').click()
    page.select_option("#id_resolve_code", "hardware_replaced")
    page.fill("#id_resolve_notes", "Replaced the battery; it starts again.")
    page.locator(".step-panel").get_by_role("button", name=words["resolve"]).click()
    page.wait_for_load_state()
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.assignee_id == agent.pk

    # The requester confirms and rates it 5.
    log_in(page, live_server, requester, words)
    page.goto(f"{live_server.url}/incidents/{incident.number}/")
    page.locator("label[for='id_confirm_rating_0']").click()
    page.fill("#id_confirm_comment", "Fixed in an hour, thank you!")
    page.get_by_role("button", name=words["fixed"]).click()
    page.get_by_text(words["thanks"]).wait_for()
    incident.refresh_from_db()
    assert incident.status == "closed"
    assert incident.rating == 5

    # The agent sees the rating.
    log_in(page, live_server, agent, words)
    page.goto(f"{live_server.url}/incidents/{incident.number}/")
    rating = page.locator("[data-rating]")
    assert rating.get_attribute("data-rating") == "5"
    assert words["rating"] in rating.inner_text()
    screenshot(page, f"incident-{lang}")
    assert page.csp_violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_console_filters_in_place_and_assigns_in_bulk(live_server, page):
    service = ServiceFactory(name="E-mail")
    agent = agent_in(service.team, username="ada", name="Ada Agent")
    requester = UserFactory(roles=[Role.REQUESTER.value], name="Li Na")
    printer = open_incident(requester=requester, service=service, title="Printer jams")
    mail = open_incident(requester=requester, service=service, title="Mail bounces")
    other = open_incident(requester=requester, service=service, title="Mail is slow")
    log_in(page, live_server, agent, TEXT["en"])
    page.goto(f"{live_server.url}/incidents/")
    page.evaluate("window.__marker = 'same page'")

    # "/" jumps to the search; typing filters the table in place and keeps the address current.
    page.keyboard.press("/")
    page.keyboard.type("mail")
    page.wait_for_url("**/incidents/?*q=mail*")
    rows = page.locator("table[data-queue] tbody tr")
    rows.first.wait_for()
    page.wait_for_function("document.querySelectorAll('table[data-queue] tbody tr').length === 2")
    assert printer.number not in page.locator("#queue-results").inner_text()
    assert page.evaluate("window.__marker") == "same page"

    # j/k move, x ticks; the bulk bar appears and assigns the ticked incidents to me.
    page.locator("#queue-search").blur()
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    assert page.locator("[data-bulk-count]").inner_text() == "2 selected"
    page.select_option("#bulk-assignee", "me")
    page.get_by_role("button", name="Assign selected").click()
    page.get_by_text("2 incidents assigned.").wait_for()
    assert "q=mail" in page.url
    for incident in (mail, other):
        incident.refresh_from_db()
        assert incident.assignee_id == agent.pk
    printer.refresh_from_db()
    assert printer.assignee_id is None
    assert page.csp_violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_queue_keys_still_work_after_ticking_a_box_with_the_mouse(live_server, page):
    service = ServiceFactory(name="E-mail")
    agent = agent_in(service.team, username="ada", name="Ada Agent")
    requester = UserFactory(roles=[Role.REQUESTER.value], name="Li Na")
    for title in ("Mail bounces", "Mail is slow", "Calendar is empty"):
        open_incident(requester=requester, service=service, title=title)
    log_in(page, live_server, agent, TEXT["en"])
    page.goto(f"{live_server.url}/incidents/")
    rows = page.locator("table[data-queue] tbody tr")
    boxes = page.locator('table[data-queue] tbody input[type="checkbox"]')

    # A click ticks the first box and leaves the focus on it; j then moves on from its row and
    # x ticks the next one.
    boxes.nth(0).click()
    assert page.evaluate("document.activeElement.type") == "checkbox"
    page.keyboard.press("j")
    assert "is-current" in (rows.nth(1).get_attribute("class") or "")
    page.keyboard.press("x")
    assert boxes.nth(1).is_checked()
    assert page.locator("[data-bulk-count]").inner_text() == "2 selected"
    page.keyboard.press("k")
    assert "is-current" in (rows.nth(0).get_attribute("class") or "")

    # "/" reaches the search from a ticked box too.
    boxes.nth(2).click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "queue-search"

    # Enter on a ticked box opens its incident.
    page.locator("#queue-search").blur()
    boxes.nth(2).click()
    href = rows.nth(2).get_attribute("data-href")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{href}")
    assert page.csp_violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("lang", "two_ticked"), [("en", "2 selected"), ("zh-hans", "已选 2 个")])
def test_bulk_bar_counts_the_ticks_in_the_readers_language(live_server, page, lang, two_ticked):
    service = ServiceFactory(name="E-mail")
    agent = agent_in(service.team, username="ada", name="Ada Agent", language=lang)
    requester = UserFactory(roles=[Role.REQUESTER.value], name="Li Na")
    for title in ("Mail bounces", "Mail is slow"):
        open_incident(requester=requester, service=service, title=title)
    log_in(page, live_server, agent, TEXT[lang])
    page.goto(f"{live_server.url}/incidents/")
    page.locator("[data-check-all]").click()
    assert page.locator("[data-bulk-count]").inner_text() == two_ticked
    assert page.csp_violations == []
