"""Importing with the shipped BPIC 2014 mapping, on small files shaped like the real exports."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection

from keel.catalog import queries as catalog
from keel.cmdb.models import ConfigurationItem
from keel.core.audit import verify
from keel.core.models import AuditEvent, Team
from keel.imports import actions as imports
from keel.imports.mapping import load
from keel.imports.models import ImportRun
from keel.imports.targets import TARGETS
from keel.incidents.models import EventKind, Incident, IncidentEvent, Interaction

ROOT = Path(__file__).resolve().parents[3]
MAPPING = ROOT / "keel" / "imports" / "mappings" / "bpic2014.toml"

INCIDENT_HEADER = (
    "CI Name (aff);CI Type (aff);CI Subtype (aff);Service Component WBS (aff);Incident ID;Status;"
    "Impact;Urgency;Priority;Category;KM number;Alert Status;# Reassignments;Open Time;"
    "Reopen Time;Resolved Time;Close Time;Handle Time (Hours);Closure Code;"
    "# Related Interactions;Related Interaction;# Related Incidents;# Related Changes;"
    "Related Change;CI Name (CBy);CI Type (CBy);CI Subtype (CBy);ServiceComp WBS (CBy);;;"
)
CONTACT_HEADER = (
    "CI Name (aff);CI Type (aff);CI Subtype (aff);Service Comp WBS (aff);Interaction ID;Status;"
    "Impact;Urgency;Priority;Category;KM number;Open Time (First Touch);Close Time;Closure Code;"
    "First Call Resolution;Handle Time (secs);Related Incident"
)
EVENT_HEADER = (
    "\ufeffIncident ID,Detail Incident Activity.IncidentActivity_Type,"
    "Detail Incident Activity.DateStamp,Detail Incident Activity.Assignment Group,Category,"
    "CI Subtype (CBy),Closure Code,# Reassignments,Impact,Urgency,Priority"
)


def incident_row(
    number: int,
    *,
    ci: str = "SUB000508",
    status: str = "Closed",
    urgency: str = "4",
    opened: str = "05/02/2012 13:32:57",
    resolved: str = "06/02/2012 10:00:00",
    reopened: str = "",
    code: str = "Software",
    reassignments: int = 2,
) -> str:
    return (
        f"{ci};subapplication;Web Based Application;WBS000162;IM{number:07d};{status};4;{urgency};"
        f"4;incident;KM0000553;closed;{reassignments};{opened};{reopened};{resolved};"
        f"06/02/2012 11:00:00;3,5;{code};1;SD0000007;;;;WBA000124;application;"
        f"Web Based Application;WBS000088;;;"
    )


def contact_row(number: int, incident: str, *, first_call: str = "N", closed="9-9-2011 9:30"):
    return (
        f"SUB000508;subapplication;Web Based Application;WBS000162;SD{number:07d};Closed;4;4;4;"
        f"incident;KM0000987;9-9-2011 9:23;{closed};Other;{first_call};239;{incident}"
    )


def event_row(incident: str, activity: str, at: str, team: str = "TEAM0008") -> str:
    return f"{incident},{activity},{at},{team},incident,Web Based Application,Software,0,4,4,4"


def write_gz(path: Path, header: str, rows: list[str], encoding: str = "latin-1") -> None:
    path.write_bytes(gzip.compress(("\n".join([header, *rows]) + "\n").encode(encoding)))


def write_data(
    folder: Path, incidents: list[str], contacts: Sequence[str] = (), events: Sequence[str] = ()
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_gz(folder / "Detail_Incident.csv.gz", INCIDENT_HEADER, incidents)
    write_gz(folder / "Detail_Interaction.csv.gz", CONTACT_HEADER, list(contacts))
    write_gz(
        folder / "EventLog_incident_activity_derived.csv.gz",
        EVENT_HEADER,
        list(events),
        encoding="utf-8",
    )
    return folder


def mapping():
    return load(MAPPING, targets=TARGETS)


def run(folder: Path, **options):
    options.setdefault("set_levels", True)
    return imports.run_import(mapping(), data_dir=folder, **options)


def problems(summary) -> list[tuple[str, int, str, str]]:
    return [(path, p.line, p.column, p.message) for path, p in summary.problems if not p.warning]


@pytest.fixture
def data(tmp_path) -> Path:
    return write_data(
        tmp_path / "bpic",
        [incident_row(1), incident_row(2, reopened="05/02/2012 18:00:00"), incident_row(3)],
        [contact_row(1, "IM0000001", first_call="Y"), contact_row(2, "#N/B")],
        [
            event_row("IM0000001", "Open", "2012-02-05 13:32:57"),
            event_row("IM0000001", "Assignment", "2012-02-05 13:40:00", "TEAM0009"),
            event_row("IM0000001", "Operator Update", "2012-02-05 14:00:00"),
            event_row("IM0000001", "Operator Update", "2012-02-05 14:00:00"),  # said twice
            event_row("\ufeffIM0000002", "Quality Indicator", "2012-02-05 15:00:00"),
        ],
    )


@pytest.mark.django_db
def test_an_import_creates_the_records_with_their_history(data):
    summary = run(data)

    assert problems(summary) == []
    assert [(f.target, f.read, f.created) for f in summary.files] == [
        ("cmdb.item", 3, 1),
        ("cmdb.item", 3, 1),
        ("incident", 3, 3),
        ("contact", 2, 2),
        ("incident.event", 5, 5),
    ]
    first = Incident.objects.get(import_source="bpic2014", external_id="IM0000001")
    assert first.number.startswith("INC-")
    assert (first.status, first.is_open, first.priority, first.impact, first.urgency) == (
        "closed",
        False,
        4,
        4,
        4,
    )
    assert first.title == "incident: Web Based Application SUB000508"
    assert first.service.name == "WBS000162"
    assert first.category is not None
    assert first.category.name == "incident"
    assert first.team == first.service.team
    assert first.resolution_code == "fixed"
    assert first.reassignment_count == 2
    assert first.reopen_count == 0
    assert Incident.objects.get(external_id="IM0000002").reopen_count == 1
    # Amsterdam winter time is UTC+1.
    assert first.created_at.isoformat() == "2012-02-05T12:32:57+00:00"
    assert first.resolve_by is not None
    assert first.respond_by is not None
    assert list(first.affected_cis.values_list("external_id", flat=True)) == ["SUB000508"]
    assert first.requester.username == "import-bpic2014"
    assert not first.requester.is_active

    timeline = list(first.events.order_by("at", "id").values_list("kind", "body", "data"))
    assert timeline[0][0] == EventKind.CREATED
    assert "Detail_Incident.csv.gz line 2" in timeline[0][1]
    kinds = [kind for kind, _body, _data in timeline[1:]]
    assert kinds == ["created", "assignment", "comment", "comment"]
    assignment = timeline[2][2]
    assert assignment["team"] == "TEAM0009"
    assert Team.objects.get(pk=assignment["team_id"]).name == "TEAM0009"
    activity = IncidentEvent.objects.get(incident__external_id="IM0000002", kind="activity")
    assert activity.data["activity"] == "Quality Indicator"

    contact = Interaction.objects.get(external_id="SD0000001")
    assert contact.number.startswith("CON-")
    assert contact.incident == first
    assert contact.resolved_first_contact is True
    assert contact.handle_seconds == 239
    assert contact.ci is not None
    assert contact.ci.external_id == "SUB000508"
    assert Interaction.objects.get(external_id="SD0000002").incident is None

    item = ConfigurationItem.objects.get(external_id="WBA000124")
    assert item.type.code == "application"
    assert ImportRun.objects.get(pk=summary.run_id).status == ImportRun.Status.COMPLETED


@pytest.mark.django_db
def test_imported_records_are_audited_as_imported_and_nobody_is_told(data):
    mail.outbox.clear()
    run(data)

    assert mail.outbox == []
    events = AuditEvent.objects.filter(action="incident.imported")
    assert events.count() == 1  # one per batch
    assert "imported from Rabobank Group ICT (BPIC 2014)" in events.get().reason
    assert events.get().changes["count"] == [None, 3]
    assert AuditEvent.objects.filter(action="contact.imported").exists()
    assert AuditEvent.objects.filter(action="import.completed").exists()
    assert verify().ok


@pytest.mark.django_db
def test_a_dry_run_writes_nothing_and_reports_every_refused_row(tmp_path):
    folder = write_data(
        tmp_path / "bad",
        [
            incident_row(1),
            incident_row(2, status="Parked"),
            incident_row(3, opened="2012-02-05 13:32"),
            incident_row(1),  # the same id again
            incident_row(5, urgency="9"),
            incident_row(6, resolved="01/01/2012 10:00:00"),
        ],
    )
    before = (Incident.objects.count(), ConfigurationItem.objects.count(), Team.objects.count())

    summary = run(folder, dry_run=True)

    assert (Incident.objects.count(), ConfigurationItem.objects.count(), Team.objects.count()) == (
        before
    )
    assert not ImportRun.objects.exists()
    incident_file = next(f for f in summary.files if f.target == "incident")
    assert (incident_file.created, incident_file.rejected) == (1, 5)
    refused = {(line, column): message for _path, line, column, message in problems(summary)}
    assert "'Parked'" in refused[(3, "Status")]
    assert refused[(4, "Open Time")] == (
        "'2012-02-05 13:32' is not a date in the format %d/%m/%Y %H:%M:%S"
    )
    assert refused[(5, "Incident ID")] == "the source id IM0000001 appears again (first on line 2)"
    assert refused[(6, "urgency")] == "Choose a level from 1 (highest) to 5."
    assert "before the incident was recorded" in refused[(7, "resolved_at")]
    assert "services" in summary.would_create


@pytest.mark.django_db
def test_a_rerun_updates_and_never_duplicates(data):
    run(data)
    first = Incident.objects.get(external_id="IM0000001")
    counts = (
        Incident.objects.count(),
        Interaction.objects.count(),
        IncidentEvent.objects.count(),
        ConfigurationItem.objects.count(),
    )
    # The source changed one thing: the incident's urgency.
    rows = [incident_row(1, urgency="3"), incident_row(2), incident_row(3)]
    write_gz(data / "Detail_Incident.csv.gz", INCIDENT_HEADER, rows)

    summary = run(data)

    assert (
        Incident.objects.count(),
        Interaction.objects.count(),
        IncidentEvent.objects.count(),
        ConfigurationItem.objects.count(),
    ) == counts
    incident_file = next(f for f in summary.files if f.target == "incident")
    assert (incident_file.created, incident_file.updated) == (0, 3)
    again = Incident.objects.get(pk=first.pk)
    assert again.number == first.number
    assert again.urgency == 3
    assert again.version == first.version + 1
    assert next(f for f in summary.files if f.target == "incident.event").created == 0


@pytest.mark.django_db
def test_a_value_with_no_mapping_is_refused_naming_the_column(tmp_path):
    folder = write_data(tmp_path / "d", [incident_row(1, code="Magic")])
    summary = run(folder)
    assert problems(summary) == [
        (
            "Detail_Incident.csv.gz",
            2,
            "Closure Code",
            "no mapping for the value 'Magic' (add it under values)",
        )
    ]
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_an_event_for_an_unknown_incident_is_refused(data):
    write_gz(
        data / "EventLog_incident_activity_derived.csv.gz",
        EVENT_HEADER,
        [event_row("IM0999999", "Open", "2012-02-05 13:32:57")],
        encoding="utf-8",
    )
    summary = run(data)
    assert problems(summary) == [
        (
            "EventLog_incident_activity_derived.csv.gz",
            2,
            "incident",
            "no incident IM0999999 in this source",
        )
    ]


@pytest.mark.django_db
def test_a_file_cut_off_mid_line_refuses_that_line_and_keeps_the_rest(data):
    text = INCIDENT_HEADER + "\n" + incident_row(1) + "\n" + incident_row(2)[:40]
    (data / "Detail_Incident.csv.gz").write_bytes(gzip.compress(text.encode("latin-1")))
    summary = run(data, only=["cmdb.item", "incident"])
    refused = problems(summary)
    assert len(refused) == 3  # the same line, read by each of the three parts of the mapping
    for _path, line, _column, message in refused:
        assert line == 3
        assert "the line has 3 of the 28 columns" in message
        assert "is it cut off?" in message
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_a_missing_column_stops_the_import_naming_it(data):
    write_gz(data / "Detail_Incident.csv.gz", INCIDENT_HEADER.replace("Open Time", "Opened"), [])
    with pytest.raises(imports.ImportFailed) as caught:
        run(data, only=["incident"])
    assert "missing column 'Open Time'" in str(caught.value)
    assert ImportRun.objects.get().status == ImportRun.Status.FAILED


@pytest.mark.django_db
def test_a_file_in_the_wrong_encoding_stops_the_import_with_a_hint(data):
    (data / "EventLog_incident_activity_derived.csv.gz").write_bytes(
        gzip.compress(
            (EVENT_HEADER.lstrip("\ufeff") + "\n" + event_row("IM0000001", "Öpen", "x")).encode(
                "cp1252"
            )
        )
    )
    with pytest.raises(imports.ImportFailed, match="not utf-8 text"):
        run(data)


@pytest.mark.django_db
def test_a_missing_file_is_named_before_anything_is_written(tmp_path):
    with pytest.raises(imports.ImportFailed, match=r"Detail_Incident\.csv\.gz: no such file"):
        run(tmp_path)
    assert not ImportRun.objects.exists()


@pytest.mark.django_db
def test_a_narrower_priority_scale_is_refused_unless_widened(data):
    assert catalog.levels() == 3
    with pytest.raises(imports.ImportFailed, match="uses 5 levels"):
        run(data, set_levels=False)
    assert not Incident.objects.exists()
    run(data, set_levels=True)
    assert catalog.levels() == 5


@pytest.mark.django_db
def test_only_administrators_may_import(data, requester, agent, administrator):
    for person in (requester, agent):
        with pytest.raises(PermissionDenied):
            run(data, actor=person)
    assert not Incident.objects.exists()
    summary = run(data, actor=administrator)
    assert summary.files[2].created == 3
    assert ImportRun.objects.get().actor == administrator


@pytest.mark.django_db
def test_a_crash_mid_import_loses_only_the_batch_in_flight(data, monkeypatch):
    from keel.imports.actions import events

    rows = [event_row("IM0000001", "Update", f"2012-02-06 10:{m:02d}:00") for m in range(30)]
    write_gz(data / "EventLog_incident_activity_derived.csv.gz", EVENT_HEADER, rows, "utf-8")
    real_write = events.EventWriter.write
    calls = []

    def failing(self, batch):
        calls.append(len(batch))
        if len(calls) == 3:
            raise RuntimeError("power cut")
        return real_write(self, batch)

    monkeypatch.setattr(events.EventWriter, "write", failing)
    with pytest.raises(RuntimeError):
        run(data, batch_size=10)
    assert IncidentEvent.objects.exclude(import_key="").count() == 20  # two whole batches

    monkeypatch.setattr(events.EventWriter, "write", real_write)
    run(data, batch_size=10)
    assert IncidentEvent.objects.exclude(import_key="").count() == 30


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 needs a POSIX system")
def test_kill_9_mid_import_then_a_rerun_completes_it(tmp_path):
    """A real process killed with SIGKILL while writing; the re-run finishes with no duplicate."""
    incidents = [incident_row(n) for n in range(1, 401)]
    events = [
        event_row(f"IM{n:07d}", "Update", f"2012-02-06 10:{m:02d}:00")
        for n in range(1, 401)
        for m in range(25)
    ]
    folder = write_data(tmp_path / "big", incidents, [], events)
    env = {**os.environ, "DATABASE_URL": _database_url(), "KEEL_ENV": "development"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [
        sys.executable,
        "-m",
        "keel",
        "import",
        str(MAPPING),
        "--data",
        str(folder),
        "--set-levels",
        "--batch",
        "200",
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 120
    while IncidentEvent.objects.exclude(import_key="").count() < 1000:
        assert process.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = IncidentEvent.objects.exclude(import_key="").count()
    assert 1000 <= written < 10_000
    assert written % 200 == 0  # whole batches only

    rerun = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)  # noqa: S603
    assert rerun.returncode == 0, rerun.stderr

    assert Incident.objects.filter(import_source="bpic2014").count() == 400
    assert IncidentEvent.objects.exclude(import_key="").count() == 10_000
    keys = IncidentEvent.objects.exclude(import_key="").values_list("import_key", flat=True)
    assert len(set(keys)) == 10_000


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


@pytest.mark.django_db
def test_an_imported_incident_page_shows_its_history_as_imported(data, client_for, administrator):
    run(data)
    incident = Incident.objects.get(external_id="IM0000002")

    page = client_for(administrator).get(f"/incidents/{incident.number}/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Activity in the source: Quality Indicator (TEAM0008)" in html
    assert "<strong>Imported</strong>" in html
    assert "Detail_Incident.csv.gz line 3" in html
