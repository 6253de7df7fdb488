"""Campaign statistics and the project overview, computed with aggregation pipelines."""

from domain.analytics.buckets import (
    HOUR,
    Buckets,
    Row,
    Source,
    Window,
    event_rows,
)
from domain.analytics.campaign_figures import (
    CONVERTED_REFERRALS,
    CUSTOMER_CHANNELS,
    DELIVERED_STATUSES,
    SENT_STATUSES,
    CampaignStats,
    ChannelStats,
    DayStats,
    campaign_order_source,
    campaign_stats,
)
from domain.analytics.currencies import (
    NO_CURRENCY,
    configured_currency,
)
from domain.analytics.overview import (
    TOP_CAMPAIGNS_DAYS,
    Overview,
    ProgramPoints,
    ProgramReferrals,
    TopCampaign,
    project_overview,
)
from domain.analytics.project_activity import (
    MessageCount,
    ProjectActivity,
    project_activity,
)
from domain.analytics.validations import (
    ValidationCounter,
    count_validation,
    validate_and_count,
)

__all__ = [
    "CONVERTED_REFERRALS",
    "CUSTOMER_CHANNELS",
    "DELIVERED_STATUSES",
    "HOUR",
    "NO_CURRENCY",
    "SENT_STATUSES",
    "TOP_CAMPAIGNS_DAYS",
    "Buckets",
    "CampaignStats",
    "ChannelStats",
    "DayStats",
    "MessageCount",
    "Overview",
    "ProgramPoints",
    "ProgramReferrals",
    "ProjectActivity",
    "Row",
    "Source",
    "TopCampaign",
    "ValidationCounter",
    "Window",
    "campaign_order_source",
    "campaign_stats",
    "configured_currency",
    "count_validation",
    "event_rows",
    "project_activity",
    "project_overview",
    "validate_and_count",
]
