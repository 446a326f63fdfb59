"""Timeline lines for contacts and for activities imported from another tool's log."""

from __future__ import annotations

from types import SimpleNamespace

from keel.incidents.models import Channel, EventKind
from keel.incidents.templatetags.incidents import event_line


def _event(kind: str, **data: object) -> SimpleNamespace:
    return SimpleNamespace(
        kind=kind,
        data=data,
        minutes=None,
        get_kind_display=lambda: str(EventKind(kind).label),
    )


def test_a_contact_names_its_channel_and_number():
    line = event_line(_event(EventKind.INTERACTION, interaction="CON-000006", channel="phone"))
    assert line == f"Contact: {Channel.PHONE.label} (CON-000006)"
    email = event_line(_event(EventKind.INTERACTION, interaction="CON-000007", channel="email"))
    assert email == "Contact: E-mail (CON-000007)"


def test_a_contact_with_missing_details_still_reads_well():
    assert event_line(_event(EventKind.INTERACTION, interaction="CON-000008")) == (
        "Contact: CON-000008"
    )
    assert event_line(_event(EventKind.INTERACTION)) == "Contact"


def test_an_imported_activity_names_the_activity_and_team():
    line = event_line(
        _event(EventKind.ACTIVITY, activity="Accepted / In Progress", team="G97 <2nd>")
    )
    assert line == "Activity in the source: Accepted / In Progress (G97 &lt;2nd&gt;)"
    assert event_line(_event(EventKind.ACTIVITY, activity="Queued")) == (
        "Activity in the source: Queued"
    )


def test_an_imported_status_change_reads_in_the_source_s_words():
    event = SimpleNamespace(
        kind=EventKind.STATUS, data={"activity": "Closed", "source": "bpic2014"}
    )
    assert str(event_line(event)) == "Status in the source: Closed"
