"""Start the audit chain: its head row, before any event is written."""

from django.db import migrations

GENESIS_HASH = "0" * 64


def forwards(apps, schema_editor):
    AuditChain = apps.get_model("core", "AuditChain")
    AuditChain.objects.using(schema_editor.connection.alias).get_or_create(
        id=1, defaults={"seq": 0, "hash": GENESIS_HASH}
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
