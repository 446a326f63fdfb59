"""Run Keel's web server (gunicorn) with sane defaults, and optionally one background worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def default_workers(vendor: str) -> int:
    cores = os.cpu_count() or 1
    # SQLite has one writer at a time: more processes only queue on its lock. One more than the
    # cores keeps them busy while a process waits for its turn to write.
    return cores + 1 if vendor == "sqlite" else 2 * cores + 1


def default_threads(vendor: str) -> int:
    # A thread holding the database's locks (SQLite's write lock; PostgreSQL's number and audit
    # rows) must win its process's GIL back after every statement; with many threads per process
    # it waits on the others and every writer waits on it. Measured with 8 clients recording
    # incidents on 2 cores: SQLite 2 processes x 4 threads 470-510/s, 3 x 2 530-600/s;
    # PostgreSQL 5 x 4 343-351/s, 5 x 2 415-447/s, 5 x 1 468-511/s. Two threads still let a
    # process answer while one request waits on something slow.
    return 2


class Command(BaseCommand):
    help = "Serve Keel with gunicorn (and, with --worker, one background worker beside it)."

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
        from gunicorn.app.base import BaseApplication

        from keel.wsgi import application

        workers = options["workers"]
        workers = default_workers(connection.vendor) if workers is None else workers
        threads = options["threads"]
        threads = default_threads(connection.vendor) if threads is None else threads
        if workers < 1 or threads < 1:
            raise CommandError("--workers and --threads must be at least 1")
        bind = f"{options['host']}:{options['port']}"
        gunicorn_options = {
            "bind": bind,
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "timeout": 60,
            "graceful_timeout": 20,
            "keepalive": 5,
            "accesslog": "-" if options["access_log"] else None,
            "errorlog": "-",
            "loglevel": "info",
            "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,  # noqa: S108 (gunicorn heartbeat files, in memory)
        }

        class KeelServer(BaseApplication):
            def load_config(self):
                for key, value in gunicorn_options.items():
                    if value is not None:
                        self.cfg.set(key, value)

            def load(self):
                return application

        worker_process = None
        if options["worker"]:
            worker_process = subprocess.Popen([sys.executable, "-m", "keel", "worker"])
        self.stdout.write(self.banner(bind))
        connection.close()
        try:
            KeelServer().run()
        finally:
            if worker_process is not None and worker_process.poll() is None:
                worker_process.send_signal(signal.SIGTERM)
                try:
                    worker_process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker_process.kill()

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
