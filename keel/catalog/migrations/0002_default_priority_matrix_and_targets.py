"""The default priority matrix (3 × 3) and default service-level targets, ready to change."""

from django.db import migrations

DEFAULT_TARGETS = {1: (15, 240), 2: (30, 480), 3: (120, 1440), 4: (480, 2880), 5: (960, 7200)}


def forwards(apps, schema_editor):
    db = schema_editor.connection.alias
    PriorityScale = apps.get_model("catalog", "PriorityScale")
    PriorityRule = apps.get_model("catalog", "PriorityRule")
    ServiceTarget = apps.get_model("catalog", "ServiceTarget")
    PriorityScale.objects.using(db).get_or_create(id=1, defaults={"levels": 3})
    for impact in (1, 2, 3):
        for urgency in (1, 2, 3):
            PriorityRule.objects.using(db).get_or_create(
                impact=impact, urgency=urgency, defaults={"priority": impact + urgency - 1}
            )
    for priority, (respond, resolve) in DEFAULT_TARGETS.items():
        ServiceTarget.objects.using(db).get_or_create(
            service=None, priority=priority, defaults={"respond_minutes": respond, "resolve_minutes": resolve}
        )


def backwards(apps, schema_editor):
    db = schema_editor.connection.alias
    apps.get_model("catalog", "PriorityRule").objects.using(db).all().delete()
    apps.get_model("catalog", "ServiceTarget").objects.using(db).filter(service=None).delete()
    apps.get_model("catalog", "PriorityScale").objects.using(db).all().delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
