"""Settings for the test suite: the real settings, with fast hashing and in-process tasks."""

from __future__ import annotations

import os

os.environ.setdefault("KEEL_VAR_DIR", "var/test")

from keel.settings import *  # noqa: F403
from keel.settings import DATABASES, HUEY, STATIC_ROOT, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HUEY = {**HUEY, "huey_class": "huey.MemoryHuey", "immediate": True}
HUEY.pop("filename", None)
HUEY.pop("url", None)
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
AXES_ENABLED = True

if DATABASES["default"]["ENGINE"] == "keel.db.sqlite3":
    # A file, not memory, so tests see WAL, the busy timeout and other connections as production does.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_keel.sqlite3")}
