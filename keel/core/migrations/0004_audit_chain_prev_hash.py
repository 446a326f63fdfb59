"""The chain head keeps the last event's link (``prev_hash``), filled in from that event."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    alias = schema_editor.connection.alias
    AuditChain = apps.get_model("core", "AuditChain")
    AuditEvent = apps.get_model("core", "AuditEvent")
    last = AuditEvent.objects.using(alias).order_by("-seq").values_list("prev_hash").first()
    AuditChain.objects.using(alias).filter(id=1).update(prev_hash=last[0] if last else "")


class Migration(migrations.Migration):
    dependencies = [("core", "0003_pending_task")]

    operations = [
        migrations.AddField(
            model_name="auditchain",
            name="prev_hash",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
