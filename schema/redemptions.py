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
from schema.described_enums import described_enum
from schema.errors import payload
from schema.guessing import code_attempt, customer_id_argument
from schema.permissions import IsAdmin, IsStaff
from schema.types import Connection, Money, MoneyInput, UserError, connection


@described_enum(
    name="RedemptionStatus",
    description="Where a redemption stands.",
    values={
        "PENDING": "Claimed and being applied; it completes or is cancelled within moments.",
        "SUCCEEDED": "Completed: the code's discount was given and its limits used.",
        "ROLLED_BACK": "Undone by rollbackRedemption: the limits it used were given back.",
    },
)
class RedemptionStatusEnum(Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    ROLLED_BACK = "ROLLED_BACK"


@described_enum(
    name="RedemptionChannel",
    description="Where a code was redeemed, from the caller's key.",
    values={
        "ONLINE": "With an admin key (a shop's checkout).",
        "POS": "With a POS key (a till).",
    },
)
class RedemptionChannelEnum(Enum):
    ONLINE = "ONLINE"
    POS = "POS"


@strawberry.type(
    name="OrderItem",
    description="One line of an order.",
)
class OrderItemType:
    sku: str = strawberry.field(description="The item's stock keeping unit.")
    quantity: int = strawberry.field(description="How many, at least 1.")
    price: Money = strawberry.field(description="The price of one unit, in minor units.")
    category: str = strawberry.field(description='The item\'s category; "" for none.')


@strawberry.type(name="Order", description="The order as sent with the redemption.")
class OrderType:
    id: str = strawberry.field(description='The shop\'s order id; "" when none was given.')
    amount: Money = strawberry.field(
        description="The order total before the discount, in minor units."
    )
    items: list[OrderItemType] = strawberry.field(
        description="The order's lines; empty when only an amount was given."
    )
    shipping: Money | None = strawberry.field(
        description=(
            "The shipping amount (what FREE_SHIPPING takes off); null when none was given."
        )
    )

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


@strawberry.input(
    name="OrderItemInput",
    description="One line of an order.",
)
class OrderItemInputType:
    sku: str = strawberry.field(description="The item's stock keeping unit, not empty.")
    quantity: int = strawberry.field(description="How many, at least 1.")
    price: MoneyInput = strawberry.field(description="The price of one unit, in minor units.")
    category: str = strawberry.field(
        default="", description="The item's category, matched against rules.categories."
    )


@strawberry.input(
    description=(
        "The order a code is checked or redeemed against. Money in minor units; all amounts in one "
        "currency, the campaign's."
    ),
)
class OrderInput:
    id: str | None = strawberry.field(
        default=None, description="The shop's order id, stored with the redemption."
    )
    amount: MoneyInput | None = strawberry.field(
        default=None, description="Defaults to the items' total."
    )
    items: list[OrderItemInputType] = strawberry.field(
        default_factory=list,
        description=(
            "The order's lines (needed by ELIGIBLE_ITEMS discounts); give items, an amount or both."
        ),
    )
    shipping: MoneyInput | None = strawberry.field(
        default=None, description="The shipping amount, 0 or more; what FREE_SHIPPING takes off."
    )

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


@strawberry.type(
    name="Validation",
    description="Whether a code can be redeemed now, and what it would take off.",
)
class ValidationType:
    valid: bool = strawberry.field(
        description="True when the code can be redeemed now against this customer and order."
    )
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


@strawberry.type(
    name="Redemption",
    description="One redemption of a code. Readable by admin and POS keys.",
)
class RedemptionType:
    id: strawberry.ID = strawberry.field(description="The redemption's id.")
    code: str = strawberry.field(
        description="The code redeemed, normalized (upper-case, no spaces or dashes)."
    )
    code_id: strawberry.ID = strawberry.field(description="The id of the code redeemed.")
    campaign_id: strawberry.ID = strawberry.field(description="The id of the code's campaign.")
    discount: Money | None = strawberry.field(
        description="What the code took off the order; null when redeemed without an order."
    )
    order: OrderType | None = strawberry.field(
        description="The order sent with the redemption; null when none was."
    )
    status: RedemptionStatusEnum = strawberry.field(description="Where the redemption stands.")
    channel: RedemptionChannelEnum = strawberry.field(
        description="ONLINE (admin key) or POS (till key)."
    )
    created_at: datetime = strawberry.field(description="When the code was redeemed, UTC ISO 8601.")
    rolled_back_at: datetime | None = strawberry.field(
        description="When the redemption was rolled back, UTC ISO 8601; null unless ROLLED_BACK."
    )
    rollback_reason: str | None = strawberry.field(
        description=(
            "Why it was rolled back, as given (at most 500 characters); null when not given."
        )
    )
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

    @strawberry.field(
        description=(
            "The redeemer; null without a customer. Admin keys only (POS keys read customerId)."
        )
    )
    async def customer(self, info: Info) -> CustomerType | None:
        return await CustomerType.load(info, self.personal_data_owner())


@strawberry.type(
    description=(
        "The result of redeemCode or rollbackRedemption: the redemption, or what was wrong."
    ),
)
class RedemptionPayload:
    redemption: RedemptionType | None = strawberry.field(
        default=None, description="The redemption as stored; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong (RedemptionReason, RedemptionError or CommonError codes); "
            "empty on success, and then nothing was written."
        ),
    )


