"""GraphQL for loyalty programs: cards and their ledger, rewards, exchanges and adjustments."""

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.permission import BasePermission

from domain import links, loyalty
from domain.callers import CallerKind
from schema.codes import CodeType
from schema.context import Info
from schema.described_enums import described_enum
from schema.errors import payload
from schema.permissions import IsAdmin, IsAdminOrCustomer
from schema.types import Connection, UserError, connection


class IsAdminOrSameCustomer(BasePermission):
    """Admin keys for any customer; a customer token for its own customerId only."""

    message = "this operation is not allowed for the caller"
    error_extensions = {"code": "FORBIDDEN"}
    callers = "admin keys, and the token of the customer named by customerId"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        caller = info.context.caller
        if caller.kind == CallerKind.ADMIN:
            return True
        return caller.kind == CallerKind.CUSTOMER and str(kwargs.get("customer_id")) == str(
            caller.customer_id
        )


@described_enum(
    name="LedgerKind",
    description="Why a card's points changed.",
    values={
        "EARN": "Points earned: on an order, a loyalty event or a referral.",
        "SPEND": "Points spent on a reward (exchangePoints).",
        "EXPIRE": "Points that reached the program's expiry unused.",
        "ADJUST": "Points added or taken by hand (adjustPoints).",
        "REVERSE": "Points earned on an order taken back because it was cancelled or refunded.",
    },
)
class LedgerKindEnum(Enum):
    EARN = "EARN"
    SPEND = "SPEND"
    EXPIRE = "EXPIRE"
    ADJUST = "ADJUST"
    REVERSE = "REVERSE"


@strawberry.type(
    name="LedgerEntry",
    description=(
        "One change of a loyalty card's points, never changed after it is applied (except "
        "`remaining`)."
    ),
)
class LedgerEntryType:
    id: strawberry.ID = strawberry.field(description="The entry's id.")
    kind: LedgerKindEnum = strawberry.field(description="Why the points changed.")
    points: int = strawberry.field(description="Signed: negative entries take points.")
    reason: str = strawberry.field(
        description="Why, in words (the adjustment's reason, the event's name); \"\" when none."
    )
    source: str = strawberry.field(description="An order id, reward id, API key or entry id.")
    remaining: int = strawberry.field(description="Positive entries: points not yet used.")
    expires_at: datetime | None = strawberry.field(
        description=(
            "When the points of a positive entry expire, UTC ISO 8601; null when they never do."
        )
    )
    created_at: datetime = strawberry.field(description="When the change was made, UTC ISO 8601.")

    @classmethod
    def from_doc(cls, doc: loyalty.LedgerEntry) -> "LedgerEntryType":
        return cls(
            id=strawberry.ID(doc.key_id),
            kind=LedgerKindEnum(doc.kind.value),
            points=doc.points,
            reason=doc.reason,
            source=doc.source,
            remaining=doc.remaining,
            expires_at=doc.expires_at,
            created_at=doc.created_at,
        )


@strawberry.type(
    name="PointsExpiry",
    description="Points of a card that expire at one time.",
)
class PointsExpiryType:
    points: int = strawberry.field(description="How many points expire then.")
    at: datetime = strawberry.field(description="When they expire, UTC ISO 8601.")


@strawberry.type(
    name="LoyaltyCard",
    description=(
        "A customer's card in a loyalty program. Readable by admin keys and by the card "
        "holder's token."
    ),
)
class LoyaltyCardType:
    campaign_id: strawberry.ID = strawberry.field(
        description="The LOYALTY campaign the card is in."
    )
    customer_id: strawberry.ID = strawberry.field(
        description=(
            "The card holder's id. Readable by admin and POS keys and by the holder's token."
        )
    )
    points: int = strawberry.field(description="The balance: the sum of the ledger.")
    earned_total: int = strawberry.field(
        description=(
            "Points earned over the card's life, less reversals (spending, expiry and "
            "adjustments do not lower it)."
        )
    )
    tier: str = strawberry.field(description="Empty below the lowest tier.")
    doc: strawberry.Private[loyalty.LoyaltyCard]

    def personal_data_owner(self) -> str:
        return self.doc.customer_id

    @classmethod
    def from_doc(cls, doc: loyalty.LoyaltyCard) -> "LoyaltyCardType":
        return cls(
            campaign_id=strawberry.ID(doc.campaign_id),
            customer_id=strawberry.ID(doc.customer_id),
            points=doc.balance,
            earned_total=doc.earned_total,
            tier=doc.tier,
            doc=doc,
        )

    @strawberry.field(
        description="Redirects to the card's Google Wallet save link; null until the card "
        "exists (the first points make it)."
    )
    def google_wallet_url(self, info: Info) -> str | None:
        if self.doc.id is None:
            return None
        settings = info.context.settings
        return links.google_card_wallet_url(
            settings.public_base_url, settings.secret_key, self.doc.project_id, self.doc.key
        )

    @strawberry.field(description="Points expiring in the next 30 days, soonest first.")
    async def expiring_soon(self, info: Info) -> list[PointsExpiryType]:
        if self.doc.id is None:
            return []
        soon = await info.context.loaders.expiring_points.load(self.doc)
        return [PointsExpiryType(points=item.points, at=item.at) for item in soon]

    @strawberry.field(description="Every change of the balance, oldest first.")
    async def ledger(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many entries to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
    ) -> Connection[LedgerEntryType]:
        page = await info.context.loaders.ledger.load((self.doc, (first, after)))
        return connection(page, LedgerEntryType.from_doc)


