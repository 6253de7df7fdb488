"""Guessing limits on validateCode, redeemCode and code(code): per API key and per address."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from domain.codes import Code
from domain.projects import Role, create_api_key
from domain.redemptions import Redemption
from tests.factories import GraphQLClient, Tenant, make_campaign, make_code

# Five unknown codes (5 units each) fill a key's window; a found code costs 1. Windows of a day:
# fixed windows restart at their end, which a test must not straddle.
PER_KEY = "25/day"
VALIDATE = """
query ($code: String!) {
  validateCode(code: $code, order: {amount: {amount: 5000, currency: "EUR"}}) { valid reasons }
}"""
REDEEM = """
mutation ($code: String!) {
  redeemCode(code: $code, order: {amount: {amount: 5000, currency: "EUR"}}) {
    redemption { id }
    errors { code field message }
  }
}"""
LOOKUP = "query ($code: String!) { code(code: $code) { code } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_code_attempts_per_key": PER_KEY})


@pytest.fixture
async def till(tenant: Tenant) -> GraphQLClient:
    """A POS key with a valid code to scan."""
    await make_code(campaign=await make_campaign(project_id=tenant.project_id), display="SUMMER-20")
    issued = await create_api_key(tenant.project_id, Role.POS)
    return tenant.gql.as_token(issued.secret)


async def guess(client: GraphQLClient, times: int) -> None:
    for attempt in range(times):
        data = await client(VALIDATE, {"code": f"GUESS-{attempt}"})
        assert data["validateCode"]["reasons"] == ["NOT_FOUND"]


def rate_limited(body: dict[str, Any]) -> list[dict[str, Any]]:
    errors = [e for e in body.get("errors") or [] if e["extensions"]["code"] == "RATE_LIMITED"]
    for error in errors:
        assert 1 <= error["extensions"]["retryAfter"] <= 86400
        assert "retry in" in error["message"]
    return errors


async def test_wrong_codes_lock_a_key_out_with_retry_after(till: GraphQLClient) -> None:
    await guess(till, 5)
    body = (await till.raw(VALIDATE, {"code": "SUMMER-20"})).json()
    assert body["data"] is None
    [error] = rate_limited(body)
    assert error["path"] == ["validateCode"]


async def test_found_codes_cost_one_unit_so_a_till_keeps_scanning(till: GraphQLClient) -> None:
    # Each scan needs room for a wrong code (5) and keeps 1: 21 fit into 25.
    for _ in range(21):
        assert (await till(VALIDATE, {"code": "summer 20"}))["validateCode"]["valid"] is True
    assert rate_limited((await till.raw(VALIDATE, {"code": "SUMMER-20"})).json())


async def test_every_alias_is_an_attempt(till: GraphQLClient) -> None:
    aliases = " ".join(f'v{n}: code(code: "GUESS-{n}") {{ code }}' for n in range(15))
    body = (await till.raw(f"query {{ {aliases} }}")).json()
    assert sum(value is None for value in body["data"].values()) == 15
    assert len(rate_limited(body)) == 10


async def test_aliased_validations_count_one_attempt_each(till: GraphQLClient) -> None:
    aliases = " ".join(f'v{n}: validateCode(code: "GUESS-{n}") {{ valid }}' for n in range(5))
    assert len(await till(f"query {{ {aliases} }}")) == 5
    assert rate_limited((await till.raw(VALIDATE, {"code": "SUMMER-20"})).json())


async def test_a_rate_limited_redemption_writes_nothing(till: GraphQLClient) -> None:
    await guess(till, 5)
    payload = (await till(REDEEM, {"code": "SUMMER-20"}))["redeemCode"]
    assert payload["redemption"] is None
    [error] = payload["errors"]
    assert error["code"] == "RATE_LIMITED"
    assert error["message"].startswith("too many attempts; retry in ")
    assert await Redemption.find_all().count() == 0
    code = await Code.find_one({"code": "SUMMER20"})
    assert code is not None and code.redeemed_count == 0


async def test_unknown_codes_in_redeem_code_cost_as_much_as_in_validate(
    till: GraphQLClient,
) -> None:
    for attempt in range(5):
        payload = (await till(REDEEM, {"code": f"GUESS-{attempt}"}))["redeemCode"]
        assert payload["errors"][0]["code"] == "NOT_FOUND"
    payload = (await till(REDEEM, {"code": "SUMMER-20"}))["redeemCode"]
    assert [e["code"] for e in payload["errors"]] == ["RATE_LIMITED"]


async def test_code_lookups_are_limited(till: GraphQLClient) -> None:
    for attempt in range(5):
        assert (await till(LOOKUP, {"code": f"GUESS-{attempt}"}))["code"] is None
    body = (await till.raw(LOOKUP, {"code": "SUMMER-20"})).json()
    assert body["data"] == {"code": None}
    assert rate_limited(body)


async def test_a_locked_out_key_does_not_lock_out_another(
    till: GraphQLClient, tenant: Tenant
) -> None:
    await guess(till, 5)
    assert rate_limited((await till.raw(VALIDATE, {"code": "SUMMER-20"})).json())
    other_till = till.as_token((await create_api_key(tenant.project_id, Role.POS)).secret)
    assert (await other_till(VALIDATE, {"code": "SUMMER-20"}))["validateCode"]["valid"] is True
    payload = (await other_till(REDEEM, {"code": "SUMMER-20"}))["redeemCode"]
    assert payload["errors"] == [] and payload["redemption"] is not None


async def test_hundreds_of_concurrent_guesses_get_exactly_the_limit(till: GraphQLClient) -> None:
    responses = await asyncio.gather(
        *(till.raw(VALIDATE, {"code": f"GUESS-{n}"}) for n in range(200))
    )
    bodies = [response.json() for response in responses]
    answered = [body for body in bodies if body["data"] is not None]
    assert len(answered) == 5
    assert sum(len(rate_limited(body)) for body in bodies) == 195


@pytest.fixture
async def second_app(settings: Settings, app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Another API process on the same database."""
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_the_limit_holds_across_api_processes(
    till: GraphQLClient, second_app: httpx.AsyncClient
) -> None:
    elsewhere = GraphQLClient(http=second_app, token=till.token)
    await guess(till, 3)
    await guess(elsewhere, 2)
    assert rate_limited((await till.raw(VALIDATE, {"code": "SUMMER-20"})).json())
    assert rate_limited((await elsewhere.raw(VALIDATE, {"code": "SUMMER-20"})).json())


class TestPerAddress:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(
            update={
                "rate_limit_code_attempts_per_key": "1000/minute",
                "rate_limit_code_attempts_per_address": PER_KEY,
            }
        )

    async def test_keys_at_one_address_share_its_limit_and_others_do_not(
        self, app: Starlette, till: GraphQLClient, tenant: Tenant
    ) -> None:
        second_key = (await create_api_key(tenant.project_id, Role.POS)).secret
        await guess(till, 3)
        await guess(till.as_token(second_key), 2)
        assert rate_limited(
            (await till.as_token(second_key).raw(VALIDATE, {"code": "SUMMER-20"})).json()
        )
        transport = httpx.ASGITransport(app=app, client=("198.51.100.2", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            elsewhere = GraphQLClient(http=http, token=second_key)
            data = await elsewhere(VALIDATE, {"code": "SUMMER-20"})
            assert data["validateCode"]["valid"] is True


async def test_refused_guesses_are_not_logged_as_errors(
    till: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    await guess(till, 5)
    with caplog.at_level(logging.ERROR, logger="strawberry.execution"):
        assert rate_limited((await till.raw(LOOKUP, {"code": "GUESS-6"})).json())
    assert [r for r in caplog.records if r.name == "strawberry.execution"] == []
