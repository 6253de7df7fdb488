"""Loyalty's limits and pure computations: input checks, points earned, new ledger entries."""

from datetime import datetime, timedelta
from decimal import Decimal

from domain.common import Money, minor_unit_digits
from domain.errors import CommonError, DomainError
from domain.loyalty.models import LedgerEntry, LedgerKind, LoyaltyCard
from domain.loyalty_config import LoyaltyConfig
from domain.loyalty_errors import LoyaltyError

# An entry or exchange still unfinished after this long belongs to a process that died mid-way.
STALE_AGE = timedelta(minutes=1)

MAX_KEY = 200
MAX_REASON = 500
MAX_NAME = 200
MAX_POINTS = 1_000_000_000


def insufficient_points() -> DomainError:
    return DomainError(
        LoyaltyError.INSUFFICIENT_POINTS, "the card does not have enough points", "points"
    )


def card_owner(*, project_id: str, campaign_id: str, customer_id: str) -> dict[str, str]:
    return {"project_id": project_id, "campaign_id": campaign_id, "customer_id": customer_id}


def checked_key(*, raw: str) -> str:
    key = (raw or "").strip()
    if not key:
        raise DomainError(CommonError.REQUIRED, "an idempotency key is required", "idempotencyKey")
    if len(key) > MAX_KEY:
        raise DomainError(
            CommonError.INVALID,
            f"an idempotency key has at most {MAX_KEY} characters",
            "idempotencyKey",
        )
    return key


def order_points(*, config: LoyaltyConfig, amount: Money, multiplier: Decimal) -> int:
    """Points an order earns: per major unit spent plus per order, times the tier multiplier."""
    major = Decimal(max(amount.amount, 0)).scaleb(-minor_unit_digits(amount.currency))
    per_unit = config.rounded(major * Decimal(str(config.points_per_unit)))
    return max(config.rounded((per_unit + config.points_per_order) * multiplier), 0)


def tier_window(*, config: LoyaltyConfig) -> timedelta:
    return timedelta(days=config.tier_window_days)


def new_entry(
    *,
    card: LoyaltyCard,
    kind: LedgerKind,
    points: int,
    key: str,
    reason: str,
    source: str,
    config: LoyaltyConfig,
    now: datetime,
    spent: int = 0,
) -> LedgerEntry:
    lot = points > 0
    expires = lot and config.expiry_days is not None
    return LedgerEntry(
        project_id=card.project_id,
        campaign_id=card.campaign_id,
        customer_id=card.customer_id,
        card_id=card.key,
        kind=kind,
        points=points,
        key=key,
        reason=reason,
        source=source,
        remaining=points if lot else 0,
        expires=expires,
        expires_at=now + timedelta(days=config.expiry_days or 0) if expires else None,
        tier_points=points if kind == LedgerKind.EARN else 0,
        spent=spent,
        window_at=now,
        created_at=now,
    )
