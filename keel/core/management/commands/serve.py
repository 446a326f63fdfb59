"""Run Keel's web server (granian, WSGI) with sane defaults, and optionally one background worker.

Granian reads and writes HTTP in Rust and calls Django only for the request itself: a constant
JSON answer costs its process 0.22 ms of CPU against gunicorn's 0.47 ms (``gthread``, one
worker, one client, on the 2-core benchmark machine), and SQLite records 6-15% more incidents
per second (alternating runs). ``gunicorn keel.wsgi`` serves the same application where
gunicorn is wanted.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def default_workers(vendor: str) -> int:
    cores = os.cpu_count() or 1
    # SQLite has one writer at a time: more processes only queue on its lock. One more than the
    # cores keeps them busy while a process waits for its turn to write. PostgreSQL: one process
    # per core (see default_threads).
    return cores + 1 if vendor == "sqlite" else cores


def default_threads(vendor: str) -> int:
    # Threads per process, each calling Django. On SQLite a thread holding the write turn must win
    # its process's GIL back after every statement, so few threads; on PostgreSQL a request waits
    # about a millisecond on its one recording statement, and four threads keep the core busy
    # meanwhile. Fewer, busier processes also cost less CPU per request (caches stay warm).
    # Measured with granian, 8 clients recording incidents on 2 cores, alternating runs:
    # SQLite 3 x 2 649-666/s, 2 x 4 627-646/s, 2 x 3 611-657/s; PostgreSQL 2 x 4 634-691/s
    # (Keel 1.8 ms of CPU per create), 4 x 2 528-624/s, 3 x 3 506-611/s, 5 x 2 534-580/s (2.4 ms).
    # The price on PostgreSQL: a client's kept-alive connection stays with one process, so with
    # two processes one of them may hold three of four page viewers (the queue page's p95 with 4
    # clients: 2 x 4 31-60 ms, 4 x 2 32-37 ms). ``--workers 4 --threads 2`` trades intake for it.
    return 2 if vendor == "sqlite" else 4


class DeliberateShape(logging.Filter):
    """Drops granian's warning that more processes than cores may slow it down, where Keel chose
    them on purpose (SQLite: see :func:`default_workers`); a count given by hand still warns."""

    WARNING = "Configured number of workers appears to be higher than the amount of CPU cores"

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.WARNING)


class Command(BaseCommand):
    help = "Serve Keel with granian (and, with --worker, one background worker beside it)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("KEEL_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.KEEL_PORT)
        parser.add_argument("--workers", type=int, default=None, help="web processes")
        parser.add_argument("--threads", type=int, default=None, help="threads per web process")
        parser.add_argument(
            "--worker", action="store_true", help="also start one background worker"
        )
        parser.add_argument("--access-log", action="store_true", help="log every request")

    def handle(self, *args, **options):
        from django.db import connection

        chosen = options["workers"]
        workers = default_workers(connection.vendor) if chosen is None else chosen
        threads = options["threads"]
        threads = default_threads(connection.vendor) if threads is None else threads
        if workers < 1 or threads < 1:
            raise CommandError("--workers and --threads must be at least 1")
        server = self.server(
            options["host"], options["port"], workers, threads, access_log=options["access_log"]
        )
        if chosen is None:
            logging.getLogger("_granian").addFilter(DeliberateShape())  # after granian's set-up
        bind = f"{options['host']}:{options['port']}"
        worker_process = None
        if options["worker"]:
            worker_process = subprocess.Popen([sys.executable, "-m", "keel", "worker"])
        self.stdout.write(self.banner(bind))
        connection.close()
        try:
            server.serve()
        finally:
            if worker_process is not None and worker_process.poll() is None:
                worker_process.send_signal(signal.SIGTERM)
                try:
                    worker_process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker_process.kill()

    @staticmethod
    def server(host: str, port: int, workers: int, threads: int, *, access_log: bool = False):
        """The granian server for Keel's WSGI application (started by its ``serve()``)."""
        from granian import Granian
        from granian.constants import HTTPModes, Interfaces

        return Granian(
            "keel.wsgi:application",
            address=host,
            port=port,
            interface=Interfaces.WSGI,
            http=HTTPModes.http1,  # plain HTTP/1.1; TLS and HTTP/2 belong to the proxy in front
            websockets=False,
            workers=workers,
            blocking_threads=threads,  # threads calling Django, per process
            respawn_failed_workers=True,
            workers_kill_timeout=20,  # a process still busy this long after a stop is killed
            log_access=access_log,
        )

    def banner(self, bind: str) -> str:
        from keel.core import demo

        host, port = bind.rsplit(":", 1)
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
        lines = [
            "",
            f"Keel is running at http://{shown}:{port}/",
            f"API docs: http://{shown}:{port}/api/docs",
        ]
        logins = demo.existing_logins()
        if logins:
            lines.append("Demo log-ins (user name / password):")
            lines += [
                f"  {username:<12} {password}   {what}" for username, password, what in logins
            ]
        lines.append("Press Ctrl-C to stop.\n")
        return "\n".join(lines)
