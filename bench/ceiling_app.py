"""The framework ceiling: Django + django-ninja answering a constant JSON body.

``GET /api/ping`` → ``{"ok": true}``: no database, no session, no authentication, only
Django's CommonMiddleware (which sets Content-Length, as in Keel). Whatever Keel's API does on
top of this costs throughput; the benchmarks report Keel's figures as a ratio to this one,
measured in the same run with the same worker and thread counts: under gunicorn (``gthread``),
the ceiling the issue names, and under granian, the server ``keel serve`` runs.

Serve: ``python -m gunicorn --chdir bench -k gthread -w 2 --threads 4 ceiling_app:application``
or ``python -m granian --working-dir bench --interface wsgi ceiling_app:application``.
"""

from __future__ import annotations

import django
from django.conf import settings
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="ceiling-benchmark-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=["ninja"],
    USE_TZ=True,
    DATABASES={},
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from ninja import NinjaAPI  # noqa: E402

api = NinjaAPI(title="ceiling", urls_namespace="ceiling", docs_url=None)


@api.get("/ping")
def ping(request):
    return {"ok": True}


urlpatterns = [path("api/", api.urls)]

application = get_wsgi_application()
