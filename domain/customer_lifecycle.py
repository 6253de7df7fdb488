"""Creating and erasing a customer: the steps that reach events and segments, which build on
domain.customers and so are called from above it."""

import dataclasses

from beanie import PydanticObjectId

from domain import audit, events, segments, webhooks
from domain.common import utc_now
from domain.customers import (
    Customer,
    CustomerError,
    CustomerInput,
    erase_customer_record,
    get_customer,
    new_customer,
    store_customer,
    update_customer,
)
from domain.errors import CommonError, DomainError


async def create_customer(project_id: str, data: CustomerInput, source: str) -> Customer:
    customer = new_customer(project_id, data, source)
    # The id is chosen before the insert, so the webhook event can be written first and
    # confirmed after: a crash in between cannot lose it.
    customer.id = PydanticObjectId()
    event = await _prepare(customer, webhooks.CUSTOMER_CREATED, (False, True))
    await store_customer(customer)
    await webhooks.confirm_event(event)
    await events.emit(project_id, customer.key, events.CUSTOMER_CREATED, at=customer.created_at)
    return customer


async def upsert_customer_by_source_id(
    project_id: str, source_id: str, data: CustomerInput, source: str
) -> tuple[Customer, bool]:
    """The customer with this shop id updated with `data`, or created with it (True). Of two
    calls racing to create one id, the unique index lets one insert; the other updates it."""
    data = dataclasses.replace(data, source_id=source_id)
    wanted = source_id.strip()
    for _ in range(2):
        existing = await Customer.find_one({"project_id": project_id, "source_id": wanted})
        if existing is not None:
            return await update_customer(project_id, existing.key, data, source), False
        try:
            return await create_customer(project_id, data, source), True
        except DomainError as error:
            if error.code != CustomerError.DUPLICATE_SOURCE_ID:
                raise
    raise DomainError(CommonError.BUSY, "this customer is being changed; retry", "sourceId")


async def _prepare(
    customer: Customer, event_type: str, erased: tuple[bool, ...]
) -> webhooks.PreparedEvent | None:
    """The event, written before its change; the change is found by the customer's `erased`
    flag holding one of `erased`."""
    if not await webhooks.listens(project_id=customer.project_id, event_type=event_type):
        return None
    return await webhooks.prepare_event(
        project_id=customer.project_id,
        event_type=event_type,
        object_key=f"customer:{customer.id}",
        data=webhooks.objects.customer(customer),
        dedupe_key=f"{event_type}:{customer.id}",
        change=webhooks.Change(
            collection=Customer.get_collection_name(),
            document_id=str(customer.id),
            field="erased",
            values=erased,
        ),
    )


async def erase_customer(project_id: str, customer_id: str, actor: str) -> Customer:
    """GDPR erasure: personal fields go, a tombstone and an audit entry stay."""
    event = None
    if await webhooks.listens(project_id=project_id, event_type=webhooks.CUSTOMER_ERASED):
        # Written before the erasure and confirmed after it, so a crash cannot lose it.
        found = await get_customer(project_id, customer_id)
        if not found.erased:
            tombstone = found.model_copy(update={"erased": True, "erased_at": utc_now()})
            event = await _prepare(tombstone, webhooks.CUSTOMER_ERASED, (True,))
    await erase_customer_record(project_id, customer_id)
    await webhooks.confirm_event(event)
    await segments.forget_customer(project_id=project_id, customer_id=customer_id)
    await audit.record(project_id, "customer.erased", customer_id, actor)
    return await get_customer(project_id, customer_id)
