"""``keel serve`` starts granian with Keel's application, and it answers over HTTP/1.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from http.client import HTTPConnection

import pytest

from keel.core.management.commands.serve import Command, DeliberateShape


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_server_is_granian_serving_keels_wsgi_application():
    server = Command.server("127.0.0.1", 8123, workers=3, threads=2, access_log=True)

    assert server.target == "keel.wsgi:application"
    assert server.interface.value == "wsgi"
    assert (server.bind_addr, server.bind_port) == ("127.0.0.1", 8123)
    assert (server.workers, server.blocking_threads) == (3, 2)
    assert server.respawn_failed_workers  # a process that dies is replaced
    assert server.log_access


@contextmanager
def _serving(tmp_path, *options: str):
    """``keel serve`` in a process of its own, on a free port and a database of its own, until
    it answers; killed afterwards if still running."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["KEEL_VAR_DIR"] = str(tmp_path)
    command = [sys.executable, "-m", "keel", "serve", "--port", str(port), *options]
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603 (our own command line)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield port, process, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def served(tmp_path):
    with _serving(tmp_path, "--workers", "1", "--threads", "2", "--access-log") as running:
        yield running


@pytest.mark.parametrize(
    ("options", "warned"),
    [((), False), (("--workers", str((os.cpu_count() or 1) + 2)), True)],
    ids=["keel-s-own-count", "a-count-given-by-hand"],
)
def test_granian_warns_of_more_processes_than_cores_only_when_given_by_hand(
    tmp_path, options, warned
):
    # On SQLite Keel's own count is one more than the cores, on purpose (serve.default_workers).
    with _serving(tmp_path, *options) as (_port, process, log):
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    text = log.read_text()

    assert "Listening at" in text
    assert (DeliberateShape.WARNING in text) is warned


def test_keel_serve_answers_on_one_kept_alive_connection_and_stops_on_sigterm(served):
    port, process, log = served
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    answers = []
    for _ in range(2):  # the second request reuses the first one's connection
        connection.request("GET", "/api/v1/health")
        response = connection.getresponse()
        answers.append((response.status, response.getheader("server"), response.read()))
    sock = connection.sock
    connection.request("GET", "/api/v1/health", headers={"X-Request-ID": "serve-test-1"})
    response = connection.getresponse()
    response.read()
    assert connection.sock is sock, "the connection was not kept alive"
    assert response.getheader("X-Request-ID") == "serve-test-1"
    connection.close()

    for status, server, body in answers:
        assert status == 200
        assert server == "granian"
        assert b'"database":{"ok":true' in body

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert "GET /api/v1/health" in log.read_text()  # --access-log logs each request
