"""redeemCode's database round trips, counted with a command listener, stay within budget; and
the app's short-lived copies of keys and campaigns never let a revoked key or a paused campaign
redeem, even when the change was made through another app on the same database."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from domain import wallet
from domain.campaigns import Campaign, Limits
from domain.codes import Code
from domain.common import hash_secret, utc_now
from domain.customer_lifecycle import erase_customer
from domain.projects import ApiKey
from domain.rate_limits import flush_given_back
from domain.redemptions import CustomerRedemptionCounter, Redemption, RedemptionStatus
from tests.factories import (
    GraphQLClient,
    Tenant,
    make_campaign,
    make_code,
    make_customer,
    make_pos_key,
)

# Budgets in round trips, for a redemption alone. The redemption's own: claim, customer, code
# $inc, per-customer $inc, campaign $inc, completion. The guessing limit's: none while the
# process holds a lease of units, one bulk refill of both windows when a window starts.
REDEMPTION_BUDGET = 6
RETRY_BUDGET = 2
RATE_LIMIT_BUDGET = 1
RATE_LIMIT_COLLECTION = "rate_limit_windows"

REDEEM = """
mutation ($code: String!, $customerId: ID, $key: String) {
  redeemCode(code: $code, customerId: $customerId, idempotencyKey: $key,
             order: {amount: {amount: 5000, currency: "EUR"}}) {
    redemption { id discount { amount } }
    errors { code }
  }
}"""
REVOKE = "mutation ($id: ID!) { revokeApiKey(id: $id) { errors { code } } }"
PAUSE = "mutation ($id: ID!) { pauseCampaign(id: $id) { errors { code } } }"
END = "mutation ($id: ID!) { endCampaign(id: $id) { errors { code } } }"
KEYS = "{ apiKeys { id name } }"


@dataclass
class Calls(CommandListener):
    """The collections each command sent to one database named, while counting is on."""

    database: str
    counting: bool = False
    collections: list[str] = field(default_factory=list)

    def started(self, event: CommandStartedEvent) -> None:
        if self.counting and event.database_name == self.database:
            self.collections.append(str(event.command.get(event.command_name, "")))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    async def during(self, gql: GraphQLClient, variables: dict[str, Any]) -> "Split":
        # Units earlier requests gave back are written first, so that only this request's
        # own write of them can fall into the count.
        await flush_given_back()
        self.collections = []
        self.counting = True
        try:
            payload = (await gql(REDEEM, variables))["redeemCode"]
        finally:
            self.counting = False
        assert payload["errors"] == [], payload
        by_collection = Counter(self.collections)
        limits = by_collection.pop(RATE_LIMIT_COLLECTION, 0)
        # Read only when the app's copy of the key has expired (a slow run).
        key = by_collection.pop("api_keys", 0)
        return Split(
            redemption=sum(by_collection.values()), rate_limit=limits, key=key, seen=by_collection
        )


@dataclass(frozen=True)
class Split:
    redemption: int
    rate_limit: int
    key: int
    seen: Counter[str]


@pytest.fixture
def calls(settings: Settings) -> Calls:
    return Calls(settings.database)


@pytest.fixture
async def app(settings: Settings, calls: Calls) -> AsyncIterator[Starlette]:
    application = create_app(settings, command_listeners=[calls])
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def other_app(settings: Settings, app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Another app on the same database, with copies of its own."""
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_redemptions_stay_within_their_round_trip_budget(
    tenant: Tenant, calls: Calls
) -> None:
    campaign = await make_campaign(
        project_id=tenant.project_id, limits=Limits(per_code=100, per_customer=10, total=1000)
    )
    await make_code(campaign=campaign)
    ada = await make_customer(project_id=tenant.project_id)
    bob = await make_customer(project_id=tenant.project_id)
    till = GraphQLClient(tenant.gql.http, await make_pos_key(tenant=tenant))
    # The first request reads the key, the campaign and the code's identity into the copies.
    await calls.during(till, {"code": "SUMMER-20", "customerId": ada.key, "key": "k-0"})

    steady = await calls.during(till, {"code": "SUMMER-20", "customerId": ada.key, "key": "k-1"})
    first_of_customer = await calls.during(
        till, {"code": "SUMMER-20", "customerId": bob.key, "key": "k-2"}
    )
    retry = await calls.during(till, {"code": "SUMMER-20", "customerId": bob.key, "key": "k-2"})

    for split in (steady, first_of_customer):
        assert split.redemption <= REDEMPTION_BUDGET, split.seen
        assert split.rate_limit <= RATE_LIMIT_BUDGET
        assert split.key <= 1
        # No per-day counter: the campaign has no per-day limit.
        assert "redemption_day_counters" not in split.seen
    assert retry.redemption <= RETRY_BUDGET, retry.seen
    stored = await Redemption.find({"status": RedemptionStatus.SUCCEEDED.value}).count()
    assert stored == 3


