"""Distributing a campaign on the real database: one code and one message per customer and
channel, consent recorded, and nothing twice when a batch is redone after a crash."""

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from beanie.odm.utils.dump import get_dict
from bson import ObjectId
from pymongo import monitoring

from delivery import outbox
from delivery.distribution import (
    DistributionFilter,
    distribute_campaign,
    idempotency_key,
    job_handlers,
    next_customer_ids,
    run_batch,
)
from delivery.outbox import Links, publish_and_queue, queue_message
from domain import consent, segments
from domain.campaigns import Campaign, CampaignKind, CampaignStatus, CodeConfig
from domain.codes import Code, CodeAssignment, publish_code
from domain.common import utc_now
from domain.customers import Customer
from domain.errors import DomainError
from domain.experiments import (
    Experiment,
    ExperimentInput,
    VariantInput,
    assign,
    create_experiment,
    start_experiment,
)
from domain.jobs import NO_LEASE, Job, JobRunner, JobStatus, run_pending_jobs
from domain.messages import Message, MessageChannel, MessageStatus
from domain.segments import SegmentKind
from domain.templates import MessageTemplate
from tests.factories import (
    Tenant,
    audience_member,
    insert_customers,
    make_campaign,
    make_customers,
    make_pool,
)

EMAIL, SMS = MessageChannel.EMAIL, MessageChannel.SMS
LINKS = Links(base_url="http://testserver", secret_key="distribution-test-secret")


async def run_jobs() -> int:
    """Runs the waiting jobs, distributions included, as the app's runner does."""
    return await run_pending_jobs(handlers=job_handlers(links=LINKS))


async def reload(job: Job) -> Job:
    found = await Job.get(job.id)
    assert found is not None
    return found


async def job_messages(job: Job) -> list[Message]:
    return await Message.find({"project_id": job.project_id, "job_id": job.key}).to_list()


async def campaign_codes(project_id: str, campaign_id: str) -> list[Code]:
    return await Code.find(
        {"project_id": project_id, "campaign_id": campaign_id, "assigned": True}
    ).to_list()


def counts(job: Job) -> dict[str, int]:
    return {name: job.params[name] for name in ("published", "queued", "suppressed", "skipped")}


async def assert_reached_once(
    job: Job, customers: list[Customer], channels: list[MessageChannel]
) -> dict[str, int]:
    """Every live customer has exactly one code and, per channel with an address, exactly one
    message carrying it, SUPPRESSED without consent; returns the counts the job should show."""
    messages = await job_messages(job)
    by_pair = Counter((m.customer_id, m.channel) for m in messages)
    assert set(by_pair.values()) <= {1}
    codes = await campaign_codes(job.project_id, job.params["campaign_id"])
    code_of: dict[str, str] = {}
    for code in codes:
        assert code.customer_id not in code_of, "a customer got two codes"
        code_of[code.customer_id] = code.code
    expected = dict.fromkeys(("published", "queued", "suppressed", "skipped"), 0)
    live = [c for c in customers if not c.erased]
    assert set(code_of) == {c.key for c in live if c.email or c.phone}
    found = {(m.customer_id, m.channel): m for m in messages}
    for customer in customers:
        if customer.erased:
            assert not any(key[0] == customer.key for key in found)
            continue
        expected["published"] += 1 if customer.email or customer.phone else 0
        for channel in channels:
            address = customer.email if channel == EMAIL else customer.phone
            message = found.get((customer.key, channel))
            if not address:
                assert message is None
                expected["skipped"] += 1
                continue
            assert message is not None and message.to == address
            assert message.code == code_of[customer.key]
            assert message.campaign_id == job.params["campaign_id"]
            assert message.idempotency_key == idempotency_key(
                job_id=job.key, customer_id=customer.key, channel=channel
            )
            consented = customer.consents.email if channel == EMAIL else customer.consents.sms
            if consented:
                assert message.status == MessageStatus.QUEUED and message.open
                expected["queued"] += 1
            else:
                assert message.status == MessageStatus.SUPPRESSED and not message.open
                assert "consented" in message.error
                expected["suppressed"] += 1
    assert len(messages) == expected["queued"] + expected["suppressed"]
    return expected


