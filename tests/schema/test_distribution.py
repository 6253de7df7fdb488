"""distributeCampaign and distribution(id) over GraphQL, with a job runner driven by the test."""

import asyncio
from typing import Any

import httpx

from api.app import create_app
from api.settings import Settings
from delivery.distribution import job_handlers
from domain.codes import Code
from domain.jobs import Job, run_pending_jobs
from domain.messages import Message
from domain.projects import Role, create_api_key
from tests.delivery.test_distribution import LINKS
from tests.factories import Tenant, make_campaign, make_customers, make_tenant

DISTRIBUTE = """
mutation ($campaignId: ID!, $channels: [MessageChannel!]!, $filter: DistributionFilter,
          $templateId: String) {
  distributeCampaign(campaignId: $campaignId, channels: $channels, filter: $filter,
                     templateId: $templateId) {
    job { id kind status progress total done }
    errors { code field message }
  }
}"""
DISTRIBUTION = """
query ($id: ID!) {
  distribution(id: $id) {
    job { id status progress total done errors }
    campaignId channels templateId published queued suppressed skipped
  }
}"""
MESSAGES = """
query ($campaignId: ID!) {
  messages(campaignId: $campaignId, first: 100) {
    edges { node { channel status to templateId } }
  }
}"""


async def distribute(tenant: Tenant, **variables: Any) -> dict[str, Any]:
    data = await tenant.gql(DISTRIBUTE, variables)
    return dict(data["distributeCampaign"])


async def test_a_distribution_is_queued_run_and_reported(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    customers = await make_customers(project_id=tenant.project_id, count=24)
    payload = await distribute(
        tenant,
        campaignId=campaign.key,
        channels=["SMS", "EMAIL"],
        filter={"consented": True},
        templateId="builtin:reactivation",
    )
    assert payload["errors"] == []
    queued = payload["job"]
    consenting = [c for c in customers if c.consents.email or c.consents.sms]
    assert (queued["kind"], queued["status"], queued["total"], queued["done"]) == (
        "distribute_campaign",
        "QUEUED",
        len(consenting),
        0,
    )

    assert await run_pending_jobs(handlers=job_handlers(links=LINKS)) == 1

    found = (await tenant.gql(DISTRIBUTION, {"id": queued["id"]}))["distribution"]
    assert found["job"]["status"] == "SUCCEEDED" and found["job"]["progress"] == 1.0
    assert found["job"]["done"] == found["job"]["total"] == len(consenting)
    assert found["campaignId"] == campaign.key
    assert (found["channels"], found["templateId"]) == (["SMS", "EMAIL"], "builtin:reactivation")
    assert found["published"] == len(consenting)
    assert found["skipped"] == sum(1 for c in consenting if not c.phone)
    listed = (await tenant.gql(MESSAGES, {"campaignId": campaign.key}))["messages"]["edges"]
    statuses = [edge["node"]["status"] for edge in listed]
    assert len(listed) == found["queued"] + found["suppressed"]
    assert statuses.count("QUEUED") == found["queued"] > 0
    assert statuses.count("SUPPRESSED") == found["suppressed"] > 0
    assert {edge["node"]["templateId"] for edge in listed} == {"builtin:reactivation"}


async def test_refusals_are_user_errors_and_write_nothing(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_customers(project_id=tenant.project_id, count=3)
    for variables, code, field in (
        ({"channels": ["EMAIL", "EMAIL"]}, "INVALID_CHANNELS", "channels"),
        ({"channels": []}, "INVALID_CHANNELS", "channels"),
        ({"channels": ["SMS"], "templateId": "builtin:missing"}, "NOT_FOUND", "templateId"),
        ({"channels": ["EMAIL"], "filter": {"email": "@"}}, "INVALID_EMAIL", "filter.email"),
        ({"channels": ["EMAIL"], "campaignId": "nope"}, "NOT_FOUND", "campaignId"),
    ):
        payload = await distribute(tenant, **{"campaignId": campaign.key, **variables})
        assert payload["job"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await Job.find_all().count() == 0
    assert await Message.find_all().count() == await Code.find_all().count() == 0


async def test_only_the_projects_admin_distributes_and_reads(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_customers(project_id=tenant.project_id, count=2)
    payload = await distribute(tenant, campaignId=campaign.key, channels=["EMAIL"])
    job_id = payload["job"]["id"]

    foreign = await distribute(other_tenant, campaignId=campaign.key, channels=["EMAIL"])
    assert [e["code"] for e in foreign["errors"]] == ["NOT_FOUND"]
    assert (await other_tenant.gql(DISTRIBUTION, {"id": job_id}))["distribution"] is None
    generation = await make_campaign(project_id=tenant.project_id)
    generate = "mutation ($c: ID!) { generateCodes(campaignId: $c, count: 5) { job { id } } }"
    other_job = (await tenant.gql(generate, {"c": generation.key}))["generateCodes"]["job"]["id"]
    assert (await tenant.gql(DISTRIBUTION, {"id": other_job}))["distribution"] is None

    till = tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS, "till")).secret)
    for query, variables in (
        (DISTRIBUTE, {"campaignId": campaign.key, "channels": ["EMAIL"]}),
        (DISTRIBUTION, {"id": job_id}),
    ):
        body = (await till.raw(query, variables)).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", query
    assert await Job.find({"kind": "distribute_campaign"}).count() == 1


async def test_the_apps_own_job_runner_distributes_with_the_apps_links(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    """The runner started by create_app is given the distribution handler and its links."""
    running = settings.model_copy(update={"run_jobs": True, "base_url": "https://links.example"})
    application = create_app(running)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            tenant = await make_tenant(http=client, name="shop-runner")
            campaign = await make_campaign(project_id=tenant.project_id)
            await make_customers(project_id=tenant.project_id, count=3)
            payload = await distribute(tenant, campaignId=campaign.key, channels=["EMAIL"])
            assert payload["errors"] == []
            job_id = payload["job"]["id"]
            status = "QUEUED"
            for _ in range(200):
                found = (await tenant.gql(DISTRIBUTION, {"id": job_id}))["distribution"]
                status = found["job"]["status"]
                if status not in ("QUEUED", "RUNNING"):
                    break
                await asyncio.sleep(0.05)
            assert (status, found["job"]["errors"]) == ("SUCCEEDED", [])
            queued = await Message.find(
                {"project_id": tenant.project_id, "status": "QUEUED"}
            ).to_list()
            assert queued and all("https://links.example/" in m.body_text for m in queued)
