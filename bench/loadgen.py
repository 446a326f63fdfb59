"""A small, bounded HTTP/1.1 load generator for benchmarks on loopback (no dependencies).

Each client is its own process (so the clients do not share one GIL) holding one keep-alive
connection, sending its next request as soon as the previous answer is read (closed loop). A run
is bounded by a number of requests or a duration, whichever is given, and always stops by
itself. Requests are built by a function ``make(client, i) -> bytes`` so bodies can differ.

Only loopback addresses are accepted: benchmarks never send traffic anywhere else.
"""

from __future__ import annotations

import ipaddress
import json
import multiprocessing
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MakeRequest = Callable[[int, int], bytes]


def request_bytes(
    method: str,
    path: str,
    *,
    host: str,
    port: int,
    headers: dict[str, str] | None = None,
    body: bytes | dict | None = None,
) -> bytes:
    """A complete HTTP/1.1 keep-alive request."""
    payload = b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    if isinstance(body, dict):
        payload = json.dumps(body).encode()
        lines.append("Content-Type: application/json")
    elif body is not None:
        payload = body
    if payload or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(payload)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class _Connection:
    def __init__(self, host: str, port: int):
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.reader: Any = None

    def open(self) -> None:
        self.close()
        self.sock = socket.create_connection(self.address, timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb", buffering=65536)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.reader.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = self.reader = None

    def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Send one request, read one response: ``(status, body, server_closes)``."""
        if self.sock is None:
            self.open()
        assert self.sock is not None
        self.sock.sendall(request)
        status_line = self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, closes = 0, False, False
        while True:
            line = self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                closes = True
        if chunked:
            parts = []
            while True:
                size = int(self.reader.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.reader.readline()
                    break
                parts.append(self.reader.read(size))
                self.reader.readline()
            body = b"".join(parts)
        else:
            body = self.reader.read(length) if length else b""
        return status, body, closes


def _client(
    index: int,
    host: str,
    port: int,
    make: MakeRequest,
    count: int | None,
    deadline: float | None,
    start_at: float,
    out: Any,
) -> None:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    sample: dict[int, str] = {}
    connection = _Connection(host, port)
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    first = time.perf_counter()
    i = 0
    while True:
        if count is not None and i >= count:
            break
        if deadline is not None and time.time() >= deadline:
            break
        request = make(index, i)
        i += 1
        began = time.perf_counter()
        try:
            try:
                status, body, closes = connection.exchange(request)
            except (ConnectionError, BrokenPipeError):
                # A kept-alive connection the server closed in between: reconnect once.
                connection.open()
                status, body, closes = connection.exchange(request)
        except (OSError, ValueError) as exc:
            errors[type(exc).__name__] += 1
            connection.close()
            continue
        latencies.append(time.perf_counter() - began)
        statuses[status] += 1
        if status >= 400 and status not in sample:
            sample[status] = body[:300].decode("utf-8", "replace")
        if closes:
            connection.close()
    elapsed = time.perf_counter() - first
    connection.close()
    out.send(
        {
            "latencies": latencies,
            "statuses": dict(statuses),
            "errors": dict(errors),
            "sample": sample,
            "elapsed": elapsed,
        }
    )
    out.close()


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, successful or not
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[int, str] = field(default_factory=dict)
    elapsed: float = 0.0  # the longest client's wall time

    def ok(self, expected: int | tuple[int, ...] = 200) -> int:
        wanted = (expected,) if isinstance(expected, int) else expected
        return sum(n for status, n in self.statuses.items() if status in wanted)

    def rate(self, expected: int | tuple[int, ...] = 200) -> float:
        return self.ok(expected) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000

    def summary(self) -> str:
        return (
            f"{sum(self.statuses.values())} responses {dict(self.statuses)} in {self.elapsed:.1f}s"
            f", errors {dict(self.errors)}, p50 {self.percentile(50):.1f} ms"
            f", p95 {self.percentile(95):.1f} ms"
        )


def run(
    host: str,
    port: int,
    make: MakeRequest,
    *,
    clients: int,
    total: int | None = None,
    seconds: float | None = None,
) -> Result:
    """Run ``clients`` closed-loop clients for ``total`` requests (shared) or ``seconds``."""
    if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
        raise ValueError(f"benchmarks only load loopback addresses, not {host}")
    if total is None and seconds is None:
        raise ValueError("give a number of requests or a duration")
    if seconds is not None and not 0 < seconds <= 600:
        raise ValueError("a load run lasts at most 10 minutes")
    context = multiprocessing.get_context("fork")
    start_at = time.time() + 0.3  # every client starts together
    deadline = start_at + seconds if seconds is not None else None
    shares = [None] * clients
    if total is not None:
        shares = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    pipes, processes = [], []
    for index in range(clients):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_client,
            args=(index, host, port, make, shares[index], deadline, start_at, send),
            daemon=True,
        )
        process.start()
        send.close()
        pipes.append(receive)
        processes.append(process)
    result = Result()
    limit = time.time() + (seconds or 0) + 600
    for receive, process in zip(pipes, processes, strict=True):
        wait = max(1.0, limit - time.time())
        if receive.poll(wait):
            part = receive.recv()
            result.latencies += part["latencies"]
            result.statuses.update(part["statuses"])
            result.errors.update(part["errors"])
            result.samples.update(part["sample"])
            result.elapsed = max(result.elapsed, part["elapsed"])
        else:
            result.errors["timeout"] += 1
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
    return result
