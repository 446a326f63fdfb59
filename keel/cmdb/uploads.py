"""Import files kept between the wizard's steps: one folder per upload under
``MEDIA_ROOT/imports/<uuid>/`` holding the file and ``meta.json``.

A folder is removed when its import is confirmed; one abandoned part-way is removed by the
periodic :func:`purge_abandoned` once it has not been used for ``KEEP`` (a day).
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

KEEP = timedelta(days=1)
META = "meta.json"


def imports_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def folder_of(token: str) -> Path:
    """The folder of an upload; ``ValueError`` unless ``token`` is an upload's id."""
    return imports_dir() / str(uuid.UUID(token))


def touch(folder: Path) -> None:
    """Note that the upload was used just now (it is kept another ``KEEP`` from now)."""
    with contextlib.suppress(OSError):
        (folder / META).touch(exist_ok=True)


def _last_used(folder: Path) -> datetime:
    times = [folder.stat().st_mtime]
    for entry in folder.iterdir():
        try:
            times.append(entry.stat().st_mtime)
        except OSError:
            continue
    return datetime.fromtimestamp(max(times), tz=timezone.get_current_timezone())


def purge_abandoned(now: datetime | None = None, keep: timedelta = KEEP) -> list[str]:
    """Remove the uploads last used more than ``keep`` ago; returns their ids.

    Only folders named by an upload id are touched: anything else under ``imports/`` is left.
    """
    root = imports_dir()
    if not root.is_dir():
        return []
    cutoff = (now or timezone.now()) - keep
    removed: list[str] = []
    for folder in root.iterdir():
        try:
            if not folder.is_dir() or str(uuid.UUID(folder.name)) != folder.name:
                continue
            if _last_used(folder) >= cutoff:
                continue
        except (ValueError, OSError):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder.name)
    return sorted(removed)
