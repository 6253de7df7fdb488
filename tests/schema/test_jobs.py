"""generateCodes and job(id) over GraphQL, with a job runner driven by the test."""

from typing import Any

from domain.campaigns import CampaignStatus, CodeConfig, CodeMode
from domain.codes import Code
from domain.jobs import Job, run_pending_jobs
from domain.projects import Role, create_api_key
from tests.factories import Tenant, make_campaign

GENERATE = """
mutation ($campaignId: ID!, $count: Int!) {
  generateCodes(campaignId: $campaignId, count: $count) {
    job { id kind status progress total done errors createdAt finishedAt }
    errors { code field message }
  }
}"""
JOB = """
query ($id: ID!) {
  job(id: $id) { id status progress total done errors createdAt finishedAt }
}"""
LOOKUP = "query ($code: String!) { code(code: $code) { code display campaign { id } } }"


async def generate(tenant: Tenant, campaign_id: str, count: int) -> dict[str, Any]:
    data = await tenant.gql(GENERATE, {"campaignId": campaign_id, "count": count})
    return dict(data["generateCodes"])


async def test_generate_codes_queues_a_job_that_a_runner_completes(tenant: Tenant) -> None:
    campaign = await make_campaign(
        project_id=tenant.project_id, codes=CodeConfig(mode=CodeMode.NUMERIC, length=13, luhn=True)
    )
    payload = await generate(tenant, campaign.key, 1_200)
    assert payload["errors"] == []
    queued = payload["job"]
    assert queued["kind"] == "generate_codes"
    assert (queued["status"], queued["total"], queued["done"], queued["progress"]) == (
        "QUEUED",
        1_200,
        0,
        0.0,
    )
    assert queued["finishedAt"] is None and queued["createdAt"]

    assert await run_pending_jobs() == 1

    job = (await tenant.gql(JOB, {"id": queued["id"]}))["job"]
    assert job["id"] == queued["id"]
    assert (job["status"], job["total"], job["done"], job["progress"]) == (
        "SUCCEEDED",
        1_200,
        1_200,
        1.0,
    )
    assert job["errors"] == [] and job["finishedAt"]
    generated = await Code.find({"project_id": tenant.project_id}).to_list()
    assert len({code.code for code in generated}) == 1_200
    sample = generated[0].code
    found = (await tenant.gql(LOOKUP, {"code": f" {sample[:6]}-{sample[6:]} "}))["code"]
    assert found["code"] == sample and found["campaign"]["id"] == campaign.key


async def test_a_failed_job_reports_why(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    queued = (await generate(tenant, campaign.key, 10))["job"]
    await campaign.set({"status": CampaignStatus.ENDED})

    await run_pending_jobs()

    job = (await tenant.gql(JOB, {"id": queued["id"]}))["job"]
    assert job["status"] == "FAILED" and job["done"] == 0
    assert job["errors"] == ["the campaign ended after 0 of 10 codes"]


async def test_refusals_are_typed_errors(tenant: Tenant) -> None:
    small = await make_campaign(
        project_id=tenant.project_id, codes=CodeConfig(length=4, charset="ABCDE")
    )
    too_many = await generate(tenant, small.key, 7)  # 5^4 = 625 codes: 6 at most
    assert too_many["job"] is None
    [error] = too_many["errors"]
    assert (error["code"], error["field"]) == ("CODE_SPACE_TOO_SMALL", "count")
    assert "use a length of at least 5 characters" in error["message"]

    invalid = await generate(tenant, small.key, 0)
    assert [(e["code"], e["field"]) for e in invalid["errors"]] == [("INVALID_COUNT", "count")]
    missing = await generate(tenant, "0123456789abcdef01234567", 5)
    assert [e["code"] for e in missing["errors"]] == ["NOT_FOUND"]
    ended = await make_campaign(project_id=tenant.project_id, status=CampaignStatus.ENDED)
    assert [e["code"] for e in (await generate(tenant, ended.key, 5))["errors"]] == [
        "CAMPAIGN_ENDED"
    ]
    assert await Job.find({}).count() == 0


async def test_jobs_belong_to_their_project(tenant: Tenant, other_tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    job_id = (await generate(tenant, campaign.key, 5))["job"]["id"]

    assert (await other_tenant.gql(JOB, {"id": job_id}))["job"] is None
    assert (await tenant.gql(JOB, {"id": "not-an-id"}))["job"] is None
    foreign = await generate(other_tenant, campaign.key, 5)
    assert foreign["job"] is None
    assert [e["code"] for e in foreign["errors"]] == ["NOT_FOUND"]
    assert await Job.find({}).count() == 1


async def test_pos_keys_may_not_generate_codes_or_read_jobs(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    job_id = (await generate(tenant, campaign.key, 5))["job"]["id"]
    till = tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS, "till")).secret)

    for query, variables in (
        (GENERATE, {"campaignId": campaign.key, "count": 5}),
        (JOB, {"id": job_id}),
    ):
        body = (await till.raw(query, variables)).json()
        # A refused nullable field (job) comes back null; a refused mutation nulls `data`.
        assert body["data"] in (None, {"job": None})
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert await Job.find({}).count() == 1
