"""What incidents tell people by e-mail: to whom, when (only after commit), in their own language
and time zone, noted in the timeline, and never as HTML-escaped text."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import transaction
from django.test import override_settings

from keel.catalog.tests.factories import ServiceFactory
from keel.core.roles import Role
from keel.core.tests.factories import TeamFactory
from keel.incidents import actions, notify
from keel.incidents.lifecycle import HoldReason
from keel.incidents.models import EventKind, Incident
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
CJK = re.compile(r"[\u4e00-\u9fff]")
T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


@pytest.fixture
def lead(make_user):
    return make_user(Role.AGENT, Role.TEAM_LEAD, name="Lena Lead")


@pytest.fixture
def owner(make_user):
    return make_user(Role.SERVICE_OWNER, name="Omar Owner")


@pytest.fixture
def service(lead, owner):
    team = TeamFactory(name="Service desk", lead=lead)
    team.memberships.create(user=lead)
    return ServiceFactory(name="Laptops", team=team, owner=owner)


@pytest.fixture
def desk(service):
    return agent_in(service.team, name="Dana Desk")


@pytest.fixture
def incident(service, requester):
    """A P3 incident recorded at T0 (respond by T0 + 2 h), without its acknowledgement sent."""
    return open_incident(requester=requester, service=service, at=T0, notify_requester=False)


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """``with sent():`` runs what was queued for after commit, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def to_whom() -> list[set[str]]:
    return [set(message.to) for message in mail.outbox]


def fresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


# --- the acknowledgement -----------------------------------------------------------------------


def test_the_acknowledgement_names_the_number_and_the_local_respond_by_time(
    service, requester, sent
):
    requester.time_zone = "Asia/Shanghai"
    requester.save(update_fields=["time_zone"])

    with sent():
        incident = open_incident(requester=requester, service=service, at=T0)

    [message] = mail.outbox
    assert message.subject == f"[{incident.number}] Recorded: Laptop does not start"
    assert "We will respond by 2025-03-03 12:00 CST." in message.body
    assert f"/incidents/{incident.number}/" in message.body


def test_the_acknowledgement_is_noted_in_the_timeline(service, requester, sent):
    with sent():
        incident = open_incident(requester=requester, service=service, at=T0)

    event = incident.events.get(kind=EventKind.EMAIL)
    assert event.data == {"to": [requester.email], "template": "acknowledge"}
    assert not event.public


def test_a_requester_without_an_email_address_gets_no_email(service, make_user, sent):
    person = make_user(Role.REQUESTER, email="")

    with sent():
        incident = open_incident(requester=person, service=service)

    assert mail.outbox == []
    assert not incident.events.filter(kind=EventKind.EMAIL).exists()


def test_a_rolled_back_recording_sends_nothing(service, requester, sent):
    def record_then_fail() -> None:
        with transaction.atomic():
            open_incident(requester=requester, service=service)
            raise RuntimeError("the request failed after the incident was written")

    with sent() as callbacks, pytest.raises(RuntimeError):
        record_then_fail()

    assert callbacks == []
    assert mail.outbox == []


def test_an_unknown_time_zone_falls_back_to_utc(service, requester, sent):
    requester.time_zone = "Mars/Olympus_Mons"
    requester.save(update_fields=["time_zone"])

    with sent():
        open_incident(requester=requester, service=service, at=T0)

    assert "2025-03-03 04:00 UTC" in mail.outbox[0].body


def test_text_is_not_html_escaped_in_plain_text_emails(service, requester, sent):
    with sent():
        open_incident(requester=requester, service=service, title="R&D's <lab> printer")

    [message] = mail.outbox
    assert "R&D's <lab> printer" in message.body
    assert "&amp;" not in message.body


# --- the lifecycle's e-mails -------------------------------------------------------------------


def test_the_new_assignee_is_told(incident, lead, desk, sent):
    with sent():
        actions.assign(actor=lead, incident=incident, assignee=desk)

    assert to_whom() == [{desk.email}]
    assert "Assigned to you" in mail.outbox[0].subject
    assert "resolve by 2025-03-04 02:00 UTC" in mail.outbox[0].body


def test_taking_an_incident_yourself_sends_nothing(incident, desk, sent):
    with sent():
        actions.assign(actor=desk, incident=incident, assignee=desk)

    assert mail.outbox == []


def test_the_requester_is_asked_to_confirm_a_resolution(incident, desk, requester, sent):
    with sent():
        actions.resolve(actor=desk, incident=incident, code="fixed", notes="Replaced the disk")

    assert to_whom() == [{requester.email}]
    assert "Replaced the disk" in mail.outbox[0].body


def test_a_rejected_resolution_goes_back_to_the_assignee(incident, desk, requester, sent):
    actions.assign(actor=desk, incident=incident, assignee=desk)
    actions.resolve(actor=desk, incident=incident, code="fixed", notes="Rebooted")

    with sent():
        actions.reject(actor=requester, incident=incident, reason="Still broken")

    assert to_whom() == [{desk.email}]
    assert "Reopened" in mail.outbox[0].subject


def test_an_unassigned_reopened_incident_goes_to_the_team_lead(
    incident, desk, lead, requester, sent
):
    actions.resolve(actor=desk, incident=incident, code="fixed", notes="Rebooted")

    with sent():
        actions.reopen(actor=requester, incident=incident, reason="Still broken")

    assert to_whom() == [{lead.email}]


