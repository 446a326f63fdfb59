"""The contacts page, the incident page's contacts panel and the report page, for each role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from keel.catalog.tests.factories import ServiceFactory
from keel.core.roles import Role
from keel.core.tests.factories import TeamFactory
from keel.incidents import actions
from keel.incidents.models import EventKind, Incident, IncidentEvent, Interaction
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
CONTACTS = "/incidents/contacts/"
REPORTS = "/incidents/reports/"


@pytest.fixture
def service(db):
    return ServiceFactory(name="Laptops")


@pytest.fixture
def desk_agent(service):
    return agent_in(service.team, name="Ada Agent", username="ada")


@pytest.fixture
def caller(make_user):
    return make_user(Role.REQUESTER, name="Carl Caller", username="carl")


@pytest.fixture
def incident(caller, service):
    return open_incident(requester=caller, service=service)


def log(agent, **values):
    values.setdefault("summary", "Password reset")
    return actions.record_interaction(actor=agent, channel=values.pop("channel", "phone"), **values)


def form_data(**overrides):
    data = {
        "channel": "phone",
        "contact": "carl",
        "summary": "Could not log in; reset the password.",
        "service": "",
        "category": "",
        "minutes": "4",
        "outcome": "resolved",
        "incident": "",
        "title": "",
        "impact": "",
        "urgency": "",
    }
    data.update(overrides)
    return data


# --- the contacts page --------------------------------------------------------------------------


def test_an_agent_sees_recent_contacts_and_the_form(client_for, desk_agent, caller):
    log(desk_agent, contact=caller, resolved_first_contact=True)
    response = client_for(desk_agent).get(CONTACTS)
    assert response.status_code == 200
    page = response.content.decode()
    assert "CON-000001" in page
    assert "Carl Caller" in page
    assert "First contact" in page
    assert 'id="log-contact"' in page


@pytest.mark.parametrize("role", [Role.REQUESTER, Role.CHANGE_MANAGER])
def test_people_who_do_not_read_contacts_are_refused(client_for, make_user, role):
    client = client_for(make_user(role))
    assert client.get(CONTACTS).status_code == 403
    assert client.post(CONTACTS, form_data()).status_code == 403
    assert not Interaction.objects.exists()


def test_a_department_manager_is_refused(client_for, department_manager):
    assert client_for(department_manager).get(CONTACTS).status_code == 403


def test_an_auditor_reads_contacts_but_has_no_form_and_cannot_post(client_for, auditor, desk_agent):
    log(desk_agent)
    client = client_for(auditor)
    response = client.get(CONTACTS)
    assert response.status_code == 200
    assert 'id="log-contact"' not in response.content.decode()
    assert client.post(CONTACTS, form_data()).status_code == 403


def test_logging_a_contact_resolved_at_first_contact(client_for, desk_agent, caller):
    response = client_for(desk_agent).post(CONTACTS, form_data(), follow=True)
    contact = Interaction.objects.get()
    assert contact.contact == caller
    assert contact.resolved_first_contact is True
    assert contact.handle_seconds == 240
    assert "Contact CON-000001 recorded." in response.content.decode()


def test_logging_a_contact_that_opens_an_incident_goes_to_the_incident(
    client_for, desk_agent, caller, service
):
    response = client_for(desk_agent).post(
        CONTACTS,
        form_data(
            outcome="incident",
            service=str(service.pk),
            summary="VPN drops every hour",
            impact="3",
            urgency="2",
        ),
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[incident.number])
    assert incident.requester == caller
    assert Interaction.objects.get().incident == incident


def test_logging_a_contact_about_an_existing_incident(client_for, desk_agent, incident):
    client_for(desk_agent).post(CONTACTS, form_data(outcome="logged", incident=incident.number))
    assert Interaction.objects.get().incident == incident


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"summary": "", "outcome": "logged"}, "summary", "Say what the contact was about."),
        ({"contact": "nobody"}, "contact", "Nobody with this user name or e-mail address."),
        ({"minutes": "-3"}, "minutes", "greater than or equal to 0"),
        ({"channel": "fax"}, "channel", "Select a valid choice."),
        ({"outcome": "incident"}, "impact", "Choose a level for the new incident."),
        (
            {"outcome": "incident", "impact": "3", "urgency": "3"},
            "service",
            "Choose the service the new incident is about.",
        ),
        (
            {"outcome": "logged", "incident": "INC-999999"},
            "incident",
            "There is no incident with this number that you can see.",
        ),
    ],
)
def test_bad_input_is_shown_next_to_its_field(
    client_for, desk_agent, caller, overrides, field, message
):
    response = client_for(desk_agent).post(CONTACTS, form_data(**overrides))
    assert response.status_code == 422
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert not Interaction.objects.exists()
    assert not Incident.objects.exists()


def test_an_incident_out_of_scope_reads_as_unknown(client_for, desk_agent, caller):
    elsewhere = open_incident(requester=caller, service=ServiceFactory(team=TeamFactory()))
    response = client_for(desk_agent).post(
        CONTACTS, form_data(outcome="logged", incident=elsewhere.number)
    )
    assert response.status_code == 422
    assert "incident" in response.context["form"].errors


def test_filters_narrow_the_list(client_for, desk_agent):
    now = timezone.now()
    log(desk_agent, channel="chat", resolved_first_contact=True, started_at=now)
    log(desk_agent, channel="phone", started_at=now - timedelta(days=3))
    client = client_for(desk_agent)

    def numbers(**params):
        rows = client.get(CONTACTS, params, headers=HTMX).context["rows"]
        return [r.number for r in rows]

    assert numbers(channel="chat") == ["CON-000001"]
    assert numbers(resolved="no") == ["CON-000002"]
    since = (now - timedelta(days=1)).date().isoformat()
    assert numbers(since=since) == ["CON-000001"]
    assert numbers() == ["CON-000001", "CON-000002"]


def test_a_bad_filter_is_named_and_lists_nothing(client_for, desk_agent):
    log(desk_agent)
    response = client_for(desk_agent).get(CONTACTS, {"since": "soon"}, headers=HTMX)
    assert response.context["rows"] == []
    assert "Give a date as YYYY-MM-DD." in response.content.decode()


def test_htmx_gets_the_table_alone(client_for, desk_agent):
    log(desk_agent)
    response = client_for(desk_agent).get(CONTACTS, headers=HTMX)
    page = response.content.decode()
    assert "data-contacts" in page
    assert "<html" not in page


def test_the_list_pages_newest_first(client_for, desk_agent):
    now = timezone.now()
    for n in range(55):
        log(desk_agent, started_at=now - timedelta(minutes=n))
    client = client_for(desk_agent)
    first = client.get(CONTACTS)
    assert len(first.context["rows"]) == 50
    assert first.context["rows"][0].number == "CON-000001"
    second = client.get(first.context["next_url"])
    assert [r.number for r in second.context["rows"]][-1] == "CON-000055"
    assert second.context["next_url"] == ""


@pytest.mark.parametrize("count", [3, 40])
def test_the_list_takes_the_same_queries_however_many_rows(
    client_for, desk_agent, caller, incident, count, django_assert_max_num_queries
):
    for _n in range(count):
        log(desk_agent, contact=caller, incident=incident)
    client = client_for(desk_agent)
    client.get(CONTACTS)  # warm the session and the catalogue cache
    with django_assert_max_num_queries(12):
        response = client.get(CONTACTS)
    assert len(response.context["rows"]) == count


def test_people_suggestions_for_the_contact_field(client_for, desk_agent, caller, requester):
    response = client_for(desk_agent).get(reverse("incidents:contact-people"), {"contact": "car"})
    assert 'value="carl"' in response.content.decode()
    assert client_for(requester).get(reverse("incidents:contact-people")).status_code == 403


# --- the incident page ----------------------------------------------------------------------------


def test_the_incident_page_lists_its_contacts_for_agents(client_for, desk_agent, caller, incident):
    log(desk_agent, contact=caller, incident=incident, handle_seconds=300, summary="Chasing")
    page = client_for(desk_agent).get(f"/incidents/{incident.number}/").content.decode()
    assert 'id="contacts"' in page
    assert "CON-000001" in page
    assert "5 min" in page
    assert "Log a contact" in page


def test_the_requester_sees_nothing_of_contacts(client_for, desk_agent, caller, incident):
    log(desk_agent, contact=caller, incident=incident, summary="Internal chatter about Carl")
    page = client_for(caller).get(f"/incidents/{incident.number}/").content.decode()
    assert "CON-000001" not in page
    assert "Internal chatter" not in page
    assert 'id="contacts"' not in page


def test_an_agent_logs_a_contact_on_the_incident(client_for, desk_agent, caller, incident):
    response = client_for(desk_agent).post(
        reverse("incidents:act", args=[incident.number, "contact"]),
        {
            "channel": "email",
            "summary": "Sent the log files",
            "minutes": "2",
            "from_requester": "on",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#contacts")
    contact = Interaction.objects.get()
    assert (contact.incident, contact.contact, contact.handle_seconds) == (incident, caller, 120)
    assert IncidentEvent.objects.filter(incident=incident, kind=EventKind.INTERACTION).exists()


def test_a_contact_on_the_incident_needs_a_summary(client_for, desk_agent, incident):
    response = client_for(desk_agent).post(
        reverse("incidents:act", args=[incident.number, "contact"]),
        {"channel": "phone", "summary": ""},
    )
    assert response.status_code == 422
    assert "Say what the contact was about." in response.content.decode()
    assert not Interaction.objects.exists()


def test_a_requester_cannot_post_a_contact_on_their_incident(client_for, caller, incident):
    response = client_for(caller).post(
        reverse("incidents:act", args=[incident.number, "contact"]),
        {"channel": "phone", "summary": "Me calling"},
    )
    assert response.status_code in {403, 422}
    assert not Interaction.objects.exists()


# --- the report page --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", [Role.AGENT, Role.TEAM_LEAD, Role.SERVICE_OWNER, Role.ADMINISTRATOR]
)
def test_staff_read_the_report(client_for, make_user, role):
    response = client_for(make_user(role)).get(REPORTS)
    assert response.status_code == 200
    assert "Median time to resolve" in response.content.decode()


def test_requesters_and_department_managers_do_not(client_for, requester, department_manager):
    assert client_for(requester).get(REPORTS).status_code == 403
    assert client_for(department_manager).get(REPORTS).status_code == 403


def test_the_report_shows_the_figures_and_chart_data(client_for, desk_agent, incident):
    Incident.objects.filter(pk=incident.pk).update(
        resolved_at=incident.created_at + timedelta(hours=3)
    )
    log(desk_agent, resolved_first_contact=True)
    log(desk_agent)
    response = client_for(desk_agent).get(REPORTS)
    page = response.content.decode()
    assert response.context["figures"].median_hours_to_resolve == pytest.approx(3.0)
    assert '<span class="stat-value">3 h</span>' in page
    assert "50.0 %" in page
    assert 'id="report-data"' in page
    assert 'id="priority-chart"' in page
    assert "incident-reports.js" in page


def test_the_report_filters_by_service_and_names_a_bad_date(client_for, desk_agent, incident):
    other = ServiceFactory()
    open_incident(service=other)
    client = client_for(desk_agent)
    assert client.get(REPORTS, {"service": other.pk}).context["figures"].incidents == 1
    response = client.get(REPORTS, {"since": "last week"})
    assert "Give a date as YYYY-MM-DD." in response.content.decode()


@pytest.mark.parametrize("count", [2, 12])
def test_the_report_takes_a_fixed_number_of_queries(
    client_for, desk_agent, service, count, django_assert_max_num_queries
):
    for n in range(count):
        incident = open_incident(service=service, impact=1 + n % 3, urgency=1 + n % 2)
        Incident.objects.filter(pk=incident.pk).update(
            created_at=incident.created_at - timedelta(days=40 * n),
            resolved_at=incident.created_at + timedelta(hours=n),
        )
        log(desk_agent, started_at=timezone.now() - timedelta(days=30 * n))
    client = client_for(desk_agent)
    client.get(REPORTS)
    with django_assert_max_num_queries(15):
        response = client.get(REPORTS)
    assert response.context["figures"].incidents == count


def test_the_navigation_links_contacts_and_reports_for_staff_only(
    client_for, desk_agent, requester
):
    staff_page = client_for(desk_agent).get("/").content.decode()
    assert 'data-key="contacts"' in staff_page
    assert 'data-key="incident-reports"' in staff_page
    portal_page = client_for(requester).get("/").content.decode()
    assert 'data-key="contacts"' not in portal_page
    assert 'data-key="incident-reports"' not in portal_page


def test_the_admin_lists_contacts_read_only(client_for, make_user, desk_agent):
    log(desk_agent)
    admin_user = make_user(Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client = client_for(admin_user)
    listing = client.get("/admin/incidents/interaction/")
    assert listing.status_code == 200
    assert "CON-000001" in listing.content.decode()
    assert client.get("/admin/incidents/interaction/add/").status_code == 403
