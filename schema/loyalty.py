"""GraphQL for loyalty programs: cards and their ledger, rewards, exchanges and adjustments."""

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from domain import links, loyalty
from domain.callers import CallerKind
from schema.codes import CodeType
from schema.context import Info
from schema.errors import payload
from schema.permissions import IsAdmin, IsAdminOrCustomer
from schema.types import Connection, UserError, connection


class IsAdminOrSameCustomer(BasePermission):
    """Admin keys for any customer; a customer token for its own customerId only."""

    message = "this operation is not allowed for the caller"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        caller = info.context.caller
        if caller.kind == CallerKind.ADMIN:
            return True
        return caller.kind == CallerKind.CUSTOMER and str(kwargs.get("customer_id")) == str(
            caller.customer_id
        )


@strawberry.enum(name="LedgerKind")
class LedgerKindEnum(Enum):
    EARN = "EARN"
    SPEND = "SPEND"
    EXPIRE = "EXPIRE"
    ADJUST = "ADJUST"
    REVERSE = "REVERSE"


@strawberry.type(name="LedgerEntry")
class LedgerEntryType:
    id: strawberry.ID
    kind: LedgerKindEnum
    points: int = strawberry.field(description="Signed: negative entries take points.")
    reason: str
    source: str = strawberry.field(description="An order id, reward id, API key or entry id.")
    remaining: int = strawberry.field(description="Positive entries: points not yet used.")
    expires_at: datetime | None
    created_at: datetime

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


@strawberry.type(name="PointsExpiry")
class PointsExpiryType:
    points: int
    at: datetime


@strawberry.type(name="LoyaltyCard")
class LoyaltyCardType:
    campaign_id: strawberry.ID
    customer_id: strawberry.ID
    points: int = strawberry.field(description="The balance: the sum of the ledger.")
    earned_total: int
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
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[LedgerEntryType]:
        page = await info.context.loaders.ledger.load((self.doc, (first, after)))
        return connection(page, LedgerEntryType.from_doc)


@strawberry.type(name="Reward")
class RewardType:
    id: strawberry.ID
    campaign_id: strawberry.ID
    name: str
    cost: int
    discount_campaign_id: strawberry.ID | None = strawberry.field(
        description="The DISCOUNT campaign whose code it gives; null for a free-form reward."
    )
    created_at: datetime

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


@strawberry.input(name="RewardInput")
class RewardInputType:
    campaign_id: strawberry.ID = strawberry.field(description="The LOYALTY campaign.")
    name: str
    cost: int = strawberry.field(description="Points.")
    discount_campaign_id: strawberry.ID | None = None


@strawberry.type
class RewardPayload:
    reward: RewardType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ExchangePayload:
    code: CodeType | None = strawberry.field(
        default=None, description="Null for a free-form reward."
    )
    card: LoyaltyCardType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LoyaltyCardPayload:
    card: LoyaltyCardType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LoyaltyQuery:
    @strawberry.field(
        permission_classes=[IsAdminOrSameCustomer],
        description="A customer's card in a program; empty before the first points.",
    )
    async def loyalty_card(
        self, info: Info, customer_id: strawberry.ID, campaign_id: strawberry.ID
    ) -> LoyaltyCardType:
        project_id = info.context.project_id
        campaign, _ = await loyalty.loyalty_campaign(
            project_id=project_id, campaign_id=str(campaign_id)
        )
        card = await loyalty.find_card(
            project_id=project_id, campaign_id=campaign.key, customer_id=str(customer_id)
        )
        return LoyaltyCardType.from_doc(card)

    @strawberry.field(permission_classes=[IsAdminOrCustomer], description="Cheapest first.")
    async def rewards(self, info: Info, campaign_id: strawberry.ID) -> list[RewardType]:
        found = await loyalty.list_rewards(
            project_id=info.context.project_id, campaign_id=str(campaign_id)
        )
        return [RewardType.from_doc(reward) for reward in found]


@strawberry.type
class LoyaltyMutation:
    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def create_reward(self, info: Info, input: RewardInputType) -> RewardPayload:
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
        permission_classes=[IsAdminOrSameCustomer],
        description="Spends the reward's cost once per idempotencyKey: a retry returns the first "
        "exchange. Refused with INSUFFICIENT_POINTS when the card cannot pay.",
    )
    @payload
    async def exchange_points(
        self,
        info: Info,
        customer_id: strawberry.ID,
        reward_id: strawberry.ID,
        idempotency_key: str,
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
        customer_id: strawberry.ID,
        campaign_id: strawberry.ID,
        points: int,
        reason: str,
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
        customer_id: strawberry.ID,
        campaign_id: strawberry.ID,
        name: str,
        idempotency_key: str,
    ) -> LoyaltyCardPayload:
        card = await loyalty.record_event(
            project_id=info.context.project_id,
            customer_id=str(customer_id),
            campaign_id=str(campaign_id),
            name=name,
            idempotency_key=idempotency_key,
        )
        return LoyaltyCardPayload(card=LoyaltyCardType.from_doc(card))
