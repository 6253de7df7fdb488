"""Guessing limits on GraphQL's code lookups: each validateCode, redeemCode and code(code) is one
attempt, counted at the resolver (so every alias counts) through domain.guessing."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain import guessing
from domain.customers import ContactLookup
from domain.referrals import hash_ip
from schema.config import SchemaSettings
from schema.context import Info

T = TypeVar("T")


def guessing_rates(settings: SchemaSettings) -> guessing.GuessingRates:
    return guessing.GuessingRates(
        enabled=settings.rate_limit_enabled,
        wrong_code_cost=settings.rate_limit_wrong_code_cost,
        code_attempts_per_key=settings.rate_limit_code_attempts_per_key,
        code_attempts_per_address=settings.rate_limit_code_attempts_per_address,
        customer_lookups_per_key=settings.rate_limit_customer_lookups_per_key,
        customer_lookups_per_address=settings.rate_limit_customer_lookups_per_address,
    )


def attempter(info: Info) -> guessing.Attempter:
    context = info.context
    return guessing.Attempter(
        caller=context.caller,
        address_subject=hash_ip(ip=context.client_address, secret_key=context.settings.secret_key),
        rates=guessing_rates(context.settings),
    )


async def code_attempt(
    info: Info, lookup: Callable[[], Awaitable[T]], unknown: Callable[[T], bool]
) -> T:
    return await guessing.code_attempt(attempter(info), lookup, unknown)


async def customer_id_argument(
    info: Info, customer_id: str | None, lookup: ContactLookup
) -> str | None:
    return await guessing.customer_id_argument(attempter(info), customer_id, lookup)
