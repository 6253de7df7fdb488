"""Named leases that let one process among many sharing the database do a thing at a time.

A lease has one owner until it expires; the owner renews it well before. `engage serve
--workers N` (or several services on one database) runs its background loops only in the
process holding the `background` lease; when that process dies, another takes the lease once
it has run out.
"""

import contextlib
from datetime import datetime, timedelta

from beanie import Document
from pydantic import Field
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from domain.common import utc_now

COLLECTION = "service_leases"


class ServiceLease(Document):
    name: str
    owner: str
    expires_at: datetime
    acquired_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = COLLECTION
        indexes = [IndexModel([("name", 1)], unique=True)]


async def hold_lease(*, name: str, owner: str, seconds: float) -> bool:
    """Takes or renews the lease for `seconds` from now; False while another owner holds it."""
    now = utc_now()
    until = now + timedelta(seconds=seconds)
    collection = ServiceLease.get_pymongo_collection()
    renewed = await collection.update_one(
        {"name": name, "owner": owner}, {"$set": {"expires_at": until}}
    )
    if renewed.matched_count:
        return True
    taken = await collection.update_one(
        {"name": name, "expires_at": {"$lt": now}},
        {"$set": {"owner": owner, "expires_at": until, "acquired_at": now}},
    )
    if taken.matched_count:
        return True
    with contextlib.suppress(DuplicateKeyError):
        await collection.insert_one(
            {"name": name, "owner": owner, "expires_at": until, "acquired_at": now}
        )
        return True
    return False


async def release_lease(*, name: str, owner: str) -> None:
    """Gives the lease up, so another process may take it at once."""
    await ServiceLease.get_pymongo_collection().delete_one({"name": name, "owner": owner})


async def lease_holder(name: str) -> ServiceLease | None:
    return await ServiceLease.find_one({"name": name})
