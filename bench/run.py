"""`make bench`: run every benchmark, print one table, write var/bench/results.json.

Each benchmark is a script in this folder named ``*_bench.py`` that prints one JSON object per
line: ``{"figure", "value", "unit", "target"}`` (and optionally ``"database"``, ``"scale"``,
``"better"``: ``"lower"`` (default) or ``"higher"``). Run one alone with
``.venv/bin/python bench/run.py calendar``.

A script that says ``BENCH_USES_DATABASE = True`` runs once per database: on SQLite always (with
``DATABASE_URL`` unset, so it keeps its own file under ``var/bench/``), and on PostgreSQL when
``KEEL_BENCH_POSTGRES`` names a server (``postgres://postgres@127.0.0.1:5432``; each
script gets its own database there, ``keel_bench_<name>``, created if missing), passed to it as
``DATABASE_URL`` (and as ``KEEL_BENCH_POSTGRES`` to scripts that handle both databases
themselves). Each run is bounded by
``BENCH_TIMEOUT`` seconds (default 1800; the first run seeds a million incidents).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def uses_database(script: Path) -> bool:
    return "BENCH_USES_DATABASE = True" in script.read_text()


def postgres_server() -> str | None:
    """The server ``KEEL_BENCH_POSTGRES`` names (any database name in it is dropped)."""
    raw = (os.environ.get("KEEL_BENCH_POSTGRES") or "").strip()
    if not raw:
        return None
    return urlunsplit(urlsplit(raw)._replace(path=""))


def database_for(server: str, script: Path) -> str:
    """Each script gets its own database on the server (``keel_bench_incidents``, …).

    Scripts must never share one: some drop and re-create theirs on every run, others keep a
    seeded million rows between runs.
    """
    name = "keel_bench_" + script.stem.removesuffix("_bench").replace("-", "_")
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def ensure_postgres_database(url: str) -> None:
    """Create the benchmark database on the server if it is not there yet."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def run_one(script: Path, database_url: str | None = None) -> list[dict]:
    env = os.environ.copy()
    env.pop("DATABASE_URL", None)
    server = postgres_server()
    if server:
        # Scripts that pick their PostgreSQL database themselves get their own one, too.
        env["KEEL_BENCH_POSTGRES"] = database_for(server, script)
    if database_url:
        env["DATABASE_URL"] = database_url
    label = f"{script.name}" + (" (PostgreSQL)" if database_url else "")
    sys.stderr.write(f"--- {label}\n")
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    tail: deque[str] = deque(maxlen=40)
    out: list[str] = []

    def relay() -> None:  # show progress as it happens, keep the end for the report
        assert proc.stderr is not None
        for line in proc.stderr:
            sys.stderr.write(line)
            tail.append(line)

    def collect() -> None:
        assert proc.stdout is not None
        out.extend(proc.stdout)

    readers = [threading.Thread(target=f, daemon=True) for f in (relay, collect)]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=float(os.environ.get("BENCH_TIMEOUT") or 1800))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        tail.append("timed out\n")
    for reader in readers:
        reader.join(timeout=10)
    stdout = "".join(out)
    rows = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
    if proc.returncode != 0 and not any(r.get("value") is None for r in rows):
        sys.stderr.write(f"{label} failed:\n{''.join(tail)[-4000:]}\n")
        rows.append(
            {
                "figure": script.stem,
                "value": None,
                "unit": "",
                "target": None,
                "database": "postgresql" if database_url else "sqlite",
                "error": "".join(tail)[-500:],
            }
        )
    return rows


def verdict(row: dict) -> str:
    value, target = row.get("value"), row.get("target")
    if value is None:
        return "FAILED"
    if target is None:
        return ""
    ok = value >= target if row.get("better") == "higher" else value <= target
    return "ok" if ok else "MISSED"


def main(argv: list[str]) -> int:
    wanted = set(argv)
    scripts = sorted(
        p for p in HERE.glob("*_bench.py") if not wanted or p.stem.removesuffix("_bench") in wanted
    )
    commit = git_commit()
    results = []
    server = postgres_server()
    if server is None and any(uses_database(s) for s in scripts):
        sys.stderr.write("KEEL_BENCH_POSTGRES is not set: the PostgreSQL runs are skipped.\n")
    for script in scripts:
        runs: list[str | None] = [None]
        if uses_database(script) and server:
            database = database_for(server, script)
            ensure_postgres_database(database)
            runs.append(database)
        for database_url in runs:
            for row in run_one(script, database_url):
                row.setdefault("database", "none")
                row.setdefault("scale", "")
                row["commit"] = commit
                row["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
                results.append(row)
    print(
        f"{'figure':<40} {'value':>12} {'unit':<6} {'target':>10} {'database':<10} {'scale':<12} verdict"
    )
    for row in results:
        value = "—" if row["value"] is None else f"{row['value']:.4g}"
        target = "" if row.get("target") is None else f"{row['target']:g}"
        print(
            f"{row['figure']:<40} {value:>12} {row.get('unit', ''):<6} {target:>10} "
            f"{row['database']:<10} {row['scale']!s:<12} {verdict(row)}"
        )
    out = ROOT / "var" / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return 1 if any(r["value"] is None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
