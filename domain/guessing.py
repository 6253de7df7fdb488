"""Guessing limits on code lookups: each attempt to validate, redeem or read a code is counted
per caller and per client address. Finding a customer by email, phone or shop id (the till's
way in) has counters of its own, alike. GraphQL and the REST API both count through here."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from domain.callers import Caller
from domain.customers import ContactLookup, find_customer_id_by_contact
from domain.errors import CommonError, DomainError
from domain.rate_limits import (
    NOTHING_TAKEN,
    SERVICE_WIDE,
    Bucket,
    Taken,
    give_back,
    parse_rates,
    take,
)

T = TypeVar("T")


@dataclass(frozen=True)
class GuessingRates:
    """The configured rates, as `limits` rate strings ("25/day", "10/second;600/minute")."""

    enabled: bool
    wrong_code_cost: int
    code_attempts_per_key: str
    code_attempts_per_address: str
    customer_lookups_per_key: str
    customer_lookups_per_address: str


@dataclass(frozen=True)
class Attempter:
    """Who is guessing: the caller (counted per key) and its address, already hashed so that
    counters never hold an address in the clear."""

    caller: Caller
    address_subject: str
    rates: GuessingRates


def _buckets(attempter: Attempter, scope: str, per_key: str, per_address: str) -> list[Bucket]:
    caller = attempter.caller
    return [
        Bucket(caller.project_id, f"{scope}:key", caller.actor, parse_rates(per_key)),
        Bucket(
            SERVICE_WIDE, f"{scope}:address", attempter.address_subject, parse_rates(per_address)
        ),
    ]


def names_unknown_code(error: DomainError) -> bool:
    return any(p.code == "NOT_FOUND" and p.field == "code" for p in error.problems)


async def code_attempt(
    attempter: Attempter, lookup: Callable[[], Awaitable[T]], unknown: Callable[[T], bool]
) -> T:
    """Runs `lookup` as one attempt, or raises RateLimited without running it. The attempt is
    charged as a wrong code up front, so concurrent guesses cannot overrun the limit, and
    costs one unit once the code turns out to exist."""
    rates = attempter.rates
    cost = rates.wrong_code_cost
    taken: Taken = NOTHING_TAKEN
    if rates.enabled:
        buckets = _buckets(
            attempter,
            "code-attempts",
            rates.code_attempts_per_key,
            rates.code_attempts_per_address,
        )
        taken = await take(buckets, cost)
    try:
        result = await lookup()
    except DomainError as error:
        if not names_unknown_code(error):
            await give_back(taken, cost - 1)
        raise
    if not unknown(result):
        await give_back(taken, cost - 1)
    return result


async def customer_lookup(attempter: Attempter, lookup: ContactLookup) -> str:
    """The customer id for an exact email, phone or shop id, as one attempt that costs a wrong
    code's units when nobody matches, so a till key cannot list who is a customer."""
    rates = attempter.rates
    cost = rates.wrong_code_cost
    taken: Taken = NOTHING_TAKEN
    if rates.enabled:
        buckets = _buckets(
            attempter,
            "customer-lookups",
            rates.customer_lookups_per_key,
            rates.customer_lookups_per_address,
        )
        taken = await take(buckets, cost)
    try:
        customer_id = await find_customer_id_by_contact(attempter.caller.project_id, lookup)
    except DomainError as error:
        if error.code not in ("CUSTOMER_NOT_FOUND", "CUSTOMER_AMBIGUOUS"):
            await give_back(taken, cost - 1)
        raise
    await give_back(taken, cost - 1)
    return customer_id


async def customer_id_argument(
    attempter: Attempter, customer_id: str | None, lookup: ContactLookup
) -> str | None:
    """A validation's or redemption's customer: the id given, or the one a lookup finds."""
    if not lookup.given():
        return customer_id
    if customer_id:
        raise DomainError(
            CommonError.INVALID, "give customerId or a customer lookup, not both", "customerId"
        )
    return await customer_lookup(attempter, lookup)
