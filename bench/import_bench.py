"""Time importing real service-desk history: BPIC 2014 (Rabobank) and BPIC 2013 (Volvo IT).

Run: ``.venv/bin/python bench/import_bench.py`` (both databases; PostgreSQL from
``KEEL_BENCH_POSTGRES`` or a ``DATABASE_URL`` whose database name contains "bench", default
``postgres://postgres@127.0.0.1:5432/keel_importbench``; skipped with a note when unreachable),
or ``--database sqlite|postgres`` for one. The data comes from ``KEEL_DATA_DIR`` or
``../shared/data`` beside the checkout; without it the bench says so and reports nothing.

Each run starts from a fresh, migrated database and imports with the shipped mappings as
``keel import`` does, then re-runs the BPIC 2014 import (every record found again and updated,
nothing added) and computes the desk's figures from the imported data. Prints one JSON object
per line: ``{"figure", "value", "unit", "target", "database", "scale"}``; each file's counts go
to stderr. Besides the import, the same rows are read and checked without writing (the dry
run): the reading ceiling the writes are measured against.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import fresh_postgres, fresh_sqlite, postgres_url, run_each  # noqa: E402

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/keel_importbench"
IMPORT_TARGET_S = 60.0
BPIC2014_SCALE = "46.6k incidents, 147k contacts, 467k events, 4.3k CIs"
BPIC2013_SCALE = "7.6k incidents, 65.5k events"


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


def data_folder() -> Path | None:
    for candidate in (os.environ.get("KEEL_DATA_DIR"), ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "bpic2014" / "Detail_Incident.csv.gz").is_file():
            return Path(candidate)
    return None


def run_one(database: str, data: Path) -> None:
    if database == "sqlite":
        var_dir = ROOT / "var" / "bench" / "import"
        fresh_sqlite(var_dir)
        os.environ.pop("DATABASE_URL", None)
        os.environ["KEEL_VAR_DIR"] = str(var_dir)
    else:
        url = postgres_url(DEFAULT_POSTGRES)
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("KEEL_VAR_DIR", str(ROOT / "var" / "bench" / "import-pg"))
        fresh_postgres(url)
    os.environ["DJANGO_SETTINGS_MODULE"] = "keel.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from keel.imports.actions import run_import
    from keel.imports.mapping import load
    from keel.imports.targets import TARGETS
    from keel.incidents.reports import incident_figures

    call_command("migrate", verbosity=0)
    mappings = ROOT / "keel" / "imports" / "mappings"
    bpic2014 = load(mappings / "bpic2014.toml", targets=TARGETS)

    def timed(**options):
        began = time.perf_counter()
        summary = run_import(bpic2014, data_dir=data / "bpic2014", set_levels=True, **options)
        for f in summary.files:
            print(json.dumps({"database": database, **f.__dict__}), file=sys.stderr, flush=True)
        return time.perf_counter() - began

    emit("import_bpic2014_dry_run", timed(dry_run=True), "s", None, database, BPIC2014_SCALE)
    emit("import_bpic2014", timed(), "s", IMPORT_TARGET_S, database, BPIC2014_SCALE)
    emit("import_bpic2014_rerun", timed(), "s", IMPORT_TARGET_S, database, BPIC2014_SCALE)
    began = time.perf_counter()
    figures = incident_figures(import_source="bpic2014")
    emit("report_bpic2014_figures", (time.perf_counter() - began) * 1000, "ms", None, database,
         BPIC2014_SCALE)  # fmt: skip
    print(json.dumps({"database": database, **figures.__dict__}), file=sys.stderr, flush=True)
    if (data / "bpic2013" / "VINST-incidents.csv.gz").is_file():
        bpic2013 = load(mappings / "bpic2013.toml", targets=TARGETS)
        began = time.perf_counter()
        run_import(bpic2013, data_dir=data / "bpic2013", set_levels=True)
        emit("import_bpic2013", time.perf_counter() - began, "s", None, database, BPIC2013_SCALE)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    data = data_folder()
    if data is None:
        print("no BPIC data (set KEEL_DATA_DIR); import figures not measured", file=sys.stderr)
        return 0
    if args.database:
        run_one(args.database, data)
        return 0
    return run_each(__file__, ROOT, lambda: postgres_url(DEFAULT_POSTGRES), timeout=1800)


if __name__ == "__main__":
    sys.exit(main())