async def test_every_customer_gets_one_code_and_one_message_per_channel(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    customers = await make_customers(project_id=tenant.project_id, count=300, erased_every=25)
    job = await distribute_campaign(
        project_id=tenant.project_id, campaign_id=campaign.key, channels=[EMAIL, SMS]
    )
    assert (job.kind, job.status, job.total, job.done) == (
        "distribute_campaign",
        JobStatus.QUEUED,
        288,
        0,
    )

    assert await run_jobs() == 1

    job = await reload(job)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert (job.done, job.total, job.progress, job.batch) == (288, 288, 1.0, 2)
    expected = await assert_reached_once(job, customers, [EMAIL, SMS])
    assert counts(job) == expected
    # The mix is what the test means to cover: some suppressed, some without a phone.
    assert expected["suppressed"] > 50 and expected["skipped"] > 50 and expected["queued"] > 200


async def test_a_batch_redone_after_a_crash_queues_and_publishes_nothing_twice(
    tenant: Tenant,
) -> None:
    # Two codes per customer allowed: a careless retry would hand out a second one.
    campaign = await make_campaign(project_id=tenant.project_id, codes_per_customer=2)
    customers = await make_customers(project_id=tenant.project_id, count=150)
    job = await distribute_campaign(
        project_id=tenant.project_id, campaign_id=campaign.key, channels=[EMAIL, SMS], batch_size=50
    )

    first = JobRunner("first", lease=timedelta(seconds=30), handlers=job_handlers(links=LINKS))
    leased = await first.lease_next()
    assert leased is not None and leased.id == job.id
    ids = await next_customer_ids(job=leased)
    assert len(ids) == 150
    await run_batch(runner=first, job=leased, ids=ids[:50], links=LINKS)
    job = await reload(job)
    assert (job.batch, job.done, job.total) == (1, 50, 150)
    assert job.progress == pytest.approx(1 / 3)
    assert job.params["after"] == str(ids[49])
    after_one = counts(job)
    assert after_one["published"] == 50
    assert after_one["queued"] + after_one["suppressed"] == len(await job_messages(job))

    # The second batch dies part-way: after its writes, before the job's cursor moved. Its
    # customers have their codes, and its unordered message insert, cut short, stored only
    # some of their messages. (A fresh batch writes its codes and its messages in one insert
    # each, so this is the state a crash leaves, made here without a race.)
    second = {str(customer_id) for customer_id in ids[50:100]}
    await run_batch(runner=first, job=leased, ids=ids[50:100], links=LINKS)
    written = [m for m in await job_messages(job) if m.customer_id in second]
    assert written
    await Message.get_pymongo_collection().delete_many(
        {"_id": {"$in": [message.id for message in written[::2]]}}
    )
    await Job.get_pymongo_collection().update_one(
        {"_id": job.id},
        {
            "$set": {
                "batch": 1,
                "done": 50,
                "params.after": str(ids[49]),
                **{f"params.{name}": value for name, value in after_one.items()},
            }
        },
    )
    job = await reload(job)
    assert (job.batch, job.started_batch, job.done) == (1, 1, 50)
    # The runner is gone: its lease runs out and another runner resumes the job.
    await Job.get_pymongo_collection().update_one(
        {"_id": job.id}, {"$set": {"lease_until": utc_now() - timedelta(seconds=1)}}
    )
    assert await JobRunner("second", handlers=job_handlers(links=LINKS)).run_pending() == 1

    job = await reload(job)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert (job.done, job.total, job.attempts, job.lease_until) == (150, 150, 2, NO_LEASE)
    assert counts(job) == await assert_reached_once(job, customers, [EMAIL, SMS])

    # Running the whole job again from its start finds everything done.
    before = len(await job_messages(job))
    await Job.get_pymongo_collection().update_one(
        {"_id": job.id},
        {"$set": {"status": "QUEUED", "batch": 0, "done": 0, "params.after": ""}},
    )
    assert await run_jobs() == 1
    job = await reload(job)
    assert job.status == JobStatus.SUCCEEDED and job.done == 150
    assert len(await job_messages(job)) == before
    await assert_reached_once(job, customers, [EMAIL, SMS])


async def test_customers_already_holding_a_code_keep_it_beside_those_given_one_together(
    tenant: Tenant,
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    customers = await make_customers(project_id=tenant.project_id, count=30)
    holders = [c for c in customers if not c.erased and (c.email or c.phone)][:5]
    earlier = {
        c.key: (await publish_code(tenant.project_id, campaign.key, c.key)).code for c in holders
    }
    job = await distribute_campaign(
        project_id=tenant.project_id, campaign_id=campaign.key, channels=[EMAIL, SMS]
    )
    assert await run_jobs() == 1
    job = await reload(job)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert counts(job) == await assert_reached_once(job, customers, [EMAIL, SMS])
    # The codes they held are the ones their messages carry; the slots count one code each.
    for message in await job_messages(job):
        if message.customer_id in earlier:
            assert message.code == earlier[message.customer_id]
    claimed = await CodeAssignment.find({"campaign_id": campaign.key}).to_list()
    assert {a.claimed for a in claimed} == {1}
    assert len(claimed) == len(await campaign_codes(tenant.project_id, campaign.key))
    # Every code made, one by one or together, is counted on the campaign.
    stored = await Campaign.get(campaign.id)
    assert stored is not None and stored.codes_count == len(claimed)


async def test_filters_choose_the_customers(tenant: Tenant, other_tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    customers = await make_customers(project_id=tenant.project_id, count=40)
    await asyncio.sleep(0.01)
    since = utc_now()
    await asyncio.sleep(0.01)
    later = [audience_member(project_id=tenant.project_id, index=100 + i) for i in range(3)]
    await insert_customers(customers=later)
    await make_customers(project_id=other_tenant.project_id, count=10)
    vip = DistributionFilter(tags=("VIP ",))
    tagged = await distribute_campaign(
        project_id=tenant.project_id, campaign_id=campaign.key, channels=[SMS], where=vip
    )
    consenting = DistributionFilter(consented=True)
    either = await distribute_campaign(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        channels=[EMAIL, SMS],
        where=consenting,
    )
    recent = await distribute_campaign(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        channels=[EMAIL],
        where=DistributionFilter(created_after=since),
    )
    early = await distribute_campaign(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        channels=[EMAIL],
        where=DistributionFilter(created_before=since),
    )
    by_email = DistributionFilter(email=" C7@Example.com")
    seventh = await distribute_campaign(
        project_id=tenant.project_id, campaign_id=campaign.key, channels=[EMAIL], where=by_email
    )
    assert await run_jobs() == 5

    async def reached(job: Job) -> set[str]:
        return {m.customer_id for m in await job_messages(job)}

    everyone = customers + later
    vips = [c for c in everyone if "vip" in c.tags]
    assert len(vips) == 5 and (await reload(tagged)).total == 5
    # The VIP without a phone is counted as skipped for SMS.
    assert await reached(tagged) == {c.key for c in vips if c.phone}
    assert (await reload(tagged)).params["skipped"] == sum(1 for c in vips if not c.phone)
    wanted = {c.key for c in everyone if c.consents.email or c.consents.sms}
    either = await reload(either)
    assert await reached(either) == wanted
    assert either.total == either.done == len(wanted) < len(everyone)
    # One channel's consent is enough to be reached; the other channel is recorded SUPPRESSED.
    assert either.params["suppressed"] > 0
    assert await reached(recent) == {c.key for c in later}
    assert await reached(early) == {c.key for c in customers}
    assert (await reload(seventh)).total == 1
    assert await reached(seventh) == {customers[7].key}


async def test_a_campaign_out_of_codes_ends_the_job_failed_keeping_what_was_done(
    tenant: Tenant,
) -> None:
    # Ten pooled codes; the one-digit pattern leaves no room to make more.
    campaign = await make_campaign(project_id=tenant.project_id, codes=CodeConfig(pattern="#"))
    await make_pool(campaign=campaign, displays=[f"POOL{i}" for i in range(10)])
    customers = await make_customers(project_id=tenant.project_id, count=30)
    job = await distribute_campaign(
        project_id=tenant.project_id, campaign_id=campaign.key, channels=[EMAIL], batch_size=20
    )
    assert await run_jobs() == 1

    job = await reload(job)
    assert job.status == JobStatus.FAILED
    assert len(job.errors) == 1 and job.errors[0].startswith("stopped after ")
    assert "of 30 customers" in job.errors[0] and "codes" in job.errors[0]
    messages = await job_messages(job)
    codes = await campaign_codes(tenant.project_id, campaign.key)
    assert len(codes) == 10 and job.params["published"] == 10
    assert {m.customer_id for m in messages} == {c.customer_id for c in codes}
    assert job.params["queued"] + job.params["suppressed"] == len(messages) == 10
    assert 10 <= job.done < 30 and job.batch == 1
    assert {c.key for c in customers} >= {m.customer_id for m in messages}


async def test_a_campaign_ended_mid_way_stops_the_job(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_customers(project_id=tenant.project_id, count=20)
    job = await distribute_campaign(
        project_id=tenant.project_id, campaign_id=campaign.key, channels=[EMAIL], batch_size=10
    )
    runner = JobRunner(handlers=job_handlers(links=LINKS))
    leased = await runner.lease_next()
    assert leased is not None
    await run_batch(
        runner=runner, job=leased, ids=(await next_customer_ids(job=leased))[:10], links=LINKS
    )
    campaign.status = CampaignStatus.ENDED
    await campaign.save()
    await runner.run_job(leased)

    job = await reload(job)
    assert job.status == JobStatus.FAILED and job.done == 10
    assert job.errors == ["stopped after 10 of 20 customers: the campaign has ended"]
    assert len(await job_messages(job)) == 10


async def refused(call: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    return caught.value


async def test_refused_requests_write_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    project_id = tenant.project_id
    campaign = await make_campaign(project_id=project_id)
    await make_customers(project_id=project_id, count=5)
    ended = await make_campaign(project_id=project_id, status=CampaignStatus.ENDED)
    loyalty = await make_campaign(project_id=project_id, kind=CampaignKind.LOYALTY, discount=None)
    sms_template = MessageTemplate(project_id=project_id, name="Short", channel=SMS, text="Hi")
    await sms_template.insert()
    foreign = await make_campaign(project_id=other_tenant.project_id)
    now = utc_now()
    cases: list[tuple[str, str, Any]] = [
        (
            "NOT_FOUND",
            "campaignId",
            distribute_campaign(project_id=project_id, campaign_id=foreign.key, channels=[EMAIL]),
        ),
        (
            "NOT_FOUND",
            "campaignId",
            distribute_campaign(project_id=project_id, campaign_id="nope", channels=[EMAIL]),
        ),
        (
            "CAMPAIGN_ENDED",
            "campaignId",
            distribute_campaign(project_id=project_id, campaign_id=ended.key, channels=[EMAIL]),
        ),
        (
            "CAMPAIGN_NOT_DISCOUNT",
            "campaignId",
            distribute_campaign(project_id=project_id, campaign_id=loyalty.key, channels=[EMAIL]),
        ),
        (
            "INVALID_CHANNELS",
            "channels",
            distribute_campaign(project_id=project_id, campaign_id=campaign.key, channels=[]),
        ),
        (
            "INVALID_CHANNELS",
            "channels",
            distribute_campaign(
                project_id=project_id, campaign_id=campaign.key, channels=[EMAIL, EMAIL]
            ),
        ),
        (
            "INVALID_CHANNELS",
            "channels",
            distribute_campaign(
                project_id=project_id,
                campaign_id=campaign.key,
                channels=[MessageChannel.APPLE_PUSH],
            ),
        ),
        (
            "NOT_FOUND",
            "templateId",
            distribute_campaign(
                project_id=project_id,
                campaign_id=campaign.key,
                channels=[EMAIL],
                where=None,
                template_ref="builtin:nope",
            ),
        ),
        (
            "CHANNEL_MISMATCH",
            "channel",
            distribute_campaign(
                project_id=project_id,
                campaign_id=campaign.key,
                channels=[SMS, EMAIL],
                where=None,
                template_ref=sms_template.key,
            ),
        ),
        (
            "INVALID_EMAIL",
            "filter.email",
            distribute_campaign(
                project_id=project_id,
                campaign_id=campaign.key,
                channels=[EMAIL],
                where=DistributionFilter(email="not an email"),
            ),
        ),
        (
            "INVALID",
            "filter.createdAfter",
            distribute_campaign(
                project_id=project_id,
                campaign_id=campaign.key,
                channels=[EMAIL],
                where=DistributionFilter(created_after=now, created_before=now),
            ),
        ),
        (
            "INVALID",
            "filter.createdAfter",
            distribute_campaign(
                project_id=project_id,
                campaign_id=campaign.key,
                channels=[EMAIL],
                where=DistributionFilter(created_after=now, created_before=now - timedelta(days=1)),
            ),
        ),
    ]
    for code, field, call in cases:
        error = await refused(call)
        assert (error.code, error.problems[0].field) == (code, field), error
    assert await Job.find_all().count() == 0
    assert await Message.find_all().count() == 0
    assert await Code.find_all().count() == 0


async def test_a_distribution_reaches_only_its_own_project(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    mine = await make_customers(project_id=tenant.project_id, count=6)
    theirs = await make_customers(project_id=other_tenant.project_id, count=6)
    job = await distribute_campaign(
        project_id=tenant.project_id, campaign_id=campaign.key, channels=[EMAIL, SMS]
    )
    assert job.total == 6
    assert await run_jobs() == 1
    reached = {m.customer_id for m in await job_messages(job)}
    assert reached == {c.key for c in mine}
    assert not await Message.find({"project_id": other_tenant.project_id}).to_list()
    assert not reached & {c.key for c in theirs}
    assert {m.project_id for m in await Message.find_all().to_list()} == {tenant.project_id}


async def test_a_segment_chooses_the_customers_with_the_filter(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id, codes=CodeConfig(length=10))
    customers = await make_customers(project_id=tenant.project_id, count=60, erased_every=7)
    live = [c for c in customers if not c.erased]
    # A static segment of every third live customer, walked in small chunks so that whole
    # chunks of members are left out by the filter.
    members = live[::3]
    static = await segments.create_segment(
        project_id=tenant.project_id, name="thirds", kind=SegmentKind.STATIC
    )
    await segments.add_members(
        project_id=tenant.project_id, segment_id=static.key, customer_ids=[c.key for c in members]
    )
    dynamic = await segments.create_segment(
        project_id=tenant.project_id,
        name="no sms consent",
        kind=SegmentKind.DYNAMIC,
        filter={"all": [{"field": "consents.sms", "op": "eq", "value": False}]},
    )
    by_static = await distribute_campaign(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        channels=[EMAIL],
        where=DistributionFilter(tags=("vip",)),
        segment_id=static.key,
    )
    everyone_static = await distribute_campaign(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        channels=[EMAIL],
        segment_id=static.key,
        batch_size=4,
    )
    by_dynamic = await distribute_campaign(
        project_id=tenant.project_id,
        campaign_id=campaign.key,
        channels=[SMS],
        segment_id=dynamic.key,
    )
    assert (await reload(by_dynamic)).total == sum(1 for c in live if not c.consents.sms)
    assert await run_jobs() == 3

    async def reached(job: Job) -> set[str]:
        return {m.customer_id for m in await job_messages(job)}

    assert await reached(by_static) == {c.key for c in members if "vip" in c.tags}
    assert await reached(everyone_static) == {c.key for c in members}
    finished = await reload(everyone_static)
    assert finished.status == JobStatus.SUCCEEDED and finished.done == finished.total
    assert await reached(by_dynamic) == {c.key for c in live if not c.consents.sms and c.phone}

    with pytest.raises(DomainError) as unknown:
        await distribute_campaign(
            project_id=tenant.project_id,
            campaign_id=campaign.key,
            channels=[EMAIL],
            segment_id=str(ObjectId()),
        )
    assert unknown.value.problems[0].field == "segmentId"


async def variant_experiment(
    project_id: str, campaign_key: str
) -> tuple[Experiment, MessageTemplate]:
    """A running experiment on the campaign whose variant "a" has its own email template."""
    template = MessageTemplate(
        project_id=project_id,
        name="Variant A",
        channel=EMAIL,
        subject="A: {{ code.display }}",
        text="Variant A {{ code.display }}",
        html="<p>Variant A {{ code.display }}</p>",
        needs_code=True,
    )
    await template.insert()
    variants = [VariantInput(key="a", template_id=template.key), VariantInput(key="b")]
    created = await create_experiment(
        project_id=project_id,
        data=ExperimentInput(campaign_id=campaign_key, name="Copy test", variants=variants),
    )
    return await start_experiment(project_id=project_id, experiment_id=created.key), template


async def test_without_a_template_each_variant_sends_its_own(tenant: Tenant) -> None:
    project_id = tenant.project_id
    campaign = await make_campaign(project_id=project_id)
    experiment, template = await variant_experiment(project_id, campaign.key)
    await make_customers(project_id=project_id, count=40)

    job = await distribute_campaign(
        project_id=project_id, campaign_id=campaign.key, channels=[EMAIL, SMS]
    )
    assert await run_jobs() == 1
    codes = {code.code: code for code in await campaign_codes(project_id, campaign.key)}
    sent = await job_messages(job)
    assert {code.variant for code in codes.values()} == {"a", "b"}
    for message in sent:
        if message.channel == EMAIL and codes[message.code].variant == "a":
            assert message.template_id == template.key
            assert message.subject == f"A: {codes[message.code].display}"
        else:
            # Variant b has no template, and variant a's is an email one.
            assert message.template_id == "builtin:coupon"
    assert {m.template_id for m in sent if m.channel == EMAIL} == {template.key, "builtin:coupon"}

    # A template asked for is sent to every variant.
    asked = await distribute_campaign(
        project_id=project_id,
        campaign_id=campaign.key,
        channels=[EMAIL],
        where=None,
        template_ref="builtin:welcome",
    )
    assert await run_jobs() == 1
    assert {m.template_id for m in await job_messages(asked)} == {"builtin:welcome"}

    # publishCode(channel) sends the variant's template too.
    newcomers = [audience_member(project_id=project_id, index=1000 + i) for i in range(20)]
    await insert_customers(customers=newcomers)
    chosen = next(
        c
        for c in newcomers
        if assign(experiment_id=experiment.key, customer_id=c.key, arms=experiment.arms) == "a"
    )
    links = Links(base_url="https://shop.example", secret_key="distribution-test-secret")
    code, message = await publish_and_queue(links, project_id, campaign.key, chosen.key, EMAIL)
    assert code.variant == "a"
    assert message is not None and message.template_id == template.key


def without(document: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name not in names}


# A project's opt-outs read whole (a few), or looked up by address (many: none read whole).
@pytest.mark.parametrize("read_whole", [outbox.SUPPRESSIONS_READ_WHOLE, 0])
async def test_stored_documents_are_those_the_models_write_one_by_one(
    tenant: Tenant, read_whole: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch builds its codes' and messages' documents itself: read back through the models
    they are what Beanie writes, and what queueing the same message alone stores."""
    monkeypatch.setattr(outbox, "SUPPRESSIONS_READ_WHOLE", read_whole)
    campaign = await make_campaign(project_id=tenant.project_id)
    customers = await make_customers(project_id=tenant.project_id, count=4)
    # An opt-out typed in another form still suppresses the address (normalized to compare).
    opted_out = customers[1]
    assert opted_out.email and opted_out.consents.email
    await consent.suppress(tenant.project_id, EMAIL, opted_out.email.upper(), "test")
    job = await distribute_campaign(
        project_id=tenant.project_id, campaign_id=campaign.key, channels=[EMAIL, SMS]
    )
    assert await run_jobs() == 1
    job = await reload(job)
    assert job.status == JobStatus.SUCCEEDED, job.errors

    raw_messages = (
        await Message.get_pymongo_collection().find({"job_id": job.key}).sort("_id").to_list()
    )
    raw_codes = await Code.get_pymongo_collection().find({"campaign_id": campaign.key}).to_list()
    assert (
        len(raw_codes) == 4
        and len(raw_messages) == counts(job)["queued"] + counts(job)["suppressed"]
    )
    for raw, model in [(raw, Message) for raw in raw_messages] + [(raw, Code) for raw in raw_codes]:
        found = await model.get(raw["_id"])
        assert found is not None
        assert get_dict(found, to_db=True, keep_nulls=model.get_settings().keep_nulls) == raw

    opted = next(
        m for m in raw_messages if m["customer_id"] == opted_out.key and m["channel"] == "EMAIL"
    )
    assert opted["status"] == MessageStatus.SUPPRESSED and "opted out" in opted["error"]

    # The same messages queued one by one, under other keys, store the same documents.
    timestamps = ("_id", "idempotency_key", "created_at", "updated_at", "due_at", "job_id")
    for raw in raw_messages:
        alone = await queue_message(
            LINKS,
            tenant.project_id,
            raw["customer_id"],
            MessageChannel(raw["channel"]),
            raw["template_id"],
            raw["code"],
            "alone:" + raw["idempotency_key"],
        )
        stored = await Message.get_pymongo_collection().find_one({"_id": alone.id})
        assert stored is not None
        assert without(stored, *timestamps) == without(raw, *timestamps)
        assert stored.keys() == raw.keys()


class CommandCounter(monitoring.CommandListener):
    """The commands every client sends while armed, by name and collection."""

    def __init__(self) -> None:
        self.armed = False
        self.seen: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.armed:
            target = event.command.get(
                "collection" if event.command_name == "getMore" else event.command_name
            )
            self.seen[(event.command_name, str(target))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


# Registered at import, before any client is made, so every client reports to it.
COMMANDS = CommandCounter()
monitoring.register(COMMANDS)
# A fresh batch's database commands, whatever its size: the campaign, project and customers;
# the running experiment, the promoted template, the code pool; the slots claimed and read, the
# code space reserved and counted, the codes, the opt-outs, the messages; the batch begun and
# committed.
COMMANDS_PER_BATCH = 15
# The job's own: its lease and completion, two reads of customer ids (the last finds none), the
# webhook check, its last renewal.
COMMANDS_PER_JOB = 7


async def test_a_fresh_batch_asks_the_database_the_same_few_things_whatever_its_size(
    tenant: Tenant,
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_customers(project_id=tenant.project_id, count=90)
    job = await distribute_campaign(
        project_id=tenant.project_id, campaign_id=campaign.key, channels=[EMAIL, SMS], batch_size=30
    )
    COMMANDS.seen.clear()
    COMMANDS.armed = True
    try:
        assert await run_jobs() == 1
    finally:
        COMMANDS.armed = False
    job = await reload(job)
    assert job.status == JobStatus.SUCCEEDED and job.batch == 3, job.errors
    assert sum(COMMANDS.seen.values()) <= COMMANDS_PER_JOB + 3 * COMMANDS_PER_BATCH, COMMANDS.seen