def test_waiting_for_the_requester_asks_them_to_reply(incident, desk, requester, sent):
    actions.start(actor=desk, incident=incident)

    with sent():
        actions.hold(actor=desk, incident=incident, reason=HoldReason.AWAITING_REQUESTER)

    assert to_whom() == [{requester.email}]


def test_waiting_for_a_supplier_tells_the_requester_nothing(incident, desk, sent):
    actions.start(actor=desk, incident=incident)

    with sent():
        actions.hold(actor=desk, incident=incident, reason=HoldReason.AWAITING_SUPPLIER)

    assert mail.outbox == []


# --- the conversation --------------------------------------------------------------------------


def test_an_agents_public_reply_is_sent_to_the_requester(incident, desk, requester, sent):
    with sent():
        actions.comment(actor=desk, incident=incident, body='Try "restart" & <wait>')

    assert to_whom() == [{requester.email}]
    assert 'Try "restart" & <wait>' in mail.outbox[0].body


def test_the_requesters_reply_is_sent_to_the_assignee(incident, desk, requester, sent):
    actions.assign(actor=desk, incident=incident, assignee=desk)

    with sent():
        actions.comment(actor=requester, incident=incident, body="The serial is 12345")

    assert to_whom() == [{desk.email}]


def test_the_requesters_reply_to_an_unassigned_incident_goes_to_the_team_lead(
    incident, lead, requester, sent
):
    with sent():
        actions.comment(actor=requester, incident=incident, body="Any news?")

    assert to_whom() == [{lead.email}]


def test_an_internal_note_is_sent_to_nobody(incident, desk, sent):
    with sent():
        actions.comment(actor=desk, incident=incident, body="Check warranty", public=False)

    assert mail.outbox == []


# --- priority 1 and major incidents ------------------------------------------------------------


def test_a_p1_incident_alerts_the_team_lead_and_the_service_owner(
    service, requester, lead, owner, sent
):
    with sent():
        open_incident(
            requester=requester, service=service, impact=1, urgency=1, notify_requester=False
        )

    assert to_whom() == [{lead.email}, {owner.email}]
    assert all("Priority 1" in message.subject for message in mail.outbox)


@override_settings(KEEL_P1_IS_MAJOR=False)
def test_p1_alerts_can_be_turned_off(service, requester, sent):
    with sent():
        open_incident(
            requester=requester, service=service, impact=1, urgency=1, notify_requester=False
        )

    assert mail.outbox == []


def test_raising_an_incident_to_p1_alerts_the_team_lead_and_the_service_owner(
    incident, desk, lead, owner, sent
):
    with sent():
        actions.change_priority(actor=desk, incident=incident, impact=1, urgency=1)

    assert to_whom() == [{lead.email}, {owner.email}]


def test_declaring_a_major_incident_alerts_its_manager_lead_and_owner(
    incident, lead, owner, make_user, sent
):
    manager = make_user(Role.AGENT, Role.TEAM_LEAD, name="Mia Manager")

    with sent():
        actions.declare_major(actor=lead, incident=incident, manager=manager)

    assert to_whom() == [{manager.email}, {lead.email}, {owner.email}]
    assert "MAJOR INCIDENT" in mail.outbox[0].subject


# --- one e-mail per person, in their language and time zone ------------------------------------


def test_each_recipient_gets_the_time_in_their_own_zone(incident, desk, lead):
    desk.time_zone = "Asia/Shanghai"
    desk.save(update_fields=["time_zone"])
    actions.assign(actor=desk, incident=incident, assignee=desk)

    notify.sla_warning(incident.pk)

    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert "2025-03-04 10:00 CST" in bodies[desk.email]
    assert "2025-03-04 02:00 UTC" in bodies[lead.email]


def test_each_recipient_gets_the_email_in_their_own_language(incident, desk, lead):
    lead.language = "zh-hans"
    lead.save(update_fields=["language"])
    actions.assign(actor=desk, incident=incident, assignee=desk)

    notify.sla_warning(incident.pk)

    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects[desk.email].startswith(f"[{incident.number}] Deadline approaching")
    assert CJK.search(subjects[lead.email]), subjects[lead.email]
    assert incident.title in subjects[lead.email]


def test_the_same_person_in_two_roles_gets_one_email(incident, lead, service):
    actions.assign(actor=lead, incident=incident, assignee=lead)

    notify.sla_breached(incident.pk)

    assert sorted(m.to[0] for m in mail.outbox) == sorted([lead.email, service.owner.email])


def test_inactive_people_are_not_emailed(incident, lead, owner):
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    notify.sla_breached(incident.pk)

    assert to_whom() == [{lead.email}]


def test_a_notice_for_a_deleted_incident_is_dropped():
    notify.acknowledge(999_999)

    assert mail.outbox == []


def test_one_failing_notice_does_not_stop_the_rest_of_the_sweeps_notices(
    incident, service, requester, lead, monkeypatch, caplog
):
    other = open_incident(requester=requester, service=service, notify_requester=False)
    real = notify.sla_warning

    def flaky(pk: int) -> None:
        if pk == incident.pk:
            raise ConnectionError("the mail server hung up")
        real(pk)

    monkeypatch.setattr(notify, "sla_warning", flaky)

    with caplog.at_level(logging.ERROR, logger="keel.incidents.notify"):
        notify.sla_notices({"warning": [incident.pk, other.pk]})

    assert [m.subject for m in mail.outbox] == [
        f"[{other.number}] Deadline approaching: {other.title}"
    ]
    assert "could not send the warning notice" in caplog.text
