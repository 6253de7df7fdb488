"""GraphQL for recording orders, cancelling or refunding them, and reading one back."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain import orders
from domain.discounts import OrderItemInput
from domain.errors import NotFound
from schema.context import Info
from schema.customers import CustomerType
from schema.described_enums import described_enum
from schema.errors import payload
from schema.permissions import IsAdmin
from schema.redemptions import OrderItemInputType, OrderItemType
from schema.types import Money, MoneyInput, UserError


@described_enum(
    name="OrderStatus",
    description="Where a recorded order stands.",
    values={
        "PAID": "Paid: counted in the customer's metrics and loyalty points.",
        "CANCELLED": "Cancelled: what it gave (metrics, points, referral rewards) was reversed.",
        "REFUNDED": "Refunded: what it gave (metrics, points, referral rewards) was reversed.",
    },
)
class OrderStatusEnum(Enum):
    PAID = "PAID"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


# "Order" already names the order snapshot a redemption carries.
@strawberry.type(name="RecordedOrder", description="An order recorded by the shop.")
class RecordedOrderType:
    id: str = strawberry.field(description="The shop's id for the order.")
    amount: Money = strawberry.field(description="The order total in minor units.")
    items: list[OrderItemType] = strawberry.field(description="The order's lines.")
    codes: list[str] = strawberry.field(description="The codes used, normalized.")
    status: OrderStatusEnum = strawberry.field(description="Where the order stands.")
    created_at: datetime = strawberry.field(
        description="When the order was recorded, UTC ISO 8601."
    )
    status_changed_at: datetime | None = strawberry.field(
        description="When it was cancelled or refunded, UTC ISO 8601; null while PAID."
    )
    customer_id: strawberry.Private[str]

    @classmethod
    def from_doc(cls, doc: orders.Order) -> "RecordedOrderType":
        return cls(
            id=doc.order_id,
            amount=Money(amount=doc.amount.amount, currency=doc.amount.currency),
            items=[
                OrderItemType(
                    sku=item.sku,
                    quantity=item.quantity,
                    price=Money(amount=item.price.amount, currency=item.price.currency),
                    category=item.category,
                )
                for item in doc.items
            ],
            codes=doc.codes,
            status=OrderStatusEnum(doc.status.value),
            created_at=doc.created_at,
            status_changed_at=doc.status_changed_at,
            customer_id=doc.customer_id,
        )

    @strawberry.field(
        description="The buyer; null when the order has no customer. Admin keys only."
    )
    async def customer(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.customer_id)


@strawberry.input(
    description="A paid order, recorded once per id. Money in minor units, one currency.",
)
class RecordOrderInput:
    id: str = strawberry.field(
        description="The shop's id, 1 to 200 characters: recording it again changes nothing."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The buyer; null for a guest order (no metrics or points)."
    )
    amount: MoneyInput | None = strawberry.field(
        default=None, description="Defaults to the items' total."
    )
    items: list[OrderItemInputType] = strawberry.field(
        default_factory=list, description="The order's lines, at most 500."
    )
    codes: list[str] = strawberry.field(
        default_factory=list,
        description="The codes used on the order, at most 20 (case, spaces and dashes ignored).",
    )

    def to_domain(self) -> orders.OrderInput:
        return orders.OrderInput(
            order_id=self.id,
            amount=self.amount.to_domain("amount") if self.amount else None,
            customer_id=str(self.customer_id or ""),
            items=[
                OrderItemInput(
                    sku=item.sku,
                    quantity=item.quantity,
                    price=item.price.to_domain(f"items[{index}].price"),
                    category=item.category,
                )
                for index, item in enumerate(self.items)
            ],
            codes=self.codes,
        )


@strawberry.type(
    description="The result of recordOrder or updateOrderStatus: the order, or what was wrong.",
)
class OrderPayload:
    order: RecordedOrderType | None = strawberry.field(
        default=None, description="The order as stored; null when `errors` is not empty."
    )
    created: bool = strawberry.field(
        default=False, description="False when this order id was recorded before."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type
class OrderQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description=(
            "One recorded order by the shop's id; null when the project has none with this id."
        ),
    )
    async def order(
        self,
        info: Info,
        id: Annotated[str, strawberry.argument(description="The shop's id for the order.")],
    ) -> RecordedOrderType | None:
        try:
            found = await orders.get_order(info.context.project_id, id)
        except NotFound:
            return None
        return RecordedOrderType.from_doc(found)


@strawberry.type
class OrderMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Records an order once per id: updates the customer's metrics and earns "
        "loyalty points. Recording the same id again returns the first order.",
    )
    @payload
    async def record_order(
        self,
        info: Info,
        input: Annotated[RecordOrderInput, strawberry.argument(description="The order.")],
    ) -> OrderPayload:
        recorded = await orders.record_order(info.context.project_id, input.to_domain())
        return OrderPayload(
            order=RecordedOrderType.from_doc(recorded.order), created=recorded.created
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Cancels or refunds a PAID order once and reverses what it gave.",
    )
    @payload
    async def update_order_status(
        self,
        info: Info,
        id: Annotated[str, strawberry.argument(description="The shop's id for the order.")],
        status: Annotated[
            OrderStatusEnum, strawberry.argument(description="CANCELLED or REFUNDED.")
        ],
    ) -> OrderPayload:
        order = await orders.set_order_status(info.context.project_id, id, status.value)
        return OrderPayload(order=RecordedOrderType.from_doc(order))
