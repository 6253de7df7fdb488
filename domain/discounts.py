"""Discount arithmetic: what a campaign's Discount takes off an order, in integer minor units."""

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, Field

from domain.campaigns import Discount, DiscountScope, DiscountType, Rules
from domain.common import Money
from domain.errors import CommonError, DomainError, Problem


class OrderItem(BaseModel):
    sku: str
    quantity: int
    # Unit price.
    price: Money
    category: str = ""

    @property
    def total(self) -> int:
        return self.price.amount * self.quantity


class Order(BaseModel):
    """The order a code is checked against, as the shop sent it; kept as a snapshot."""

    id: str = ""
    amount: Money
    items: list[OrderItem] = Field(default_factory=list)
    shipping: Money | None = None

    @property
    def currency(self) -> str:
        return self.amount.currency


class CurrencyMismatch(DomainError):
    def __init__(self, expected: str, found: str, field: str | None = "order") -> None:
        super().__init__(
            CommonError.CURRENCY_MISMATCH, f"expected amounts in {expected}, found {found}", field
        )


@dataclass(frozen=True)
class OrderItemInput:
    sku: str
    quantity: int
    price: Money
    category: str = ""


def make_order(
    id: str | None,
    amount: Money | None,
    items: list[OrderItemInput],
    shipping: Money | None,
) -> Order:
    """Checks an order given by a caller; without an amount, the items' total is the amount."""
    problems: list[Problem] = []
    for index, item in enumerate(items):
        where = f"order.items[{index}]"
        if not item.sku.strip():
            problems.append(Problem(CommonError.INVALID, "an item needs a sku", f"{where}.sku"))
        if item.quantity < 1:
            problems.append(
                Problem(CommonError.INVALID, "quantity must be at least 1", f"{where}.quantity")
            )
        if item.price.amount < 0:
            problems.append(
                Problem(CommonError.INVALID, "a price cannot be negative", f"{where}.price")
            )
    if amount is not None and amount.amount < 0:
        problems.append(
            Problem(CommonError.INVALID, "the order amount cannot be negative", "order.amount")
        )
    if shipping is not None and shipping.amount < 0:
        problems.append(
            Problem(CommonError.INVALID, "shipping cannot be negative", "order.shipping")
        )
    if amount is None and not items:
        problems.append(
            Problem(CommonError.INVALID, "an order needs an amount or items", "order.amount")
        )
    if problems:
        raise DomainError.of(problems)
    order_items = [
        OrderItem(
            sku=i.sku.strip(), quantity=i.quantity, price=i.price, category=i.category.strip()
        )
        for i in items
    ]
    if amount is None:
        currency = order_items[0].price.currency
        for line in order_items:
            if line.price.currency != currency:
                raise CurrencyMismatch(currency, line.price.currency, "order.items")
        amount = Money(amount=sum(i.total for i in order_items), currency=currency)
    return Order(id=(id or "").strip(), amount=amount, items=order_items, shipping=shipping)


def order_currency_problems(order: Order) -> list[str]:
    """Currencies found in the order that differ from the order amount's."""
    found = [item.price.currency for item in order.items]
    if order.shipping is not None:
        found.append(order.shipping.currency)
    return sorted({c for c in found if c != order.currency})


def discount_currency_problems(discount: Discount, currency: str) -> list[str]:
    given = (discount.amount_off, discount.max_discount, discount.fixed_price)
    return sorted({m.currency for m in given if m is not None and m.currency != currency})


def item_is_eligible(item: OrderItem, rules: Rules) -> bool:
    """Without sku or category rules every item is eligible."""
    if not rules.skus and not rules.categories:
        return True
    return item.sku in rules.skus or (bool(item.category) and item.category in rules.categories)


def eligible_items(order: Order, rules: Rules) -> list[OrderItem]:
    return [item for item in order.items if item_is_eligible(item, rules)]


def eligible_amount(discount: Discount, order: Order, rules: Rules) -> int:
    """What the discount applies to: shipping, the eligible items, or the whole order."""
    if discount.type == DiscountType.FREE_SHIPPING:
        return order.shipping.amount if order.shipping is not None else 0
    if discount.scope == DiscountScope.ELIGIBLE_ITEMS:
        return sum(item.total for item in eligible_items(order, rules))
    return order.amount.amount


def percent_of(amount: int, percent: float) -> int:
    """amount * percent / 100 rounded half to even; str() keeps 12.5 as exactly 12.5."""
    exact = Decimal(amount) * Decimal(str(percent)) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def compute_discount(discount: Discount, order: Order, rules: Rules) -> Money:
    """The discount as Money in the order's currency: never negative, never above what it
    applies to, capped by max_discount. Raises CurrencyMismatch for mixed currencies."""
    currency = order.currency
    mismatched = order_currency_problems(order) + discount_currency_problems(discount, currency)
    if mismatched:
        raise CurrencyMismatch(currency, ", ".join(sorted(set(mismatched))))
    base = eligible_amount(discount, order, rules)
    if discount.type == DiscountType.PERCENT:
        value = percent_of(base, discount.percent_off or 0)
    elif discount.type == DiscountType.AMOUNT:
        value = discount.amount_off.amount if discount.amount_off is not None else 0
    elif discount.type == DiscountType.FIXED_PRICE:
        value = base - (discount.fixed_price.amount if discount.fixed_price is not None else base)
    else:
        value = base
    if discount.max_discount is not None:
        value = min(value, discount.max_discount.amount)
    return Money(amount=max(0, min(value, base)), currency=currency)
