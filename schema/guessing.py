"""Guessing limits on code lookups: each validateCode, redeemCode and code(code) is one attempt,
counted at the resolver (so every alias counts) per API key and per client address. Finding a
customer by email, phone or shop id (the till's way in) has counters of its own, alike."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

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
from domain.referrals import hash_ip
from schema.context import Info

T = TypeVar("T")


def _buckets(info: Info, scope: str, per_key: str, per_address: str) -> list[Bucket]:
    context = info.context
    caller = context.caller
    return [
        Bucket(caller.project_id, f"{scope}:key", caller.actor, parse_rates(per_key)),
        Bucket(
            SERVICE_WIDE,
            f"{scope}:address",
            hash_ip(ip=context.client_address, secret_key=context.settings.secret_key),
            parse_rates(per_address),
        ),
    ]


def _code_buckets(info: Info) -> list[Bucket]:
    settings = info.context.settings
    return _buckets(
        info,
        "code-attempts",
        settings.rate_limit_code_attempts_per_key,
        settings.rate_limit_code_attempts_per_address,
    )


def _customer_buckets(info: Info) -> list[Bucket]:
    settings = info.context.settings
    return _buckets(
        info,
        "customer-lookups",
        settings.rate_limit_customer_lookups_per_key,
        settings.rate_limit_customer_lookups_per_address,
    )


def names_unknown_code(error: DomainError) -> bool:
    return any(p.code == "NOT_FOUND" and p.field == "code" for p in error.problems)


async def code_attempt(
    info: Info, lookup: Callable[[], Awaitable[T]], unknown: Callable[[T], bool]
) -> T:
    """Runs `lookup` as one attempt, or raises RateLimited without running it. The attempt is
    charged as a wrong code up front, so concurrent guesses cannot overrun the limit, and
    costs one unit once the code turns out to exist."""
    settings = info.context.settings
    cost = settings.rate_limit_wrong_code_cost
    taken: Taken = NOTHING_TAKEN
    if settings.rate_limit_enabled:
        taken = await take(_code_buckets(info), cost)
    try:
        result = await lookup()
    except DomainError as error:
        if not names_unknown_code(error):
            await give_back(taken, cost - 1)
        raise
    if not unknown(result):
        await give_back(taken, cost - 1)
    return result


async def customer_lookup(info: Info, lookup: ContactLookup) -> str:
    """The customer id for an exact email, phone or shop id, as one attempt that costs a wrong
    code's units when nobody matches, so a till key cannot list who is a customer."""
    settings = info.context.settings
    cost = settings.rate_limit_wrong_code_cost
    taken: Taken = NOTHING_TAKEN
    if settings.rate_limit_enabled:
        taken = await take(_customer_buckets(info), cost)
    try:
        customer_id = await find_customer_id_by_contact(info.context.project_id, lookup)
    except DomainError as error:
        if error.code not in ("CUSTOMER_NOT_FOUND", "CUSTOMER_AMBIGUOUS"):
            await give_back(taken, cost - 1)
        raise
    await give_back(taken, cost - 1)
    return customer_id


async def customer_id_argument(
    info: Info, customer_id: str | None, lookup: ContactLookup
) -> str | None:
    """validateCode's and redeemCode's customer: the id given, or the one a lookup finds."""
    if not lookup.given():
        return customer_id
    if customer_id:
        raise DomainError(
            CommonError.INVALID, "give customerId or a customer lookup, not both", "customerId"
        )
    return await customer_lookup(info, lookup)
