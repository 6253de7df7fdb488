"""Error codes of the loyalty feature."""

from domain.errors import ErrorCode


class LoyaltyError(ErrorCode):
    """Returned by the loyalty mutations: programs, rewards, points and exchanges."""

    CAMPAIGN_NOT_ACTIVE = "CAMPAIGN_NOT_ACTIVE"
    DUPLICATE_EVENT = "DUPLICATE_EVENT"
    DUPLICATE_TIER = "DUPLICATE_TIER"
    EXCHANGE_IN_PROGRESS = "EXCHANGE_IN_PROGRESS"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    INVALID_EVENT = "INVALID_EVENT"
    INVALID_ROUNDING = "INVALID_ROUNDING"
    INVALID_TIER = "INVALID_TIER"
    INVALID_TIER_BASIS = "INVALID_TIER_BASIS"
    UNKNOWN_EVENT = "UNKNOWN_EVENT"
