"""Opt-out and opt-in: consent flags with their ledger, and suppressed addresses."""

import asyncio

import httpx
import pytest

from domain.consent import (
    Suppression,
    grant_consent,
    grant_phone,
    is_suppressed,
    withdraw_consent,
    withdraw_email,
    withdraw_phone,
)
from domain.customer_lifecycle import create_customer
from domain.customers import (
    Channel,
    ConsentsInput,
    Customer,
    CustomerInput,
    get_customer,
)
from domain.errors import DomainError
from domain.messages import Message, MessageChannel, MessageStatus
from tests.factories import Tenant, make_tenant

PHONE = "+33612345678"


@pytest.fixture
async def third_tenant(http: httpx.AsyncClient) -> Tenant:
    return await make_tenant(http=http, name="shop-c")


async def customer(
    tenant: Tenant, email: str | None = "ada@example.com", phone: str | None = PHONE
) -> Customer:
    return await create_customer(
        tenant.project_id,
        CustomerInput(email=email, phone=phone, consents=ConsentsInput(email=True, sms=True)),
        "test",
    )


async def sms_sent(project_id: str, to: str, status: MessageStatus = MessageStatus.SENT) -> None:
    await Message(project_id=project_id, channel=MessageChannel.SMS, to=to, status=status).insert()


def ledger(stored: Customer, channel: Channel) -> list[tuple[bool, str]]:
    return [(c.granted, c.source) for c in stored.consent_log if c.channel == channel]


async def test_withdrawing_consent_records_it_and_suppresses_the_address(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    ada = await customer(tenant)

    stored = await withdraw_consent(tenant.project_id, ada.key, MessageChannel.EMAIL, "link")

    assert stored.consents.email is False and stored.consents.sms is True
    assert ledger(stored, Channel.EMAIL) == [(True, "test"), (False, "link")]
    assert await is_suppressed(tenant.project_id, Channel.EMAIL, "ada@example.com")
    # Compared as customers store addresses; other channels and projects are untouched.
    assert await is_suppressed(tenant.project_id, MessageChannel.EMAIL, " ADA@example.com ")
    assert not await is_suppressed(tenant.project_id, Channel.SMS, PHONE)
    assert not await is_suppressed(other_tenant.project_id, Channel.EMAIL, "ada@example.com")


async def test_a_customer_created_later_with_the_address_stays_suppressed(tenant: Tenant) -> None:
    ada = await customer(tenant)
    await withdraw_consent(tenant.project_id, ada.key, Channel.EMAIL, "link")

    again = await customer(tenant)

    assert again.consents.email is True
    assert await is_suppressed(tenant.project_id, Channel.EMAIL, again.email or "")


async def test_opting_out_twice_or_at_once_writes_one_ledger_entry_and_one_suppression(
    tenant: Tenant,
) -> None:
    ada = await customer(tenant)

    await asyncio.gather(
        *(withdraw_consent(tenant.project_id, ada.key, Channel.EMAIL, "link") for _ in range(8))
    )
    await withdraw_consent(tenant.project_id, ada.key, Channel.EMAIL, "link")

    stored = await get_customer(tenant.project_id, ada.key)
    assert ledger(stored, Channel.EMAIL) == [(True, "test"), (False, "link")]
    assert await Suppression.find({"project_id": tenant.project_id}).count() == 1


async def test_withdraw_email_opts_out_every_customer_of_the_project_with_the_address(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    first, second = await customer(tenant), await customer(tenant)
    third = await customer(tenant, email="bob@example.com")
    elsewhere = await customer(other_tenant)

    changed = await withdraw_email(tenant.project_id, "Ada@Example.com", "complaint")

    assert changed == 2
    for opted_out in (first, second):
        stored = await get_customer(tenant.project_id, opted_out.key)
        assert stored.consents.email is False
        assert ledger(stored, Channel.EMAIL)[-1] == (False, "complaint")
    assert (await get_customer(tenant.project_id, third.key)).consents.email is True
    assert (await get_customer(other_tenant.project_id, elsewhere.key)).consents.email is True
    with pytest.raises(DomainError):
        await withdraw_email(tenant.project_id, "not an address", "complaint")


async def test_stop_suppresses_the_number_everywhere_and_withdraws_where_it_was_messaged(
    tenant: Tenant, other_tenant: Tenant, third_tenant: Tenant
) -> None:
    messaged, also_messaged = await customer(tenant), await customer(other_tenant)
    never_messaged = await customer(third_tenant)
    await sms_sent(tenant.project_id, PHONE)
    await sms_sent(other_tenant.project_id, PHONE, MessageStatus.SUPPRESSED)

    projects = await withdraw_phone("+33 6 12 34 56 78", "sms:STOP")
    await withdraw_phone(PHONE, "sms:STOP")

    assert projects == sorted([tenant.project_id, other_tenant.project_id])
    for tenant_, person in ((tenant, messaged), (other_tenant, also_messaged)):
        stored = await get_customer(tenant_.project_id, person.key)
        assert stored.consents.sms is False and stored.consents.email is True
        assert ledger(stored, Channel.SMS) == [(True, "test"), (False, "sms:STOP")]
    # The number is shared: even a project that never texted it may not start now.
    untouched = await get_customer(third_tenant.project_id, never_messaged.key)
    assert untouched.consents.sms is True
    for tenant_ in (tenant, other_tenant, third_tenant):
        assert await is_suppressed(tenant_.project_id, Channel.SMS, PHONE)


async def test_start_gives_consent_back_where_messages_reached_the_number(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    reached, only_suppressed = await customer(tenant), await customer(other_tenant)
    await sms_sent(tenant.project_id, PHONE, MessageStatus.DELIVERED)
    await sms_sent(other_tenant.project_id, PHONE, MessageStatus.SUPPRESSED)
    await withdraw_phone(PHONE, "sms:STOP")

    projects = await grant_phone(PHONE, "sms:START")
    await grant_phone(PHONE, "sms:START")

    assert projects == [tenant.project_id]
    stored = await get_customer(tenant.project_id, reached.key)
    assert stored.consents.sms is True
    assert ledger(stored, Channel.SMS)[-2:] == [(False, "sms:STOP"), (True, "sms:START")]
    assert (await get_customer(other_tenant.project_id, only_suppressed.key)).consents.sms is False
    assert not await is_suppressed(tenant.project_id, Channel.SMS, PHONE)
    assert not await is_suppressed(other_tenant.project_id, Channel.SMS, PHONE)


async def test_granting_consent_lifts_the_suppression_of_the_address(tenant: Tenant) -> None:
    ada = await customer(tenant)
    await withdraw_consent(tenant.project_id, ada.key, Channel.SMS, "link")
    assert await is_suppressed(tenant.project_id, Channel.SMS, PHONE)

    stored = await grant_consent(tenant.project_id, ada.key, Channel.SMS, "shop:opt-in")

    assert stored.consents.sms is True
    assert ledger(stored, Channel.SMS)[-1] == (True, "shop:opt-in")
    assert not await is_suppressed(tenant.project_id, Channel.SMS, PHONE)


async def test_a_customer_without_the_address_is_withdrawn_without_a_suppression(
    tenant: Tenant,
) -> None:
    no_phone = await customer(tenant, phone=None)

    stored = await withdraw_consent(tenant.project_id, no_phone.key, Channel.SMS, "link")

    assert stored.consents.sms is False
    assert await Suppression.find({"project_id": tenant.project_id}).count() == 0
    assert not await is_suppressed(tenant.project_id, Channel.SMS, "")
