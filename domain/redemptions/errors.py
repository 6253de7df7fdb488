"""Error codes of redemptions beyond the reasons a code is refused."""

from domain.errors import ErrorCode


class RedemptionError(ErrorCode):
    """Returned by redeemCode and rollbackRedemption."""

    ALREADY_ROLLED_BACK = "ALREADY_ROLLED_BACK"
    NOT_COMPLETED = "NOT_COMPLETED"
    REDEMPTION_EXPIRED = "REDEMPTION_EXPIRED"
    REDEMPTION_IN_PROGRESS = "REDEMPTION_IN_PROGRESS"
    API_KEY_REVOKED = "API_KEY_REVOKED"
