"""Creating and erasing a customer: the steps that reach events and segments, which build on
domain.customers and so are called from above it."""

from domain import audit, events, segments
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
    return customer


async def erase_customer(project_id: str, customer_id: str, actor: str) -> Customer:
    """GDPR erasure: personal fields go, a tombstone and an audit entry stay."""
    await erase_customer_record(project_id, customer_id)
    await segments.forget_customer(project_id=project_id, customer_id=customer_id)
    await audit.record(project_id, "customer.erased", customer_id, actor)
    return await get_customer(project_id, customer_id)
