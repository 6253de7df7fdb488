"""GraphQL for referral programs: links, applying a code, and the program's referrals."""

from datetime import datetime
from enum import Enum

import strawberry

from domain import referrals
from schema.context import Info
from schema.customers import CustomerType
from schema.errors import payload
from schema.loyalty import IsAdminOrSameCustomer
from schema.permissions import IsAdmin
from schema.types import Connection, UserError, connection


@strawberry.enum(name="ReferralStatus")
class ReferralStatusEnum(Enum):
    PENDING = "PENDING"
    QUALIFIED = "QUALIFIED"
    REWARDED = "REWARDED"
    CANCELLED = "CANCELLED"


@strawberry.type(name="Referral")
class ReferralType:
    id: strawberry.ID
    campaign_id: strawberry.ID
    status: ReferralStatusEnum
    code: str = strawberry.field(description="The referrer's code the referee applied.")
    qualifying_order_id: str | None
    qualified_at: datetime | None
    release_at: datetime | None = strawberry.field(
        description="When the referrer's held reward is given."
    )
    rewarded_at: datetime | None
    cancelled_at: datetime | None
    reward_error: str | None = strawberry.field(
        description="Why the referrer's reward could not be given; null when it was."
    )
    created_at: datetime
    doc: strawberry.Private[referrals.Referral]

    @classmethod
    def from_doc(cls, doc: referrals.Referral) -> "ReferralType":
        return cls(
            id=strawberry.ID(doc.key),
            campaign_id=strawberry.ID(doc.campaign_id),
            status=ReferralStatusEnum(doc.status.value),
            code=doc.code,
            qualifying_order_id=doc.qualifying_order_id or None,
            qualified_at=doc.qualified_at,
            release_at=doc.release_at,
            rewarded_at=doc.rewarded_at,
            cancelled_at=doc.cancelled_at,
            reward_error=doc.reward_error or None,
            created_at=doc.created_at,
            doc=doc,
        )

    @strawberry.field
    async def referrer(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.doc.referrer_id)

    @strawberry.field
    async def referee(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.doc.referee_id)


@strawberry.type(name="ReferralStats")
class ReferralStatsType:
    clicks: int = strawberry.field(description="Visits of the program's referral links.")
    referrals: int = strawberry.field(description="Referees attached, whatever their state.")
    pending: int
    qualified: int
    rewarded: int
    cancelled: int


@strawberry.type
class ReferralLinkPayload:
    code: str | None = None
    url: str | None = strawberry.field(default=None, description="<base>/r/<code>")
    clicks: int | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReferralPayload:
    referral: ReferralType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReferralQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="A program's referrals, oldest first; one referrer's with referrerId.",
    )
    async def referrals(
        self,
        info: Info,
        campaign_id: strawberry.ID,
        referrer_id: strawberry.ID | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[ReferralType]:
        page = await referrals.list_referrals(
            project_id=info.context.project_id,
            campaign_id=str(campaign_id),
            referrer_id=None if referrer_id is None else str(referrer_id),
            first=first,
            after=after,
        )
        return connection(page, ReferralType.from_doc)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The program's totals by state, and its links' clicks; one referrer's with "
        "referrerId.",
    )
    async def referral_stats(
        self, info: Info, campaign_id: strawberry.ID, referrer_id: strawberry.ID | None = None
    ) -> ReferralStatsType:
        totals = await referrals.referral_totals(
            project_id=info.context.project_id,
            campaign_id=str(campaign_id),
            referrer_id=None if referrer_id is None else str(referrer_id),
        )
        return ReferralStatsType(
            clicks=totals.clicks,
            referrals=totals.referrals,
            pending=totals.pending,
            qualified=totals.qualified,
            rewarded=totals.rewarded,
            cancelled=totals.cancelled,
        )


@strawberry.type
class ReferralMutation:
    @strawberry.mutation(
        permission_classes=[IsAdminOrSameCustomer],
        description="The customer's code in the program, the same on every call.",
    )
    @payload
    async def referral_link(
        self, info: Info, customer_id: strawberry.ID, campaign_id: strawberry.ID
    ) -> ReferralLinkPayload:
        code = await referrals.referral_link(
            project_id=info.context.project_id,
            campaign_id=str(campaign_id),
            customer_id=str(customer_id),
        )
        return ReferralLinkPayload(
            code=code.code,
            url=referrals.referral_url(base_url=info.context.settings.public_base_url, code=code),
            clicks=code.clicks,
        )

    @strawberry.mutation(
        permission_classes=[IsAdminOrSameCustomer],
        description="Attaches the customer to the code's referrer and gives the welcome reward. "
        "Refused with SELF_REFERRAL, ALREADY_REFERRED, ALREADY_ORDERED, REFERRER_CAP_REACHED, "
        "NOT_FOUND or PROGRAM_NOT_ACTIVE. A repeat with the same code returns the referral.",
    )
    @payload
    async def apply_referral_code(
        self, info: Info, code: str, customer_id: strawberry.ID
    ) -> ReferralPayload:
        referral = await referrals.apply_referral_code(
            project_id=info.context.project_id, raw_code=code, customer_id=str(customer_id)
        )
        return ReferralPayload(referral=ReferralType.from_doc(referral))
