"""Error codes of the referrals feature."""

from domain.errors import ErrorCode


class ReferralError(ErrorCode):
    """Returned by referralLink and applyReferralCode."""

    ALREADY_ORDERED = "ALREADY_ORDERED"
    ALREADY_REFERRED = "ALREADY_REFERRED"
    NOT_REFERRAL = "NOT_REFERRAL"
    PROGRAM_NOT_ACTIVE = "PROGRAM_NOT_ACTIVE"
    REFERRER_CAP_REACHED = "REFERRER_CAP_REACHED"
    SELF_REFERRAL = "SELF_REFERRAL"
