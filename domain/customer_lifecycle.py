"""Creating and erasing a customer: the steps that reach events and segments, which build on
domain.customers and so are called from above it."""

from domain import audit, events, segments, webhooks
from domain.common import utc_now
from domain.customers import (
    Customer,
    CustomerInput,
    erase_customer_record,
    get_customer,
    insert_customer,
)


async def create_customer(project_id: str, data: CustomerInput, source: str) -> Customer:
    customer = await insert_customer(project_id, data, source)
    await events.emit(project_id, customer.key, events.CUSTOMER_CREATED, at=customer.created_at)
    await _emit(customer, webhooks.CUSTOMER_CREATED)
    return customer


async def _emit(customer: Customer, event_type: str) -> None:
    await webhooks.emit(
        project_id=customer.project_id,
        event_type=event_type,
        object_key=f"customer:{customer.id}",
        data=webhooks.objects.customer(customer),
        dedupe_key=f"{event_type}:{customer.id}",
    )


async def erase_customer(project_id: str, customer_id: str, actor: str) -> Customer:
    """GDPR erasure: personal fields go, a tombstone and an audit entry stay."""
    event = None
    if await webhooks.listens(project_id=project_id, event_type=webhooks.CUSTOMER_ERASED):
        # Written before the erasure and confirmed after it, so a crash cannot lose it.
        found = await get_customer(project_id, customer_id)
        if not found.erased:
            event = await webhooks.prepare_event(
                project_id=project_id,
                event_type=webhooks.CUSTOMER_ERASED,
                object_key=f"customer:{found.id}",
                data=webhooks.objects.customer(
                    found.model_copy(update={"erased": True, "erased_at": utc_now()})
                ),
                dedupe_key=f"{webhooks.CUSTOMER_ERASED}:{found.id}",
                change=webhooks.Change(
                    collection=Customer.get_collection_name(),
                    document_id=found.key,
                    field="erased",
                    values=(True,),
                ),
            )
    await erase_customer_record(project_id, customer_id)
    await webhooks.confirm_event(event)
    await segments.forget_customer(project_id=project_id, customer_id=customer_id)
    await audit.record(project_id, "customer.erased", customer_id, actor)
    return await get_customer(project_id, customer_id)
