"""queue_message with the customer and code its caller has just read: checked as if it read them."""

import pytest

from delivery.outbox import Links, queue_message
from domain.codes import publish_code
from domain.errors import DomainError
from domain.messages import Message, MessageChannel, MessageStatus
from tests.factories import Tenant, audience_member, insert_customers, make_campaign

LINKS = Links(base_url="https://shop.example", secret_key="outbox-test-secret-outbox-test")
EMAIL = MessageChannel.EMAIL


async def test_given_objects_are_checked_like_read_ones(tenant: Tenant) -> None:
    project_id = tenant.project_id
    campaign = await make_campaign(project_id=project_id)
    # Customers 1 and 2 consent to email.
    ada, bob = (
        audience_member(project_id=project_id, index=1),
        audience_member(project_id=project_id, index=2),
    )
    await insert_customers(customers=[ada, bob])
    adas_code = await publish_code(project_id, campaign.key, ada.key, customer=ada)
    bobs_code = await publish_code(project_id, campaign.key, bob.key)
    assert adas_code.customer_id == ada.key and bobs_code.customer_id == bob.key

    with pytest.raises(DomainError) as refused:
        await queue_message(
            LINKS, project_id, ada.key, EMAIL, None, bobs_code.code, customer=ada, code=bobs_code
        )
    assert refused.value.code == "CODE_OF_ANOTHER_CUSTOMER"
    erased = ada.model_copy(update={"erased": True})
    with pytest.raises(DomainError) as refused:
        await queue_message(
            LINKS, project_id, ada.key, EMAIL, None, adas_code.code, customer=erased
        )
    assert refused.value.code == "ERASED"
    assert await Message.find({"project_id": project_id}).count() == 0

    # An object for someone else is not used: the named customer is read.
    sent = await queue_message(
        LINKS, project_id, ada.key, EMAIL, None, adas_code.code, "k-1", customer=bob, code=bobs_code
    )
    assert sent.customer_id == ada.key and sent.to == ada.email
    assert sent.code == adas_code.code and sent.status == MessageStatus.QUEUED
    # Skipping the look-up first still gives the first message for a repeated key.
    again = await queue_message(
        LINKS,
        project_id,
        ada.key,
        EMAIL,
        None,
        adas_code.code,
        "k-1",
        customer=ada,
        code=adas_code,
        probably_new=True,
    )
    assert again.id == sent.id
    assert await Message.find({"project_id": project_id}).count() == 1
