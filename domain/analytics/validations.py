"""Counting validations per campaign and hour, alongside validating the code."""

import contextlib
from datetime import datetime

from beanie import Document
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain.common import as_utc, utc_now
from domain.discounts import Order as OrderInput
from domain.redemptions import Validation, validate_code


class ValidationCounter(Document):
    """How often validateCode was asked about a campaign's codes in one UTC hour."""

    project_id: str
    campaign_id: str
    # Hours since 1970-01-01 UTC: a string that looks like a date would be read as one by the
    # embedded server's update filters.
    hour: int
    validated: int = 0

    class Settings:
        name = "validation_counters"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("hour", 1)],
                unique=True,
                name="project_campaign_hour_unique",
            )
        ]


async def count_validation(*, project_id: str, campaign_id: str, now: datetime) -> None:
    """One `$inc` once the hour's counter exists. The embedded server's upsert does not
    increment an existing document, so the first call of an hour creates it at 0 first (the
    unique index makes racing creators one document) and increments it then."""
    selector = {
        "project_id": project_id,
        "campaign_id": campaign_id,
        "hour": int(as_utc(now).timestamp()) // 3600,
    }
    collection = ValidationCounter.get_pymongo_collection()
    counted = await collection.update_one(selector, {"$inc": {"validated": 1}})
    if counted.matched_count:
        return
    with contextlib.suppress(DuplicateKeyError):
        await collection.update_one(selector, {"$setOnInsert": {"validated": 0}}, upsert=True)
    await collection.update_one(selector, {"$inc": {"validated": 1}})


async def validate_and_count(
    *,
    project_id: str,
    raw_code: str,
    customer_id: str | None,
    order: OrderInput | None,
    now: datetime | None = None,
) -> Validation:
    """validate_code, counted per campaign when the code exists; the caller's data is untouched."""
    moment = as_utc(now) if now is not None else utc_now()
    result = await validate_code(
        project_id=project_id, raw_code=raw_code, customer_id=customer_id, order=order, now=moment
    )
    if result.code is not None:
        await count_validation(
            project_id=project_id, campaign_id=result.code.campaign_id, now=moment
        )
    return result
