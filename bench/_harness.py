"""Shared benchmark plumbing: a database, a real `engage serve` process, timing and reports."""

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from api.embedded import EmbeddedDatabase, free_port
from domain.campaigns import Campaign, Discount, DiscountType
from domain.projects import Project

ENGAGE = str(Path(sys.executable).parent / "engage")


@dataclass
class Figures:
    label: str
    count: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    def line(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        return (
            f"{self.label:<44} {self.per_second:>9.0f}/s   p50 {p50:>7.2f} ms   p99 {p99:>7.2f} ms"
        )


async def measure(
    label: str, count: int, concurrency: int, operation: Callable[[int], Awaitable[object]]
) -> Figures:
    """Runs `operation(i)` for i in range(count) with `concurrency` workers."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            await operation(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Figures(label, count, time.perf_counter() - started, latencies)


@dataclass
class Response:
    """What the lean client hands back: enough of httpx.Response for the benchmarks."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class LeanClient:
    """A keep-alive HTTP/1.1 client over raw asyncio streams, so the load client is not what
    is measured: httpx from one process tops out near 300-700 requests/s on this machine and
    takes CPU the server shares. Request heads are encoded once per method and path; each
    concurrent caller holds one persistent connection. No redirects, no cookies, no TLS."""

    description = "lean keep-alive HTTP/1.1 client (asyncio streams, pre-encoded heads)"

    def __init__(
        self, base_url: str, *, headers: dict[str, str] | None = None, connections: int = 32
    ) -> None:
        parsed = urlsplit(base_url)
        assert parsed.scheme == "http" and parsed.hostname, base_url
        self._host = parsed.hostname
        self._port = parsed.port or 80
        fixed = {"Host": parsed.netloc, **(headers or {})}
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._heads: dict[tuple[str, str], bytes] = {}
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(connections)
        self.connections = connections

    async def __aenter__(self) -> "LeanClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()

    def _head(self, method: str, path: str) -> bytes:
        head = self._heads.get((method, path))
        if head is None:
            head = f"{method} {path} HTTP/1.1\r\n{self._fixed}".encode("latin-1")
            self._heads[(method, path)] = head
        return head

    async def post(self, path: str, *, json: Any = None, content: bytes | None = None) -> Response:
        body = content if content is not None else _encode(json)
        extra = b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        return await self._send(self._head("POST", path) + extra + body)

    async def get(self, path: str, *, headers: dict[str, str] | None = None) -> Response:
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        return await self._send(self._head("GET", path) + extra.encode("latin-1") + b"\r\n")

    async def _send(self, request: bytes) -> Response:
        async with self._slots:
            if self._idle:
                reader, writer = self._idle.pop()
            else:
                reader, writer = await asyncio.open_connection(self._host, self._port)
            try:
                writer.write(request)
                response, keep = await _read_response(reader)
            except BaseException:
                writer.close()
                raise
            if keep:
                self._idle.append((reader, writer))
            else:
                writer.close()
            return response


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[Response, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        return Response(status, headers, await reader.read()), False
    return Response(status, headers, body), headers.get("connection", "").lower() != "close"


def client_line(client: LeanClient) -> str:
    """Says which load client produced the figures."""
    return f"load client: {client.description}, one process, {client.connections} connections"


def ratio_line(ours: Figures, floor: Figures) -> str:
    return f"ratio {ours.label} / {floor.label}: {ours.per_second / floor.per_second:.2f}"


def print_comparison(ours: Figures, floor: Figures) -> None:
    print(ours.line())
    print(floor.line())
    print(ratio_line(ours, floor))


def arguments(description: str | None) -> argparse.ArgumentParser:
    """Every benchmark's parser starts with where its database is."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--mongodb-uri",
        default=os.environ.get("ENGAGE_MONGODB_URI"),
        help="default: ENGAGE_MONGODB_URI, else an embedded server",
    )
    return parser


async def shop_with_campaign() -> tuple[Project, Campaign]:
    """A project and its 20% off campaign, in the database Beanie was initialized with."""
    project = Project(name="Bench Shop")
    await project.insert()
    campaign = Campaign(
        project_id=project.key,
        name="Spring sale",
        discount=Discount(type=DiscountType.PERCENT, percent_off=20),
    )
    await campaign.insert()
    return project, campaign


@contextlib.contextmanager
def database(uri: str | None) -> Iterator[str]:
    """The given MongoDB, or an embedded server for the run."""
    if uri:
        yield uri
        return
    with tempfile.TemporaryDirectory() as run_dir:
        server = EmbeddedDatabase(Path(run_dir), data_dir=None)
        try:
            started = server.start()
            with contextlib.suppress(OSError, ValueError):
                _process_of[started] = int(server.pid_file.read_text().strip())
            yield started
        finally:
            server.stop()


# The process behind a base URL or a database URI this run started, for CpuMeter.
_process_of: dict[str, int] = {}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and of its children still running (a service's
    workers), from /proc."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError, ValueError):
        return total
    return total + sum(_cpu_seconds(int(child)) for child in children)


class CpuMeter:
    """CPU seconds spent by the service, the embedded database (when this run started it) and
    this process, between `start()` and `per_operation()`: what each operation costs whatever
    else the machine is doing."""

    def __init__(self, base_url: str | None, database_uri: str) -> None:
        self._pids = {
            "service": _process_of.get(base_url or ""),
            "database": _process_of.get(database_uri),
        }
        self._started: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        spent = {name: _cpu_seconds(pid) for name, pid in self._pids.items() if pid is not None}
        return {**spent, "benchmark": time.process_time()}

    def start(self) -> None:
        self._started = self._now()

    def per_operation(self, count: int) -> str:
        ended = self._now()
        parts = [
            f"{name} {(ended[name] - self._started[name]) * 1000 / count:.2f}"
            for name in ended
            if name in self._started
        ]
        return "CPU ms per operation: " + ", ".join(parts)


@contextlib.contextmanager
def engage_service(uri: str, database_name: str, workers: int = 1) -> Iterator[tuple[str, str]]:
    """Starts `engage serve` (with `--workers` when more than one) against `uri`; yields
    (base URL, admin key of a new project)."""
    env = {
        **os.environ,
        "ENGAGE_MONGODB_URI": uri,
        "ENGAGE_DATABASE": database_name,
        "ENGAGE_RUN_JOBS": "false",
        # One key from one address, far faster than any till: the limits stay on, so their cost
        # is measured, but high enough never to refuse.
        **{
            f"ENGAGE_RATE_LIMIT_{name}": "1000000/minute"
            for name in (
                "CODE_ATTEMPTS_PER_KEY",
                "CODE_ATTEMPTS_PER_ADDRESS",
                "PUBLIC_PER_ADDRESS",
                "WALLET_LOG_PER_ADDRESS",
                "HOOKS_PER_ADDRESS",
            )
        },
    }
    created = subprocess.run(
        [ENGAGE, "create-project", "bench"], env=env, capture_output=True, text=True, check=True
    )
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    process = subprocess.Popen(
        [
            ENGAGE,
            "serve",
            "--port",
            str(port),
            *(["--workers", str(workers)] if workers > 1 else []),
        ],
        env={**env, "ENGAGE_LOG_LEVEL": "warning"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    _process_of[base] = process.pid
    try:
        deadline = time.monotonic() + 120
        answered: set[int] = set()
        while True:
            try:
                health = httpx.get(base + "/health", timeout=1)
                if health.status_code == 200:
                    # Every worker answers before the figures start.
                    answered.add(health.json().get("process", 0))
                    if len(answered) >= workers:
                        break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(answered)} of {workers} workers answered in time")
            time.sleep(0.2)
        yield base, key
    finally:
        process.terminate()
        process.wait(timeout=30)
