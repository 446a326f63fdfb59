"""Incident pages: the portal, the console, and the incident page, for each role and each fault."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from keel.catalog.tests.factories import CategoryFactory, ServiceFactory
from keel.core.models import TeamMembership
from keel.core.roles import Role
from keel.incidents import actions, queries
from keel.incidents.forms import recording as recording_forms
from keel.incidents.lifecycle import Status
from keel.incidents.models import Attachment, EventKind, Incident, IncidentEvent
from keel.incidents.tests.factories import agent_in, open_incident

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def service(db):
    return ServiceFactory(name="Laptops")


@pytest.fixture
def desk_agent(service):
    """An agent in the team that supports ``service``."""
    return agent_in(service.team, name="Ada Agent", username="ada")


@pytest.fixture
def lead(service, make_user):
    person = make_user(Role.AGENT, Role.TEAM_LEAD, name="Lee Lead")
    TeamMembership.objects.create(team=service.team, user=person)
    return person


@pytest.fixture
def incident(requester, service):
    return open_incident(requester=requester, service=service)


def url(name, *args):
    return reverse(name, args=args)


def detail(incident):
    return url("incidents:detail", incident.number)


def act(incident, key):
    return url("incidents:act", incident.number, key)


def report_data(service, /, **overrides):
    data = {
        "service": str(service.pk),
        "title": "Laptop does not start",
        "description": "Black screen after the logo.",
        "urgency": "2",
        "impact": "3",
        "category": "",
    }
    data.update(overrides)
    return data


def upload(name="screen.png", content=b"\x89PNG fake image"):
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def refreshed(incident):
    return Incident.objects.get(pk=incident.pk)


# --- who may open what ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["incidents:queue", "incidents:record", "portal:report", "portal:mine"]
)
def test_pages_send_anonymous_people_to_log_in(client, name):
    response = client.get(url(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "agent_status", "requester_status"),
    [
        ("incidents:queue", 200, 403),
        ("incidents:record", 200, 403),
        ("portal:report", 200, 200),
        ("portal:mine", 200, 200),
    ],
)
def test_each_page_renders_for_its_role_and_is_refused_to_others(
    client_for, desk_agent, requester, name, agent_status, requester_status
):
    assert client_for(desk_agent).get(url(name)).status_code == agent_status
    assert client_for(requester).get(url(name)).status_code == requester_status


@pytest.mark.django_db
def test_auditor_may_read_the_console_but_not_report(client_for, auditor):
    assert client_for(auditor).get(url("incidents:queue")).status_code == 200
    assert client_for(auditor).get(url("portal:report")).status_code == 403


@pytest.mark.django_db
def test_requester_cannot_open_another_requesters_incident(client_for, incident, make_user):
    stranger = make_user(Role.REQUESTER)
    assert client_for(stranger).get(detail(incident)).status_code == 404
    assert client_for(stranger).post(act(incident, "comment"), {"body": "hi"}).status_code == 404


@pytest.mark.django_db
def test_agent_of_another_team_cannot_open_the_incident(client_for, incident):
    outsider = agent_in(ServiceFactory().team)
    assert client_for(outsider).get(detail(incident)).status_code == 404


@pytest.mark.django_db
def test_requester_cannot_take_agent_steps(client_for, incident, requester):
    response = client_for(requester).post(act(incident, "start"), {"version": incident.version})
    assert response.status_code == 403
    assert refreshed(incident).status == Status.NEW


@pytest.mark.django_db
def test_unknown_form_on_an_incident_is_404(client_for, incident, desk_agent):
    assert client_for(desk_agent).post(act(incident, "explode"), {}).status_code == 404


@pytest.mark.django_db
def test_navigation_shows_each_person_their_entries(client_for, desk_agent, requester, auditor):
    agent_page = client_for(desk_agent).get(url("portal:mine")).content.decode()
    assert 'data-key="incidents"' in agent_page
    assert 'data-key="report"' in agent_page
    requester_page = client_for(requester).get(url("portal:mine")).content.decode()
    assert 'data-key="incidents"' not in requester_page
    assert 'data-key="report"' in requester_page
    assert 'data-key="my-incidents"' in requester_page
    auditor_page = client_for(auditor).get(url("incidents:queue")).content.decode()
    assert 'data-key="report"' not in auditor_page


# --- the portal: report a problem ----------------------------------------------------------


@pytest.mark.django_db
def test_report_form_offers_portal_services_urgency_help_and_impact(client_for, requester, service):
    ServiceFactory(name="Hidden backend", in_portal=False)
    body = client_for(requester).get(url("portal:report")).content.decode()
    assert "Laptops" in body
    assert "Hidden backend" not in body
    assert "Work has stopped; it cannot wait" in body
    assert "Who is affected?" in body
    assert 'enctype="multipart/form-data"' in body


@pytest.mark.django_db
def test_report_records_the_incident_and_shows_the_committed_response_time(
    client_for, requester, service
):
    requester.time_zone = "Asia/Shanghai"
    requester.save(update_fields=["time_zone"])
    client = client_for(requester)
    response = client.post(url("portal:report"), report_data(service))
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response.url == detail(incident)
    assert incident.requester == requester
    assert incident.channel == "portal"
    page = client.get(response.url).content.decode()
    local = incident.respond_by.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert f"{incident.number} recorded; we will respond by {local}" in page
    assert "Asia/Shanghai" in page
    # Said once: a reload shows the incident without the banner.
    assert "recorded; we will respond by" not in client.get(response.url).content.decode()


@pytest.mark.django_db
def test_report_stores_several_attachments_with_the_incident(client_for, requester, service):
    data = report_data(service, attachments=[upload("a.png"), upload("b.log", b"log line")])
    response = client_for(requester).post(url("portal:report"), data)
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert sorted(a.name for a in incident.attachments.all()) == ["a.png", "b.log"]
    assert all(a.public for a in incident.attachments.all())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"urgency": "9"}, "urgency", "Select a valid choice."),
        ({"impact": ""}, "impact", "This field is required."),
        ({"service": "999999"}, "service", "Select a valid choice."),
        ({"title": "x" * 201}, "title", "Ensure this value has at most 200 characters"),
    ],
)
def test_bad_report_shows_the_field_error_and_records_nothing(
    client_for, requester, service, overrides, field, message
):
    response = client_for(requester).post(url("portal:report"), report_data(service, **overrides))
    assert response.status_code == 422
    assert message in response.content.decode()
    assert field in response.context["form"].errors
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_report_with_a_forbidden_file_type_records_nothing(client_for, requester, service):
    data = report_data(service, attachments=[upload("ok.png"), upload("tool.exe", b"MZ")])
    response = client_for(requester).post(url("portal:report"), data)
    assert response.status_code == 422
    assert "files of type .exe are not accepted" in response.content.decode()
    assert Incident.objects.count() == 0
    assert Attachment.objects.count() == 0
    # The typed text stays in the form.
    assert "Black screen after the logo." in response.content.decode()


@pytest.mark.django_db
@override_settings(KEEL_ATTACHMENT_MAX_BYTES=10)
def test_report_with_an_oversized_file_records_nothing(client_for, requester, service):
    data = report_data(service, attachments=[upload("big.png", b"x" * 11)])
    response = client_for(requester).post(url("portal:report"), data)
    assert response.status_code == 422
    assert "files may be at most 10" in response.content.decode()
    assert "attachments" in response.context["form"].errors
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_a_file_the_action_refuses_rolls_the_new_incident_back(
    client_for, requester, service, monkeypatch
):
    # Skip the form's early check, so the action's own check is the one that refuses.
    monkeypatch.setattr(recording_forms, "upload_problems", lambda uploads: [])
    data = report_data(service, attachments=[upload("ok.png"), upload("tool.exe", b"MZ")])
    response = client_for(requester).post(url("portal:report"), data)
    assert response.status_code == 422
    assert "Files of type .exe are not accepted." in response.content.decode()
    assert Incident.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert IncidentEvent.objects.count() == 0


# --- the portal: my incidents and the requester's incident page ----------------------------


@pytest.mark.django_db
def test_my_incidents_lists_my_own_with_status_and_sla(client_for, requester, service):
    mine = open_incident(requester=requester, service=service, title="My printer jams")
    other = open_incident(service=service, title="Someone else's problem")
    body = client_for(requester).get(url("portal:mine")).content.decode()
    assert mine.number in body
    assert "My printer jams" in body
    assert other.number not in body
    assert 'class="status status-new"' in body
    assert 'class="sla sla-ok"' in body


@pytest.mark.django_db
def test_department_manager_also_sees_the_departments_incidents(
    client_for, department_manager, department, make_user, service
):
    colleague = make_user(Role.REQUESTER, department=department)
    theirs = open_incident(requester=colleague, service=service)
    outsider = open_incident(service=service)
    body = client_for(department_manager).get(url("portal:mine")).content.decode()
    assert theirs.number in body
    assert outsider.number not in body
    assert client_for(department_manager).get(detail(theirs)).status_code == 200


@pytest.mark.django_db
def test_closed_incidents_are_under_their_own_tab(client_for, requester, incident, desk_agent):
    actions.resolve(actor=desk_agent, incident=incident, code="fixed", notes="Replaced cable.")
    client = client_for(requester)
    assert incident.number not in client.get(url("portal:mine")).content.decode()
    assert incident.number in client.get(url("portal:mine") + "?show=closed").content.decode()


@pytest.mark.django_db
def test_requester_page_shows_public_timeline_only(client_for, requester, incident, desk_agent):
    actions.comment(actor=desk_agent, incident=incident, body="We are on it.", public=True)
    actions.comment(actor=desk_agent, incident=incident, body="Probably the GPU.", public=False)
    body = client_for(requester).get(detail(incident)).content.decode()
    assert "We are on it." in body
    assert "Probably the GPU." not in body
    assert 'name="visibility"' not in body


@pytest.mark.django_db
def test_requester_comments_on_their_incident(client_for, requester, incident):
    response = client_for(requester).post(act(incident, "comment"), {"body": "It beeps twice."})
    assert response.status_code == 302
    event = incident.events.get(kind=EventKind.COMMENT)
    assert event.public
    assert event.body == "It beeps twice."


@pytest.mark.django_db
def test_requester_confirms_with_a_rating_and_the_agent_sees_it(
    client_for, requester, incident, desk_agent
):
    actions.resolve(actor=desk_agent, incident=incident, code="fixed", notes="New battery.")
    client = client_for(requester)
    page = client.get(detail(incident)).content.decode()
    assert "Is it fixed?" in page
    assert "New battery." in page
    response = client.post(
        act(incident, "confirm"),
        {"version": refreshed(incident).version, "rating": "5", "comment": "Quick and kind."},
    )
    assert response.status_code == 302
    closed = refreshed(incident)
    assert closed.status == Status.CLOSED
    assert closed.rating == 5
    agent_page = client_for(desk_agent).get(detail(incident)).content.decode()
    assert 'data-rating="5"' in agent_page
    assert "Quick and kind." in agent_page


@pytest.mark.django_db
def test_requester_rejects_a_resolution_with_a_reason(client_for, requester, incident, desk_agent):
    actions.resolve(actor=desk_agent, incident=incident, code="fixed", notes="Rebooted.")
    client = client_for(requester)
    version = refreshed(incident).version
    missing = client.post(act(incident, "reject"), {"version": version, "reason": ""})
    assert missing.status_code == 422
    assert "This field is required." in missing.content.decode()
    response = client.post(act(incident, "reject"), {"version": version, "reason": "Still black."})
    assert response.status_code == 302
    assert refreshed(incident).status == Status.IN_PROGRESS
    assert refreshed(incident).reopen_count == 1


@pytest.mark.django_db
def test_requester_rates_after_the_incident_closed(client_for, requester, incident, desk_agent):
    actions.resolve(actor=desk_agent, incident=incident, code="fixed", notes="Done.")
    actions.confirm(actor=requester, incident=refreshed(incident))
    client = client_for(requester)
    assert "How did we do?" in client.get(detail(incident)).content.decode()
    response = client.post(
        act(incident, "rate"), {"version": refreshed(incident).version, "rating": "4"}
    )
    assert response.status_code == 302
    assert refreshed(incident).rating == 4
    assert "How did we do?" not in client.get(detail(incident)).content.decode()


@pytest.mark.django_db
def test_rating_out_of_range_is_refused_next_to_the_field(
    client_for, requester, incident, desk_agent
):
    actions.resolve(actor=desk_agent, incident=incident, code="fixed", notes="Done.")
    response = client_for(requester).post(
        act(incident, "confirm"), {"version": refreshed(incident).version, "rating": "7"}
    )
    assert response.status_code == 422
    assert "Select a valid choice." in response.content.decode()
    assert refreshed(incident).status == Status.RESOLVED


@pytest.mark.django_db
def test_requester_withdraws_their_new_incident(client_for, requester, incident):
    response = client_for(requester).post(
        act(incident, "cancel"), {"version": incident.version, "reason": "It works again."}
    )
    assert response.status_code == 302
    assert refreshed(incident).status == Status.CANCELLED
    page = client_for(requester).get(detail(incident)).content.decode()
    assert page.count('class="sla sla-na"') >= 3  # the header and both targets: nothing was owed
    assert 'class="sla sla-met"' not in page
    assert "Not applicable" in page


# --- attachments ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_attachments_download_within_scope_and_visibility(
    client_for, requester, incident, desk_agent, make_user
):
    public = actions.add_attachment(
        actor=requester, incident=incident, upload=upload("photo.png", b"PNGDATA")
    )
    internal = actions.add_attachment(
        actor=desk_agent, incident=incident, upload=upload("notes.txt", b"secret"), public=False
    )
    mine = client_for(requester)
    response = mine.get(url("incidents:download", incident.number, public.pk))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"PNGDATA"
    assert mine.get(url("incidents:download", incident.number, internal.pk)).status_code == 404
    staff = client_for(desk_agent).get(url("incidents:download", incident.number, internal.pk))
    assert staff.status_code == 200
    assert "attachment" in staff["Content-Disposition"]
    stranger = client_for(make_user(Role.REQUESTER))
    assert stranger.get(url("incidents:download", incident.number, public.pk)).status_code == 404


@pytest.mark.django_db
def test_agent_attaches_an_internal_file(client_for, desk_agent, incident):
    response = client_for(desk_agent).post(
        act(incident, "attach"), {"files": [upload("trace.log", b"trace")]}
    )
    assert response.status_code == 302
    assert not incident.attachments.get().public


@pytest.mark.django_db
def test_forbidden_attachment_on_the_page_is_refused_next_to_the_field(
    client_for, requester, incident
):
    response = client_for(requester).post(
        act(incident, "attach"), {"files": [upload("run.bat", b"@echo")]}
    )
    assert response.status_code == 422
    assert "files of type .bat are not accepted" in response.content.decode()
    assert not incident.attachments.exists()


# --- the console ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_queue_orders_urgent_first_then_earliest_deadline(client_for, desk_agent, service):
    now = timezone.now()
    p3 = open_incident(service=service, impact=2, urgency=2, title="Third", at=now)
    p1 = open_incident(service=service, impact=1, urgency=1, title="First", at=now)
    p3_early = open_incident(
        service=service, impact=2, urgency=2, title="Second", at=now - timedelta(hours=3)
    )
    assert (p1.priority, p3.priority) == (1, 3)
    rows = client_for(desk_agent).get(url("incidents:queue")).context["rows"]
    assert [r.number for r in rows] == [p1.number, p3_early.number, p3.number]


@pytest.mark.django_db
def test_queue_shows_counts_sla_state_and_priority(client_for, desk_agent, incident):
    response = client_for(desk_agent).get(url("incidents:queue"))
    body = response.content.decode()
    assert incident.number in body
    assert 'class="prio prio-3"' in body
    assert 'class="sla sla-ok"' in body
    assert "Response due in" in body  # no one has answered yet
    tabs = {t["key"]: t["count"] for t in response.context["tabs"]}
    assert tabs["open"] == 1
    assert tabs["unassigned"] == 1
    assert tabs["mine"] == 0


@pytest.mark.django_db
def test_breached_incident_shows_red_with_time_over(client_for, desk_agent, service):
    late = open_incident(service=service, at=timezone.now() - timedelta(days=30))
    body = client_for(desk_agent).get(url("incidents:queue")).content.decode()
    assert late.number in body
    assert 'class="sla sla-breached"' in body
    assert "overdue" in body


@pytest.mark.django_db
def test_queue_shows_the_response_clock_until_someone_answers_then_the_resolution_clock(
    client_for, desk_agent, incident
):
    def sla_cell():
        body = client_for(desk_agent).get(url("incidents:queue")).content.decode()
        return re.search(r'<td class="nowrap cell-sla">(.*?)</td>', body, re.S).group(1)

    local = timezone.localtime
    awaited = sla_cell()
    assert "Response due in" in awaited
    assert f"Respond by {local(incident.respond_by):%Y-%m-%d %H:%M}" in awaited

    actions.assign(actor=desk_agent, incident=incident, assignee=desk_agent)  # a first response
    answered = sla_cell()
    assert "Respond" not in answered
    assert " left" in answered
    assert f"Resolve by {local(incident.resolve_by):%Y-%m-%d %H:%M}" in answered


@pytest.mark.django_db
def test_a_late_first_response_shows_as_overdue_in_the_queue(client_for, desk_agent, service):
    open_incident(service=service, at=timezone.now() - timedelta(days=30))
    body = client_for(desk_agent).get(url("incidents:queue")).content.decode()
    assert 'class="sla sla-breached"' in body
    assert re.search(r"Response \d+ d \d+ h overdue", body)

    desk_agent.language = "zh-hans"
    desk_agent.save(update_fields=["language"])
    body = client_for(desk_agent).get(url("incidents:queue")).content.decode()
    assert re.search(r"响应已逾期 \d+ 天 \d+ 小时", body)
    assert "响应期限" in body


@pytest.mark.django_db
def test_htmx_request_returns_only_the_table(client_for, desk_agent, incident):
    response = client_for(desk_agent).get(url("incidents:queue"), headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert response.templates[0].name == "incidents/_table.html"
    assert "<html" not in body
    assert incident.number in body
    # History restoration asks for the whole page.
    restore = client_for(desk_agent).get(
        url("incidents:queue"), headers={**HTMX, "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.content.decode()


@pytest.mark.django_db
def test_queue_filters_by_text_priority_and_status(client_for, desk_agent, service):
    printer = open_incident(service=service, title="Printer on fire", impact=1, urgency=1)
    laptop = open_incident(service=service, title="Laptop slow")
    client = client_for(desk_agent)
    found = client.get(url("incidents:queue"), {"q": "printer"}).context["rows"]
    assert [r.number for r in found] == [printer.number]
    found = client.get(url("incidents:queue"), {"priority": "P3"}).context["rows"]
    assert [r.number for r in found] == [laptop.number]
    found = client.get(url("incidents:queue"), {"q": laptop.number}).context["rows"]
    assert [r.number for r in found] == [laptop.number]
    found = client.get(url("incidents:queue"), {"status": "resolved"}).context["rows"]
    assert found == []


@pytest.mark.django_db
def test_bad_filter_says_which_and_still_shows_the_queue(client_for, desk_agent, incident):
    response = client_for(desk_agent).get(url("incidents:queue"), {"priority": "P9"})
    assert response.status_code == 200
    assert "Use P1 to P5." in response.content.decode()


@pytest.mark.django_db
def test_queue_pages_with_a_cursor(client_for, desk_agent, service, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    numbers = [open_incident(service=service).number for _ in range(3)]
    client = client_for(desk_agent)
    first = client.get(url("incidents:queue"))
    assert len(first.context["rows"]) == 2
    next_url = first.context["next_url"]
    assert "cursor=" in next_url
    second = client.get(next_url)
    seen = [r.number for r in first.context["rows"]] + [r.number for r in second.context["rows"]]
    assert sorted(seen) == sorted(numbers)
    assert second.context["next_url"] == ""
    bad = client.get(url("incidents:queue"), {"cursor": "%%%"})
    assert "This cursor is not valid" in bad.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_queue_query_count_does_not_grow_with_rows(
    client_for, desk_agent, service, count, django_assert_max_num_queries
):
    category = CategoryFactory()
    for n in range(count):
        open_incident(service=service, category=category if n % 2 else None)
    client = client_for(desk_agent)
    client.get(url("incidents:queue"))  # warm the session and the catalogue cache
    with django_assert_max_num_queries(13):
        response = client.get(url("incidents:queue"))
    assert len(response.context["rows"]) == count
    with django_assert_max_num_queries(8):
        client.get(url("incidents:queue"), headers=HTMX)


@pytest.mark.django_db
def test_bulk_assign_gives_every_ticked_incident_to_the_person(client_for, desk_agent, service):
    first, second = open_incident(service=service), open_incident(service=service)
    response = client_for(desk_agent).post(
        url("incidents:bulk-assign"),
        {"number": [first.number, second.number], "assignee": "me", "next": "/incidents/?q=x"},
    )
    assert response.status_code == 302
    assert response.url == "/incidents/?q=x"
    for incident in (first, second):
        assert refreshed(incident).assignee == desk_agent
        assert refreshed(incident).status == Status.ASSIGNED


@pytest.mark.django_db
def test_bulk_reassign_without_a_reason_assigns_none(client_for, desk_agent, service):
    colleague = agent_in(service.team)
    free = open_incident(service=service)
    taken = open_incident(service=service)
    actions.assign(actor=desk_agent, incident=taken, assignee=colleague)
    client = client_for(desk_agent)
    response = client.post(
        url("incidents:bulk-assign"), {"number": [free.number, taken.number], "assignee": "me"}
    )
    assert response.status_code == 302
    assert refreshed(free).assignee is None
    assert refreshed(taken).assignee == colleague
    page = client.get(response.url).content.decode()
    assert "Nothing was assigned." in page
    assert "Say why the incident is being reassigned." in page
    client.post(
        url("incidents:bulk-assign"),
        {"number": [free.number, taken.number], "assignee": "me", "reason": "Covering"},
    )
    assert refreshed(taken).assignee == desk_agent
    assert refreshed(taken).reassignment_count == 1


@pytest.mark.django_db
def test_bulk_assign_needs_ticks_and_a_target(client_for, desk_agent, incident):
    client = client_for(desk_agent)
    response = client.post(url("incidents:bulk-assign"), {"assignee": "me"}, follow=True)
    assert "Tick the incidents to assign first." in response.content.decode()
    response = client.post(url("incidents:bulk-assign"), {"number": [incident.number]}, follow=True)
    assert "Choose a team, a person, or both." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lang", "none_ticked", "phrase"),
    [("en", "0 selected", "%(n)s selected"), ("zh-hans", "已选 0 个", "已选 %(n)s 个")],
)
def test_bulk_bar_counts_in_one_translated_phrase(
    client_for, desk_agent, incident, lang, none_ticked, phrase
):
    desk_agent.language = lang
    desk_agent.save(update_fields=["language"])
    body = client_for(desk_agent).get(url("incidents:queue")).content.decode()
    # The number sits in the phrase where the language puts it; the script fills it in.
    assert f'data-bulk-count="{phrase}">{none_ticked}</p>' in body


@pytest.mark.django_db
def test_requester_cannot_bulk_assign(client_for, requester, incident):
    response = client_for(requester).post(
        url("incidents:bulk-assign"), {"number": [incident.number], "assignee": "me"}
    )
    assert response.status_code == 403


# --- recording on someone's behalf ---------------------------------------------------------


@pytest.mark.django_db
def test_agent_records_an_incident_for_a_caller(client_for, desk_agent, requester, service):
    data = report_data(service, requester=requester.email, channel="phone")
    client = client_for(desk_agent)
    response = client.post(url("incidents:record"), data)
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.requester == requester
    assert incident.reported_by == desk_agent
    assert incident.channel == "phone"
    page = client.get(response.url).content.decode()
    assert f"{incident.number} recorded; we will respond by" in page


@pytest.mark.django_db
def test_the_recording_form_speaks_of_the_requester_to_the_agent_and_to_the_requester_as_you(
    client_for, desk_agent, requester, service
):
    agent_page = client_for(desk_agent).get(url("incidents:record")).content.decode()
    portal_page = client_for(requester).get(url("portal:report")).content.decode()

    for said_to_the_requester in (
        "You can add comments and files.",
        "What you were doing",
        "how soon it hurts your work",
    ):
        assert said_to_the_requester not in agent_page
        assert said_to_the_requester in portal_page
    assert "The requester gets the number" in agent_page
    assert "What they were doing, what they expected" in agent_page
    assert "how soon it hurts the requester" in agent_page


@pytest.mark.django_db
def test_recording_for_an_unknown_person_names_the_field(client_for, desk_agent, service):
    data = report_data(service, requester="nobody@example.com", channel="walk_in")
    response = client_for(desk_agent).post(url("incidents:record"), data)
    assert response.status_code == 422
    assert "Nobody with this user name or e-mail address." in response.content.decode()
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_requester_suggestions_for_agents(client_for, desk_agent, make_user):
    make_user(Role.REQUESTER, username="wang.fang", name="Wang Fang")
    response = client_for(desk_agent).get(url("incidents:people-options"), {"requester": "wang"})
    assert '<option value="wang.fang">Wang Fang' in response.content.decode()


# --- the agent's incident page -------------------------------------------------------------


@pytest.mark.django_db
def test_agent_page_shows_details_clocks_and_the_steps_allowed(client_for, desk_agent, incident):
    body = client_for(desk_agent).get(detail(incident)).content.decode()
    assert incident.number in body
    assert "Respond by" in body
    assert "Resolve by" in body
    for step in ("assign-me", "start", "resolve", "cancel"):
        assert f'data-step="{step}"' in body
    assert 'data-step="confirm"' not in body
    assert 'data-step="resume"' not in body
    assert f'name="version" value="{incident.version}"' in body


@pytest.mark.django_db
def test_agent_assigns_to_self_starts_and_resolves(client_for, desk_agent, incident):
    client = client_for(desk_agent)
    assert client.post(act(incident, "assign-me"), {"version": 1}).status_code == 302
    assert refreshed(incident).assignee == desk_agent
    version = refreshed(incident).version
    assert client.post(act(incident, "start"), {"version": version}).status_code == 302
    assert refreshed(incident).status == Status.IN_PROGRESS
    version = refreshed(incident).version
    missing = client.post(act(incident, "resolve"), {"version": version, "code": "", "notes": ""})
    assert missing.status_code == 422
    assert missing.context["bound_key"] == "resolve"
    done = client.post(
        act(incident, "resolve"), {"version": version, "code": "fixed", "notes": "New battery."}
    )
    assert done.status_code == 302
    assert refreshed(incident).status == Status.RESOLVED


@pytest.mark.django_db
def test_stale_version_says_so_and_keeps_the_typed_text(client_for, desk_agent, incident):
    client = client_for(desk_agent)
    read_at = incident.version
    actions.start(actor=desk_agent, incident=refreshed(incident))  # someone else moves it on
    response = client.post(
        act(incident, "resolve"),
        {"version": read_at, "code": "workaround", "notes": "Use the spare laptop for now."},
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "Someone else changed" in body
    assert "Use the spare laptop for now.</textarea>" in body
    assert '<option value="workaround" selected>' in body
    # The form now carries the current version, so sending it again works.
    assert f'name="version" value="{refreshed(incident).version}"' in body
    assert refreshed(incident).status == Status.IN_PROGRESS


@pytest.mark.django_db
def test_wrong_step_for_the_status_shows_the_lifecycle_message(client_for, desk_agent, incident):
    response = client_for(desk_agent).post(act(incident, "resume"), {"version": incident.version})
    assert response.status_code == 409
    assert "cannot be moved with" in response.content.decode()


@pytest.mark.django_db
def test_hold_asks_what_it_waits_for_and_pauses_the_clock(client_for, desk_agent, incident):
    client = client_for(desk_agent)
    actions.start(actor=desk_agent, incident=incident)
    response = client.post(
        act(incident, "hold"),
        {"version": refreshed(incident).version, "reason": "awaiting_supplier", "note": "RMA"},
    )
    assert response.status_code == 302
    held = refreshed(incident)
    assert held.status == Status.ON_HOLD
    body = client.get(detail(incident)).content.decode()
    assert 'class="sla sla-paused"' in body
    assert 'data-step="resume"' in body


@pytest.mark.django_db
def test_assign_to_another_team_needs_a_reason_and_counts(client_for, desk_agent, incident):
    other = ServiceFactory().team
    client = client_for(desk_agent)
    response = client.post(
        act(incident, "assign"), {"version": 1, "team": other.pk, "assignee": "", "reason": ""}
    )
    assert response.status_code == 422
    assert "Say why the incident is being reassigned." in response.content.decode()
    response = client.post(
        act(incident, "assign"),
        {"version": 1, "team": other.pk, "assignee": "", "reason": "Network fault"},
    )
    assert response.status_code == 302
    assert refreshed(incident).team == other
    assert refreshed(incident).reassignment_count == 1


@pytest.mark.django_db
def test_an_incident_given_to_a_team_out_of_view_leads_to_the_queue_saying_where_it_went(
    client_for, desk_agent, incident
):
    other = ServiceFactory().team
    other.name = "Network"
    other.save(update_fields=["name"])
    client = client_for(desk_agent)

    response = client.post(
        act(incident, "assign"),
        {"version": 1, "team": other.pk, "assignee": "", "reason": "Network fault"},
        follow=True,
    )

    assert response.redirect_chain == [(url("incidents:queue"), 302)]
    assert response.status_code == 200
    body = response.content.decode()
    assert f"{incident.number} is now with Network and has left your view." in body
    assert client.get(detail(incident)).status_code == 404  # out of their view indeed


@pytest.mark.django_db
def test_an_incident_given_to_a_team_still_in_view_stays_on_its_page(
    client_for, lead, desk_agent, incident, service
):
    response = client_for(lead).post(
        act(incident, "assign"),
        {"version": 1, "team": service.team.pk, "assignee": desk_agent.pk, "reason": ""},
    )
    assert response.status_code == 302
    assert response.url == detail(incident)


@pytest.mark.django_db
def test_opening_a_form_s_address_leads_to_the_incident_page(client_for, desk_agent, incident):
    client = client_for(desk_agent)
    response = client.get(act(incident, "reject"))
    assert (response.status_code, response.url) == (302, detail(incident))
    assert client.get(act(incident, "explode")).status_code == 404


@pytest.mark.django_db
def test_opening_a_form_s_address_of_an_incident_out_of_view_is_404(client_for, incident):
    stranger = agent_in(ServiceFactory().team)
    assert client_for(stranger).get(act(incident, "reject")).status_code == 404


@pytest.mark.django_db
def test_reassignment_count_is_shown(client_for, lead, desk_agent, incident, service):
    colleague = agent_in(service.team)
    actions.assign(actor=lead, incident=incident, assignee=desk_agent)
    actions.assign(actor=lead, incident=refreshed(incident), assignee=colleague, reason="Away")
    body = client_for(lead).get(detail(incident)).content.decode()
    assert "Reassigned 1 time" in body


@pytest.mark.django_db
def test_assignee_options_follow_the_team(client_for, desk_agent, service):
    body = (
        client_for(desk_agent)
        .get(url("incidents:assignee-options"), {"team": service.team.pk})
        .content.decode()
    )
    assert f'<option value="{desk_agent.pk}">Ada Agent</option>' in body


@pytest.mark.django_db
def test_bulk_assignee_options_offer_me_only_in_my_own_team(client_for, desk_agent, service):
    other_team = ServiceFactory(name="Printers").team
    colleague = agent_in(other_team, name="Bo Printer")
    client = client_for(desk_agent)
    me = '<option value="me">Me</option>'

    mine = client.get(url("incidents:assignee-options"), {"team": service.team.pk, "bulk": "1"})
    theirs = client.get(url("incidents:assignee-options"), {"team": other_team.pk, "bulk": "1"})
    each_own = client.get(url("incidents:assignee-options"), {"team": "", "bulk": "1"})

    assert me in mine.content.decode()
    assert me not in theirs.content.decode()
    assert f'<option value="{colleague.pk}">Bo Printer</option>' in theirs.content.decode()
    assert me in each_own.content.decode()


@pytest.mark.django_db
def test_agent_comments_internally_and_logs_work(client_for, desk_agent, incident, requester):
    client = client_for(desk_agent)
    client.post(act(incident, "comment"), {"body": "Check BIOS.", "visibility": "internal"})
    client.post(act(incident, "worklog"), {"minutes": "25", "body": "Opened the case."})
    comment = incident.events.get(kind=EventKind.COMMENT)
    assert not comment.public
    work = incident.events.get(kind=EventKind.WORKLOG)
    assert work.minutes == 25
    body = client.get(detail(incident)).content.decode()
    assert "Logged 25 minutes of work" in body
    assert "Internal" in body
    bad = client.post(act(incident, "worklog"), {"minutes": "0"})
    assert bad.status_code == 422
    assert "Ensure this value is greater than or equal to 1." in bad.content.decode()


@pytest.mark.django_db
def test_priority_change_recomputes_and_override_needs_the_permission(
    client_for, desk_agent, lead, incident
):
    client = client_for(desk_agent)
    response = client.post(
        act(incident, "priority"), {"version": 1, "impact": "1", "urgency": "1", "priority": "5"}
    )
    assert response.status_code == 302
    assert refreshed(incident).priority == 1  # the override field is not theirs: ignored
    lead_client = client_for(lead)
    version = refreshed(incident).version
    missing = lead_client.post(
        act(incident, "priority"),
        {"version": version, "impact": "1", "urgency": "1", "priority": "4"},
    )
    assert missing.status_code == 422
    assert "Say why the priority differs from the matrix." in missing.content.decode()
    lead_client.post(
        act(incident, "priority"),
        {"version": version, "impact": "1", "urgency": "1", "priority": "4", "reason": "VIP"},
    )
    assert refreshed(incident).priority == 4


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_incident_page_query_count_does_not_grow_with_events(
    client_for, desk_agent, incident, count, django_assert_max_num_queries
):
    for n in range(count):
        actions.comment(actor=desk_agent, incident=incident, body=f"Note {n}", public=n % 2 == 0)
    actions.log_work(actor=desk_agent, incident=incident, minutes=5)
    actions.add_attachment(actor=desk_agent, incident=incident, upload=upload())
    client = client_for(desk_agent)
    client.get(detail(incident))
    with django_assert_max_num_queries(12):
        response = client.get(detail(incident))
    assert len(response.context["events"]) == count + 2
    theirs = client_for(incident.requester)
    theirs.get(detail(incident))
    with django_assert_max_num_queries(9):
        theirs.get(detail(incident))


# --- text is shown, never run ---------------------------------------------------------------


@pytest.mark.django_db
def test_html_and_script_typed_anywhere_is_escaped(client_for, requester, service, desk_agent):
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    client = client_for(requester)
    client.post(url("portal:report"), report_data(service, title=f"Help {script}"[:200]))
    incident = Incident.objects.get()
    actions.update_incident(actor=desk_agent, incident=incident, description=f"**Bold** {script}")
    client.post(act(incident, "comment"), {"body": f"[link](javascript:alert(1)) {script}"})
    for viewer in (client, client_for(desk_agent)):
        body = viewer.get(detail(incident)).content.decode()
        assert "<script>alert" not in body
        assert "<img src=x" not in body
        assert "javascript:alert" not in body.replace("[link](javascript:alert(1))", "")
        assert "&lt;script&gt;alert" in body
        assert "<strong>Bold</strong>" in body
    queue = client_for(desk_agent).get(url("incidents:queue")).content.decode()
    assert "<script>alert" not in queue


def test_markdown_filter_keeps_formatting_and_drops_active_content():
    from keel.web.templatetags.keel import markdown

    html = markdown('# Title\n\n*a* [site](https://example.com) <iframe src="x"></iframe>')
    assert "<h1>Title</h1>" in html
    assert "<em>a</em>" in html
    assert 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "<iframe" not in html
    assert markdown("") == ""
    assert "javascript:" not in markdown("[x](javascript:alert(1))").replace("(javascript:", "")


# --- major incidents -----------------------------------------------------------------------


@pytest.mark.django_db
def test_major_incident_updates_children_and_review_before_closure(
    client_for, lead, requester, service
):
    major = open_incident(requester=requester, service=service, impact=1, urgency=1)
    child = open_incident(service=service)
    client = client_for(lead)
    assert "Declare a major incident" in client.get(detail(major)).content.decode()
    response = client.post(act(major, "major"), {"manager": lead.pk, "reason": "Site down"})
    assert response.status_code == 302
    assert refreshed(major).is_major
    client.post(act(major, "communicate"), {"audience": "All staff", "body": "Working on it."})
    client.post(act(major, "link"), {"child": child.number})
    assert refreshed(child).parent_id == major.pk
    unknown = client.post(act(major, "link"), {"child": "INC-999999"})
    assert "There is no such incident that you can see." in unknown.content.decode()
    actions.resolve(
        actor=lead, incident=refreshed(major), code="fixed", notes="Restarted the switch."
    )
    closing = client.post(act(major, "close"), {})
    assert closing.status_code == 409
    assert "closes only after its post-incident review is completed" in closing.content.decode()
    incomplete = client.post(act(major, "review"), {"timeline": "10:00 down", "complete": "1"})
    assert incomplete.status_code == 422
    assert "Fill this in before completing the review." in incomplete.content.decode()
    assert "Agree at least one action, with an owner." in incomplete.content.decode()
    client.post(act(major, "review-action"), {"description": "Add a spare", "owner": lead.pk})
    review = {
        "timeline": "10:00 down; 11:00 up",
        "cause": "Switch firmware",
        "went_well": "Fast updates",
        "went_badly": "No spare",
        "complete": "1",
    }
    assert client.post(act(major, "review"), review).status_code == 302
    page = client.get(detail(major)).content.decode()
    assert "Working on it." in page
    assert child.number in page
    assert "Add a spare" in page
    response = client.post(act(major, "confirm"), {"version": refreshed(major).version})
    assert response.status_code == 302
    assert refreshed(major).status == Status.CLOSED


@pytest.mark.django_db
def test_the_requester_confirms_a_major_incident_before_its_review_and_is_told_what_follows(
    client_for, lead, requester, service
):
    major = open_incident(requester=requester, service=service, impact=1, urgency=1)
    actions.declare_major(actor=lead, incident=major, manager=lead)
    actions.resolve(actor=lead, incident=refreshed(major), code="fixed", notes="New switch.")
    owner = client_for(requester)
    assert "Is it fixed?" in owner.get(detail(major)).content.decode()

    response = owner.post(
        act(major, "confirm"), {"version": refreshed(major).version, "rating": "5"}, follow=True
    )

    page = response.content.decode()
    assert response.redirect_chain == [(detail(major), 302)]
    assert "The team closes the incident once its post-incident review is completed." in page
    assert "You confirmed the fix." in page
    assert "Is it fixed?" not in page  # not asked twice
    assert "Confirmed the resolution; the incident closes once its post-incident" in page
    assert refreshed(major).status == Status.RESOLVED
    staff_page = client_for(lead).get(detail(major)).content.decode()
    assert 'data-step="confirm"' not in staff_page


@pytest.mark.django_db
def test_a_suggested_audience_reads_in_each_reader_s_language_and_a_typed_one_as_written(
    client_for, lead, desk_agent, requester, service
):
    major = open_incident(requester=requester, service=service, impact=1, urgency=1)
    actions.declare_major(actor=lead, incident=major, manager=lead)
    lead.language = "zh-hans"
    lead.save(update_fields=["language"])
    client = client_for(lead)
    form = client.get(detail(major)).content.decode()
    assert 'value="该服务的所有用户"' in form  # offered in the author's language

    client.post(act(major, "communicate"), {"audience": "该服务的所有用户", "body": "正在处理。"})
    client.post(act(major, "communicate"), {"audience": "Finance team", "body": "ETA 11:00."})

    stored = [e.data["audience"] for e in IncidentEvent.objects.filter(kind="communication")]
    assert stored == ["service_users", "Finance team"]
    english = client_for(desk_agent).get(detail(major)).content.decode()
    assert "Update to All users of the service" in english
    assert "<strong>All users of the service</strong>" in english
    assert "Update to Finance team" in english
    chinese = client.get(detail(major)).content.decode()
    assert "发布通报（对象：该服务的所有用户）" in chinese


@pytest.mark.django_db
def test_agent_cannot_declare_a_major_incident(client_for, desk_agent, incident):
    assert (
        "Declare a major incident"
        not in client_for(desk_agent).get(detail(incident)).content.decode()
    )
    response = client_for(desk_agent).post(act(incident, "major"), {"manager": desk_agent.pk})
    assert response.status_code == 403


# --- the page in Chinese -------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_are_translated_into_chinese(client_for, requester, desk_agent, incident):
    for person in (requester, desk_agent):
        person.language = "zh-hans"
        person.save(update_fields=["language"])
    assert "报告问题" in client_for(requester).get(url("portal:report")).content.decode()
    queue = client_for(desk_agent).get(url("incidents:queue")).content.decode()
    assert "事件" in queue
    assert "响应剩余" in queue  # no one has answered yet
