"""Creating and erasing a customer: the steps that reach events and segments, which build on
domain.customers and so are called from above it."""

import dataclasses

from domain import audit, events, segments
from domain.customers import (
    Customer,
    CustomerError,
    CustomerInput,
    erase_customer_record,
    get_customer,
    insert_customer,
    update_customer,
)
from domain.errors import CommonError, DomainError


async def create_customer(project_id: str, data: CustomerInput, source: str) -> Customer:
    customer = await insert_customer(project_id, data, source)
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


async def erase_customer(project_id: str, customer_id: str, actor: str) -> Customer:
    """GDPR erasure: personal fields go, a tombstone and an audit entry stay."""
    await erase_customer_record(project_id, customer_id)
    await segments.forget_customer(project_id=project_id, customer_id=customer_id)
    await audit.record(project_id, "customer.erased", customer_id, actor)
    return await get_customer(project_id, customer_id)
