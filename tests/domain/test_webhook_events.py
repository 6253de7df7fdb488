"""Every event type is emitted from where its change happens, once, with an object that carries
no contact details: one project subscribed to all of them goes through each change."""

import json
from datetime import timedelta

from api.settings import Settings
from delivery.outbox import Links, queue_message
from delivery.worker import OutboxWorker
from domain import customer_lifecycle, messages, webhooks
from domain.codes import publish_code
from domain.common import utc_now
from domain.customers import ConsentsInput, CustomerInput
from domain.jobs import JobRunner, generate_codes
from domain.loyalty import adjust_points, expire_points
from domain.messages import MessageChannel, ProviderStatus
from domain.orders import record_order, set_order_status
from domain.redemptions import RedemptionChannel, redeem_code, rollback_redemption
from domain.referrals import apply_referral_code, referral_link
from domain.webhooks import WebhookDelivery
from tests.factories import (
    Tenant,
    make_campaign,
    make_code,
    make_customer,
    make_loyalty_program,
    make_referral_program,
    order_input,
)


async def test_every_event_type_is_emitted_where_it_happens(
    tenant: Tenant, settings: Settings
) -> None:
    project_id = tenant.project_id
    created = await webhooks.create_webhook(
        secret_key=settings.secret_key,
        project_id=project_id,
        url="http://127.0.0.1:9/hooks",
        events=list(webhooks.EVENT_TYPES),
        secret=None,
        allow_private=True,
    )
    ada = await customer_lifecycle.create_customer(
        project_id,
        CustomerInput(
            source_id="ada-1", email="ada@example.com", consents=ConsentsInput(email=True)
        ),
        "api",
    )
    program = await make_loyalty_program(project_id=project_id, expiry_days=30)
    referral = await make_referral_program(project_id=project_id, hold_days=0)
    referrer = await make_customer(project_id=project_id, email="ann@example.com")
    link = await referral_link(
        project_id=project_id, campaign_id=referral.id, customer_id=referrer.key
    )
    await apply_referral_code(project_id=project_id, raw_code=link.code, customer_id=ada.key)
    # Earns points, qualifies and rewards the referral (a code published to the referrer).
    await record_order(project_id, order_input(order_id="o-1", customer=ada))
    await set_order_status(project_id, "o-1", "REFUNDED")
    await record_order(project_id, order_input(order_id="o-2", customer=ada))
    await set_order_status(project_id, "o-2", "CANCELLED")
    await record_order(project_id, order_input(order_id="o-3", customer=ada))
    await adjust_points(
        project_id=project_id,
        customer_id=ada.key,
        campaign_id=program.key,
        points=-1,
        reason="goodwill taken back",
        actor="test",
    )
    await expire_points(now=utc_now() + timedelta(days=40))

    campaign = await make_campaign(project_id=project_id)
    await make_code(campaign=campaign, display="EVT-1")
    redemption = await redeem_code(
        project_id=project_id,
        raw_code="EVT-1",
        customer_id=None,
        order=None,
        idempotency_key=None,
        channel=RedemptionChannel.POS,
        api_key_id="",
    )
    await rollback_redemption(project_id=project_id, redemption_id=redemption.key, reason="x")
    await generate_codes(project_id, campaign.key, 3)
    await JobRunner().run_pending()

    links = Links(base_url=settings.public_base_url, secret_key=settings.secret_key)
    coupon = await publish_code(project_id, campaign.key, ada.key)
    sent = await queue_message(links, project_id, ada.key, MessageChannel.EMAIL, None, coupon.code)
    await OutboxWorker(settings, concurrency=1).run_until_idle()
    delivered = await messages.get_message(project_id, sent.key)
    await messages.record_provider_status(delivered.provider_id, ProviderStatus.DELIVERED)
    silent = await make_customer(project_id=project_id, email="no@example.com")
    theirs = await publish_code(project_id, campaign.key, silent.key)
    await queue_message(links, project_id, silent.key, MessageChannel.EMAIL, None, theirs.code)
    failing = await queue_message(
        links, project_id, ada.key, MessageChannel.EMAIL, None, coupon.code, "again"
    )
    leased = await messages.lease_message("test")
    assert leased is not None and leased.key == failing.key
    await messages.mark_failed(leased, "test", "550 mailbox unavailable")
    await customer_lifecycle.erase_customer(project_id, ada.key, "test")

    stored = await WebhookDelivery.find({"webhook_id": created.webhook.key}).to_list()
    emitted = sorted(d.event_type for d in stored)
    assert set(emitted) == set(webhooks.EVENT_TYPES)
    # Each change once: one event id per delivery.
    assert len({d.event_id for d in stored}) == len(stored)
    for delivery in stored:
        body = json.loads(delivery.body)
        assert (body["id"], body["type"]) == (delivery.event_id, delivery.event_type)
        assert "@example.com" not in delivery.body
    by_type = {d.event_type: json.loads(d.body)["data"] for d in stored}
    assert by_type["order.refunded"]["id"] == "o-1"
    assert by_type["order.cancelled"]["status"] == "CANCELLED"
    assert by_type["redemption.rolled_back"]["rollbackReason"] == "x"
    assert by_type["customer.erased"] == {
        "id": ada.key,
        "sourceId": None,
        "createdAt": by_type["customer.erased"]["createdAt"],
        "erased": True,
        "erasedAt": by_type["customer.erased"]["erasedAt"],
    }
    assert by_type["job.finished"]["done"] == 3
