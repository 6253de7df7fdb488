"""Shared benchmark plumbing: a database, a real `engage serve` process, timing and reports."""

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
            yield server.start()
        finally:
            server.stop()


@contextlib.contextmanager
def engage_service(uri: str, database_name: str) -> Iterator[tuple[str, str]]:
    """Starts `engage serve` against `uri`; yields (base URL, admin key of a new project)."""
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
        [ENGAGE, "serve", "--port", str(port)],
        env={**env, "ENGAGE_LOG_LEVEL": "warning"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
            time.sleep(0.2)
        yield base, key
    finally:
        process.terminate()
        process.wait(timeout=30)
