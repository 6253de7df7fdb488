"""Validation of a REFERRAL campaign's program: landing page, rewards, hold and cap."""

from urllib.parse import urlsplit

from domain.campaigns.checks import ProblemList, limit_value, money_value
from domain.campaigns.errors import CampaignError
from domain.campaigns.inputs import UNSET, ReferralConfigInput, ReferrerRewardInput
from domain.campaigns.models import ReferralConfig, ReferrerReward
from domain.errors import CommonError

MAX_URL = 2_000
MAX_HOLD_DAYS = 3650
MAX_REFERRAL_POINTS = 1_000_000_000


def _landing_url(value: str, problems: ProblemList) -> str:
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL:
        problems.add(
            CampaignError.INVALID_URL,
            "landingUrl must be an http(s) address",
            "referral.landingUrl",
        )
    return url


def _referrer_reward(
    given: ReferrerRewardInput | None, current: ReferrerReward, problems: ProblemList
) -> ReferrerReward:
    if given is None:
        return current
    reward = ReferrerReward(
        discount_campaign_id=(given.discount_campaign_id or "").strip(),
        loyalty_campaign_id=(given.loyalty_campaign_id or "").strip(),
        points=given.points or 0,
    )
    field = "referral.referrerReward"
    if reward.discount_campaign_id and reward.loyalty_campaign_id:
        problems.add(
            CampaignError.INVALID_REWARD,
            "a referrer reward is a discount code or loyalty points, not both",
            field,
        )
    if reward.loyalty_campaign_id and not 0 < reward.points <= MAX_REFERRAL_POINTS:
        problems.add(CommonError.INVALID_POINTS, "points must be more than 0", f"{field}.points")
    if reward.points and not reward.loyalty_campaign_id:
        problems.add(
            CommonError.REQUIRED, "points need a loyaltyCampaignId", f"{field}.loyaltyCampaignId"
        )
    return reward


def validated_referral(
    *, given: ReferralConfigInput | None, current: ReferralConfig | None, problems: ProblemList
) -> ReferralConfig | None:
    wanted = given or ReferralConfigInput()
    landing = current.landing_url if current else ""
    if wanted.landing_url is not None:
        landing = _landing_url(wanted.landing_url, problems)
    elif not landing:
        problems.add(
            CommonError.REQUIRED,
            "a REFERRAL campaign needs referral.landingUrl",
            "referral.landingUrl",
        )
    min_order = current.min_order if current else None
    if wanted.min_order is not UNSET:
        min_order = money_value(
            value=wanted.min_order, field="referral.minOrder", problems=problems
        )
        if min_order is not None and min_order.amount < 0:
            problems.add(
                CampaignError.INVALID_AMOUNT, "minOrder must be 0 or more", "referral.minOrder"
            )
    hold_days = current.hold_days if current else 0
    if wanted.hold_days is not None:
        hold_days = wanted.hold_days
        if not 0 <= hold_days <= MAX_HOLD_DAYS:
            problems.add(
                CommonError.INVALID_DAYS,
                f"holdDays must be between 0 and {MAX_HOLD_DAYS}",
                "referral.holdDays",
            )
    cap = current.max_referrals_per_referrer if current else None
    if wanted.max_referrals_per_referrer is not UNSET:
        cap = limit_value(
            value=wanted.max_referrals_per_referrer,
            field="referral.maxReferralsPerReferrer",
            problems=problems,
        )
    welcome = current.welcome_campaign_id if current else ""
    if wanted.welcome_campaign_id is not None:
        welcome = wanted.welcome_campaign_id.strip()
    reward = _referrer_reward(
        wanted.referrer_reward, current.referrer_reward if current else ReferrerReward(), problems
    )
    if not landing:
        return current
    return ReferralConfig(
        landing_url=landing,
        welcome_campaign_id=welcome,
        referrer_reward=reward,
        min_order=min_order,
        hold_days=max(0, min(hold_days, MAX_HOLD_DAYS)),
        max_referrals_per_referrer=cap,
    )
