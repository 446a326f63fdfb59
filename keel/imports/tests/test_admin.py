"""Import runs can be looked up in the admin by those allowed, and never changed there."""

from __future__ import annotations

import pytest
from django.utils import timezone

from keel.imports.models import ImportRun


@pytest.fixture
def import_run(db):
    return ImportRun.objects.create(
        source="acme",
        title="Acme desk",
        mapping="acme.toml",
        data_dir="/data",
        started_at=timezone.now(),
    )


@pytest.mark.django_db
def test_an_administrator_sees_import_runs_but_cannot_change_them(
    client_for, administrator, import_run
):
    administrator.is_staff = True  # as keel createadmin and the users API make administrators
    administrator.save(update_fields=["is_staff"])
    client = client_for(administrator)
    listing = client.get("/admin/imports/importrun/")
    assert listing.status_code == 200
    assert "Acme desk" in listing.content.decode()
    page = client.get(f"/admin/imports/importrun/{import_run.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get("/admin/imports/importrun/add/").status_code == 403


@pytest.mark.django_db
def test_an_agent_cannot_see_import_runs(client_for, agent, import_run):
    assert client_for(agent).get("/admin/imports/importrun/").status_code in (302, 403)
