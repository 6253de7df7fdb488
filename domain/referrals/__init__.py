"""Referral programs: one link per referrer, referees attached once, the referrer rewarded once
after the referee's first qualifying order, and held long enough for a refund to cancel it."""

from domain.referrals.applying import apply_referral_code
from domain.referrals.links import (
    find_public_referral_code,
    my_referral_link,
    record_click,
    referral_link,
)
from domain.referrals.models import Referral, ReferralClick, ReferralCode, ReferralStatus
from domain.referrals.results import (
    ReferralTotals,
    list_referrals,
    referral_totals,
    top_referrers,
)
from domain.referrals.rewards import on_order_recorded, on_order_reversed
from domain.referrals.rules import hash_ip, landing_with_ref, referral_url
from domain.referrals.sweeps import release_due_rewards

__all__ = [
    "Referral",
    "ReferralClick",
    "ReferralCode",
    "ReferralStatus",
    "ReferralTotals",
    "apply_referral_code",
    "find_public_referral_code",
    "hash_ip",
    "landing_with_ref",
    "list_referrals",
    "my_referral_link",
    "on_order_recorded",
    "on_order_reversed",
    "record_click",
    "referral_link",
    "referral_totals",
    "referral_url",
    "release_due_rewards",
    "top_referrers",
]