@strawberry.type(
    name="Reward",
    description="What customers can exchange points for in a loyalty program.",
)
class RewardType:
    id: strawberry.ID = strawberry.field(description="The reward's id.")
    campaign_id: strawberry.ID = strawberry.field(description="The LOYALTY campaign it belongs to.")
    name: str = strawberry.field(description="The reward's name, shown to customers.")
    cost: int = strawberry.field(description="What it costs, in points.")
    discount_campaign_id: strawberry.ID | None = strawberry.field(
        description="The DISCOUNT campaign whose code it gives; null for a free-form reward."
    )
    created_at: datetime = strawberry.field(
        description="When the reward was created, UTC ISO 8601."
    )

    @classmethod
    def from_doc(cls, doc: loyalty.Reward) -> "RewardType":
        return cls(
            id=strawberry.ID(doc.key),
            campaign_id=strawberry.ID(doc.campaign_id),
            name=doc.name,
            cost=doc.cost,
            discount_campaign_id=strawberry.ID(doc.discount_campaign_id)
            if doc.discount_campaign_id
            else None,
            created_at=doc.created_at,
        )


@strawberry.input(
    name="RewardInput",
    description="A reward of a loyalty program.",
)
class RewardInputType:
    campaign_id: strawberry.ID = strawberry.field(
        description="The LOYALTY campaign the reward belongs to."
    )
    name: str = strawberry.field(description="The reward's name, 1 to 200 characters.")
    cost: int = strawberry.field(description="What it costs, in points: 1 to 1,000,000,000.")
    discount_campaign_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The DISCOUNT campaign whose code the exchange gives; null for a "
            "free-form reward fulfilled by the shop."
        ),
    )


@strawberry.type(
    description="The result of createReward and updateReward: the reward, or what was wrong.",
)
class RewardPayload:
    reward: RewardType | None = strawberry.field(
        default=None, description="The reward as stored; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type(
    description=(
        "The result of exchangePoints: the card after paying, the code given, or what was wrong."
    ),
)
class ExchangePayload:
    code: CodeType | None = strawberry.field(
        default=None, description="Null for a free-form reward."
    )
    card: LoyaltyCardType | None = strawberry.field(
        default=None,
        description="The card after the points were spent; null when `errors` is not empty.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then no points were spent."
        ),
    )


@strawberry.type(
    description=(
        "The result of a points mutation: the card as it stands after, or what was wrong."
    ),
)
class LoyaltyCardPayload:
    card: LoyaltyCardType | None = strawberry.field(
        default=None, description="The card after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type
class LoyaltyQuery:
    @strawberry.field(
        permission_classes=[IsAdminOrSameCustomer],
        description="A customer's card in a program; empty before the first points.",
    )
    async def loyalty_card(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The card holder; a customer token may ask only for itself."
            ),
        ],
        campaign_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The LOYALTY campaign."),
        ],
    ) -> LoyaltyCardType:
        project_id = info.context.project_id
        campaign, _ = await loyalty.loyalty_campaign(
            project_id=project_id, campaign_id=str(campaign_id)
        )
        card = await loyalty.find_card(
            project_id=project_id, campaign_id=campaign.key, customer_id=str(customer_id)
        )
        return LoyaltyCardType.from_doc(card)

    @strawberry.field(
        permission_classes=[IsAdminOrCustomer],
        description="A loyalty program's rewards, cheapest first.",
    )
    async def rewards(
        self,
        info: Info,
        campaign_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The LOYALTY campaign."),
        ],
    ) -> list[RewardType]:
        found = await loyalty.list_rewards(
            project_id=info.context.project_id, campaign_id=str(campaign_id)
        )
        return [RewardType.from_doc(reward) for reward in found]


