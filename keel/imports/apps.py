from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from keel.core.roles import Role


class ImportsConfig(AppConfig):
    name = "keel.imports"
    label = "imports"
    verbose_name = _("Imports")

    role_permissions = {
        Role.ADMINISTRATOR: ["imports.view_importrun", "imports.run_import"],
        Role.AUDITOR: ["imports.view_importrun"],
    }
