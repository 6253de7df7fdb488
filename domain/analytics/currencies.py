"""Money in figures: a campaign's configured currency, amounts summed per currency."""

from collections import Counter
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal

from domain.analytics.buckets import Row
from domain.campaigns import Campaign
from domain.common import Money

# ISO 4217's code for "no currency": a campaign with no money anywhere in it yet.
NO_CURRENCY = "XXX"


def configured_currency(campaign: Campaign) -> str | None:
    """The currency the campaign's own money is in, if it has any."""
    discount = campaign.discount
    for value in (
        discount.amount_off if discount else None,
        discount.fixed_price if discount else None,
        discount.max_discount if discount else None,
        campaign.rules.min_order,
    ):
        if value is not None:
            return value.currency
    return None


def average(*, total: int, count: int) -> int:
    return int((Decimal(total) / Decimal(count)).quantize(Decimal(1), ROUND_HALF_EVEN))


def by_currency(*, rows: Iterable[Row], index: int) -> tuple[Counter[str], Counter[str]]:
    """(amount, count) per currency, the currency being parts[index]."""
    amounts: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for row in rows:
        currency = row.parts[index]
        if currency:
            amounts[currency] += row.amount
            counts[currency] += row.count
    return amounts, counts


def money_list(amounts: Counter[str]) -> list[Money]:
    return [Money(amount=amounts[c], currency=c) for c in sorted(amounts)]
