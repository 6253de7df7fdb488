"""Connecting to MongoDB and registering the document models."""

import time

from beanie import init_beanie
from pymongo import AsyncMongoClient

from domain.models import document_models


def make_client(uri: str) -> AsyncMongoClient:
    # tz_aware: stored times come back as aware UTC datetimes, as the rest of the code expects.
    return AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000)


async def init_database(client: AsyncMongoClient, database: str) -> None:
    await init_beanie(database=client[database], document_models=document_models())


async def round_trip_ms(client: AsyncMongoClient) -> float:
    started = time.perf_counter()
    await client.admin.command("ping")
    return (time.perf_counter() - started) * 1000
