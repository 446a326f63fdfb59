"""Fresh databases for the benchmark scripts that handle SQLite and PostgreSQL themselves
(``cmdb_bench.py``, ``import_bench.py``): each run starts from an empty database, and a script
run with no ``--database`` runs itself once per database in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def postgres_url(default: str) -> str:
    """``KEEL_BENCH_POSTGRES``, else a ``DATABASE_URL`` naming a bench database, else ``default``.

    A server address without a database gets the default's database name."""
    url = os.environ.get("KEEL_BENCH_POSTGRES", "")
    database_url = os.environ.get("DATABASE_URL", "")
    if (
        not url
        and database_url.startswith("postgres")
        and "bench" in database_url.rsplit("/", 1)[-1]
    ):
        url = database_url
    if url and url.rstrip("/").count("/") < 3:
        url = url.rstrip("/") + "/" + default.rsplit("/", 1)[1]
    return url or default


def fresh_postgres(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    if "bench" not in name:  # it is dropped: never a database someone works in
        raise SystemExit(f"refusing to drop {name!r}: a bench database's name contains 'bench'")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def fresh_sqlite(var_dir: Path) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        (var_dir / f"keel.sqlite3{suffix}").unlink(missing_ok=True)


def postgres_reachable(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(f"{url.rsplit('/', 1)[0]}/postgres", connect_timeout=3):
            return True
    except Exception:
        return False


def run_each(script: str, root: Path, postgres: Callable[[], str], timeout: int) -> int:
    """Run ``script --database sqlite`` then ``--database postgres`` (when reachable)."""
    failed = 0
    for database in ("sqlite", "postgres"):
        if database == "postgres" and not postgres_reachable(postgres()):
            print("PostgreSQL unreachable; set KEEL_BENCH_POSTGRES", file=sys.stderr)
            continue
        proc = subprocess.run(
            [sys.executable, script, "--database", database], cwd=root, timeout=timeout
        )
        failed += proc.returncode != 0
    return 1 if failed else 0