@strawberry.type
class RedemptionQuery:
    @strawberry.field(
        permission_classes=[IsStaff],
        description="Checks a code against a customer and an order without redeeming it.",
    )
    async def validate_code(
        self,
        info: Info,
        code: Annotated[
            str,
            strawberry.argument(
                description=(
                    "The code as printed or typed; case, spaces and dashes are ignored. Counts as "
                    "one guessing attempt."
                )
            ),
        ],
        customer_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description=(
                    "The customer who would redeem it; needed by campaigns with customer rules or "
                    "limits."
                )
            ),
        ] = None,
        order: Annotated[
            OrderInput | None,
            strawberry.argument(
                description="The order it would apply to; without it, no discount is computed."
            ),
        ] = None,
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

    @strawberry.field(
        permission_classes=[IsStaff],
        description="One redemption; null when the project has no such redemption.",
    )
    async def redemption(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The redemption's id.")],
    ) -> RedemptionType | None:
        try:
            found = await redemptions.get_redemption(
                project_id=info.context.project_id, redemption_id=str(id)
            )
        except NotFound:
            return None
        return RedemptionType.from_doc(found)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The project's redemptions, oldest first; the filters given must all match.",
    )
    async def redemptions(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many redemptions to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
        campaign_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only redemptions of this campaign."),
        ] = None,
        customer_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only redemptions by this customer."),
        ] = None,
        code: Annotated[
            str | None,
            strawberry.argument(
                description="Only redemptions of this code (case, spaces and dashes ignored)."
            ),
        ] = None,
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
        code: Annotated[
            str,
            strawberry.argument(
                description="The code as printed or typed; case, spaces and dashes are ignored."
            ),
        ],
        customer_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description=(
                    "The redeeming customer; needed by campaigns with customer rules or limits."
                )
            ),
        ] = None,
        order: Annotated[
            OrderInput | None,
            strawberry.argument(
                description="The order it applies to; the discount is computed on it."
            ),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "Up to 200 characters: a retry with the same key returns the first redemption "
                    "instead of redeeming again."
                )
            ),
        ] = None,
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
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The SUCCEEDED redemption to undo.")
        ],
        reason: Annotated[
            str | None,
            strawberry.argument(description="Why, kept on the redemption (cut to 500 characters)."),
        ] = None,
    ) -> RedemptionPayload:
        redemption = await redemptions.rollback_redemption(
            project_id=info.context.project_id, redemption_id=str(id), reason=reason or ""
        )
        return RedemptionPayload(redemption=RedemptionType.from_doc(redemption))