@strawberry.type
class LoyaltyMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Adds a reward to a loyalty program's catalogue.",
    )
    @payload
    async def create_reward(
        self,
        info: Info,
        input: Annotated[RewardInputType, strawberry.argument(description="The reward.")],
    ) -> RewardPayload:
        reward = await loyalty.create_reward(
            project_id=info.context.project_id,
            data=loyalty.RewardInput(
                campaign_id=str(input.campaign_id),
                name=input.name,
                cost=input.cost,
                discount_campaign_id=str(input.discount_campaign_id)
                if input.discount_campaign_id
                else None,
            ),
        )
        return RewardPayload(reward=RewardType.from_doc(reward))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Changes a reward's name, cost and code with createReward's checks; it "
        "stays in its program. Exchanges already made keep the cost they paid.",
    )
    @payload
    async def update_reward(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The reward to change.")],
        input: Annotated[
            RewardInputType,
            strawberry.argument(
                description="The reward as it should be; campaignId must be its own program."
            ),
        ],
    ) -> RewardPayload:
        reward = await loyalty.update_reward(
            project_id=info.context.project_id,
            reward_id=str(id),
            data=loyalty.RewardInput(
                campaign_id=str(input.campaign_id),
                name=input.name,
                cost=input.cost,
                discount_campaign_id=str(input.discount_campaign_id)
                if input.discount_campaign_id
                else None,
            ),
        )
        return RewardPayload(reward=RewardType.from_doc(reward))

    @strawberry.mutation(
        permission_classes=[IsAdminOrSameCustomer],
        description="Spends the reward's cost once per idempotencyKey: a retry returns the first "
        "exchange. Refused with INSUFFICIENT_POINTS when the card cannot pay.",
    )
    @payload
    async def exchange_points(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The card holder; a customer token may exchange only its own points."
            ),
        ],
        reward_id: Annotated[
            strawberry.ID, strawberry.argument(description="The reward to exchange points for.")
        ],
        idempotency_key: Annotated[
            str,
            strawberry.argument(
                description=(
                    "Names this exchange (1 to 200 characters): a retry with the same key "
                    "returns the first result instead of spending again."
                )
            ),
        ],
    ) -> ExchangePayload:
        result = await loyalty.exchange_points(
            project_id=info.context.project_id,
            customer_id=str(customer_id),
            reward_id=str(reward_id),
            idempotency_key=idempotency_key,
        )
        return ExchangePayload(
            code=None if result.code is None else CodeType.from_doc(result.code),
            card=LoyaltyCardType.from_doc(result.card),
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Adds (or, negative, takes) points with a reason; never below zero.",
    )
    @payload
    async def adjust_points(
        self,
        info: Info,
        customer_id: Annotated[strawberry.ID, strawberry.argument(description="The card holder.")],
        campaign_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The LOYALTY campaign."),
        ],
        points: Annotated[
            int,
            strawberry.argument(
                description=(
                    "Points to add (positive) or take (negative); not 0, at most "
                    "1,000,000,000 either way."
                )
            ),
        ],
        reason: Annotated[
            str,
            strawberry.argument(description="Why, 1 to 500 characters; kept on the ledger entry."),
        ],
    ) -> LoyaltyCardPayload:
        card = await loyalty.adjust_points(
            project_id=info.context.project_id,
            customer_id=str(customer_id),
            campaign_id=str(campaign_id),
            points=points,
            reason=reason,
            actor=info.context.caller.actor,
        )
        return LoyaltyCardPayload(card=LoyaltyCardType.from_doc(card))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Earns the points the program gives for a named event, once per "
        "idempotencyKey.",
    )
    @payload
    async def record_loyalty_event(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID, strawberry.argument(description="The customer who earns the points.")
        ],
        campaign_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The LOYALTY campaign."),
        ],
        name: Annotated[
            str,
            strawberry.argument(
                description="The event's name, one the program lists in its events."
            ),
        ],
        idempotency_key: Annotated[
            str,
            strawberry.argument(
                description=(
                    "Names this occurrence (1 to 200 characters): the same key earns once."
                )
            ),
        ],
    ) -> LoyaltyCardPayload:
        card = await loyalty.record_event(
            project_id=info.context.project_id,
            customer_id=str(customer_id),
            campaign_id=str(campaign_id),
            name=name,
            idempotency_key=idempotency_key,
        )
        return LoyaltyCardPayload(card=LoyaltyCardType.from_doc(card))
