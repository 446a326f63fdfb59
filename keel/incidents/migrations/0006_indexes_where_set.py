"""Index the mostly-empty columns of an incident only where they hold a value.

``assignee``, ``reported_by``, ``category``, ``major_manager``, ``parent`` and ``resolved_at`` are
empty on every incident as it is recorded (and most stay so), yet each full index took one more
page written per recorded incident. Every lookup of them names a value (a person's incidents, a
category's, a major incident's children, resolutions in a period), which a partial index
``WHERE column IS NOT NULL`` serves on both databases.

The foreign keys' own indexes are dropped by name (the same on both databases); altering the
fields through the schema editor would rebuild the whole table on SQLite.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FOREIGN_KEYS = [
    # field, its index as Django named it, the model it points to, related_name, verbose_name
    (
        "assignee",
        "incidents_incident_assignee_id_34068d21",
        settings.AUTH_USER_MODEL,
        "incidents_assigned",
        "assignee",
    ),
    (
        "reported_by",
        "incidents_incident_reported_by_id_17f53566",
        settings.AUTH_USER_MODEL,
        "incidents_recorded",
        "recorded by",
    ),
    (
        "category",
        "incidents_incident_category_id_adb8aa70",
        "catalog.category",
        "incidents",
        "category",
    ),
    (
        "major_manager",
        "incidents_incident_major_manager_id_43bbb893",
        settings.AUTH_USER_MODEL,
        "major_incidents_managed",
        "major-incident manager",
    ),
    (
        "parent",
        "incidents_incident_parent_id_a97d2b5e",
        "incidents.incident",
        "children",
        "major incident",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_default_priority_matrix_and_targets"),
        ("incidents", "0005_fk_indexes_covered_by_composites"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="incident",
                    name=field,
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name=related_name,
                        to=to,
                        verbose_name=verbose_name,
                    ),
                )
                for field, _index, to, related_name, verbose_name in FOREIGN_KEYS
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON "incidents_incident" ("{field}_id")',
                )
                for field, index, _to, _related_name, _verbose_name in FOREIGN_KEYS
            ],
        ),
        migrations.RemoveIndex(model_name="incident", name="incident_resolved_at"),
        *(
            migrations.AddIndex(
                model_name="incident",
                index=models.Index(
                    condition=models.Q((f"{field}__isnull", False)),
                    fields=[field],
                    name=f"incident_{field}",
                ),
            )
            for field in ("assignee", "reported_by", "category", "major_manager", "parent")
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("resolved_at__isnull", False)),
                fields=["resolved_at"],
                name="incident_resolved_at",
            ),
        ),
    ]
