"""GraphQL for campaigns: the Campaign type, its inputs, queries and mutations."""

from schema.campaigns.resolvers import (
    CampaignFilter,
    CampaignInputType,
    CampaignMutation,
    CampaignPayload,
    CampaignQuery,
    CampaignType,
    DiscountInputType,
    DiscountType,
    RulesInputType,
    RulesType,
)

__all__ = [
    "CampaignFilter",
    "CampaignInputType",
    "CampaignMutation",
    "CampaignPayload",
    "CampaignQuery",
    "CampaignType",
    "DiscountInputType",
    "DiscountType",
    "RulesInputType",
    "RulesType",
]
