"""Validating and redeeming codes, rolling them back and reconciling the counters."""

from domain.redemptions.models import (
    COUNTER_FIELD,
    CustomerRedemptionCounter,
    DailyRedemptionCounter,
    Redemption,
    RedemptionChannel,
    RedemptionStatus,
)
from domain.redemptions.queries import (
    get_redemption,
    latest_redemptions,
    list_redemptions,
    redemptions_by_message,
)
from domain.redemptions.reasons import (
    REASON_DETAILS,
    Reason,
    customer_reasons,
    needs_customer,
    order_reasons,
    reason_error,
    window_reasons,
)
from domain.redemptions.service import (
    FIRST_ATTEMPT_WAIT,
    MAX_IDEMPOTENCY_KEY,
    MAX_ROLLBACK_REASON,
    redeem_code,
    rollback_redemption,
)
from domain.redemptions.sweeps import (
    STALE_CLAIM_AGE,
    Correction,
    Reconciliation,
    count_limited_counters,
    reconcile_campaign,
)
from domain.redemptions.validation import (
    Validation,
    customer_in_segments,
    validate_code,
)

__all__ = [
    "COUNTER_FIELD",
    "FIRST_ATTEMPT_WAIT",
    "MAX_IDEMPOTENCY_KEY",
    "MAX_ROLLBACK_REASON",
    "REASON_DETAILS",
    "STALE_CLAIM_AGE",
    "Correction",
    "CustomerRedemptionCounter",
    "DailyRedemptionCounter",
    "Reason",
    "Reconciliation",
    "Redemption",
    "RedemptionChannel",
    "RedemptionStatus",
    "Validation",
    "count_limited_counters",
    "customer_in_segments",
    "customer_reasons",
    "get_redemption",
    "latest_redemptions",
    "list_redemptions",
    "needs_customer",
    "order_reasons",
    "reason_error",
    "reconcile_campaign",
    "redeem_code",
    "redemptions_by_message",
    "rollback_redemption",
    "validate_code",
    "window_reasons",
]
