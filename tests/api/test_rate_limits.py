"""Guessing limits on the plain HTTP routes: per client address, 429 with Retry-After."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from api.app import create_app
from api.client_address import client_address
from api.settings import Settings
from domain.referrals import ReferralClick, hash_ip, referral_link
from tests.factories import Tenant, make_coupon, make_customer, make_referral_program

# Four unknown codes (5 units each) fill the window; found codes cost 1. Windows of a day:
# fixed windows restart at their end, which a test must not straddle.
PUBLIC_RATE = "20/day"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "rate_limit_public_per_address": PUBLIC_RATE,
            "rate_limit_wallet_log_per_address": "3/day",
            "rate_limit_hooks_per_address": "3/day",
        }
    )


def client_at(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 86400
    assert response.text.startswith("Too many requests; retry in ")
    assert "Traceback" not in response.text


async def test_unknown_codes_lock_the_coupon_page_after_the_limit(
    http: httpx.AsyncClient,
) -> None:
    for attempt in range(4):
        assert (await http.get(f"/c/GUESS-{attempt}")).status_code == 404
    assert_rate_limited(await http.get("/c/GUESS-5"))


async def test_found_codes_cost_one_unit(http: httpx.AsyncClient, tenant: Tenant) -> None:
    await make_coupon(project_id=tenant.project_id, display="SPRING-AB12")
    # Each request needs room for a wrong one (5) and keeps 1 when found: 16 fit into 20,
    # where four unknown codes already lock the address out.
    for _ in range(16):
        assert (await http.get("/c/SPRING-AB12")).status_code == 200
    assert_rate_limited(await http.get("/c/SPRING-AB12"))


async def test_a_locked_out_address_does_not_lock_out_another(
    app: Starlette, tenant: Tenant
) -> None:
    await make_coupon(project_id=tenant.project_id, display="SPRING-AB12")
    async with client_at(app, "203.0.113.7") as guesser, client_at(app, "198.51.100.2") as shop:
        for attempt in range(4):
            await guesser.get(f"/c/GUESS-{attempt}")
        assert_rate_limited(await guesser.get("/c/SPRING-AB12"))
        assert (await shop.get("/c/SPRING-AB12")).status_code == 200


async def test_public_routes_share_one_counter_per_address(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    """A guesser gains nothing by moving from coupon pages to passes or links."""
    unknown = [
        "/c/NOPE-1",
        "/r/NOPE-2",
        "/passes/apple/NOPE3.pkpass",
        "/passes/google/NOPE-4",
    ]
    for path in unknown:
        assert (await http.get(path)).status_code in (403, 404), path
    for path in [*unknown, "/passes/apple/cards/nope.pkpass", "/unsubscribe/not-a-token"]:
        assert_rate_limited(await http.get(path))


async def test_unsubscribe_links_are_limited(http: httpx.AsyncClient) -> None:
    for _ in range(4):
        assert (await http.get("/unsubscribe/not-a-token")).status_code == 404
    assert_rate_limited(await http.get("/unsubscribe/not-a-token"))


async def test_wallet_log_and_twilio_hooks_are_bounded_per_address(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    for _ in range(3):
        assert (await http.post("/wallet/v1/log", json={"logs": ["hello"]})).status_code == 200
    assert_rate_limited(await http.post("/wallet/v1/log", json={"logs": ["hello"]}))
    for _ in range(3):
        # Unsigned: refused by the signature check, and counted all the same.
        assert (await http.post("/hooks/twilio/status", data={"a": "b"})).status_code == 403
    assert_rate_limited(await http.post("/hooks/twilio/inbound", data={"a": "b"}))
    async with client_at(app, "198.51.100.2") as other:
        assert (await other.post("/wallet/v1/log", json={"logs": []})).status_code == 200


async def test_concurrent_guesses_get_exactly_what_the_limit_allows(
    http: httpx.AsyncClient,
) -> None:
    responses = await asyncio.gather(*(http.get(f"/c/GUESS-{n}") for n in range(200)))
    statuses = [response.status_code for response in responses]
    assert statuses.count(404) == 4
    assert statuses.count(429) == 196


@pytest.fixture
async def second_app(settings: Settings, app: Starlette) -> AsyncIterator[Starlette]:
    """Another API process on the same database."""
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        yield other


async def test_the_limit_holds_across_api_processes(app: Starlette, second_app: Starlette) -> None:
    async with (
        client_at(app, "203.0.113.7") as first,
        client_at(second_app, "203.0.113.7") as second,
    ):
        assert (await first.get("/c/GUESS-1")).status_code == 404
        assert (await second.get("/c/GUESS-2")).status_code == 404
        assert (await first.get("/c/GUESS-3")).status_code == 404
        assert (await second.get("/c/GUESS-4")).status_code == 404
        assert_rate_limited(await first.get("/c/GUESS-5"))
        assert_rate_limited(await second.get("/c/GUESS-5"))


async def test_forwarded_addresses_are_ignored_unless_proxies_are_trusted(
    http: httpx.AsyncClient,
) -> None:
    for attempt in range(4):
        forged = {"X-Forwarded-For": f"192.0.2.{attempt}"}
        await http.get(f"/c/GUESS-{attempt}", headers=forged)
    assert_rate_limited(await http.get("/c/GUESS-5", headers={"X-Forwarded-For": "192.0.2.99"}))


class TestBehindOneProxy:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"trusted_proxy_hops": 1})

    async def test_each_forwarded_client_is_counted_apart(self, http: httpx.AsyncClient) -> None:
        guesser = {"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}
        for attempt in range(4):
            await http.get(f"/c/GUESS-{attempt}", headers=guesser)
        assert_rate_limited(await http.get("/c/GUESS-5", headers=guesser))
        # The forged leftmost entry changed, the one the proxy added did not: still locked.
        forged = {"X-Forwarded-For": "9.9.9.9, 203.0.113.7"}
        assert_rate_limited(await http.get("/c/GUESS-5", headers=forged))
        other = {"X-Forwarded-For": "198.51.100.2"}
        assert (await http.get("/c/GUESS-5", headers=other)).status_code == 404

    async def test_referral_clicks_record_the_forwarded_client(
        self, http: httpx.AsyncClient, tenant: Tenant, settings: Settings
    ) -> None:
        program = await make_referral_program(project_id=tenant.project_id)
        referrer = await make_customer(project_id=tenant.project_id, name="Ada")
        code = (
            await referral_link(
                project_id=tenant.project_id, campaign_id=program.id, customer_id=referrer.key
            )
        ).code
        response = await http.get(f"/r/{code}", headers={"X-Forwarded-For": "203.0.113.7"})
        assert response.status_code == 302
        click = await ReferralClick.find_one({"project_id": tenant.project_id})
        assert click is not None
        assert click.ip_hash == hash_ip(ip="203.0.113.7", secret_key=settings.secret_key)


class TestSwitchedOff:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"rate_limit_enabled": False})

    async def test_nothing_is_refused(self, http: httpx.AsyncClient) -> None:
        for attempt in range(10):
            assert (await http.get(f"/c/GUESS-{attempt}")).status_code == 404


def connection(peer: str, forwarded: list[str]) -> HTTPConnection:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return HTTPConnection({"type": "http", "client": (peer, 1234), "headers": headers})


def test_client_address_reads_only_what_trusted_proxies_added() -> None:
    assert client_address(connection("10.0.0.1", ["1.1.1.1"]), 0) == "10.0.0.1"
    assert client_address(connection("10.0.0.1", ["6.6.6.6, 1.1.1.1"]), 1) == "1.1.1.1"
    assert client_address(connection("10.0.0.1", ["6.6.6.6, 1.1.1.1", "10.0.0.9"]), 2) == "1.1.1.1"
    # Fewer entries than trusted proxies: the request bypassed them; the peer is all we know.
    assert client_address(connection("10.0.0.1", ["1.1.1.1"]), 2) == "10.0.0.1"
    assert client_address(connection("10.0.0.1", []), 1) == "10.0.0.1"


@pytest.mark.parametrize(
    "field", ["rate_limit_code_attempts_per_key", "rate_limit_public_per_address"]
)
def test_a_rate_that_is_not_a_rate_is_refused_at_start(field: str) -> None:
    with pytest.raises(ValidationError, match="is not a rate such as"):
        Settings(**{field: "lots"})


def test_wrong_code_cost_and_proxy_hops_are_bounded() -> None:
    with pytest.raises(ValidationError):
        Settings(rate_limit_wrong_code_cost=0)
    with pytest.raises(ValidationError):
        Settings(trusted_proxy_hops=-1)
