"""The shipped generic mappings on small exports shaped like the real ones: ServiceNow's incident
list exported to CSV, and a Jira Service Management issue search exported to CSV."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keel.catalog import queries as catalog
from keel.imports import actions as imports
from keel.imports.mapping import load
from keel.imports.targets import TARGETS
from keel.incidents.models import Incident

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def refused(summary) -> list[tuple[int, str, str]]:
    return [(p.line, p.column, p.message) for _path, p in summary.problems if not p.warning]


def by_id(source: str) -> dict[str, Incident]:
    rows = Incident.objects.filter(import_source=source).select_related("team", "service")
    return {incident.external_id: incident for incident in rows}


# --- ServiceNow ---------------------------------------------------------------------------------

SN_HEADER = [
    "number",
    "short_description",
    "description",
    "state",
    "impact",
    "urgency",
    "priority",
    "category",
    "subcategory",
    "assignment_group",
    "assigned_to",
    "caller_id",
    "opened_at",
    "resolved_at",
    "closed_at",
    "close_code",
    "close_notes",
    "reassignment_count",
    "reopen_count",
    "cmdb_ci",
    "business_service",
    "contact_type",
]


def sn_row(
    number: str,
    state: str = "Closed",
    impact: str = "2 - Medium",
    urgency: str = "2 - Medium",
    group: str = "Service Desk",
    opened: str = "2024-03-04 09:15:00",
    resolved: str = "2024-03-04 11:00:00",
    closed: str = "2024-03-07 11:00:00",
    code: str = "Solved (Permanently)",
    service: str = "Email",
    contact: str = "Phone",
    reassignments: str = "0",
    reopens: str = "0",
    title: str = "Cannot send e-mail",
) -> list[str]:
    return [
        number,
        title,
        "Outlook says the server is unavailable, since 9:00.\nOther users too.",
        state,
        impact,
        urgency,
        "3 - Moderate",
        "Software",
        "Email",
        group,
        "Beth Anglin",
        "Abel Tuter",
        opened,
        resolved,
        closed,
        code,
        "Restarted the mail relay" if code else "",
        reassignments,
        reopens,
        "EXCH-SD-05",
        service,
        contact,
    ]


def servicenow_rows() -> list[list[str]]:
    open_ = {"resolved": "", "closed": "", "code": ""}
    return [
        sn_row("INC0010001", impact="1 - High", urgency="1 - High", group="Network"),  # line 3
        sn_row("INC0010002", state="New", group="", **open_),  # 5
        sn_row("INC0010003", state="In Progress", impact="3 - Low", **open_),  # 7
        sn_row("INC0010004", state="On Hold", group="Hardware", contact="Self-service", **open_),
        sn_row("INC0010005", state="Resolved", closed="", code="Solved (Work Around)"),  # 11
        sn_row("INC0010006", reassignments="2", reopens="1", group="Database"),  # 13
        sn_row("INC0010007", state="Canceled", resolved="", code="", service=""),  # 15
        sn_row("INC0010008", impact="3 - Low", urgency="3 - Low", contact="Email"),  # 17
        sn_row("INC0010009", opened="04/03/2024 09:15"),  # 19: not the export's date format
        sn_row("INC0010010", state="Awaiting Problem"),  # 21: a state the mapping doesn't know
        sn_row("INC0010011", impact="4 - Very Low"),  # 23: no such impact
        sn_row("INC0010012", code="Solved by magic"),  # 25: a close code of one's own
        sn_row("INC0010001", title="The same number again"),  # 27: a duplicate
        sn_row("INC0010013", resolved="2024-03-01 08:00:00"),  # 29: resolved before opened
    ]


@pytest.fixture
def servicenow(tmp_path) -> Path:
    write_csv(tmp_path / "incident.csv", SN_HEADER, servicenow_rows())
    return tmp_path


def servicenow_import(folder: Path, **options):
    mapping = load(MAPPINGS / "servicenow.toml", targets=TARGETS)
    return imports.run_import(mapping, data_dir=folder, **options)


SN_REFUSED = [
    (19, "opened_at", "'04/03/2024 09:15' is not a date in the format %Y-%m-%d %H:%M:%S"),
    (21, "state", "no mapping for the value 'Awaiting Problem' (add it under values)"),
    (23, "impact", "no mapping for the value '4 - Very Low' (add it under values)"),
    (25, "close_code", "no mapping for the value 'Solved by magic' (add it under values)"),
    (27, "number", "the source id INC0010001 appears again (first on line 3)"),
    (
        29,
        "resolved_at",
        "resolved_at (2024-03-01T08:00:00+00:00) is before the incident was recorded "
        "(2024-03-04T09:15:00+00:00)",
    ),
]


@pytest.mark.django_db
def test_servicenow_dry_run_lists_every_bad_row_and_writes_nothing(servicenow):
    summary = servicenow_import(servicenow, dry_run=True)

    assert sorted(refused(summary)) == SN_REFUSED
    assert (summary.files[0].read, summary.files[0].created) == (14, 8)
    assert not Incident.objects.exists()
    assert set(summary.would_create["teams"]) >= {"Network", "Hardware", "Database"}
    assert "General support" in summary.would_create["services"]


@pytest.mark.django_db
def test_servicenow_import_creates_incidents_as_they_were(servicenow):
    summary = servicenow_import(servicenow)

    assert sorted(refused(summary)) == SN_REFUSED
    incidents = by_id("servicenow")
    assert sorted(incidents) == [f"INC001000{n}" for n in range(1, 9)]
    assert {key: i.status for key, i in incidents.items()} == {
        "INC0010001": "closed",
        "INC0010002": "new",
        "INC0010003": "in_progress",
        "INC0010004": "on_hold",
        "INC0010005": "resolved",
        "INC0010006": "closed",
        "INC0010007": "cancelled",
        "INC0010008": "closed",
    }
    # Keel's default matrix is ServiceNow's: 1/1 → P1, 2/2 → P3, 3/2 → P4, 3/3 → P5.
    assert {key: i.priority for key, i in incidents.items()} == {
        "INC0010001": 1,
        "INC0010002": 3,
        "INC0010003": 4,
        "INC0010004": 3,
        "INC0010005": 3,
        "INC0010006": 3,
        "INC0010007": 3,
        "INC0010008": 5,
    }
    first = incidents["INC0010001"]
    assert (first.impact, first.urgency) == (1, 1)
    assert first.team.name == "Network"
    assert incidents["INC0010006"].team.name == "Database"
    # No assignment group: the service's team.
    assert incidents["INC0010002"].team == incidents["INC0010002"].service.team
    assert first.service.name == "Email"
    assert incidents["INC0010007"].service.name == "General support"
    assert first.title == "Cannot send e-mail"
    assert first.description.startswith("Outlook says the server is unavailable")
    assert first.created_at == datetime(2024, 3, 4, 9, 15, tzinfo=UTC)
    assert first.resolved_at == datetime(2024, 3, 4, 11, 0, tzinfo=UTC)
    assert first.closed_at == datetime(2024, 3, 7, 11, 0, tzinfo=UTC)
    assert (first.resolution_code, first.resolution_notes) == ("fixed", "Restarted the mail relay")
    assert incidents["INC0010005"].resolution_code == "workaround"
    assert incidents["INC0010005"].closed_at is None
    cancelled = incidents["INC0010007"]
    assert cancelled.cancelled_at == datetime(2024, 3, 7, 11, 0, tzinfo=UTC)
    assert incidents["INC0010002"].resolved_at is None
    assert (first.channel, incidents["INC0010004"].channel) == ("phone", "portal")
    assert incidents["INC0010008"].channel == "email"
    assert (incidents["INC0010006"].reassignment_count, incidents["INC0010006"].reopen_count) == (
        2,
        1,
    )
    assert first.requester.username == "import-servicenow"


@pytest.mark.django_db
def test_servicenow_rerun_updates_without_duplicates(servicenow):
    servicenow_import(servicenow)
    numbers = dict(Incident.objects.values_list("external_id", "number"))
    rows = servicenow_rows()
    rows[1] = sn_row("INC0010002", state="In Progress", group="Network", resolved="", closed="")
    write_csv(servicenow / "incident.csv", SN_HEADER, rows)

    again = servicenow_import(servicenow)

    assert (again.files[0].created, again.files[0].updated) == (0, 8)
    assert Incident.objects.count() == 8
    assert dict(Incident.objects.values_list("external_id", "number")) == numbers
    changed = Incident.objects.get(external_id="INC0010002")
    assert (changed.status, changed.team.name) == ("in_progress", "Network")


# --- Jira Service Management --------------------------------------------------------------------

JSM_HEADER = [
    "Issue key",
    "Summary",
    "Description",
    "Status",
    "Priority",
    "Impact",
    "Urgency",
    "Request Type",
    "Assignee",
    "Reporter",
    "Created",
    "Resolved",
    "Updated",
    "Resolution",
    "Component/s",
    "Labels",
]


def jsm_row(
    key: str,
    status: str = "Closed",
    priority: str = "Medium",
    impact: str = "Moderate / Limited",
    urgency: str = "Medium",
    created: str = "24/Nov/26 3:41 PM",
    resolved: str = "25/Nov/26 10:05 AM",
    updated: str = "27/Nov/26 12:30 PM",
    resolution: str = "Done",
    component: str = "VPN",
    request_type: str = "Report a system problem",
    summary: str = "VPN drops every few minutes",
) -> list[str]:
    return [
        key,
        summary,
        'Since this morning the VPN "disconnects", see attached log.',
        status,
        priority,
        impact,
        urgency,
        request_type,
        "Jane Agent",
        "Sam Customer",
        created,
        resolved,
        updated,
        resolution,
        component,
        "remote-work",
    ]


def jsm_rows() -> list[list[str]]:
    open_ = {"resolved": "", "resolution": "Unresolved"}
    return [
        jsm_row("ITSM-1", priority="Highest", impact="Extensive / Widespread", urgency="Critical"),
        jsm_row("ITSM-2", status="Waiting for support", **open_),  # line 3
        jsm_row("ITSM-3", status="In Progress", priority="High", **open_),  # 4
        jsm_row("ITSM-4", status="Waiting for customer", priority="Low", **open_),  # 5
        jsm_row("ITSM-5", status="Resolved", priority="Lowest"),  # 6
        jsm_row("ITSM-6", status="Canceled", resolved="", resolution="Won't Do"),  # 7
        jsm_row("ITSM-7", impact="", urgency="", component=""),  # 8: optional fields blank
        jsm_row(
            "ITSM-8",
            created="1/Dec/26 12:05 AM",
            resolved="1/Dec/26 12:45 PM",
            updated="2/Dec/26 9:00 AM",
        ),
        jsm_row("ITSM-9", created="2026-11-24 15:41"),  # 10: not the export's date format
        jsm_row("ITSM-10", priority="Urgent"),  # 11: a priority the mapping doesn't know
        jsm_row("ITSM-11", status="Under review"),  # 12: a status of one's own workflow
        jsm_row("", summary="Key lost"),  # 13
        jsm_row("ITSM-12", summary=""),  # 14
    ]


@pytest.fixture
def jsm(tmp_path) -> Path:
    write_csv(tmp_path / "jsm.csv", JSM_HEADER, jsm_rows())
    return tmp_path


def jsm_import(folder: Path, **options):
    mapping = load(MAPPINGS / "jira-service-management.toml", targets=TARGETS)
    options.setdefault("set_levels", True)
    return imports.run_import(mapping, data_dir=folder, **options)


JSM_REFUSED = [
    (10, "Created", "'2026-11-24 15:41' is not a date in the format %d/%b/%y %I:%M %p"),
    (11, "Priority", "no mapping for the value 'Urgent' (add it under values)"),
    (12, "Status", "no mapping for the value 'Under review' (add it under values)"),
    (13, "external_id", "the source id is blank"),
    (14, "title", "the title is blank"),
]


@pytest.mark.django_db
def test_jsm_needs_five_levels_unless_told_to_widen(jsm):
    with pytest.raises(imports.ImportFailed, match="uses 5 levels of impact and urgency"):
        jsm_import(jsm, set_levels=False)
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_jsm_dry_run_lists_every_bad_row_and_writes_nothing(jsm):
    summary = jsm_import(jsm, dry_run=True)

    assert sorted(refused(summary)) == JSM_REFUSED
    assert summary.files[0].created == 8
    assert not Incident.objects.exists()
    assert catalog.levels() == 3  # a dry run changes nothing, not even the scale


@pytest.mark.django_db
def test_jsm_import_creates_incidents_as_they_were(jsm):
    summary = jsm_import(jsm)

    assert sorted(refused(summary)) == JSM_REFUSED
    assert catalog.levels() == 5
    incidents = by_id("jira-service-management")
    assert sorted(incidents) == [f"ITSM-{n}" for n in range(1, 9)]
    assert {key: i.status for key, i in incidents.items()} == {
        "ITSM-1": "closed",
        "ITSM-2": "new",
        "ITSM-3": "in_progress",
        "ITSM-4": "on_hold",
        "ITSM-5": "resolved",
        "ITSM-6": "cancelled",
        "ITSM-7": "closed",
        "ITSM-8": "closed",
    }
    assert {key: i.priority for key, i in incidents.items()} == {
        "ITSM-1": 1,
        "ITSM-2": 3,
        "ITSM-3": 2,
        "ITSM-4": 4,
        "ITSM-5": 5,
        "ITSM-6": 3,
        "ITSM-7": 3,
        "ITSM-8": 3,
    }
    first = incidents["ITSM-1"]
    assert (first.impact, first.urgency) == (1, 1)
    assert (incidents["ITSM-7"].impact, incidents["ITSM-7"].urgency) == (3, 3)  # blank: moderate
    assert first.created_at == datetime(2026, 11, 24, 15, 41, tzinfo=UTC)
    assert first.resolved_at == datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
    assert first.closed_at == datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
    # 12 AM is midnight, 12 PM noon.
    assert incidents["ITSM-8"].created_at == datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    assert incidents["ITSM-8"].resolved_at == datetime(2026, 12, 1, 12, 45, tzinfo=UTC)
    assert incidents["ITSM-5"].closed_at is None
    assert incidents["ITSM-6"].cancelled_at == datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
    assert incidents["ITSM-6"].closed_at is None
    assert incidents["ITSM-2"].resolved_at is None
    assert first.resolution_code == "fixed"
    assert incidents["ITSM-2"].resolution_code == ""
    assert first.service.name == "VPN"
    assert incidents["ITSM-7"].service.name == "General support"
    assert first.category is not None
    assert first.category.name == "Report a system problem"
    assert first.team == first.service.team
    assert first.channel == "portal"
    assert first.description == 'Since this morning the VPN "disconnects", see attached log.'


@pytest.mark.django_db
def test_jsm_rerun_updates_without_duplicates(jsm):
    jsm_import(jsm)
    rows = jsm_rows()
    rows[2] = jsm_row("ITSM-3", status="Resolved", priority="High")
    write_csv(jsm / "jsm.csv", JSM_HEADER, rows)

    again = jsm_import(jsm)

    assert (again.files[0].created, again.files[0].updated) == (0, 8)
    assert Incident.objects.count() == 8
    changed = Incident.objects.get(external_id="ITSM-3")
    assert (changed.status, changed.resolved_at) == (
        "resolved",
        datetime(2026, 11, 25, 10, 5, tzinfo=UTC),
    )
