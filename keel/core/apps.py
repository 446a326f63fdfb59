from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles(sender, using="default", **kwargs):
    """Sync roles once every app's permissions exist: when the last app with models migrates."""
    from django.apps import apps

    from keel.core.roles import sync_roles

    with_models = [c for c in apps.get_app_configs() if c.models_module is not None]
    if sender is with_models[-1]:
        sync_roles(using=using)


class CoreConfig(AppConfig):
    name = "keel.core"
    label = "core"
    verbose_name = _("People and organisation")

    @property
    def role_permissions(self):
        from keel.core.roles import CORE_ROLE_PERMISSIONS

        return CORE_ROLE_PERMISSIONS

    def ready(self):
        from keel.core import checks, tasks  # noqa: F401  (registers checks and periodic tasks)
        from keel.db.timestamps import use_c_parser

        post_migrate.connect(_sync_roles, dispatch_uid="keel.core.sync_roles")
        connection_created.connect(use_c_parser, dispatch_uid="keel.db.timestamps")
