"""Loyalty's stored documents: cards, ledger entries, rewards and exchanges."""

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from domain.common import utc_now

# Cards with nothing in their tier window are reviewed at this moment, i.e. never (null cannot
# be filtered).
NEVER = datetime(3000, 1, 1)


class LedgerKind(StrEnum):
    EARN = "EARN"
    SPEND = "SPEND"
    EXPIRE = "EXPIRE"
    ADJUST = "ADJUST"
    REVERSE = "REVERSE"


class LoyaltyCard(Document):
    project_id: str
    campaign_id: str
    customer_id: str
    # Always the sum of the applied ledger entries; moved only by conditional $inc.
    balance: int = 0
    # EARN minus REVERSE, over the card's life.
    earned_total: int = 0
    tier: str = ""
    # Running sums over the tier window, moved with the balance so earning needs no ledger scan:
    # points earned less reversed, and minor units spent in the program's currency.
    window_points: int = 0
    window_spent: int = 0
    # When the oldest entry counted in the window sums leaves the window: from then on the sums
    # are recounted from the ledger before the tier is looked at.
    tier_review_at: datetime = NEVER
    # Entries moved onto the balance but not yet marked applied: a crash leaves them here.
    inflight: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "loyalty_cards"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("customer_id", 1)],
                unique=True,
                name="project_campaign_customer_unique",
            ),
            IndexModel([("tier_review_at", 1)]),
            IndexModel([("project_id", 1), ("customer_id", 1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class LedgerEntry(Document):
    """One change of a card's points. Never changed after it is applied, except `remaining`."""

    project_id: str
    campaign_id: str
    customer_id: str
    card_id: str
    kind: LedgerKind
    # Signed: positive entries add points, negative ones take them.
    points: int
    reason: str = ""
    # What caused it: an order id, a reward id, an API key id, an earn entry id.
    source: str = ""
    # Unique per card: the same effect (earning for one order, say) is written once.
    key: str
    applied: bool = False
    # Positive entries only: points not yet spent, reversed or expired, taken oldest first.
    remaining: int = 0
    expires: bool = False
    expires_at: datetime | None = None
    # What the entry adds to the tier window sums: EARN and REVERSE entries only.
    tier_points: int = 0
    spent: int = 0
    # When it counts in the window: its own time, or for a reversal the time of what it reverses.
    window_at: datetime = Field(default_factory=utc_now)
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "loyalty_ledger"
        indexes = [
            IndexModel([("card_id", 1), ("key", 1)], unique=True, name="card_key_unique"),
            IndexModel([("card_id", 1), ("created_at", 1)]),
            IndexModel([("project_id", 1), ("source", 1), ("kind", 1)]),
            IndexModel([("expires", 1), ("remaining", 1), ("expires_at", 1)]),
            # The repair sweep's query: entries a dead process left unapplied.
            IndexModel([("applied", 1), ("created_at", 1)]),
        ]

    @property
    def key_id(self) -> str:
        return str(self.id)


class Reward(Document):
    project_id: str
    campaign_id: str
    name: str
    cost: int
    # A DISCOUNT campaign whose code the reward gives; "" for a free-form reward.
    discount_campaign_id: str = ""
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "loyalty_rewards"
        indexes = [IndexModel([("project_id", 1), ("campaign_id", 1)])]

    @property
    def key(self) -> str:
        return str(self.id)


class ExchangeStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"


class Exchange(Document):
    """Points exchanged for a reward. Inserted PENDING as a claim on its idempotency key."""

    project_id: str
    campaign_id: str
    customer_id: str
    reward_id: str
    idempotency_key: str
    cost: int
    status: ExchangeStatus = ExchangeStatus.PENDING
    code_id: str = ""
    claimed_at: datetime = Field(default_factory=utc_now)
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "loyalty_exchanges"
        indexes = [
            IndexModel(
                [("project_id", 1), ("idempotency_key", 1)],
                unique=True,
                name="project_idempotency_key_unique",
            )
        ]
