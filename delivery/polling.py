"""Loops over a one-item step (`run_one`, which returns None when idle): drain what is due
now, or poll until cancelled."""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

ERROR_SECONDS = 5.0

Step = Callable[[], Awaitable[object | None]]


async def drain(run_one: Step, concurrency: int) -> int:
    """Runs `run_one` in `concurrency` tasks until it finds nothing; returns how many it did."""
    handled = 0

    async def one() -> None:
        nonlocal handled
        while await run_one() is not None:
            handled += 1

    await asyncio.gather(*(one() for _ in range(max(1, concurrency))))
    return handled


async def poll_forever(run_one: Step, idle_seconds: float, log: logging.Logger, who: str) -> None:
    """Runs `run_one` until cancelled. A failure is logged and waited out; an idle step sleeps
    `idle_seconds` give or take half, at random, so several pollers do not fall into step."""
    while True:
        try:
            outcome = await run_one()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: polling failed", who)
            await asyncio.sleep(ERROR_SECONDS)
            continue
        if outcome is None:
            await asyncio.sleep(idle_seconds * random.uniform(0.5, 1.5))
