"""GraphQL for campaigns: the Campaign type, its inputs, queries and mutations."""

from schema.campaigns.inputs import CampaignInputType, DiscountInputType, RulesInputType
from schema.campaigns.resolvers import (
    CampaignFilter,
    CampaignMutation,
    CampaignPayload,
    CampaignQuery,
)
from schema.campaigns.types import CampaignType, DiscountType, RulesType

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
