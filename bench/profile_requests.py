"""Profile Keel's hot request paths in-process: where the CPU of one request goes.

Run after ``bench/incidents_bench.py`` has seeded its database (it reuses that database and its
people; ``BENCH_SCALE=20000`` for the small one)::

    .venv/bin/python bench/profile_requests.py create        # POST /api/v1/incidents
    .venv/bin/python bench/profile_requests.py list queue    # the API list and the queue page

Each request goes through Django's full handler and middleware (the test client, no sockets), so
what it prints is the server's own work: requests per second on one thread, the SQL statements of
one request, and the functions taking the most time under cProfile (``--top N``, default 30).
Creations are made by the benchmark's requesters and set aside (cancelled) afterwards, as the
benchmark does. Nothing here changes the code paths it measures.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from io import StringIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import incidents_bench as bench  # noqa: E402  (configures the benchmark's var dir first)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("paths", nargs="+", choices=["create", "list", "queue"])
    parser.add_argument("-n", type=int, default=300, help="requests per path (default 300)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    args = parser.parse_args(argv)

    ctx = bench.prepare()
    from django.db import connection
    from huey.contrib.djhuey import HUEY

    HUEY.storage.initialize_schema()  # prepare() removed the queue file of earlier runs
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    host = {"HTTP_HOST": "127.0.0.1"}
    token = {"HTTP_AUTHORIZATION": f"Bearer {ctx['requester_tokens'][0]}", **host}
    agent_token = {"HTTP_AUTHORIZATION": f"Bearer {ctx['agent_token']}", **host}
    services = ctx["services"]
    list_path = f"/api/v1/incidents?team={ctx['team'].pk}&status=open"
    api = Client(**host)  # one handler, as in a server process (a new one loads middleware)
    browser = Client(**host)
    browser.force_login(ctx["agent"])

    def create(i: int) -> int:
        body = {
            "title": f"Laptop does not start (profile {i})",
            "description": "Black screen after the logo since this morning.",
            "service": services[i % len(services)],
            "impact": 3,
            "urgency": 2,
        }
        return api.post(
            "/api/v1/incidents", json.dumps(body), content_type="application/json", **token
        ).status_code

    def api_list(_i: int) -> int:
        return api.get(list_path, **agent_token).status_code

    def queue(_i: int) -> int:
        return browser.get("/incidents/?queue=my_teams").status_code

    calls = {"create": (create, 201), "list": (api_list, 200), "queue": (queue, 200)}
    try:
        for name in args.paths:
            call, expected = calls[name]
            for i in range(10):  # warm: caches, templates, the first connection
                status = call(i)
                if status != expected:
                    raise SystemExit(f"{name}: HTTP {status}, expected {expected}")
            with CaptureQueriesContext(connection) as captured:
                call(10)
            statements = [q["sql"] for q in captured.captured_queries]
            began = time.perf_counter()
            for i in range(args.n):
                call(i)
            elapsed = time.perf_counter() - began
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(args.n):
                call(i)
            profiler.disable()
            print(
                f"\n=== {name}: {args.n / elapsed:.0f}/s on one thread, "
                f"{elapsed / args.n * 1000:.2f} ms each; {len(statements)} statements"
            )
            for sql in statements:
                print(f"  {sql[:160]}")
            out = StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue())
    finally:
        bench.set_aside_created()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
