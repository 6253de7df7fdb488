"""Connecting to MongoDB and registering the document models."""

import time
from collections.abc import Sequence

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener

from domain.code_flags import flag_codes_once
from domain.models import document_models


def make_client(uri: str, command_listeners: Sequence[CommandListener] = ()) -> AsyncMongoClient:
    """`command_listeners` watch every command the client sends (tests count queries with one)."""
    # tz_aware: stored times come back as aware UTC datetimes, as the rest of the code expects.
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        event_listeners=list(command_listeners),
    )


async def init_database(client: AsyncMongoClient, database: str) -> None:
    await init_beanie(database=client[database], document_models=document_models())
    await flag_codes_once()


async def round_trip_ms(client: AsyncMongoClient) -> float:
    started = time.perf_counter()
    await client.admin.command("ping")
    return (time.perf_counter() - started) * 1000
