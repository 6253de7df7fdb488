"""Limits hold under concurrency: many requests at once, in one process and across processes."""

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from api.settings import Settings
from domain.campaigns import Campaign, Limits
from domain.codes import Code
from domain.redemptions import (
    CustomerRedemptionCounter,
    DailyRedemptionCounter,
    Redemption,
    RedemptionStatus,
)
from tests.factories import Tenant, make_campaign, make_code, make_customer

ROOT = Path(__file__).resolve().parents[2]
ATTEMPTS = 200
REDEEM = """
mutation ($code: String!, $customerId: ID, $key: String) {
  redeemCode(code: $code, customerId: $customerId, idempotencyKey: $key,
             order: {amount: {amount: 5000, currency: "EUR"}}) {
    redemption { id }
    errors { code }
  }
}"""


async def redeem_all(tenant: Tenant, variables: list[dict[str, Any]]) -> list[str]:
    """Sends every redeemCode at once; returns each outcome: a redemption id or an error code."""

    async def one(values: dict[str, Any]) -> str:
        payload = (await tenant.gql(REDEEM, values))["redeemCode"]
        if payload["redemption"] is not None:
            return str(payload["redemption"]["id"])
        return str(payload["errors"][0]["code"])

    return await asyncio.gather(*(one(values) for values in variables))


def tally(outcomes: list[str]) -> Counter[str]:
    return Counter(o if o.endswith("_REACHED") else "redeemed" for o in outcomes)


async def succeeded(campaign: Campaign) -> int:
    return await Redemption.get_pymongo_collection().count_documents(
        {"campaign_id": campaign.key, "status": RedemptionStatus.SUCCEEDED.value}
    )


async def counts(campaign: Campaign) -> tuple[list[int], int]:
    """(every code counter, the campaign counter)."""
    codes = await Code.find({"campaign_id": campaign.key}).sort("code").to_list()
    fresh = await Campaign.get(campaign.id)
    assert fresh is not None
    return [c.redeemed_count for c in codes], fresh.redeemed_count


async def test_per_code_limit_under_200_concurrent_requests(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, limits=Limits(per_code=50))
    await make_code(campaign=campaign)

    outcomes = await redeem_all(tenant, [{"code": "SUMMER20"}] * ATTEMPTS)

    assert tally(outcomes) == {"redeemed": 50, "CODE_LIMIT_REACHED": 150}
    assert len({o for o in outcomes if o != "CODE_LIMIT_REACHED"}) == 50
    assert await counts(campaign) == ([50], 50)
    assert await succeeded(campaign) == 50
    assert await Redemption.get_pymongo_collection().count_documents({}) == 50


async def test_per_customer_limit_under_200_concurrent_requests(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, limits=Limits(per_customer=7))
    await make_code(campaign=campaign)
    ada = await make_customer(project_id=tenant.project_id)
    bob = await make_customer(project_id=tenant.project_id)
    variables = [{"code": "SUMMER20", "customerId": (ada, bob)[i % 2].key} for i in range(ATTEMPTS)]

    outcomes = await redeem_all(tenant, variables)

    assert tally(outcomes) == {"redeemed": 14, "CUSTOMER_LIMIT_REACHED": 186}
    # The code counter moved for every request and was given back by each refused one.
    assert await counts(campaign) == ([14], 14)
    per_customer = await CustomerRedemptionCounter.find({"campaign_id": campaign.key}).to_list()
    assert sorted(c.redeemed_count for c in per_customer) == [7, 7]
    assert await succeeded(campaign) == 14


async def test_campaign_total_under_200_concurrent_requests(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, limits=Limits(total=30))
    names = ["CODE-A", "CODE-B", "CODE-C", "CODE-D"]
    for name in names:
        await make_code(campaign=campaign, display=name)

    outcomes = await redeem_all(tenant, [{"code": names[i % 4]} for i in range(ATTEMPTS)])

    assert tally(outcomes) == {"redeemed": 30, "CAMPAIGN_LIMIT_REACHED": 170}
    per_code, total = await counts(campaign)
    assert (sum(per_code), total) == (30, 30)
    assert await succeeded(campaign) == 30


async def test_daily_limit_under_200_concurrent_requests(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, limits=Limits(per_day=40))
    await make_code(campaign=campaign)

    outcomes = await redeem_all(tenant, [{"code": "SUMMER20"}] * ATTEMPTS)

    assert tally(outcomes) == {"redeemed": 40, "DAILY_LIMIT_REACHED": 160}
    days = await DailyRedemptionCounter.find({"campaign_id": campaign.key}).to_list()
    assert [d.redeemed_count for d in days] == [40]
    assert await counts(campaign) == ([40], 40)
    assert await succeeded(campaign) == 40


async def test_one_idempotency_key_sent_20_times_at_once_redeems_once(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_code(campaign=campaign)

    outcomes = await redeem_all(tenant, [{"code": "SUMMER20", "key": "order-77"}] * 20)

    assert len(set(outcomes)) == 1
    stored = await Redemption.find({"campaign_id": campaign.key}).to_list()
    assert [str(r.id) for r in stored] == [outcomes[0]]
    assert await counts(campaign) == ([1], 1)


WORKER = """
import asyncio, json, sys
from api.database import init_database, make_client
from domain.redemptions import RedemptionChannel, redeem_code
from domain.errors import DomainError

async def main(uri, database, project_id, attempts):
    client = make_client(uri)
    await init_database(client, database)

    async def one():
        try:
            redemption = await redeem_code(
                project_id=project_id,
                raw_code="summer-20",
                customer_id=None,
                order=None,
                idempotency_key=None,
                channel=RedemptionChannel.POS,
                api_key_id="worker",
            )
            return str(redemption.id)
        except DomainError as error:
            return error.code

    results = await asyncio.gather(*(one() for _ in range(attempts)))
    await client.close()
    print(json.dumps(results))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


async def test_per_code_limit_across_four_processes(tenant: Tenant, settings: Settings) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, limits=Limits(per_code=50))
    await make_code(campaign=campaign)
    assert settings.mongodb_uri is not None
    arguments = [settings.mongodb_uri, settings.database, tenant.project_id, str(ATTEMPTS // 4)]
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            *arguments,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outputs = [await worker.communicate() for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr.decode()
    outcomes = [o for stdout, _ in outputs for o in json.loads(stdout)]

    assert tally(outcomes) == {"redeemed": 50, "CODE_LIMIT_REACHED": 150}
    assert await counts(campaign) == ([50], 50)
    assert await succeeded(campaign) == 50
    ids = {o for o in outcomes if o != "CODE_LIMIT_REACHED"}
    assert {
        str(r.id) for r in await Redemption.find({"campaign_id": campaign.key}).to_list()
    } == ids
