"""`make bench`: run every benchmark, print one table, write var/bench/results.json.

Each benchmark is a script in this folder named ``*_bench.py`` that prints one JSON object per
line: ``{"figure", "value", "unit", "target"}`` (and optionally ``"database"``, ``"scale"``,
``"better"``: ``"lower"`` (default) or ``"higher"``). Run one alone with
``.venv/bin/python bench/run.py calendar``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_one(script: Path) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, env=os.environ.copy()
    )
    if proc.returncode != 0:
        sys.stderr.write(f"{script.name} failed:\n{proc.stderr[-4000:]}\n")
        return [{"figure": script.stem, "value": None, "unit": "", "target": None, "error": proc.stderr[-500:]}]
    rows = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
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
    scripts = sorted(p for p in HERE.glob("*_bench.py") if not wanted or p.stem.removesuffix("_bench") in wanted)
    commit = git_commit()
    results = []
    for script in scripts:
        for row in run_one(script):
            row.setdefault("database", "none")
            row.setdefault("scale", "")
            row["commit"] = commit
            row["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            results.append(row)
    print(f"{'figure':<40} {'value':>12} {'unit':<6} {'target':>10} {'database':<10} {'scale':<12} verdict")
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
