"""Code generation jobs against the real database: exact counts, collisions, restarts, leases."""

import asyncio
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from api.app import create_app
from api.background import BackgroundJobs, run_jobs_forever
from api.database import init_database, make_client
from api.settings import PROJECT_ROOT, Settings
from domain import codegen
from domain.campaigns import Campaign, CampaignStatus, CodeConfig
from domain.codes import Code, find_code, normalize_code
from domain.common import utc_now
from domain.errors import DomainError
from domain.jobs import Job, JobRunner, JobStatus, generate_batch, generate_codes
from domain.projects import create_project
from tests.factories import Tenant, make_campaign


async def job_codes(job: Job) -> list[dict[str, Any]]:
    return await (
        Code.get_pymongo_collection()
        .find({"project_id": job.project_id, "job_id": job.key}, {"code": 1, "display": 1})
        .to_list()
    )


async def reload(job: Job) -> Job:
    found = await Job.get(job.id)
    assert found is not None
    return found


async def assert_exactly(job: Job, count: int) -> list[dict[str, Any]]:
    """The job succeeded with `count` distinct codes, all counted on the campaign."""
    job = await reload(job)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert (job.done, job.total, job.progress) == (count, count, 1.0)
    assert job.finished_at is not None and job.errors == []
    rows = await job_codes(job)
    assert len(rows) == count
    assert len({row["code"] for row in rows}) == count
    campaign = await Campaign.get(job.params["campaign_id"])
    assert campaign is not None and campaign.codes_count == count
    return rows


async def test_a_job_makes_exactly_count_unique_upper_case_codes(tenant: Tenant) -> None:
    campaign = await make_campaign(
        project_id=tenant.project_id, codes=CodeConfig(pattern="SPR-####-####")
    )
    job = await generate_codes(tenant.project_id, campaign.key, 20_000)
    assert (job.status, job.done, job.total, job.progress) == (JobStatus.QUEUED, 0, 20_000, 0.0)

    assert await JobRunner().run_pending() == 1

    rows = await assert_exactly(job, 20_000)
    for row in rows:
        assert row["code"] == normalize_code(row["display"]) == row["code"].upper()
        assert row["display"].startswith("SPR-") and len(row["code"]) == 11
    for row in random.sample(rows, 50):
        typed = row["display"].lower().replace("-", " - ")
        found = await find_code(tenant.project_id, typed)
        assert found is not None and found.code == row["code"]
        assert found.campaign_id == campaign.key and not found.assigned


