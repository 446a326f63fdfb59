"""Time the CMDB at estate scale: impact analysis over 100,000 items and 500,000 relations, and a
50,000-row CSV import, on SQLite and on PostgreSQL.

Run: ``.venv/bin/python bench/cmdb_bench.py`` (both databases; PostgreSQL from
``KEEL_BENCH_POSTGRES`` or a ``DATABASE_URL`` whose database name contains "bench", default
``postgres://postgres@127.0.0.1:5432/keel_cmdbbench``; skipped with a note when unreachable), or ``--database sqlite|postgres`` for one. Each run starts from a
fresh database (SQLite in ``var/bench/cmdb``; the PostgreSQL database is dropped and created),
migrates, seeds in bulk, then measures. Prints one JSON object per line:
``{"figure", "value", "unit", "target", "database", "scale"}``; how many items each impact query
reached (median, p95, max) goes to stderr.

The estate is layered as real ones are: business services use applications; applications
depend on other applications, run on virtual machines and use databases and cloud services;
databases run on virtual machines; hosts host the virtual machines; servers depend on network
devices; laptops use licences and applications and connect to the network. Impact is measured
from random items (most are laptops and licences, as in a real estate) and, separately, from
infrastructure only (applications, databases, servers, hosts, network devices), whose upward
impact sets are the large ones; and downwards from business services and applications.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import fresh_postgres, fresh_sqlite, postgres_url, run_each  # noqa: E402

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/keel_cmdbbench"
SEED = 20_000
ITEMS = 100_000
RELATIONS = 500_000
IMPORT_ROWS = 50_000
SAMPLES = 300
DEPTH = 6
IMPACT_TARGET_MS = 100.0
IMPORT_TARGET_S = 60.0

# How many items of each kind (type code, role in the estate) — 100,000 in all.
LAYERS = [
    ("business-service", "service", 200),
    ("application", "app", 3_000),
    ("database", "db", 3_000),
    ("server", "vm", 15_000),
    ("server", "host", 1_000),
    ("network-device", "net", 800),
    ("cloud-service", "cloud", 500),
    ("laptop", "laptop", 50_000),
    ("software-licence", "licence", 26_500),
]


def emit(figure: str, value: float, unit: str, target: float | None, database: str, scale: str):
    line = {
        "figure": figure,
        "value": round(value, 4),
        "unit": unit,
        "target": target,
        "database": database,
        "scale": scale,
    }
    print(json.dumps(line), flush=True)


# --- a fresh database ---------------------------------------------------------------------------


# --- seeding in bulk ----------------------------------------------------------------------------


def plan_estate(rng: random.Random):
    """Item rows (id, type code) and relation rows (source, target, kind code), deterministic."""
    ids: dict[str, list[int]] = {}
    items: list[tuple[int, str, str]] = []
    next_id = 1
    for type_code, role, count in LAYERS:
        ids[role] = list(range(next_id, next_id + count))
        items += [(pk, type_code, role) for pk in ids[role]]
        next_id += count
    assert len(items) == ITEMS
    relations: set[tuple[int, int, str]] = set()

    def link(sources, targets, kind, per):
        for source in sources:
            pool = targets(source) if callable(targets) else targets
            for target in rng.sample(pool, min(per, len(pool))):
                if source != target:
                    relations.add((source, target, kind))

    apps = ids["app"]
    link(ids["service"], apps, "uses", 15)
    for n, app in enumerate(apps[2:], start=2):  # a DAG: only on apps recorded before
        for target in rng.sample(apps[:n], 2):
            relations.add((app, target, "depends-on"))
    link(apps, ids["vm"], "runs-on", 3)
    link(apps, ids["db"], "uses", 1)
    link(apps, ids["cloud"], "uses", 1)
    link(ids["db"], ids["vm"], "runs-on", 2)
    for vm in ids["vm"]:
        relations.add((rng.choice(ids["host"]), vm, "hosts"))
    link(ids["vm"] + ids["host"], ids["net"], "depends-on", 2)
    link(ids["laptop"], ids["licence"], "uses", 4)
    link(ids["laptop"], ids["net"], "connects-to", 1)
    link(ids["laptop"], apps, "uses", 2)
    link(ids["licence"][: len(ids["licence"]) // 2], ids["cloud"], "depends-on", 1)
    backups = ids["vm"] + ids["db"]
    while len(relations) < RELATIONS:
        source, target = rng.choice(backups), rng.choice(backups)
        if source != target:
            relations.add((source, target, "backs-up"))
    return items, sorted(relations), ids


def seed(rng: random.Random):
    from django.db import connection, transaction
    from django.utils import timezone

    from keel.cmdb.models import CIType, ConfigurationItem, Relation, RelationKind
    from keel.core.models import Sequence

    items, relations, ids = plan_estate(rng)
    types = {t.code: t for t in CIType.objects.all()}
    kinds = {k.code: k for k in RelationKind.objects.all()}
    now = timezone.now()
    ci_columns = [
        "id", "number", "name", "type_id", "type_version", "status", "description", "location",
        "supplier", "currency", "attributes", "external_id", "created_at", "updated_at", "version",
    ]  # fmt: skip
    ci_rows = [
        (pk, f"CI-{pk:06d}", f"{role}-{pk}", types[code].pk, 1, "in_service", "", "", "", "",
         "{}", "", now, now, 1)
        for pk, code, role in items
    ]  # fmt: skip
    rel_columns = [
        "source_id",
        "target_id",
        "kind_id",
        "dependent_id",
        "dependency_id",
        "created_at",
    ]

    def ends(source, target, kind):
        dependency = kind.dependency
        if dependency == "source_on_target":
            return source, target
        if dependency == "target_on_source":
            return target, source
        return None, None

    rel_rows = [(s, t, kinds[k].pk, *ends(s, t, kinds[k]), now) for s, t, k in relations]
    ci_table, rel_table = ConfigurationItem._meta.db_table, Relation._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy(f"COPY {ci_table} ({', '.join(ci_columns)}) FROM STDIN") as copy:
                for row in ci_rows:
                    copy.write_row(row)
            with raw.copy(f"COPY {rel_table} ({', '.join(rel_columns)}) FROM STDIN") as copy:
                for row in rel_rows:
                    copy.write_row(row)
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{ci_table}', 'id'), {ITEMS})")
        else:
            marks = ", ".join(["%s"] * len(ci_columns))
            cursor.executemany(
                f"INSERT INTO {ci_table} ({', '.join(ci_columns)}) VALUES ({marks})", ci_rows
            )
            marks = ", ".join(["%s"] * len(rel_columns))
            cursor.executemany(
                f"INSERT INTO {rel_table} ({', '.join(rel_columns)}) VALUES ({marks})", rel_rows
            )
        Sequence.objects.update_or_create(key="CI", defaults={"value": ITEMS})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "sqlite":  # fold the seed into the file, as in steady running
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return ids


# --- measuring ----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def time_impact(starts: list[int], direction: str) -> tuple[list[float], list[int]]:
    from keel.cmdb import queries

    for start in starts:  # warm the caches first, as a server that has been running has them
        queries.impact(start, direction, DEPTH)
    times, sizes = [], []
    for start in starts:
        began = time.perf_counter()
        reached = queries.impact(start, direction, DEPTH)
        times.append((time.perf_counter() - began) * 1000)
        sizes.append(len(reached))
    return times, sizes


def import_file(rng: random.Random) -> bytes:
    from keel.core.models import Team, User

    teams = list(Team.objects.values_list("code", flat=True))
    people = list(User.objects.filter(is_system=False).values_list("username", flat=True))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["Asset tag", "Host name", "State", "Team", "Owner", "Memory", "OS", "Env", "Warranty",
         "Location", "Cost"]
    )  # fmt: skip
    for n in range(IMPORT_ROWS):
        writer.writerow(
            [
                f"IMP-{n:06d}",
                f"imported-{n}",
                rng.choice(["in service", "planned", "maintenance"]),
                rng.choice(teams),
                rng.choice(people),
                rng.choice(["8", "16", "32", "64"]),
                rng.choice(["Debian 12", "Windows Server 2022", "RHEL 9"]),
                rng.choice(["production", "test"]),
                f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                f"DC{rng.randint(1, 3)} rack {rng.randint(1, 40)}",
                f"{rng.randint(500, 20000)}.00",
            ]
        )
    return out.getvalue().encode()


IMPORT_MAPPING = {
    "Asset tag": "external_id",
    "Host name": "name",
    "State": "status",
    "Team": "team",
    "Owner": "owner",
    "Memory": "attributes.ram_gb",
    "OS": "attributes.os",
    "Env": "attributes.environment",
    "Warranty": "warranty_expires",
    "Location": "location",
    "Cost": "cost",
}


def people_and_teams() -> None:
    from keel.core.models import Team, User

    Team.objects.bulk_create([Team(name=f"Team {n}", code=f"team-{n}") for n in range(20)])
    User.objects.bulk_create(
        [User(username=f"person{n}", email=f"person{n}@example.com") for n in range(200)]
    )


def run_one(database: str) -> None:
    if database == "sqlite":
        os.environ.pop("DATABASE_URL", None)
        os.environ["KEEL_VAR_DIR"] = str(ROOT / "var" / "bench" / "cmdb")
        fresh_sqlite(Path(os.environ["KEEL_VAR_DIR"]))
    else:
        url = postgres_url(DEFAULT_POSTGRES)
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("KEEL_VAR_DIR", str(ROOT / "var" / "bench" / "cmdb-pg"))
        fresh_postgres(url)
    os.environ["DJANGO_SETTINGS_MODULE"] = "keel.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from keel.cmdb import importing
    from keel.cmdb.models import CIType
    from keel.core.actions import system_user

    call_command("migrate", verbosity=0)
    rng = random.Random(SEED)
    scale = f"{ITEMS // 1000}k CIs/{RELATIONS // 1000}k rel"
    began = time.perf_counter()
    ids = seed(rng)
    emit("cmdb_seed_100k_500k", time.perf_counter() - began, "s", None, database, scale)

    everything = [pk for role in ids.values() for pk in role]
    infrastructure = ids["app"] + ids["db"] + ids["vm"] + ids["host"] + ids["net"]
    random_starts = rng.sample(everything, SAMPLES)
    infra_starts = rng.sample(infrastructure, SAMPLES)
    down_starts = rng.sample(ids["service"] + ids["app"], SAMPLES)
    for figure, starts, direction in (
        ("cmdb_impact_up_d6_p95", random_starts, "up"),
        ("cmdb_impact_up_d6_infra_p95", infra_starts, "up"),
        ("cmdb_impact_down_d6_p95", down_starts, "down"),
    ):
        times, sizes = time_impact(starts, direction)
        emit(figure, percentile(times, 95), "ms", IMPACT_TARGET_MS, database, scale)
        detail = {
            "figure": figure.replace("_p95", "_detail"),
            "p50_ms": round(statistics.median(times), 2),
            "max_ms": round(max(times), 2),
            "median_reached": statistics.median(sizes),
            "p95_reached": percentile(sizes, 95),
            "max_reached": max(sizes),
            "database": database,
        }
        print(json.dumps(detail), file=sys.stderr, flush=True)  # for people, not bench/run.py

    people_and_teams()
    data = import_file(rng)
    server = CIType.objects.get(code="server")
    actor = system_user()
    began = time.perf_counter()
    preview = importing.preview(data, IMPORT_MAPPING, server, actor=actor, filename="bench.csv")
    emit("cmdb_import_preview_50k", time.perf_counter() - began, "s", None, database, "50k rows")
    if not preview.ok or preview.create != IMPORT_ROWS:
        raise SystemExit(f"the bench file does not import cleanly: {preview.errors[:5]}")
    began = time.perf_counter()
    result = importing.run(data, IMPORT_MAPPING, server, actor=actor, filename="bench.csv")
    emit("cmdb_import_50k", time.perf_counter() - began, "s", IMPORT_TARGET_S, database, "50k rows")
    if result.created != IMPORT_ROWS:
        raise SystemExit(f"imported {result.created} of {IMPORT_ROWS} rows")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if args.database:
        run_one(args.database)
        return 0
    return run_each(__file__, ROOT, lambda: postgres_url(DEFAULT_POSTGRES), timeout=900)


if __name__ == "__main__":
    sys.exit(main())
