"""Short-lived in-process copies of what every redemption reads: the caller's API key, the
campaign, and which campaign a code belongs to.

One `Snapshots` belongs to one app. A change made through that app forgets the copy at once;
a change made by another process is caught where it matters: a redemption's conditional $inc
on the campaign returns the stored campaign, and a copy that no longer matches it (including
its `revision`, which revoking any key of the project moves) undoes the redemption's writes
and runs it again on what is stored. Everything else sees another process's change once the
copy's short lifetime has passed.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bson import ObjectId

from domain import snapshot_registry
from domain.campaigns import Campaign
from domain.projects import ApiKey, find_active_key, hash_secret

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Long enough to spare the database at hundreds of requests a second, short enough that a
# change made elsewhere shows on reads soon; redemptions check the campaign at write time.
LIFETIME_SECONDS = 5.0
# Which campaign a code belongs to never changes; a deleted code makes the $inc on it miss.
CODE_LIFETIME_SECONDS = 60.0
SIZE = 1024

# Moved by redemptions and generation while the campaign stays the same offer.
LIVE_CAMPAIGN_FIELDS = frozenset(
    {"redeemed_count", "codes_count", "codes_reserved", "generation_batches"}
)


class TtlCache(Generic[K, V]):
    """A bounded map whose entries expire `lifetime` seconds after they were stored."""

    def __init__(self, *, lifetime: float, size: int = SIZE) -> None:
        self.lifetime = lifetime
        self.size = size
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (time.monotonic() + self.lifetime, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def forget_where(self, matches: Callable[[V], bool]) -> None:
        for key in [k for k, (_, value) in self._entries.items() if matches(value)]:
            del self._entries[key]


def fingerprint(raw: dict[str, Any]) -> dict[str, Any]:
    """The stored campaign as an offer: everything but its live counters."""
    return {name: value for name, value in raw.items() if name not in LIVE_CAMPAIGN_FIELDS}


@dataclass(frozen=True)
class CampaignSnapshot:
    campaign: Campaign
    offer: dict[str, Any]

    def matches(self, raw: dict[str, Any]) -> bool:
        return fingerprint(raw) == self.offer


@dataclass(frozen=True)
class CodeIdentity:
    code_id: ObjectId
    campaign_id: str


# Compared by identity: the registry keeps every app's copies apart.
@dataclass(eq=False)
class Snapshots:
    keys: TtlCache[str, ApiKey] = field(default_factory=lambda: TtlCache(lifetime=LIFETIME_SECONDS))
    campaigns: TtlCache[tuple[str, str], CampaignSnapshot] = field(
        default_factory=lambda: TtlCache(lifetime=LIFETIME_SECONDS)
    )
    codes: TtlCache[tuple[str, str], CodeIdentity] = field(
        default_factory=lambda: TtlCache(lifetime=CODE_LIFETIME_SECONDS, size=SIZE * 16)
    )
    # Customers read lately and found (not erased): a redemption for one takes the customer's
    # counter beside the read that checks the customer again.
    customers: TtlCache[tuple[str, str], bool] = field(
        default_factory=lambda: TtlCache(lifetime=LIFETIME_SECONDS, size=SIZE * 16)
    )

    def __post_init__(self) -> None:
        snapshot_registry.register(self)

    async def active_key(self, secret: str) -> ApiKey | None:
        """The unrevoked key with this secret, from the copy while it lasts."""
        digest = hash_secret(secret)
        cached = self.keys.get(digest)
        if cached is not None:
            return cached
        found = await find_active_key(secret)
        if found is not None:
            self.keys.put(digest, found)
        return found

    def saw_customer(self, project_id: str, customer_id: str) -> None:
        self.customers.put((project_id, customer_id), True)

    def customer_seen(self, project_id: str, customer_id: str | None) -> bool:
        return bool(customer_id) and self.customers.get((project_id, customer_id or "")) is not None

    def forget_key(self, key_id: str) -> None:
        self.keys.forget_where(lambda api_key: str(api_key.id) == key_id)

    async def campaign(self, project_id: str, campaign_id: str) -> CampaignSnapshot | None:
        cached = self.campaigns.get((project_id, campaign_id))
        if cached is not None:
            return cached
        if not ObjectId.is_valid(campaign_id):
            return None
        raw = await Campaign.get_pymongo_collection().find_one(
            {"_id": ObjectId(campaign_id), "project_id": project_id}
        )
        return None if raw is None else self.remember_campaign(raw)

    def remember_campaign(self, raw: dict[str, Any]) -> CampaignSnapshot:
        snapshot = CampaignSnapshot(campaign=Campaign.model_validate(raw), offer=fingerprint(raw))
        self.campaigns.put((snapshot.campaign.project_id, snapshot.campaign.key), snapshot)
        return snapshot

    def forget_campaign(self, project_id: str, campaign_id: str) -> None:
        self.campaigns.forget((project_id, campaign_id))

    def forget_project(self, project_id: str) -> None:
        """A key of the project was revoked: every campaign copy of it is re-read."""
        self.campaigns.forget_where(lambda snapshot: snapshot.campaign.project_id == project_id)
