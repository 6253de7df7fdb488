"""Guessing limits on code lookups: each validateCode, redeemCode and code(code) is one attempt,
counted at the resolver (so every alias counts) per API key and per client address."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.errors import DomainError
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


def _buckets(info: Info) -> list[Bucket]:
    context = info.context
    settings = context.settings
    caller = context.caller
    return [
        Bucket(
            caller.project_id,
            "code-attempts:key",
            caller.actor,
            parse_rates(settings.rate_limit_code_attempts_per_key),
        ),
        Bucket(
            SERVICE_WIDE,
            "code-attempts:address",
            hash_ip(context.client_address, settings.secret_key),
            parse_rates(settings.rate_limit_code_attempts_per_address),
        ),
    ]


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
        taken = await take(_buckets(info), cost)
    try:
        result = await lookup()
    except DomainError as error:
        if not names_unknown_code(error):
            await give_back(taken, cost - 1)
        raise
    if not unknown(result):
        await give_back(taken, cost - 1)
    return result
