from functools import partial

from django.contrib import admin
from django.urls import include, path
from ninja.openapi.views import openapi_view

from keel.api import api
from keel.incidents.urls import portal_urlpatterns

urlpatterns = [
    path("api/v1/", api.urls),
    path("api/docs", partial(openapi_view, api=api), name="api-docs"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("incidents/", include("keel.incidents.urls")),
    path("cmdb/", include("keel.cmdb.urls")),
    path("portal/", include((portal_urlpatterns, "portal"))),
    path("", include("keel.web.urls")),
]
