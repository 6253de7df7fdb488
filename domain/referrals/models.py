"""Referral documents: a referrer's code, the clicks on its link, and each referral."""

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from domain.common import utc_now


class ReferralStatus(StrEnum):
    PENDING = "PENDING"
    QUALIFIED = "QUALIFIED"
    REWARDED = "REWARDED"
    CANCELLED = "CANCELLED"


class ReferralCode(Document):
    """A referrer's code in one program; its counters move only by atomic $inc."""

    project_id: str
    campaign_id: str
    referrer_id: str
    # normalize_code form: the lookup key.
    code: str
    clicks: int = 0
    # Referees attached with this code: the counter the per-referrer cap is enforced on.
    referrals_count: int = 0
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "referral_codes"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("referrer_id", 1)],
                unique=True,
                name="project_campaign_referrer_unique",
            ),
            IndexModel([("project_id", 1), ("code", 1)], unique=True, name="project_code_unique"),
            # The public link knows the code only, not its project.
            IndexModel([("code", 1)], name="code_any_project"),
            # A program's top referrers.
            IndexModel([("project_id", 1), ("campaign_id", 1), ("referrals_count", -1)]),
        ]

    @property
    def key(self) -> str:
        return str(self.id)


class ReferralClick(Document):
    """One visit of a referral link. The IP is kept only as a keyed hash."""

    project_id: str
    campaign_id: str
    code_id: str
    ip_hash: str
    user_agent: str = ""
    clicked_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "referral_clicks"
        indexes = [IndexModel([("project_id", 1), ("code_id", 1), ("clicked_at", 1)])]


class Referral(Document):
    project_id: str
    campaign_id: str
    code: str
    code_id: str
    referrer_id: str
    referee_id: str
    status: ReferralStatus = ReferralStatus.PENDING
    # False while the request attaching the referee is still checking the cap and welcoming.
    confirmed: bool = True
    welcome_code_id: str = ""
    # "" until the referee's qualifying order: the embedded server cannot match null reliably.
    qualifying_order_id: str = ""
    qualified_at: datetime | None = None
    release_at: datetime | None = None
    rewarded_at: datetime | None = None
    cancelled_at: datetime | None = None
    # True from REWARDED until the reward itself is given, so a crash in between is retried.
    reward_pending: bool = False
    # Set by the write that qualifies the referral while a webhook listens, cleared once its
    # event is stored: a process dying in between leaves it to the sweep
    # (domain.webhooks.pending).
    webhook_pending: bool = False
    reward_code_id: str = ""
    # Why the reward could not be given (its campaign ended, say); "" when it was.
    reward_error: str = ""
    created_at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "referrals"
        indexes = [
            IndexModel(
                [("project_id", 1), ("campaign_id", 1), ("referee_id", 1)],
                unique=True,
                name="project_campaign_referee_unique",
            ),
            IndexModel([("project_id", 1), ("referee_id", 1), ("status", 1)]),
            IndexModel([("project_id", 1), ("campaign_id", 1), ("referrer_id", 1)]),
            IndexModel([("status", 1), ("release_at", 1)]),
            IndexModel([("reward_pending", 1), ("rewarded_at", 1)]),
            # The sweep that emits events a dead writer left (domain.webhooks.pending).
            IndexModel(
                [("webhook_pending", 1), ("qualified_at", 1)],
                partialFilterExpression={"webhook_pending": True},
                name="webhook_pending",
            ),
        ]

    @property
    def key(self) -> str:
        return str(self.id)