async def test_a_code_without_limits_per_customer_and_pass_costs_less(
    tenant: Tenant, calls: Calls
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, limits=Limits(per_code=100))
    await make_code(campaign=campaign)
    await make_code(campaign=campaign, display="PASS-20")
    await wallet.ensure_pass(
        tenant.project_id, wallet.PassKind.COUPON, campaign_id=campaign.key, code="PASS20"
    )
    customer = await make_customer(project_id=tenant.project_id)
    till = GraphQLClient(tenant.gql.http, await make_pos_key(tenant=tenant))
    for code in ("SUMMER-20", "PASS-20"):
        await calls.during(till, {"code": code, "customerId": customer.key})

    # The warm-up moved the pass this second; a pass last moved earlier takes one update (one
    # moved again within the same second is read first, to give it a later Last-Modified).
    await wallet.WalletPass.get_pymongo_collection().update_one(
        {"project_id": tenant.project_id, "code": "PASS20"},
        {"$set": {"updated_at": utc_now() - timedelta(minutes=1)}},
    )
    plain = await calls.during(till, {"code": "SUMMER-20", "customerId": customer.key})
    with_pass = await calls.during(till, {"code": "PASS-20", "customerId": customer.key})

    # Claim, customer, code $inc, campaign $inc, completion; no message or pass looked for.
    assert plain.redemption == 5, plain.seen
    assert set(plain.seen) == {"redemptions", "customers", "codes", "campaigns"}
    # The pass: one update that moves its tag and marks its pushes for the worker.
    assert with_pass.redemption == plain.redemption + 1, with_pass.seen
    assert with_pass.seen - plain.seen == Counter({"wallet_passes": 1}), with_pass.seen
    moved = await wallet.find_pass(tenant.project_id, code="PASS20")
    assert moved is not None and moved.push_pending


async def test_concurrent_redemptions_share_their_round_trips(tenant: Tenant, calls: Calls) -> None:
    campaign = await make_campaign(
        project_id=tenant.project_id, limits=Limits(per_code=1000, per_customer=100, total=1000)
    )
    await make_code(campaign=campaign)
    customers = [await make_customer(project_id=tenant.project_id) for _ in range(4)]
    till = GraphQLClient(tenant.gql.http, await make_pos_key(tenant=tenant))
    await calls.during(till, {"code": "SUMMER-20", "customerId": customers[0].key})
    calls.collections = []
    calls.counting = True
    try:
        answers = await asyncio.gather(
            *(
                till(REDEEM, {"code": "SUMMER-20", "customerId": who.key, "key": f"c-{i}"})
                for i, who in enumerate(customers * 16)
            )
        )
    finally:
        calls.counting = False
    assert all(answer["redeemCode"]["errors"] == [] for answer in answers)
    by_collection = Counter(calls.collections)
    by_collection.pop(RATE_LIMIT_COLLECTION, None)
    by_collection.pop("api_keys", None)
    # Alone, each would make 6 (see the budget above): together they share most of them.
    assert sum(by_collection.values()) <= 64 * REDEMPTION_BUDGET / 4, by_collection
    code = await Code.find_one({"campaign_id": campaign.key})
    assert code is not None and code.redeemed_count == 65
    stored = await Campaign.get(campaign.id)
    assert stored is not None and stored.redeemed_count == 65
    assert await Redemption.find({"status": RedemptionStatus.SUCCEEDED.value}).count() == 65


async def test_a_customer_erased_since_the_app_saw_them_is_refused_and_takes_nothing(
    tenant: Tenant,
) -> None:
    campaign = await make_campaign(
        project_id=tenant.project_id, limits=Limits(per_code=100, per_customer=5, total=100)
    )
    await make_code(campaign=campaign)
    customer = await make_customer(project_id=tenant.project_id)
    till = GraphQLClient(tenant.gql.http, await make_pos_key(tenant=tenant))
    # The app has now seen the customer: the next redemption takes their counter at once.
    redemption, errors = await redeem_through(till, customer.key, "before")
    assert redemption is not None, errors
    await erase_customer(tenant.project_id, customer.key, actor="test")

    redemption, errors = await redeem_through(till, customer.key, "after")

    assert redemption is None and errors == ["CUSTOMER_NOT_FOUND"]
    code = await Code.find_one({"campaign_id": campaign.key})
    stored = await Campaign.get(campaign.id)
    per_customer = await CustomerRedemptionCounter.find_one({"customer_id": customer.key})
    assert code is not None and stored is not None and per_customer is not None
    assert (code.redeemed_count, stored.redeemed_count, per_customer.redeemed_count) == (1, 1, 1)


