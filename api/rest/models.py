"""The REST API's request and response bodies: pydantic models, camelCase on the wire, whose
JSON schemas are the OpenAPI document's components."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from domain.common import Money as DomainMoney
from domain.common import money
from domain.discounts import Order as DomainOrder
from domain.discounts import OrderItemInput, make_order


class Body(BaseModel):
    """Fields are camelCase on the wire; a request with a field we do not know is refused, so
    a misspelt one is never silently ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True
    )


class Money(Body):
    """An amount in minor units (cents) and an ISO 4217 currency."""

    amount: int = Field(description="In minor units: 1999 is 19.99 in EUR.")
    currency: str = Field(description="ISO 4217, upper-case: EUR, USD.", examples=["EUR"])

    def to_domain(self, field: str) -> DomainMoney:
        return money(self.amount, self.currency, field)

    @classmethod
    def of(cls, value: DomainMoney | None) -> "Money | None":
        return None if value is None else cls(amount=value.amount, currency=value.currency)


class OrderItem(Body):
    sku: str
    quantity: int = Field(description="At least 1.")
    price: Money = Field(description="The unit price.")
    category: str = ""


class CheckoutOrder(Body):
    """The order a code is checked against; the discount is computed from it."""

    id: str | None = Field(default=None, description="The shop's id for the order.")
    amount: Money | None = Field(default=None, description="Defaults to the items' total.")
    items: list[OrderItem] = Field(default_factory=list)
    shipping: Money | None = None

    def to_domain(self) -> DomainOrder:
        return make_order(
            self.id,
            self.amount.to_domain("order.amount") if self.amount else None,
            [
                OrderItemInput(
                    sku=item.sku,
                    quantity=item.quantity,
                    price=item.price.to_domain(f"order.items[{index}].price"),
                    category=item.category,
                )
                for index, item in enumerate(self.items)
            ],
            self.shipping.to_domain("order.shipping") if self.shipping else None,
        )

    @classmethod
    def of(cls, order: DomainOrder | None) -> "CheckoutOrder | None":
        if order is None:
            return None
        return cls(
            id=order.id or None,
            amount=Money.of(order.amount),
            items=[
                OrderItem(
                    sku=item.sku,
                    quantity=item.quantity,
                    price=Money(amount=item.price.amount, currency=item.price.currency),
                    category=item.category,
                )
                for item in order.items
            ],
            shipping=Money.of(order.shipping),
        )


class CodeAttempt(Body):
    """A code as the customer gave it, with whom and what it is for. The customer is given by
    id, or found by exactly one of email, phone or the shop's own id (each lookup counts
    against the guessing limits)."""

    code: str = Field(description="Case, spaces and dashes are ignored.", examples=["SUMMER-20"])
    customer_id: str | None = Field(default=None, description="Engage's id for the customer.")
    customer_source_id: str | None = Field(
        default=None, description="Instead of customerId: the customer's id in the shop."
    )
    customer_email: str | None = Field(
        default=None, description="Instead of customerId: the customer with this email address."
    )
    customer_phone: str | None = Field(
        default=None,
        description="Instead of customerId: the customer with this phone number "
        "(international format).",
    )
    order: CheckoutOrder | None = None


class ValidateRequest(CodeAttempt):
    """Checks a code without redeeming it."""


class RedeemRequest(CodeAttempt):
    """Redeems a code once; send an Idempotency-Key header so that a retry is safe."""


class Validation(Body):
    valid: bool
    reasons: list[str] = Field(
        description="Every reason the code cannot be redeemed now, as stable codes "
        "(NOT_FOUND, EXPIRED, CODE_LIMIT_REACHED, MIN_ORDER_NOT_MET, ...)."
    )
    discount: Money | None = Field(
        description="What the code takes off the order; null when invalid or without an order."
    )
    amount_to_pay: Money | None = Field(
        description="The order amount less the discount; null when invalid or without an order."
    )


