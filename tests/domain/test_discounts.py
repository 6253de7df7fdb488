"""Discount arithmetic: exact examples and properties that hold for every order."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.campaigns import Discount, DiscountScope, DiscountType, Rules
from domain.common import Money
from domain.discounts import (
    CurrencyMismatch,
    Order,
    OrderItem,
    OrderItemInput,
    compute_discount,
    eligible_amount,
    make_order,
    percent_of,
)
from domain.errors import DomainError
from tests.factories import eur


def item(sku: str, quantity: int, price: int, category: str = "") -> OrderItem:
    return OrderItem(sku=sku, quantity=quantity, price=eur(price), category=category)


# The order amount (after the shop's own reductions) differs from the items' total of 10,000.
BASKET = Order(
    amount=eur(9_000),
    items=[item("SHOE", 2, 3_000, "shoes"), item("HAT", 1, 2_500, "hats"), item("SOCK", 3, 500)],
    shipping=eur(490),
)
NO_RULES = Rules()


def discount_of(discount: Discount, order: Order = BASKET, rules: Rules = NO_RULES) -> int:
    result = compute_discount(discount, order, rules)
    assert result.currency == order.currency
    return result.amount


def test_percent_rounds_half_to_even() -> None:
    assert percent_of(1_250, 10) == 125
    # 12.5% of 1,004 = 125.5 -> 126 (even); of 1,012 = 126.5 -> 126 (even).
    assert percent_of(1_004, 12.5) == 126
    assert percent_of(1_012, 12.5) == 126
    # 0.1 is exactly one tenth of a percent through str(), not its binary approximation.
    assert percent_of(1_000_000, 0.1) == 1_000
    assert percent_of(999, 33.333) == 333


def test_exact_examples() -> None:
    percent = Discount(type=DiscountType.PERCENT, percent_off=15)
    assert discount_of(percent) == 1_350
    capped = Discount(type=DiscountType.PERCENT, percent_off=50, max_discount=eur(2_000))
    assert discount_of(capped) == 2_000
    assert discount_of(Discount(type=DiscountType.AMOUNT, amount_off=eur(700))) == 700
    assert discount_of(Discount(type=DiscountType.AMOUNT, amount_off=eur(20_000))) == 9_000
    fixed = Discount(type=DiscountType.FIXED_PRICE, fixed_price=eur(7_500))
    assert discount_of(fixed) == 1_500
    assert discount_of(Discount(type=DiscountType.FIXED_PRICE, fixed_price=eur(12_000))) == 0
    assert discount_of(Discount(type=DiscountType.FREE_SHIPPING)) == 490
    no_shipping = BASKET.model_copy(update={"shipping": None})
    assert discount_of(Discount(type=DiscountType.FREE_SHIPPING), no_shipping) == 0


def test_eligible_items_scope() -> None:
    shoes_and_socks = Rules(skus=["SOCK"], categories=["shoes"])
    on_items = Discount(
        type=DiscountType.PERCENT, percent_off=10, scope=DiscountScope.ELIGIBLE_ITEMS
    )
    assert eligible_amount(on_items, BASKET, shoes_and_socks) == 7_500
    assert discount_of(on_items, rules=shoes_and_socks) == 750
    # Without sku or category rules every item is eligible: 10,000, not the order amount.
    assert discount_of(on_items) == 1_000
    fixed = Discount(
        type=DiscountType.FIXED_PRICE, fixed_price=eur(5_000), scope=DiscountScope.ELIGIBLE_ITEMS
    )
    assert discount_of(fixed, rules=Rules(categories=["shoes"])) == 1_000
    amount = Discount(
        type=DiscountType.AMOUNT, amount_off=eur(9_000), scope=DiscountScope.ELIGIBLE_ITEMS
    )
    assert discount_of(amount, rules=Rules(categories=["hats"])) == 2_500
    assert discount_of(amount, rules=Rules(categories=["gloves"])) == 0


def test_currency_mismatch_is_a_typed_problem() -> None:
    dollars = Discount(type=DiscountType.AMOUNT, amount_off=Money(amount=5, currency="USD"))
    with pytest.raises(CurrencyMismatch) as mismatch:
        compute_discount(dollars, BASKET, NO_RULES)
    assert mismatch.value.code == "CURRENCY_MISMATCH"
    mixed = BASKET.model_copy(update={"shipping": Money(amount=5, currency="GBP")})
    with pytest.raises(CurrencyMismatch):
        compute_discount(Discount(type=DiscountType.FREE_SHIPPING), mixed, NO_RULES)


def test_make_order_checks_input_and_totals_items() -> None:
    made = make_order(
        " o-1 ", None, [OrderItemInput("A", 2, eur(150)), OrderItemInput("B", 1, eur(5))], None
    )
    assert made.id == "o-1" and made.amount == eur(305)
    with pytest.raises(DomainError) as invalid:
        make_order(None, eur(-1), [OrderItemInput(" ", 0, eur(-5))], eur(-2))
    assert {(p.code, p.field) for p in invalid.value.problems} == {
        ("INVALID", "order.items[0].sku"),
        ("INVALID", "order.items[0].quantity"),
        ("INVALID", "order.items[0].price"),
        ("INVALID", "order.amount"),
        ("INVALID", "order.shipping"),
    }
    with pytest.raises(DomainError) as empty:
        make_order(None, None, [], None)
    assert empty.value.code == "INVALID"
    mixed = [
        OrderItemInput("A", 1, eur(1)),
        OrderItemInput("B", 1, Money(amount=1, currency="USD")),
    ]
    with pytest.raises(CurrencyMismatch):
        make_order(None, None, mixed, None)


amounts = st.integers(min_value=0, max_value=10**9)
items = st.lists(
    st.builds(
        item,
        sku=st.sampled_from(["A", "B", "C"]),
        quantity=st.integers(min_value=1, max_value=50),
        price=st.integers(min_value=0, max_value=10**6),
        category=st.sampled_from(["", "x", "y"]),
    ),
    max_size=6,
)
orders = st.builds(
    lambda amount, lines, shipping: Order(
        amount=eur(amount), items=lines, shipping=None if shipping is None else eur(shipping)
    ),
    amounts,
    items,
    st.none() | amounts,
)
rule_sets = st.builds(
    lambda skus, categories: Rules(skus=skus, categories=categories),
    st.lists(st.sampled_from(["A", "B", "C"]), max_size=2),
    st.lists(st.sampled_from(["x", "y"]), max_size=2),
)
optional_money = st.none() | amounts.map(eur)
discounts = st.builds(
    Discount,
    type=st.sampled_from(list(DiscountType)),
    percent_off=st.none()
    | st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda p: round(p, 3)),
    amount_off=optional_money,
    max_discount=optional_money,
    fixed_price=optional_money,
    scope=st.sampled_from(list(DiscountScope)),
)


@given(discounts, orders, rule_sets)
def test_a_discount_is_never_negative_nor_above_what_it_applies_to(
    discount: Discount, order: Order, rules: Rules
) -> None:
    value = compute_discount(discount, order, rules)
    assert value.currency == "EUR"
    assert 0 <= value.amount <= eligible_amount(discount, order, rules)
    if discount.max_discount is not None:
        assert value.amount <= discount.max_discount.amount


@given(
    amounts,
    st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda p: round(p, 2)),
)
def test_percent_is_the_exact_value_rounded_half_to_even(amount: int, percent: float) -> None:
    discount = Discount(type=DiscountType.PERCENT, percent_off=percent)
    exact = Fraction(amount) * Fraction(str(percent)) / 100
    value = discount_of(discount, Order(amount=eur(amount)))
    assert abs(Fraction(value) - exact) <= Fraction(1, 2)
    if abs(Fraction(value) - exact) == Fraction(1, 2):
        assert value % 2 == 0


@given(orders, amounts)
def test_fixed_price_leaves_the_fixed_price_to_pay(order: Order, fixed: int) -> None:
    discount = Discount(type=DiscountType.FIXED_PRICE, fixed_price=eur(fixed))
    value = discount_of(discount, order)
    assert order.amount.amount - value == min(order.amount.amount, fixed)


@given(orders, amounts)
def test_amount_off_is_capped_by_the_order(order: Order, off: int) -> None:
    value = discount_of(Discount(type=DiscountType.AMOUNT, amount_off=eur(off)), order)
    assert value == min(off, order.amount.amount)


@given(discounts, orders, st.sampled_from(["USD", "GBP", "JPY"]))
def test_a_foreign_currency_anywhere_is_refused(
    discount: Discount, order: Order, currency: str
) -> None:
    foreign = order.model_copy(update={"shipping": Money(amount=1, currency=currency)})
    with pytest.raises(CurrencyMismatch):
        compute_discount(discount, foreign, NO_RULES)
