"""Loyalty points: cards, an append-only ledger, earning, expiry, tiers and rewards."""

from domain.loyalty.cards import (
    customer_cards,
    ensure_card,
    find_card,
    loyalty_campaign,
)
from domain.loyalty.earning import (
    adjust_points,
    earn_for_order,
    grant_points,
    record_event,
    reverse_for_order,
)
from domain.loyalty.models import (
    NEVER,
    Exchange,
    ExchangeStatus,
    LedgerEntry,
    LedgerKind,
    LoyaltyCard,
    Reward,
)
from domain.loyalty.results import (
    EXPIRING_SOON,
    Expiring,
    expiring_soon,
    expiring_soon_by_card,
    ledger_pages,
    ledger_sum,
    list_ledger,
    members_per_tier,
)
from domain.loyalty.rewards import (
    FIRST_ATTEMPT_WAIT,
    ExchangeResult,
    RewardInput,
    create_reward,
    exchange_points,
    get_reward,
    list_rewards,
    update_reward,
)
from domain.loyalty.rules import (
    MAX_KEY,
    MAX_NAME,
    MAX_POINTS,
    MAX_REASON,
    STALE_AGE,
    order_points,
)
from domain.loyalty.sweeps import (
    Repair,
    expire_points,
    repair_card,
    repair_stale_cards,
)
from domain.loyalty.tiers import (
    retier,
)

__all__ = [
    "EXPIRING_SOON",
    "FIRST_ATTEMPT_WAIT",
    "MAX_KEY",
    "MAX_NAME",
    "MAX_POINTS",
    "MAX_REASON",
    "NEVER",
    "STALE_AGE",
    "Exchange",
    "ExchangeResult",
    "ExchangeStatus",
    "Expiring",
    "LedgerEntry",
    "LedgerKind",
    "LoyaltyCard",
    "Repair",
    "Reward",
    "RewardInput",
    "adjust_points",
    "create_reward",
    "customer_cards",
    "earn_for_order",
    "ensure_card",
    "exchange_points",
    "expire_points",
    "expiring_soon",
    "expiring_soon_by_card",
    "find_card",
    "get_reward",
    "grant_points",
    "ledger_pages",
    "ledger_sum",
    "list_ledger",
    "list_rewards",
    "loyalty_campaign",
    "members_per_tier",
    "order_points",
    "record_event",
    "repair_card",
    "repair_stale_cards",
    "retier",
    "reverse_for_order",
    "update_reward",
]
