"""Campaigns: the offer, its validity window, limits, rules and how its codes look."""

from domain.campaigns.code_rules import NUMERIC_LENGTHS
from domain.campaigns.inputs import (
    UNSET,
    CampaignInput,
    CodeConfigInput,
    DiscountInput,
    LimitsInput,
    MoneyLike,
    PassLocationInput,
    ReferralConfigInput,
    ReferrerRewardInput,
    RulesInput,
    Unset,
)
from domain.campaigns.models import (
    DEFAULT_CHARSET,
    DIGITS,
    Campaign,
    CampaignKind,
    CampaignStatus,
    CodeConfig,
    CodeMode,
    Discount,
    DiscountScope,
    DiscountType,
    Limits,
    ReferralConfig,
    ReferrerReward,
    Rules,
)
from domain.campaigns.queries import (
    campaigns_by_id,
    campaigns_ending,
    campaigns_per_status,
    get_campaign,
    list_campaigns,
    newest_campaigns,
)
from domain.campaigns.service import create_campaign, set_campaign_status, update_campaign

# domain.experiments checks a variant's overrides with the same rules, under this name.
from domain.campaigns.validation import validated_fields as _validated

__all__ = [
    "DEFAULT_CHARSET",
    "DIGITS",
    "NUMERIC_LENGTHS",
    "UNSET",
    "Campaign",
    "CampaignInput",
    "CampaignKind",
    "CampaignStatus",
    "CodeConfig",
    "CodeConfigInput",
    "CodeMode",
    "Discount",
    "DiscountInput",
    "DiscountScope",
    "DiscountType",
    "Limits",
    "LimitsInput",
    "MoneyLike",
    "PassLocationInput",
    "ReferralConfig",
    "ReferralConfigInput",
    "ReferrerReward",
    "ReferrerRewardInput",
    "Rules",
    "RulesInput",
    "Unset",
    "_validated",
    "campaigns_by_id",
    "campaigns_ending",
    "campaigns_per_status",
    "create_campaign",
    "get_campaign",
    "list_campaigns",
    "newest_campaigns",
    "set_campaign_status",
    "update_campaign",
]