async def redeem_through(
    gql: GraphQLClient, customer_id: str, key: str
) -> tuple[dict[str, Any] | None, list[str]]:
    payload = (await gql(REDEEM, {"code": "SUMMER-20", "customerId": customer_id, "key": key}))[
        "redeemCode"
    ]
    return payload["redemption"], [error["code"] for error in payload["errors"]]


@pytest.fixture
async def shop(tenant: Tenant, other_app: httpx.AsyncClient) -> "Shop":
    campaign = await make_campaign(project_id=tenant.project_id, limits=Limits(per_code=100))
    await make_code(campaign=campaign)
    customer = await make_customer(project_id=tenant.project_id)
    pos_key = await make_pos_key(tenant=tenant)
    elsewhere = GraphQLClient(other_app, pos_key)
    # The other app now holds copies of the key and the campaign.
    redemption, errors = await redeem_through(elsewhere, customer.key, "warm")
    assert redemption is not None, errors
    return Shop(tenant, campaign.key, customer.key, pos_key, elsewhere)


@dataclass
class Shop:
    tenant: Tenant
    campaign_id: str
    customer_id: str
    pos_key: str
    elsewhere: GraphQLClient


async def succeeded() -> int:
    return await Redemption.find({"status": RedemptionStatus.SUCCEEDED.value}).count()


async def test_a_key_revoked_through_one_app_cannot_redeem_through_another(shop: Shop) -> None:
    keys = (await shop.tenant.gql(KEYS))["apiKeys"]
    till = next(key for key in keys if key["name"] == "till 1")
    assert (await shop.tenant.gql(REVOKE, {"id": till["id"]}))["revokeApiKey"]["errors"] == []

    response = await shop.elsewhere.raw(REDEEM, {"code": "SUMMER-20", "key": "after"})

    assert response.status_code == 401
    assert await succeeded() == 1


async def test_a_key_revoked_by_another_process_cannot_redeem(shop: Shop) -> None:
    # What revoke_api_key writes, done as another process would: this process's copies of the
    # key and the campaign are not told.
    await ApiKey.get_pymongo_collection().update_one(
        {"hash": hash_secret(shop.pos_key)}, {"$set": {"revoked": True}}
    )
    await Campaign.get_pymongo_collection().update_many(
        {"project_id": shop.tenant.project_id}, {"$inc": {"revision": 1}}
    )

    redemption, errors = await redeem_through(shop.elsewhere, shop.customer_id, "after")

    assert (redemption, errors) == (None, ["API_KEY_REVOKED"])
    assert await succeeded() == 1
    assert await Redemption.find_all().count() == 1
    # The copy of the key is forgotten: the next request is refused at the door.
    assert (await shop.elsewhere.raw(REDEEM, {"code": "SUMMER-20"})).status_code == 401


@pytest.mark.parametrize(("change", "reason"), [(PAUSE, "PAUSED"), (END, "EXPIRED")])
async def test_a_campaign_paused_or_ended_through_one_app_stops_redemptions_through_another(
    shop: Shop, change: str, reason: str
) -> None:
    answer = await shop.tenant.gql(change, {"id": shop.campaign_id})
    assert next(iter(answer.values()))["errors"] == []

    redemption, errors = await redeem_through(shop.elsewhere, shop.customer_id, "after")

    assert (redemption, errors) == (None, [reason])
    assert await succeeded() == 1


@pytest.mark.parametrize(("status", "reason"), [("PAUSED", "PAUSED"), ("ENDED", "EXPIRED")])
async def test_a_campaign_changed_by_another_process_stops_redemptions_at_once(
    shop: Shop, status: str, reason: str
) -> None:
    # Any write to the stored campaign, even one that leaves its revision alone, shows at the
    # redemption's $inc on the campaign, which returns the campaign as stored.
    await Campaign.get_pymongo_collection().update_one(
        {"_id": ObjectId(shop.campaign_id)}, {"$set": {"status": status}}
    )

    redemption, errors = await redeem_through(shop.elsewhere, shop.customer_id, "after")

    assert (redemption, errors) == (None, [reason])
    assert await succeeded() == 1
    assert await Redemption.find_all().count() == 1
    codes = await Code.find_all().to_list()
    campaign = await Campaign.get(ObjectId(shop.campaign_id))
    assert [code.redeemed_count for code in codes] == [1]
    assert campaign is not None and campaign.redeemed_count == 1