class Redemption(Body):
    id: str
    code: str = Field(description="The code redeemed, normalized.")
    campaign_id: str
    customer_id: str | None = Field(description="Null when redeemed without a customer.")
    discount: Money | None
    order: CheckoutOrder | None
    status: Literal["PENDING", "SUCCEEDED", "ROLLED_BACK"]
    channel: Literal["ONLINE", "POS"] = Field(description="POS when a POS key redeemed it.")
    created_at: datetime = Field(description="UTC.")
    rolled_back_at: datetime | None = Field(description="UTC.")
    rollback_reason: str | None


class RollbackRequest(Body):
    reason: str | None = Field(default=None, description="Kept with the redemption.")


class OrderRequest(Body):
    """An order, recorded once per id: recording it again changes nothing."""

    id: str = Field(description="The shop's id for the order.")
    customer_id: str | None = None
    customer_source_id: str | None = Field(
        default=None, description="Instead of customerId: the customer's id in the shop."
    )
    amount: Money | None = Field(default=None, description="Defaults to the items' total.")
    items: list[OrderItem] = Field(default_factory=list)
    codes: list[str] = Field(default_factory=list, description="The codes used on the order.")


class RecordedOrder(Body):
    id: str = Field(description="The shop's id for the order.")
    customer_id: str | None
    amount: Money
    items: list[OrderItem]
    codes: list[str] = Field(description="Normalized.")
    status: Literal["PAID", "CANCELLED", "REFUNDED"]
    created_at: datetime = Field(description="UTC.")


class Consents(Body):
    email: bool
    sms: bool


class ConsentsInput(Body):
    email: bool | None = None
    sms: bool | None = None


class CustomerUpsert(Body):
    """A customer's fields; on update, those left out are kept."""

    email: str | None = None
    phone: str | None = Field(default=None, description="International format: +33612345678.")
    name: str | None = None
    attributes: dict[str, Any] | None = Field(
        default=None, description="Free-form values campaign rules can match on."
    )
    tags: list[str] | None = None
    consents: ConsentsInput | None = None


class Customer(Body):
    id: str
    source_id: str | None
    email: str | None
    phone: str | None
    name: str
    attributes: dict[str, Any]
    tags: list[str]
    consents: Consents
    created_at: datetime = Field(description="UTC.")
    updated_at: datetime = Field(description="UTC.")


class Coupon(Body):
    code: str = Field(description="Normalized: upper-case, no spaces or dashes.")
    display: str = Field(description="As printed, dashes kept.")
    campaign_id: str
    status: Literal["ACTIVE", "REDEEMED", "PAUSED", "NOT_STARTED", "EXPIRED"]
    offer: str = Field(description='The offer in a few words: "15% off".')
    uses_left: int | None = Field(description="Null when uses per code are not limited.")
    expires_at: datetime | None = Field(description="When the campaign ends, UTC.")
    url: str = Field(description="The coupon's own page.")


class CustomerCoupons(Body):
    customer_id: str
    coupons: list[Coupon] = Field(description="Newest first, 100 at most.")


class LoyaltyCard(Body):
    campaign_id: str = Field(description="The loyalty program.")
    points: int = Field(description="The balance.")
    earned_total: int
    tier: str = Field(description="Empty below the lowest tier.")


class LoyaltyBalance(Body):
    customer_id: str
    cards: list[LoyaltyCard] = Field(
        description="One per program the customer has points in, and an empty one for each "
        "active program."
    )


class ProblemDetail(Body):
    code: str
    field: str | None
    detail: str


class Problem(Body):
    """An error, as RFC 9457 problem details (application/problem+json)."""

    type: str = Field(description="A URI naming the kind of problem: urn:engage:problem:<code>.")
    title: str = Field(description="The HTTP status's reason phrase.")
    status: int
    detail: str = Field(description="What went wrong, for a person to read.")
    code: str = Field(description="A stable code to switch on, as in GraphQL's UserError.")
    field: str | None = Field(description="The request field at fault (camelCase path), if one.")
    errors: list[ProblemDetail] = Field(
        description="Every problem found, the first being the one above."
    )
    retry_after: int | None = Field(
        default=None, description="With RATE_LIMITED: seconds to wait, as Retry-After says."
    )
