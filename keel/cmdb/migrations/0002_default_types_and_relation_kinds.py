"""The CI types and relation kinds most organisations start from, ready to change."""

from django.db import migrations
from django.utils import timezone

ENVIRONMENT = {
    "key": "environment",
    "label": "Environment",
    "type": "choice",
    "required": False,
    "choices": ["production", "staging", "test", "development"],
}

TYPES = [
    (
        "server",
        "Server",
        "A physical or virtual server.",
        False,
        [
            {"key": "hostname", "label": "Host name", "type": "text", "required": False},
            {"key": "ip_address", "label": "IP address", "type": "text", "required": False},
            {"key": "os", "label": "Operating system", "type": "text", "required": False},
            {"key": "cpu_cores", "label": "CPU cores", "type": "integer", "required": False},
            {"key": "ram_gb", "label": "RAM (GB)", "type": "integer", "required": False},
            {"key": "virtual", "label": "Virtual machine", "type": "boolean", "required": False},
            ENVIRONMENT,
        ],
    ),
    (
        "application",
        "Application",
        "Software the organisation runs for its users.",
        False,
        [
            {"key": "version", "label": "Version", "type": "text", "required": False},
            {"key": "vendor", "label": "Vendor", "type": "text", "required": False},
            {"key": "url", "label": "Address", "type": "url", "required": False},
            ENVIRONMENT,
        ],
    ),
    (
        "database",
        "Database",
        "A database and the engine it runs in.",
        False,
        [
            {
                "key": "engine",
                "label": "Engine",
                "type": "choice",
                "required": False,
                "choices": ["PostgreSQL", "MySQL", "Oracle", "SQL Server", "SQLite", "Other"],
            },
            {"key": "version", "label": "Version", "type": "text", "required": False},
            {"key": "size_gb", "label": "Size (GB)", "type": "decimal", "required": False},
            ENVIRONMENT,
        ],
    ),
    (
        "network-device",
        "Network device",
        "A switch, router, firewall or access point.",
        False,
        [
            {"key": "ip_address", "label": "IP address", "type": "text", "required": False},
            {"key": "model", "label": "Model", "type": "text", "required": False},
            {"key": "firmware", "label": "Firmware", "type": "text", "required": False},
            {"key": "ports", "label": "Ports", "type": "integer", "required": False},
        ],
    ),
    (
        "laptop",
        "Laptop",
        "A laptop used by one person.",
        False,
        [
            {"key": "serial_number", "label": "Serial number", "type": "text", "required": False},
            {"key": "model", "label": "Model", "type": "text", "required": False},
            {"key": "os", "label": "Operating system", "type": "text", "required": False},
            {"key": "purchased", "label": "Purchased", "type": "date", "required": False},
        ],
    ),
    (
        "software-licence",
        "Software licence",
        "A right to use software: seats, term and renewal.",
        False,
        [
            {"key": "product", "label": "Product", "type": "text", "required": False},
            {"key": "seats", "label": "Seats", "type": "integer", "required": False},
            {
                "key": "term",
                "label": "Term",
                "type": "choice",
                "required": False,
                "choices": ["subscription", "perpetual"],
            },
        ],
    ),
    (
        "cloud-service",
        "Cloud service",
        "A service bought from a cloud provider.",
        False,
        [
            {
                "key": "provider",
                "label": "Provider",
                "type": "choice",
                "required": False,
                "choices": ["AWS", "Azure", "Google Cloud", "Alibaba Cloud", "Other"],
            },
            {"key": "region", "label": "Region", "type": "text", "required": False},
            {"key": "account", "label": "Account", "type": "text", "required": False},
        ],
    ),
    (
        "business-service",
        "Business service",
        "A service the business uses; impact analysis reports the ones reached.",
        True,
        [],
    ),
]

# code, name, reverse name, dependency, acyclic
KINDS = [
    ("runs-on", "runs on", "runs", "source_on_target", True),
    ("depends-on", "depends on", "is needed by", "source_on_target", True),
    ("connects-to", "connects to", "is connected to", "none", False),
    ("hosts", "hosts", "is hosted on", "target_on_source", True),
    ("uses", "uses", "is used by", "source_on_target", False),
    ("backs-up", "backs up", "is backed up by", "none", False),
]


def forwards(apps, schema_editor):
    db = schema_editor.connection.alias
    CIType = apps.get_model("cmdb", "CIType")
    CITypeVersion = apps.get_model("cmdb", "CITypeVersion")
    RelationKind = apps.get_model("cmdb", "RelationKind")
    now = timezone.now()
    for code, name, description, is_service, attributes in TYPES:
        ci_type, created = CIType.objects.using(db).get_or_create(
            code=code,
            defaults={
                "name": name,
                "description": description,
                "is_service": is_service,
                "attributes": attributes,
                "version": 1,
            },
        )
        if created:
            CITypeVersion.objects.using(db).create(
                type=ci_type, version=1, attributes=attributes, changed_at=now
            )
    for code, name, reverse_name, dependency, acyclic in KINDS:
        RelationKind.objects.using(db).get_or_create(
            code=code,
            defaults={
                "name": name,
                "reverse_name": reverse_name,
                "dependency": dependency,
                "acyclic": acyclic,
            },
        )


def backwards(apps, schema_editor):
    """Remove the defaults nothing uses yet. Rows are deleted by id: Django's deletion collector
    trips over the historical models' many-to-many tables here."""
    db = schema_editor.connection.alias
    CIType = apps.get_model("cmdb", "CIType")
    RelationKind = apps.get_model("cmdb", "RelationKind")
    kinds = list(
        RelationKind.objects.using(db)
        .filter(code__in=[k[0] for k in KINDS], relations__isnull=True)
        .values_list("pk", flat=True)
    )
    types = list(
        CIType.objects.using(db)
        .filter(code__in=[t[0] for t in TYPES], items__isnull=True)
        .values_list("pk", flat=True)
    )
    for through in (RelationKind.source_types.through, RelationKind.target_types.through):
        through.objects.using(db).filter(relationkind_id__in=kinds).delete()
        through.objects.using(db).filter(citype_id__in=types).delete()
    apps.get_model("cmdb", "CITypeVersion").objects.using(db).filter(type_id__in=types).delete()
    for model, ids in ((RelationKind, kinds), (CIType, types)):
        if ids:
            marks = ", ".join(["%s"] * len(ids))
            schema_editor.execute(
                f"DELETE FROM {schema_editor.quote_name(model._meta.db_table)} WHERE id IN ({marks})",
                ids,
            )


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
