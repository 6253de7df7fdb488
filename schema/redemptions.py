"""GraphQL for validating and redeeming codes, rolling redemptions back and listing them."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain import analytics, redemptions
from domain.callers import CallerKind
from domain.common import Money as DomainMoney
from domain.customers import ContactLookup
from domain.discounts import Order, OrderItemInput, make_order
from domain.errors import DomainError, NotFound
from domain.rate_limits import RateLimited
from schema.context import Info
from schema.customers import CustomerType
from schema.errors import payload
from schema.guessing import code_attempt, customer_id_argument
from schema.permissions import IsAdmin, IsStaff
from schema.types import Connection, Money, MoneyInput, UserError, connection


@strawberry.enum(name="RedemptionStatus")
class RedemptionStatusEnum(Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    ROLLED_BACK = "ROLLED_BACK"


@strawberry.enum(name="RedemptionChannel")
class RedemptionChannelEnum(Enum):
    ONLINE = "ONLINE"
    POS = "POS"


@strawberry.type(name="OrderItem")
class OrderItemType:
    sku: str
    quantity: int
    price: Money = strawberry.field(description="Unit price.")
    category: str


@strawberry.type(name="Order", description="The order as sent with the redemption.")
class OrderType:
    id: str
    amount: Money
    items: list[OrderItemType]
    shipping: Money | None

    @classmethod
    def from_domain(cls, order: Order) -> "OrderType":
        return cls(
            id=order.id,
            amount=Money(amount=order.amount.amount, currency=order.amount.currency),
            items=[
                OrderItemType(
                    sku=item.sku,
                    quantity=item.quantity,
                    price=Money(amount=item.price.amount, currency=item.price.currency),
                    category=item.category,
                )
                for item in order.items
            ],
            shipping=Money.from_domain(order.shipping),
        )


@strawberry.input(name="OrderItemInput")
class OrderItemInputType:
    sku: str
    quantity: int
    price: MoneyInput = strawberry.field(description="Unit price.")
    category: str = ""


@strawberry.input
class OrderInput:
    id: str | None = None
    amount: MoneyInput | None = strawberry.field(
        default=None, description="Defaults to the items' total."
    )
    items: list[OrderItemInputType] = strawberry.field(default_factory=list)
    shipping: MoneyInput | None = None

    def to_domain(self) -> Order:
        items = [
            OrderItemInput(
                sku=item.sku,
                quantity=item.quantity,
                price=item.price.to_domain(f"order.items[{index}].price"),
                category=item.category,
            )
            for index, item in enumerate(self.items)
        ]
        return make_order(
            self.id,
            self.amount.to_domain("order.amount") if self.amount else None,
            items,
            self.shipping.to_domain("order.shipping") if self.shipping else None,
        )


def _order(order: OrderInput | None) -> Order | None:
    return None if order is None else order.to_domain()


def _amount_to_pay(order: Order | None, discount: DomainMoney | None) -> Money | None:
    if order is None:
        return None
    off = discount.amount if discount is not None else 0
    return Money(amount=max(0, order.amount.amount - off), currency=order.amount.currency)


# Tills know a customer by what the customer tells them; these find the one customer with
# exactly that value, counted against a guessing limit, and return nothing about them.
CustomerEmail = Annotated[
    str | None,
    strawberry.argument(
        description="Instead of customerId: the customer with exactly this email address."
    ),
]
CustomerPhone = Annotated[
    str | None,
    strawberry.argument(
        description="Instead of customerId: the customer with exactly this phone number "
        "(international format)."
    ),
]
CustomerSourceId = Annotated[
    str | None,
    strawberry.argument(
        description="Instead of customerId: the customer with this id in the shop's own system."
    ),
]


@strawberry.type(name="Validation")
class ValidationType:
    valid: bool
    reasons: list[str] = strawberry.field(
        description="Every reason the code cannot be redeemed now, as stable codes."
    )
    discount: Money | None = strawberry.field(
        description="What the code takes off the order; null when invalid or without an order."
    )
    amount_to_pay: Money | None = strawberry.field(
        default=None,
        description="The order amount less the discount; null when invalid or without an order.",
    )


@strawberry.type(name="Redemption")
class RedemptionType:
    id: strawberry.ID
    code: str
    code_id: strawberry.ID
    campaign_id: strawberry.ID
    discount: Money | None
    order: OrderType | None
    status: RedemptionStatusEnum
    channel: RedemptionChannelEnum
    created_at: datetime
    rolled_back_at: datetime | None
    rollback_reason: str | None
    customer_id: strawberry.ID | None = strawberry.field(
        description="The redeemer's id; null when the code was redeemed without a customer."
    )

    def personal_data_owner(self) -> str:
        return str(self.customer_id or "")

    @classmethod
    def from_doc(cls, doc: redemptions.Redemption) -> "RedemptionType":
        return cls(
            id=strawberry.ID(doc.key),
            code=doc.code,
            code_id=strawberry.ID(doc.code_id),
            campaign_id=strawberry.ID(doc.campaign_id),
            discount=Money.from_domain(doc.discount),
            order=None if doc.order is None else OrderType.from_domain(doc.order),
            status=RedemptionStatusEnum(doc.status.value),
            channel=RedemptionChannelEnum(doc.channel.value),
            created_at=doc.created_at,
            rolled_back_at=doc.rolled_back_at,
            rollback_reason=doc.rollback_reason or None,
            customer_id=strawberry.ID(doc.customer_id) if doc.customer_id else None,
        )

    @strawberry.field
    async def customer(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.personal_data_owner())


@strawberry.type
class RedemptionPayload:
    redemption: RedemptionType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RedemptionQuery:
    @strawberry.field(
        permission_classes=[IsStaff],
        description="Checks a code against a customer and an order without redeeming it.",
    )
    async def validate_code(
        self,
        info: Info,
        code: str,
        customer_id: strawberry.ID | None = None,
        order: OrderInput | None = None,
        customer_email: CustomerEmail = None,
        customer_phone: CustomerPhone = None,
        customer_source_id: CustomerSourceId = None,
    ) -> ValidationType:
        lookup = ContactLookup(customer_email, customer_phone, customer_source_id)
        try:
            customer = await customer_id_argument(
                info, str(customer_id) if customer_id else None, lookup
            )
            parsed_order = _order(order)
            result = await code_attempt(
                info,
                lambda: analytics.validate_and_count(
                    project_id=info.context.project_id,
                    raw_code=code,
                    customer_id=customer,
                    order=parsed_order,
                ),
                lambda found: redemptions.Reason.NOT_FOUND in found.reasons,
            )
        except RateLimited:
            raise
        except DomainError as error:
            # A malformed order, or a customer not found, is one more reason the code cannot
            # be redeemed against it.
            return ValidationType(
                valid=False, reasons=[p.code for p in error.problems], discount=None
            )
        return ValidationType(
            valid=result.valid,
            reasons=[reason.value for reason in result.reasons],
            discount=Money.from_domain(result.discount),
            amount_to_pay=_amount_to_pay(parsed_order, result.discount) if result.valid else None,
        )

    @strawberry.field(permission_classes=[IsStaff])
    async def redemption(self, info: Info, id: strawberry.ID) -> RedemptionType | None:
        try:
            found = await redemptions.get_redemption(
                project_id=info.context.project_id, redemption_id=str(id)
            )
        except NotFound:
            return None
        return RedemptionType.from_doc(found)

    @strawberry.field(permission_classes=[IsAdmin])
    async def redemptions(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        campaign_id: strawberry.ID | None = None,
        customer_id: strawberry.ID | None = None,
        code: str | None = None,
    ) -> Connection[RedemptionType]:
        page = await redemptions.list_redemptions(
            project_id=info.context.project_id,
            first=first,
            after=after,
            campaign_id=str(campaign_id) if campaign_id else None,
            customer_id=str(customer_id) if customer_id else None,
            code=code,
        )
        return connection(page, RedemptionType.from_doc)


@strawberry.type
class RedemptionMutation:
    @strawberry.mutation(
        permission_classes=[IsStaff],
        description="Redeems a code once. A retry with the same idempotencyKey returns the first "
        "redemption; errors carry the reason codes of validateCode.",
    )
    @payload
    async def redeem_code(
        self,
        info: Info,
        code: str,
        customer_id: strawberry.ID | None = None,
        order: OrderInput | None = None,
        idempotency_key: str | None = None,
        customer_email: CustomerEmail = None,
        customer_phone: CustomerPhone = None,
        customer_source_id: CustomerSourceId = None,
    ) -> RedemptionPayload:
        caller = info.context.caller
        customer = await customer_id_argument(
            info,
            str(customer_id) if customer_id else None,
            ContactLookup(customer_email, customer_phone, customer_source_id),
        )
        redemption = await code_attempt(
            info,
            lambda: redemptions.redeem_code(
                project_id=caller.project_id,
                raw_code=code,
                customer_id=customer,
                order=_order(order),
                idempotency_key=idempotency_key,
                channel=redemptions.RedemptionChannel.POS
                if caller.kind == CallerKind.POS
                else redemptions.RedemptionChannel.ONLINE,
                api_key_id=caller.api_key_id or "",
                snapshots=info.context.snapshots,
            ),
            lambda _: False,
        )
        return RedemptionPayload(redemption=RedemptionType.from_doc(redemption))

    @strawberry.mutation(
        permission_classes=[IsStaff],
        description="Undoes a redemption once and gives back every limit it used.",
    )
    @payload
    async def rollback_redemption(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> RedemptionPayload:
        redemption = await redemptions.rollback_redemption(
            project_id=info.context.project_id, redemption_id=str(id), reason=reason or ""
        )
        return RedemptionPayload(redemption=RedemptionType.from_doc(redemption))
