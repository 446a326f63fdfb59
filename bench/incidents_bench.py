"""Incident figures at scale (issue "Incident management", section Figures), on one database.

Run: ``.venv/bin/python bench/incidents_bench.py`` (SQLite under ``var/bench/sqlite``), or with
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/keel_bench_incidents`` for PostgreSQL; ``bench/run.py`` runs it once per database.
``BENCH_SCALE`` sets the number of incidents (default 1,000,000; e.g. ``BENCH_SCALE=20000`` for a
quick run, kept in its own ``var/bench/sqlite-20000``). It never touches ``var/keel.sqlite3``.

1. Seeds ``BENCH_SCALE`` incidents with ``keel seed_incidents`` (once: a database that already
   holds them is reused) and makes its own agent, requesters and API tokens
   (``keel token create``).
2. Starts Keel as users do (``keel serve`` on a free loopback port, default workers and threads)
   and measures, with a bounded closed-loop load generator (``bench/loadgen.py``):
   (a) p50/p95 of the agent's queue page ``/incidents/?queue=my_teams`` (signed in with a
       session) and of ``GET /api/v1/incidents?team=…&status=open`` (bearer token), 500 requests
       from 4 clients each, for the team with the largest open backlog; and the same query as raw
       SQL in-process (the database limit);
   (b) creations per second through ``POST /api/v1/incidents`` with 8 clients, the median of
       three windows of 10 s, with Keel's CPU per creation and, on PostgreSQL, the database's;
   (c) the framework ceiling: ``bench/ceiling_app.py`` (Django + ninja, constant JSON) with the
       same workers and threads, under gunicorn (the issue's ceiling) and under granian (the
       server ``keel serve`` runs), and Keel's create rate as a ratio to each.
3. In-process: the SLA sweep over the open incidents (100,000 at the default scale) as the
   minute-by-minute task runs it, and after an hour's backlog (both rolled back, so the
   database stays reusable); and a single-thread loop of ``actions.open_incident`` with its
   statement count (the create path without HTTP, for profiling).

Prints one JSON object per line: figure, value, unit, target, database, scale, better.
Environment: ``BENCH_SCALE``, ``BENCH_CREATE_SECONDS`` (10), ``BENCH_WORKERS`` /
``BENCH_THREADS`` (Keel's defaults), ``BENCH_QUEUE_REQUESTS`` (500).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from http.client import HTTPConnection
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402

BENCH_USES_DATABASE = True  # bench/run.py runs this script once per database
DEFAULT_SCALE = 1_000_000
HOST = "127.0.0.1"
PASSWORD = "bench-Keel-2026-pass"
AGENT = "bench-agent"
REQUESTERS = [f"bench-requester-{i}" for i in range(1, 9)]

SCALE = int(os.environ.get("BENCH_SCALE") or DEFAULT_SCALE)
CREATE_SECONDS = float(os.environ.get("BENCH_CREATE_SECONDS") or 10)
CREATE_WINDOWS = 3
QUEUE_REQUESTS = int(os.environ.get("BENCH_QUEUE_REQUESTS") or 500)
QUEUE_CLIENTS = 4
GET_SECONDS = 60.0  # each latency run stops after this long even if its requests are not done
CREATE_CLIENTS = 8


def _configure() -> str:
    url = (os.environ.get("DATABASE_URL") or "").strip()
    vendor = "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    name = vendor if SCALE == DEFAULT_SCALE else f"{vendor}-{SCALE}"
    var = Path(os.environ.get("BENCH_VAR_DIR") or ROOT / "var" / "bench" / name)
    var.mkdir(parents=True, exist_ok=True)
    os.environ["KEEL_VAR_DIR"] = str(var)  # never the developer's var/
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keel.settings")
    os.environ["KEEL_EMAIL_URL"] = "console:"
    os.environ.pop("REDIS_URL", None)
    return vendor


VENDOR = _configure()
VAR = Path(os.environ["KEEL_VAR_DIR"])


def log(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def emit(figure: str, value: float | None, unit: str, target: float | None, **extra: Any) -> None:
    row = {
        "figure": figure,
        "value": None if value is None else round(value, 4),
        "unit": unit,
        "target": target,
        "database": VENDOR,
        "scale": f"{SCALE:,}",
        **extra,
        # Other work on the machine skews every figure: the 1-minute load average says if any.
        "loadavg": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(row, ensure_ascii=False), flush=True)


# --- the database -------------------------------------------------------------------------


def set_aside_created() -> int:
    """Cancel the incidents the benchmark itself recorded, so every run sees the seeded backlog.

    Test data: one UPDATE, not thousands of actions; one audit event says what was done. Their
    acknowledgements, queued in the outbox (no worker runs beside the benchmark's server), are
    dropped with them: no one is there to read them.
    """
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from keel.core import audit
    from keel.core.actions import system_user
    from keel.core.models import PendingTask
    from keel.incidents.models import Incident

    now = timezone.now()
    with transaction.atomic():
        PendingTask.objects.all().delete()
        count = Incident.objects.filter(
            requester__username__startswith="bench-requester-", is_open=True
        ).update(
            status="cancelled",
            is_open=False,
            cancelled_at=now,
            updated_at=now,
            version=F("version") + 1,
        )
        if count:
            audit.record(
                system_user(),
                "bench.incidents_set_aside",
                object_type="incidents.incident",
                object_id="bench",
                object_repr="incidents recorded by the benchmark",
                changes={"cancelled": [None, count]},
                reason="benchmark clean-up, so the next run sees the seeded backlog",
                at=now,
            )
    return count


def vacuum() -> None:
    """On PostgreSQL, clear the dead rows earlier runs' clean-ups left and refresh statistics,
    as autovacuum does in a real installation (this machine's server runs with it off): without
    it, every run's cancellations and dropped notices stay in the tables and their indexes, and
    each run measures a more bloated database than the last."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    from keel.core.models import AuditChain, AuditEvent, PendingTask, Sequence
    from keel.incidents.models import Incident

    tables = [m._meta.db_table for m in (Incident, PendingTask, AuditEvent, AuditChain, Sequence)]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
    log(f"vacuumed {', '.join(tables)} in {time.perf_counter() - started:.1f}s")


def prepare() -> dict[str, Any]:
    """Migrate, seed to the scale once, and make the benchmark's own people and tokens."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Count

    from keel.core import actions as core
    from keel.core.models import Team, TeamMembership, User
    from keel.core.roles import Role
    from keel.incidents.models import Incident

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)  # pages need the manifest
    for stale in VAR.glob("huey.sqlite3*"):  # tasks queued by earlier runs (no consumer runs)
        stale.unlink()
    set_aside = set_aside_created()
    if set_aside:
        log(f"cancelled {set_aside:,} incidents left open by earlier runs")
    vacuum()
    have = Incident.objects.count()
    if have < SCALE * 0.95:
        log(f"seeding {SCALE - have:,} incidents (have {have:,})")
        out = StringIO()
        started = time.perf_counter()
        call_command("seed_incidents", count=SCALE - have, seed=1, stdout=out)
        elapsed = time.perf_counter() - started
        log(out.getvalue().strip().splitlines()[-2] if out.getvalue() else "seeded")
        emit(
            "seed_incidents_rate",
            (SCALE - have) / elapsed,
            "rows/s",
            round(DEFAULT_SCALE / 180),  # a million in three minutes
            better="higher",
            seconds=round(elapsed, 1),
        )
        (VAR / "seeded.json").write_text(
            json.dumps({"at": datetime.now().astimezone().isoformat(), "rows": SCALE - have})
        )
    else:
        log(f"reusing {have:,} incidents in {VAR}")
    system = core.system_user()
    department = User.objects.filter(username__startswith="seed-user-").first().department

    def person(username: str, roles: list[str]) -> Any:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = core.create_user(
                actor=system,
                username=username,
                name=username.replace("-", " ").title(),
                email=f"{username}@bench.example.com",
                password=PASSWORD,
                roles=roles,
                department=department,
            )
        return user

    agent = person(AGENT, [Role.AGENT.value])
    requesters = [person(u, [Role.REQUESTER.value]) for u in REQUESTERS]
    # The agent works in the team with the largest open backlog: the hardest queue there is.
    biggest = (
        Incident.objects.filter(is_open=True)
        .values("team_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    team = Team.objects.get(pk=biggest["team_id"])
    for membership in TeamMembership.objects.filter(user=agent).exclude(team=team):
        core.remove_team_member(actor=system, team=membership.team, user=agent)
    if not TeamMembership.objects.filter(user=agent, team=team).exists():
        core.add_team_member(actor=system, team=team, user=agent)

    def token(username: str) -> str:
        out = StringIO()
        call_command("token", "create", username, name="bench", stdout=out)
        return out.getvalue().strip()

    from keel.catalog.models import Service

    return {
        "agent": agent,
        "requesters": requesters,
        "team": team,
        "team_open": biggest["n"],
        "open": Incident.objects.filter(is_open=True).count(),
        "total": Incident.objects.count(),
        "agent_token": token(AGENT),
        "requester_tokens": [token(u) for u in REQUESTERS],
        "services": list(
            Service.objects.filter(is_active=True, in_portal=True, code__startswith="seed-")
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
    }


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http(
    port: int, method: str, path: str, *, headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, bytes, Any]:
    connection = HTTPConnection(HOST, port, timeout=60)
    try:
        payload = json.dumps(body) if isinstance(body, dict) else body
        heads = dict(headers or {})
        if isinstance(body, dict):
            heads["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=heads)
        response = connection.getresponse()
        return response.status, response.read(), response.headers
    finally:
        connection.close()


@contextmanager
def server(command: list[str], port: int, name: str, probe: str):
    """A server subprocess, up once it answers on ``port``; always stopped afterwards."""
    from django.db import connections

    connections.close_all()
    log_path = VAR / f"{name}.log"
    with open(log_path, "ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.time() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {log_path}")
            try:
                http(port, "GET", probe)
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"{name} did not answer within 90 s") from None
                time.sleep(0.3)
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def server_cpu(process: Any) -> float:
    """CPU seconds (user + system) used so far by a server and all its workers.

    Throughput on a shared 2-core machine swings with whatever else runs; CPU per request does
    not, so each figure also reports it (and the rate the machine's cores would allow).
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == process.pid:  # session id: the server started its own session
            total += int(fields[11]) + int(fields[12])
    return total / tick


def database_cpu() -> float | None:
    """CPU seconds used so far by the PostgreSQL server on this machine (its processes, and
    those that have exited), or ``None`` on SQLite, whose work is in Keel's own processes."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().split(" (", 1)[1].split(")", 1)
        except (OSError, IndexError, ValueError):
            continue
        if name == "postgres":
            values = fields.split()
            total += sum(int(v) for v in values[11:15])  # own and reaped children's time
    return total / tick


def server_shape() -> tuple[int, int]:
    from django.db import connection

    from keel.core.management.commands.serve import default_threads, default_workers

    workers = int(os.environ.get("BENCH_WORKERS") or default_workers(connection.vendor))
    threads = int(os.environ.get("BENCH_THREADS") or default_threads(connection.vendor))
    return workers, threads


def login(port: int, username: str, password: str) -> str:
    """Sign in through the log-in page like a browser; the Cookie header of the session."""
    cookies: dict[str, str] = {}

    def keep(headers: Any) -> None:
        for raw in headers.get_all("Set-Cookie") or []:
            name, _, rest = raw.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]

    status, body, headers = http(port, "GET", "/login/")
    keep(headers)
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if status != 200 or not found:
        raise RuntimeError(f"log-in page answered {status} without a CSRF token")
    form = urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": found[1].decode()}
    )
    status, _body, headers = http(
        port,
        "POST",
        "/login/",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            "Referer": f"http://{HOST}:{port}/login/",
        },
    )
    keep(headers)
    if "sessionid" not in cookies:
        raise RuntimeError(f"log-in as {username} failed ({status})")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def measure_get(
    port: int, figure: str, path: str, headers: dict[str, str], process: Any, **extra: Any
) -> Any:
    """p50 and p95 of ``path`` from one client (latency) and from 4 at once (under load)."""
    status, body, _h = http(port, "GET", path, headers=headers)
    if status != 200:
        missing = status in (404, 405)
        log(f"{path}: {status} {body[:200]!r}")
        emit(
            f"{figure}_p95",
            None,
            "ms",
            50,
            error=("missing" if missing else f"HTTP {status}") + f": GET {path}",
        )
        return None
    request = loadgen.request_bytes("GET", path, host=HOST, port=port, headers=headers)
    loadgen.run(HOST, port, lambda _c, _i: request, clients=QUEUE_CLIENTS, total=40)
    p95 = None
    for clients, total in ((1, QUEUE_REQUESTS // 2), (QUEUE_CLIENTS, QUEUE_REQUESTS)):
        cpu = server_cpu(process)
        result = loadgen.run(
            HOST, port, lambda _c, _i: request, clients=clients, total=total, seconds=GET_SECONDS
        )
        cpu = server_cpu(process) - cpu
        log(f"{figure} ({clients} clients): {result.summary()}")
        done = sum(result.statuses.values())
        bad = done - result.ok(200)
        details = {"clients": clients, "requests": done, "non_200": bad, **extra}
        name = figure if clients > 1 else f"{figure}_1client"
        emit(f"{name}_p50", result.percentile(50), "ms", None, **details)
        emit(f"{name}_p95", result.percentile(95), "ms", 50, **details)
        p95 = result.percentile(95)
        if clients > 1 and done:
            emit(f"{figure}_server_cpu", cpu / done * 1000, "ms", None, note="per request")
    return p95


def measure_creates(port: int, ctx: dict[str, Any], process: Any) -> float | None:
    services = ctx["services"]
    tokens = ctx["requester_tokens"]
    impacts = [(3, 3), (2, 3), (3, 2), (2, 2), (3, 3), (2, 3), (1, 3), (3, 3)]

    def make(client: int, i: int) -> bytes:
        impact, urgency = impacts[(client + i) % len(impacts)]
        body = {
            "title": f"Laptop does not start ({client}-{i})",
            "description": "Black screen after the logo since this morning.",
            "service": services[(client * 7 + i) % len(services)],
            "impact": impact,
            "urgency": urgency,
        }
        return loadgen.request_bytes(
            "POST",
            "/api/v1/incidents",
            host=HOST,
            port=port,
            body=body,
            headers={"Authorization": f"Bearer {tokens[client % len(tokens)]}"},
        )

    status, body, _h = http(
        port,
        "POST",
        "/api/v1/incidents",
        headers={"Authorization": f"Bearer {tokens[0]}"},
        body=json.loads(make(0, 0).split(b"\r\n\r\n", 1)[1]),
    )
    if status != 201:
        log(f"POST /api/v1/incidents: {status} {body[:300]!r}")
        missing = status in (404, 405)
        emit(
            "incident_create_rate",
            None,
            "/s",
            600,
            better="higher",
            error=("missing" if missing else f"HTTP {status}") + ": POST /api/v1/incidents",
        )
        return None
    from django.db import connections

    from keel.core.models import AuditChain
    from keel.incidents.models import Incident

    loadgen.run(HOST, port, make, clients=CREATE_CLIENTS, seconds=2)  # warm-up
    before = Incident.objects.count(), AuditChain.objects.get(id=1).seq
    connections.close_all()
    # Three windows, the median reported: one window on a shared 2-core machine can be a fifth
    # off either way.
    windows = []
    for _ in range(CREATE_WINDOWS):
        cpu, db_cpu = server_cpu(process), database_cpu()
        result = loadgen.run(HOST, port, make, clients=CREATE_CLIENTS, seconds=CREATE_SECONDS)
        db_used = None if db_cpu is None else (database_cpu() or 0) - db_cpu
        windows.append((result.rate(201), result, server_cpu(process) - cpu, db_used))
    after = Incident.objects.count(), AuditChain.objects.get(id=1).seq
    connections.close_all()
    rate, result, cpu, db_used = sorted(windows, key=lambda w: w[0])[len(windows) // 2]
    log(
        f"creates (median of {len(windows)} windows): {result.summary()}; "
        f"{after[0] - before[0]} incidents and {after[1] - before[1]} audit events written"
    )
    emit(
        "incident_create_rate",
        rate,
        "/s",
        600,
        better="higher",
        clients=CREATE_CLIENTS,
        seconds=CREATE_SECONDS,
        windows=[round(w[0], 1) for w in windows],
        created=result.ok(201),
        non_201=sum(result.statuses.values()) - result.ok(201),
        p50_ms=round(result.percentile(50), 1),
        p95_ms=round(result.percentile(95), 1),
    )
    if result.ok(201):
        per = cpu / result.ok(201) * 1000
        emit("incident_create_server_cpu", per, "ms", None, note="server CPU per create")
        if db_used is not None:
            emit(
                "incident_create_database_cpu",
                db_used / result.ok(201) * 1000,
                "ms",
                None,
                note="PostgreSQL's CPU per create (all its processes on this machine)",
            )
        cores = os.cpu_count() or 1
        emit(
            "incident_create_cpu_bound_rate",
            cores * 1000 / per,
            "/s",
            600,
            better="higher",
            note=f"{cores} cores / server CPU per create: the rate if nothing else ran",
        )
    return rate


def measure_ceiling(workers: int, threads: int, server_name: str = "gunicorn") -> float:
    """Constant JSON through Django + ninja (``bench/ceiling_app.py``) with the same processes
    and threads as Keel: under gunicorn (``gthread``), the issue's ceiling, or under granian,
    the server ``keel serve`` runs."""
    port = free_port()
    if server_name == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", "--chdir", str(HERE)]
        command += ["--bind", f"{HOST}:{port}", "--workers", str(workers)]
        command += ["--threads", str(threads), "--worker-class", "gthread", "--keep-alive", "5"]
        command += ["--log-level", "warning", "ceiling_app:application"]
    else:
        command = [sys.executable, "-m", "granian", "--working-dir", str(HERE)]
        command += ["--host", HOST, "--port", str(port), "--interface", "wsgi", "--http", "1"]
        command += ["--no-ws", "--workers", str(workers), "--blocking-threads", str(threads)]
        command += ["--log-level", "warning", "ceiling_app:application"]
    suffix = "" if server_name == "gunicorn" else f"_{server_name}"
    with server(command, port, f"ceiling{suffix}", "/api/ping") as ceiling:
        request = loadgen.request_bytes("GET", "/api/ping", host=HOST, port=port)
        loadgen.run(HOST, port, lambda _c, _i: request, clients=CREATE_CLIENTS, seconds=1)
        cpu = server_cpu(ceiling)
        result = loadgen.run(HOST, port, lambda _c, _i: request, clients=CREATE_CLIENTS, seconds=5)
        cpu = server_cpu(ceiling) - cpu
    log(f"ceiling ({server_name}): {result.summary()}")
    rate = result.rate(200)
    if result.ok(200):
        emit(f"ceiling_ping{suffix}_server_cpu", cpu / result.ok(200) * 1000, "ms", None)
    emit(
        f"ceiling_ping{suffix}_rate",
        rate,
        "/s",
        None,
        better="higher",
        clients=CREATE_CLIENTS,
        workers=workers,
        threads=threads,
        server=server_name,
    )
    return rate


def measure_sql(ctx: dict[str, Any]) -> float:
    """The list query itself, as raw SQL on one connection: what the database alone costs."""
    from django.db import connection

    from keel.incidents import queries

    flt = queries.IncidentFilter.parse({"team": str(ctx["team"].pk), "status": "open"})
    qs = queries.incidents_for(ctx["agent"], flt)[: queries.PAGE_SIZE + 1]
    sql, params = qs.query.sql_with_params()
    timings = []
    with connection.cursor() as cursor:
        for _ in range(5):
            cursor.execute(sql, params)
            cursor.fetchall()
        stop = time.perf_counter() + GET_SECONDS / 2
        for _ in range(QUEUE_REQUESTS):
            if time.perf_counter() > stop:
                break
            began = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    emit("incident_list_sql_p50", statistics.median(timings), "ms", None, runs=len(timings))
    emit("incident_list_sql_p95", p95, "ms", None, runs=len(timings))
    return p95


def measure_sweep(ctx: dict[str, Any]) -> None:
    """The SLA sweep as the every-minute task runs it, and after an hour without sweeps.

    Seeded incidents carry the flags a sweep would have set when they were seeded. First a
    catch-up sweep brings them to now (committed, as the periodic task would have; its e-mails
    are not sent); then the sweep one minute from now, and one hour from now (a worker that was
    down for an hour), each in a transaction that is rolled back, so the database stays as it is.
    """
    from django.db import transaction
    from django.utils import timezone

    from keel.core.actions import system_user
    from keel.incidents import actions, notify
    from keel.incidents.models import Incident

    system = system_user()

    def sweep(at: datetime, *, keep: bool = False) -> tuple[float, dict[str, int]]:
        with transaction.atomic():
            began = time.perf_counter()
            report = actions.sweep_sla(actor=system, now=at)
            elapsed = time.perf_counter() - began
            if not keep:
                transaction.set_rollback(True)
        return elapsed, {k: len(v) for k, v in report.items()}

    send, notify.sla_notices = notify.sla_notices, lambda _notices: None
    try:
        elapsed, due = sweep(timezone.now(), keep=True)
    finally:
        notify.sla_notices = send
    open_now = Incident.objects.filter(is_open=True).count()
    log(f"catch-up sweep over {open_now:,} open: {elapsed:.3f}s {due}")
    emit("sla_sweep_catch_up", elapsed, "s", None, open=open_now, due=due)
    now = timezone.now()
    sweep(now + timedelta(minutes=1))  # warm, as the worker's process is
    runs = [sweep(now + timedelta(minutes=1)) for _ in range(3)]
    elapsed, due = sorted(runs)[1]
    log(f"sweep (a minute due) over {open_now:,} open: {elapsed:.3f}s {due}")
    emit("sla_sweep_minute", elapsed, "s", 2, open=open_now, due=due)
    elapsed, due = sweep(now + timedelta(hours=1))
    log(f"sweep (an hour due): {elapsed:.3f}s {due}")
    emit("sla_sweep_hour_backlog", elapsed, "s", 2, open=open_now, due=due)


def measure_inprocess_creates(ctx: dict[str, Any], count: int = 300) -> None:
    """``actions.open_incident`` in a loop on one thread: the create path without HTTP."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from keel.catalog.models import Service
    from keel.incidents import actions

    requester = ctx["requesters"][0]
    services = list(Service.objects.filter(pk__in=ctx["services"]))

    def one(i: int) -> None:
        actions.open_incident(
            actor=requester,
            title=f"Laptop does not start (in-process {i})",
            description="Black screen after the logo since this morning.",
            service=services[i % len(services)],
            impact=3,
            urgency=2,
        )

    for i in range(20):
        one(i)
    with CaptureQueriesContext(connection) as queries:
        one(20)
    began = time.perf_counter()
    for i in range(count):
        one(i)
    elapsed = time.perf_counter() - began
    statements = [q["sql"].split(" ", 1)[0].upper() for q in queries.captured_queries]
    log(f"in-process create: {count / elapsed:.0f}/s, statements {statements}")
    emit(
        "incident_create_inprocess_rate",
        count / elapsed,
        "/s",
        None,
        better="higher",
        statements=len(statements),
    )


def main() -> int:
    failures = 0
    try:
        ctx = prepare()
    except Exception:
        traceback.print_exc()
        emit("incident_bench_setup", None, "", None, error=traceback.format_exc()[-400:])
        return 1
    log(
        f"{ctx['total']:,} incidents, {ctx['open']:,} open; agent in {ctx['team'].name} "
        f"({ctx['team_open']:,} open)"
    )
    workers, threads = server_shape()
    port = free_port()
    serve = [sys.executable, "-m", "keel", "serve", "--port", str(port)]
    serve += ["--workers", str(workers), "--threads", str(threads)]
    create_rate = api_p95 = None
    try:
        with server(serve, port, "keel", "/api/v1/health") as keel:
            log(f"keel serve on {port}: {workers} workers × {threads} threads")
            shape = {"workers": workers, "threads": threads, "team_open": ctx["team_open"]}
            try:
                cookie = login(port, AGENT, PASSWORD)
                measure_get(
                    port,
                    "incident_queue_page",
                    "/incidents/?queue=my_teams",
                    {"Cookie": cookie},
                    keel,
                    **shape,
                )
            except Exception as exc:
                failures += 1
                log(traceback.format_exc())
                emit("incident_queue_page_p95", None, "ms", 50, error=str(exc)[:300])
            path = f"/api/v1/incidents?team={ctx['team'].pk}&status=open"
            api_p95 = measure_get(
                port,
                "incident_list_api",
                path,
                {"Authorization": f"Bearer {ctx['agent_token']}"},
                keel,
                **shape,
            )
            create_rate = measure_creates(port, ctx, keel)
    except Exception as exc:
        failures += 1
        log(traceback.format_exc())
        emit("incident_server", None, "", None, error=str(exc)[:300])
    try:
        sql_p95 = measure_sql(ctx)
        if api_p95:
            emit("incident_list_api_vs_sql", api_p95 / sql_p95, "×", None)
    except Exception as exc:
        failures += 1
        log(traceback.format_exc())
        emit("incident_list_sql_p95", None, "ms", None, error=str(exc)[:300])
    for server_name in ("gunicorn", "granian"):
        suffix = "" if server_name == "gunicorn" else f"_{server_name}"
        try:
            ceiling = measure_ceiling(workers, threads, server_name)
            if create_rate:
                target = 0.15 if server_name == "gunicorn" else None
                ratio = create_rate / ceiling
                emit(f"incident_create_vs{suffix}_ceiling", ratio, "×", target, better="higher")
        except Exception as exc:
            failures += 1
            log(traceback.format_exc())
            emit(f"ceiling_ping{suffix}_rate", None, "/s", None, error=str(exc)[:300])
    set_aside_created()  # the sweep should see the seeded backlog, not this run's creations
    for step in (measure_sweep, measure_inprocess_creates):
        try:
            step(ctx)
        except Exception as exc:
            failures += 1
            log(traceback.format_exc())
            emit(step.__name__, None, "", None, error=str(exc)[:300])
    set_aside_created()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
