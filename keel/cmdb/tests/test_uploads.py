"""Import uploads abandoned between the wizard's steps are removed after a day by an hourly task;
using an upload keeps it, and a step whose upload is gone says so and starts again."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from keel.cmdb import tasks, uploads
from keel.cmdb.tests.factories import server_type
from keel.core.roles import Role

pytestmark = pytest.mark.django_db

OLD = "3f1d5b0e-8a7c-4d21-9a35-7c2f4e6b1a90"
FRESH = "9b2e7c41-0d5f-4f3a-8e6b-2a1c9d7e5f03"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _upload_folder(token: str, *, age: timedelta) -> os.PathLike:
    folder = uploads.imports_dir() / token
    folder.mkdir(parents=True)
    for name in ("upload.csv", uploads.META):
        (folder / name).write_text("x")
    when = time.time() - age.total_seconds()
    for path in (folder / "upload.csv", folder / uploads.META, folder):
        os.utime(path, (when, when))
    return folder


def test_uploads_unused_for_a_day_are_removed_and_others_kept():
    old = _upload_folder(OLD, age=timedelta(days=1, minutes=5))
    fresh = _upload_folder(FRESH, age=timedelta(hours=23))
    stranger = uploads.imports_dir() / "keep-me"
    stranger.mkdir()
    os.utime(stranger, (0, 0))
    (uploads.imports_dir() / "notes.txt").write_text("not an upload")

    removed = tasks.purge_abandoned_imports.call_local()

    assert removed == [OLD]
    assert not old.exists()
    assert fresh.exists()
    assert stranger.exists()
    assert (uploads.imports_dir() / "notes.txt").exists()


def test_nothing_to_do_without_any_upload():
    assert uploads.purge_abandoned() == []


def test_the_task_runs_every_hour():
    task = tasks.purge_abandoned_imports.task_class()
    assert task.validate_datetime(datetime(2026, 3, 2, 14, 35))  # noqa: DTZ001
    assert not task.validate_datetime(datetime(2026, 3, 2, 14, 36))  # noqa: DTZ001


def test_a_step_keeps_its_upload_and_a_removed_one_starts_again(client_for, make_user):
    servers = server_type()
    client = client_for(make_user(Role.AGENT, Role.TEAM_LEAD))
    step = client.post(
        reverse("cmdb:import"),
        {
            "ci_type": servers.pk,
            "file": SimpleUploadedFile("estate.csv", b"name\nsrv-1\n", "text/csv"),
        },
    ).url
    folder = next(uploads.imports_dir().iterdir())
    long_ago = time.time() - timedelta(days=2).total_seconds()
    for path in (*folder.iterdir(), folder):
        os.utime(path, (long_ago, long_ago))

    assert client.get(step).status_code == 200  # used again: kept another day
    assert uploads.purge_abandoned() == []

    uploads.purge_abandoned(now=timezone.now() + timedelta(days=2))
    gone = client.get(step, follow=True)

    assert not folder.exists()
    assert gone.redirect_chain == [(reverse("cmdb:import"), 302)]
    assert "no longer kept" in next(str(m) for m in gone.context["messages"])
