"""GraphQL for referral programs: links, applying a code, and the program's referrals."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain import referrals
from schema.context import Info
from schema.customers import CustomerType
from schema.described_enums import described_enum
from schema.errors import payload
from schema.loyalty import IsAdminOrSameCustomer
from schema.permissions import IsAdmin
from schema.types import Connection, UserError, connection


@described_enum(
    name="ReferralStatus",
    description="Where a referral stands.",
    values={
        "PENDING": "The referee applied the code and has not made a qualifying order yet.",
        "QUALIFIED": (
            "The referee's first order reached the program's minimum; the referrer's reward is "
            "held until releaseAt."
        ),
        "REWARDED": (
            "The hold passed and the referrer's reward was given (or rewardError says why it could "
            "not be)."
        ),
        "CANCELLED": "The qualifying order was cancelled or refunded during the hold: no reward.",
    },
)
class ReferralStatusEnum(Enum):
    PENDING = "PENDING"
    QUALIFIED = "QUALIFIED"
    REWARDED = "REWARDED"
    CANCELLED = "CANCELLED"


@strawberry.type(
    name="Referral",
    description="A referee brought by a referrer in a referral program. Readable by admin keys.",
)
class ReferralType:
    id: strawberry.ID = strawberry.field(description="The referral's id.")
    campaign_id: strawberry.ID = strawberry.field(description="The REFERRAL campaign.")
    status: ReferralStatusEnum = strawberry.field(description="Where the referral stands.")
    code: str = strawberry.field(description="The referrer's code the referee applied.")
    qualifying_order_id: str | None = strawberry.field(
        description="The shop's id of the referee's qualifying order; null until there is one."
    )
    qualified_at: datetime | None = strawberry.field(
        description="When the referee's order qualified, UTC ISO 8601; null before."
    )
    release_at: datetime | None = strawberry.field(
        description="When the referrer's held reward is given, UTC ISO 8601; null until qualified."
    )
    rewarded_at: datetime | None = strawberry.field(
        description="When the referrer was rewarded, UTC ISO 8601; null before."
    )
    cancelled_at: datetime | None = strawberry.field(
        description="When the referral was cancelled, UTC ISO 8601; null unless CANCELLED."
    )
    reward_error: str | None = strawberry.field(
        description="Why the referrer's reward could not be given; null when it was."
    )
    created_at: datetime = strawberry.field(
        description="When the referee applied the code, UTC ISO 8601."
    )
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

    @strawberry.field(description="The customer who shared the code. Admin keys only.")
    async def referrer(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.doc.referrer_id)

    @strawberry.field(description="The customer who applied the code. Admin keys only.")
    async def referee(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.doc.referee_id)


@strawberry.type(
    name="ReferralStats",
    description="A referral program's totals (or one referrer's).",
)
class ReferralStatsType:
    clicks: int = strawberry.field(description="Visits of the program's referral links.")
    referrals: int = strawberry.field(description="Referees attached, whatever their state.")
    pending: int = strawberry.field(description="Referrals PENDING.")
    qualified: int = strawberry.field(description="Referrals QUALIFIED (reward held).")
    rewarded: int = strawberry.field(description="Referrals REWARDED.")
    cancelled: int = strawberry.field(description="Referrals CANCELLED.")


@strawberry.type(
    description=(
        "The result of referralLink: the customer's referral code and link, or what was wrong."
    ),
)
class ReferralLinkPayload:
    code: str | None = strawberry.field(
        default=None,
        description="The referrer's code, normalized; null when `errors` is not empty.",
    )
    url: str | None = strawberry.field(
        default=None,
        description="The link to share, `<base>/r/<code>`; null when `errors` is not empty.",
    )
    clicks: int | None = strawberry.field(
        default=None, description="How many times the link was visited."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What was wrong with the request; empty on success."
    )


@strawberry.type(
    description="The result of applyReferralCode: the referral, or what was wrong.",
)
class ReferralPayload:
    referral: ReferralType | None = strawberry.field(
        default=None, description="The referral; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type
class ReferralQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="A program's referrals, oldest first; one referrer's with referrerId.",
    )
    async def referrals(
        self,
        info: Info,
        campaign_id: Annotated[
            strawberry.ID, strawberry.argument(description="The REFERRAL campaign.")
        ],
        referrer_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this referrer's referrals; null for all."),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="How many referrals to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
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
        self,
        info: Info,
        campaign_id: Annotated[
            strawberry.ID, strawberry.argument(description="The REFERRAL campaign.")
        ],
        referrer_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this referrer's totals; null for the program's."),
        ] = None,
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
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The referrer; a customer token may ask only for itself."
            ),
        ],
        campaign_id: Annotated[
            strawberry.ID, strawberry.argument(description="The REFERRAL campaign.")
        ],
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
        self,
        info: Info,
        code: Annotated[
            str,
            strawberry.argument(
                description="The referrer's code (case, spaces and dashes ignored)."
            ),
        ],
        customer_id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description=(
                    "The referee, before their first order; a customer token may apply only "
                    "for itself."
                )
            ),
        ],
    ) -> ReferralPayload:
        referral = await referrals.apply_referral_code(
            project_id=info.context.project_id, raw_code=code, customer_id=str(customer_id)
        )
        return ReferralPayload(referral=ReferralType.from_doc(referral))
