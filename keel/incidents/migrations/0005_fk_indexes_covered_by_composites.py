"""Drop the single-column indexes of ``requester`` and ``service``: the composite indexes
``incident_requester`` and ``incident_service`` lead with the same column and serve every lookup
(foreign-key checks included), and each index is one more page written per recorded incident.

Only the indexes are dropped (by name, the same on both databases); altering the fields through
the schema editor would rebuild the whole table on SQLite.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = [
    ("incidents_incident_requester_id_74a5fc10", "requester_id"),
    ("incidents_incident_service_id_a8801d6e", "service_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_default_priority_matrix_and_targets"),
        ("incidents", "0004_event_import_key"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="incident",
                    name="requester",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="incidents_requested",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="requester",
                    ),
                ),
                migrations.AlterField(
                    model_name="incident",
                    name="service",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="incidents",
                        to="catalog.service",
                        verbose_name="service",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "incidents_incident" ("{column}")',
                )
                for name, column in INDEXES
            ],
        ),
    ]