async def test_progress_is_reported_batch_by_batch(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    job = await generate_codes(tenant.project_id, campaign.key, 2_500, batch_size=1_000)
    runner = JobRunner()
    leased = await runner.lease_next()
    assert leased is not None and leased.id == job.id
    fresh = await reload(job)
    assert fresh.status == JobStatus.RUNNING and fresh.lease_owner == runner.owner

    await generate_batch(runner, leased, campaign, campaign.codes)
    fresh = await reload(job)
    assert (fresh.done, fresh.total, fresh.progress) == (1_000, 2_500, 0.4)
    assert len(await job_codes(job)) == 1_000
    await generate_batch(runner, leased, campaign, campaign.codes)
    await generate_batch(runner, leased, campaign, campaign.codes)
    fresh = await reload(job)
    assert (fresh.done, fresh.progress) == (2_500, 1.0)
    assert len(await job_codes(job)) == 2_500


class LowEntropy:
    """A random source that draws from only a few byte values: generated codes keep colliding."""

    def __init__(self, symbols: int, seed: int = 7) -> None:
        self.symbols = symbols
        self.rng = random.Random(seed)
        self.bytes_drawn = 0

    def token_bytes(self, size: int) -> bytes:
        self.bytes_drawn += size
        return bytes(self.rng.randrange(self.symbols) for _ in range(size))


def use_random_source(monkeypatch: pytest.MonkeyPatch, token_bytes: Callable[[int], bytes]) -> None:
    monkeypatch.setattr(codegen, "secrets", SimpleNamespace(token_bytes=token_bytes))


async def test_collisions_with_existing_codes_are_redrawn_until_the_count_is_reached(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3 symbols over 8 positions: 6,561 codes in reach, 2,000 of them already taken.
    source = LowEntropy(symbols=3)
    use_random_source(monkeypatch, source.token_bytes)
    other = await make_campaign(project_id=tenant.project_id, name="Older campaign")
    taken = sorted({codegen.new_code(CodeConfig()) for _ in range(2_600)})[:2_000]
    await Code.get_pymongo_collection().insert_many(
        [
            {"project_id": tenant.project_id, "code": c, "display": c, "campaign_id": other.key}
            for c in taken
        ]
    )
    campaign = await make_campaign(project_id=tenant.project_id)
    job = await generate_codes(tenant.project_id, campaign.key, 2_000, batch_size=700)
    source.bytes_drawn = 0

    await JobRunner().run_pending()

    rows = await assert_exactly(job, 2_000)
    assert not {row["code"] for row in rows} & set(taken)
    # Codes were drawn again and again: far more random bytes than 2,000 codes of 8.
    assert source.bytes_drawn > 2 * 2_000 * 8
    older = Code.find({"project_id": tenant.project_id, "campaign_id": other.key})
    assert await older.count() == 2_000


async def test_a_job_that_cannot_find_new_codes_fails_and_keeps_its_count_true(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_random_source(monkeypatch, bytes)  # all zero bytes: the same code every time
    campaign = await make_campaign(project_id=tenant.project_id)
    job = await generate_codes(tenant.project_id, campaign.key, 100)

    await JobRunner().run_pending()

    failed = await reload(job)
    assert failed.status == JobStatus.FAILED
    assert "keep colliding" in failed.errors[0] and "longer" in failed.errors[0]
    assert [row["code"] for row in await job_codes(job)] == ["AAAAAAAA"]
    assert failed.done == 1
    fresh = await Campaign.get(campaign.id)
    assert fresh is not None and fresh.codes_count == 1


async def test_a_campaign_ended_mid_job_stops_it(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    job = await generate_codes(tenant.project_id, campaign.key, 300, batch_size=100)
    runner = JobRunner()
    leased = await runner.lease_next()
    assert leased is not None
    await generate_batch(runner, leased, campaign, campaign.codes)
    await Campaign.get_pymongo_collection().update_one(
        {"_id": campaign.id}, {"$set": {"status": CampaignStatus.ENDED.value}}
    )

    await runner.run_job(leased)

    failed = await reload(job)
    assert failed.status == JobStatus.FAILED and failed.done == 100
    assert failed.errors == ["the campaign ended after 100 of 300 codes"]


async def expect_refusal(code: str, project_id: str, campaign_id: str, count: int) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await generate_codes(project_id, campaign_id, count)
    assert caught.value.code == code, caught.value.problems
    return caught.value


async def test_refused_requests_queue_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    for count in (0, -5, 1_000_001):
        await expect_refusal("INVALID_COUNT", tenant.project_id, campaign.key, count)
    await expect_refusal("NOT_FOUND", tenant.project_id, "not-an-id", 10)
    await expect_refusal("NOT_FOUND", other_tenant.project_id, campaign.key, 10)
    ended = await make_campaign(project_id=tenant.project_id, status=CampaignStatus.ENDED)
    await expect_refusal("CAMPAIGN_ENDED", tenant.project_id, ended.key, 10)
    past = await make_campaign(project_id=tenant.project_id, ends_at=utc_now() - timedelta(days=1))
    await expect_refusal("CAMPAIGN_ENDED", tenant.project_id, past.key, 10)
    shared = await make_campaign(project_id=tenant.project_id, standalone_code="SUMMER20")
    await expect_refusal("STANDALONE_CAMPAIGN", tenant.project_id, shared.key, 10)
    assert await Job.find({}).count() == 0


async def test_space_rule_counts_held_codes_and_queued_jobs(tenant: Tenant) -> None:
    # 10 characters over 4 positions: 10,000 codes, so at most 100 per campaign.
    small = CodeConfig(length=4, charset="ABCDEFGHJK")
    held = await make_campaign(
        project_id=tenant.project_id, codes=small, codes_count=95, codes_reserved=95
    )
    error = await expect_refusal("CODE_SPACE_TOO_SMALL", tenant.project_id, held.key, 6)
    assert "with the campaign's 95" in str(error) and "at least 5 characters" in str(error)
    await generate_codes(tenant.project_id, held.key, 5)

    queued = await make_campaign(project_id=tenant.project_id, codes=small)
    await generate_codes(tenant.project_id, queued.key, 60)
    await expect_refusal("CODE_SPACE_TOO_SMALL", tenant.project_id, queued.key, 41)
    await generate_codes(tenant.project_id, queued.key, 40)
    assert await Job.find({"project_id": tenant.project_id}).count() == 3


async def test_concurrent_requests_cannot_together_pass_the_space_rule(tenant: Tenant) -> None:
    # At most 100 codes; ten requests of 20 arrive at once: exactly five are queued.
    campaign = await make_campaign(
        project_id=tenant.project_id, codes=CodeConfig(length=4, charset="ABCDEFGHJK")
    )
    outcomes = await asyncio.gather(
        *(generate_codes(tenant.project_id, campaign.key, 20) for _ in range(10)),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 5 and {e.code for e in refused} == {"CODE_SPACE_TOO_SMALL"}
    assert await Job.find({"project_id": tenant.project_id}).count() == 5
    stored = await Campaign.get_pymongo_collection().find_one({"_id": campaign.id})
    assert stored is not None and stored["codes_reserved"] == 100


CRASHING_RUNNER = """
import asyncio, secrets, sys, time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from api.database import init_database, make_client
from domain import codegen
from domain.jobs import JobRunner

uri, database, marker = sys.argv[1:4]
calls = 0


def token_bytes(size):
    # Third draw (a later batch): one repeated code, so the batch needs a second round of
    # inserts; the fourth draw freezes the runner there, mid-batch, until it is killed.
    global calls
    calls += 1
    if calls == 3:
        return bytes(size)
    if calls > 3:
        Path(marker).write_text("stuck")
        time.sleep(3600)
    return secrets.token_bytes(size)


codegen.secrets = SimpleNamespace(token_bytes=token_bytes)


async def main():
    client = make_client(uri)
    await init_database(client, database)
    await JobRunner(owner="doomed", lease=timedelta(seconds=1)).run_pending()


asyncio.run(main())
"""


async def lease_when_free(runner: JobRunner, seconds: float = 30) -> Job:
    deadline = time.monotonic() + seconds
    while (job := await runner.lease_next()) is None:
        assert time.monotonic() < deadline, "the job never became free"
        await asyncio.sleep(0.1)
    return job


async def test_a_killed_runner_is_taken_over_and_the_job_ends_exact(
    tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    job = await generate_codes(tenant.project_id, campaign.key, 2_000, batch_size=500)
    marker = tmp_path / "stuck"
    assert settings.mongodb_uri is not None
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CRASHING_RUNNER,
        settings.mongodb_uri,
        settings.database,
        str(marker),
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.returncode is None, "the runner ended before it got stuck"
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()

    # Dead mid-batch: two batches counted, the third begun with one code.
    dead = await reload(job)
    assert (dead.status, dead.lease_owner, dead.done, dead.batch) == (
        JobStatus.RUNNING,
        "doomed",
        1_000,
        2,
    )
    assert len(await job_codes(job)) == 1_001

    heir = JobRunner(owner="heir", lease=timedelta(seconds=1))
    await heir.run_job(await lease_when_free(heir))

    rows = await assert_exactly(job, 2_000)
    assert "AAAAAAAA" in {row["code"] for row in rows}
    assert (await reload(job)).attempts == 2


async def test_a_stopped_service_hands_its_job_back_and_the_next_one_finishes_it(
    tenant: Tenant,
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    job = await generate_codes(tenant.project_id, campaign.key, 6_000, batch_size=500)
    service = BackgroundJobs(JobRunner(owner="first", lease=timedelta(seconds=1)))
    service.start()
    deadline = time.monotonic() + 60
    while (await reload(job)).done < 1_000:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await service.stop()
    assert not service.running

    stopped = await reload(job)
    assert stopped.status == JobStatus.RUNNING and stopped.lease_owner == ""
    assert stopped.done < 6_000

    restarted = BackgroundJobs(JobRunner(owner="second", lease=timedelta(seconds=1)), 0.05)
    restarted.start()
    try:
        deadline = time.monotonic() + 60
        while (await reload(job)).status != JobStatus.SUCCEEDED:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await restarted.stop()
    await assert_exactly(job, 6_000)


async def test_two_runners_never_run_the_same_job(tenant: Tenant) -> None:
    campaigns = [await make_campaign(project_id=tenant.project_id, name=f"c{i}") for i in range(3)]
    jobs = [
        await generate_codes(tenant.project_id, campaigns[i % 3].key, 300, batch_size=100)
        for i in range(8)
    ]
    ran = await asyncio.gather(
        JobRunner(owner="left").run_pending(), JobRunner(owner="right").run_pending()
    )

    # Both ran jobs at the same time, and the eight were shared out between them.
    assert sum(ran) == 8 and min(ran) >= 1
    for job in jobs:
        finished = await reload(job)
        # Each lease counts an attempt: one attempt means one runner ran it, once.
        assert finished.attempts == 1
        assert finished.status == JobStatus.SUCCEEDED and finished.done == 300
        assert len(await job_codes(job)) == 300
    for number, campaign in enumerate(campaigns):
        fresh = await Campaign.get(campaign.id)
        assert fresh is not None
        assert fresh.codes_count == 300 * sum(1 for i in range(8) if i % 3 == number)


async def test_the_background_loop_survives_errors(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    job = await generate_codes(tenant.project_id, campaign.key, 50)

    class FlakyRunner(JobRunner):
        polls = 0

        async def run_one(self) -> bool:
            FlakyRunner.polls += 1
            if FlakyRunner.polls == 1:
                raise ConnectionError("database unreachable")
            return await super().run_one()

    loop = asyncio.create_task(run_jobs_forever(FlakyRunner(), 0.01, 0.01))
    try:
        deadline = time.monotonic() + 30
        while (await reload(job)).status != JobStatus.SUCCEEDED:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    finally:
        loop.cancel()
    assert FlakyRunner.polls >= 2
    await assert_exactly(job, 50)


async def test_the_service_runs_jobs_and_hands_them_back_when_it_stops(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"run_jobs": True}))
    async with app.router.lifespan_context(app):
        project, _ = await create_project("shop")
        campaign = await make_campaign(project_id=project.key)
        small = await generate_codes(project.key, campaign.key, 20)
        deadline = time.monotonic() + 30
        while (await reload(small)).status != JobStatus.SUCCEEDED:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        large = await generate_codes(project.key, campaign.key, 50_000, batch_size=500)
        while (await reload(large)).done == 0:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    # The app's client is closed: look with a new one.
    assert settings.mongodb_uri is not None
    client = make_client(settings.mongodb_uri)
    try:
        await init_database(client, settings.database)
        stopped = await reload(large)
        assert stopped.status == JobStatus.RUNNING and stopped.lease_owner == ""
        assert 0 < stopped.done < 50_000
    finally:
        await client.drop_database(settings.database)
        await client.close()
