"""Guessing limits on the plain HTTP routes: counted per client address, refused with 429."""

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api.client_address import client_address
from api.settings import Settings
from domain.rate_limits import SERVICE_WIDE, Bucket, RateLimited, give_back, parse_rates, take
from domain.referrals import hash_ip

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class RoutePolicy:
    """Which counter a route draws from, and whether a refused lookup (4xx) costs more."""

    scope: str
    rate: Callable[[Settings], str]
    failures_cost_more: bool


# Coupon pages, pass downloads, referral and unsubscribe links share one counter per address,
# so a guesser gains nothing by moving between them.
PUBLIC = RoutePolicy("public", lambda s: s.rate_limit_public_per_address, True)
WALLET_LOG = RoutePolicy("wallet-log", lambda s: s.rate_limit_wallet_log_per_address, False)
HOOKS = RoutePolicy("hooks", lambda s: s.rate_limit_hooks_per_address, False)
# Reading a till's photo takes CPU: a few a minute is a till's pace.
POS_SCAN = RoutePolicy("pos-scan", lambda s: s.rate_limit_pos_scans_per_address, False)


def address_subject(request: Request, settings: Settings) -> str:
    """The client's address as an HMAC: counters must not store addresses in the clear."""
    return hash_ip(
        ip=client_address(request, settings.trusted_proxy_hops), secret_key=settings.secret_key
    )


def too_many_requests(retry_after: int) -> Response:
    return PlainTextResponse(
        f"Too many requests; retry in {retry_after} s.\n",
        status_code=429,
        headers={"Retry-After": str(retry_after), "Cache-Control": "no-store"},
    )


def limited(policy: RoutePolicy, endpoint: Endpoint) -> Endpoint:
    """Each request is one attempt; with `failures_cost_more` it is charged as a wrong one up
    front (so concurrent guesses cannot overrun the limit) and refunded when it succeeds."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        if not settings.rate_limit_enabled:
            return await endpoint(request)
        cost = settings.rate_limit_wrong_code_cost if policy.failures_cost_more else 1
        bucket = Bucket(
            SERVICE_WIDE,
            policy.scope,
            address_subject(request, settings),
            parse_rates(policy.rate(settings)),
        )
        try:
            taken = await take([bucket], cost)
        except RateLimited as refused:
            return too_many_requests(refused.retry_after)
        response = await endpoint(request)
        if response.status_code < 400:
            await give_back(taken, cost - 1)
        return response

    return guarded
