"""GraphQL for customers and customer tokens."""

import typing
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from domain import customer_lifecycle, customers
from domain.errors import NotFound
from schema.context import Info
from schema.errors import payload
from schema.permissions import IsAdmin
from schema.types import JSON, Connection, UserError, connection


@strawberry.enum
class ConsentChannel(Enum):
    EMAIL = "EMAIL"
    SMS = "SMS"


@strawberry.type
class Consents:
    email: bool
    sms: bool


@strawberry.type
class ConsentChange:
    channel: ConsentChannel
    granted: bool
    at: datetime
    source: str


@strawberry.type
class OrderMetrics:
    orders_count: int
    total_spent: int
    first_order_at: datetime | None
    last_order_at: datetime | None


@strawberry.type(name="Rfm")
class RfmType:
    recency: int = strawberry.field(
        description="1-5, 5 for the most recent buyers (ties share the best score); "
        "0 without orders."
    )
    frequency: int = strawberry.field(
        description="1-5 by orders count, 5 for the most orders (ties share the best score); "
        "0 without orders."
    )
    monetary: int = strawberry.field(
        description="1-5 by total spent, 5 for the most spent (ties share the best score); "
        "0 without orders."
    )
    group: str = strawberry.field(
        description="champions, loyal, potential_loyalists, new, promising, needs_attention, "
        "about_to_sleep, at_risk, cannot_lose_them, hibernating, lost; prospect without orders."
    )
    computed_at: datetime


@strawberry.type(name="Customer")
class CustomerType:
    id: strawberry.ID
    source_id: str | None
    email: str | None
    phone: str | None
    name: str
    attributes: JSON
    tags: list[str]
    consents: Consents
    consent_log: list[ConsentChange]
    order_metrics: OrderMetrics
    rfm: RfmType | None = strawberry.field(
        description="Null until the RFM job has scored the customer."
    )
    created_at: datetime
    updated_at: datetime
    erased: bool
    erased_at: datetime | None

    def personal_data_owner(self) -> str:
        return str(self.id)

    @classmethod
    def from_doc(cls, doc: customers.Customer) -> "CustomerType":
        return cls(
            id=strawberry.ID(doc.key),
            source_id=doc.source_id,
            email=doc.email,
            phone=doc.phone,
            name=doc.name,
            attributes=typing.cast(JSON, doc.attributes),
            tags=doc.tags,
            consents=Consents(email=doc.consents.email, sms=doc.consents.sms),
            consent_log=[
                ConsentChange(
                    channel=ConsentChannel(c.channel.value),
                    granted=c.granted,
                    at=c.at,
                    source=c.source,
                )
                for c in doc.consent_log
            ],
            order_metrics=OrderMetrics(**doc.metrics.model_dump()),
            rfm=None
            if doc.rfm.computed_at is None
            else RfmType(
                recency=doc.rfm.recency,
                frequency=doc.rfm.frequency,
                monetary=doc.rfm.monetary,
                group=doc.rfm.group,
                computed_at=doc.rfm.computed_at,
            ),
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            erased=doc.erased,
            erased_at=doc.erased_at,
        )

    @classmethod
    async def load(cls, info: Info, customer_id: str) -> "CustomerType | None":
        """The customer through the request's DataLoader; None for "" or an unknown id."""
        if not customer_id:
            return None
        found = await info.context.loaders.customer.load(customer_id)
        return None if found is None else cls.from_doc(found)


@strawberry.input
class ConsentsInput:
    email: bool | None = None
    sms: bool | None = None


@strawberry.input
class CustomerInput:
    source_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    attributes: JSON | None = None
    tags: list[str] | None = None
    consents: ConsentsInput | None = None

    def to_domain(self) -> customers.CustomerInput:
        consents = None
        if self.consents is not None:
            consents = customers.ConsentsInput(email=self.consents.email, sms=self.consents.sms)
        attributes: Any = self.attributes
        return customers.CustomerInput(
            source_id=self.source_id,
            email=self.email,
            phone=self.phone,
            name=self.name,
            attributes=attributes,
            tags=self.tags,
            consents=consents,
        )


@strawberry.input
class CustomerFilter:
    email: str | None = None
    phone: str | None = None
    tag: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    include_erased: bool = False


@strawberry.type
class CustomerPayload:
    customer: CustomerType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerTokenPayload:
    token: str | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerQuery:
    @strawberry.field(permission_classes=[IsAdmin])
    async def customer(
        self, info: Info, id: strawberry.ID | None = None, source_id: str | None = None
    ) -> CustomerType | None:
        project_id = info.context.project_id
        try:
            if id is not None:
                found = await customers.get_customer(project_id, str(id))
            elif source_id is not None:
                found = await customers.get_customer_by_source_id(project_id, source_id)
            else:
                return None
        except NotFound:
            return None
        return CustomerType.from_doc(found)

    @strawberry.field(permission_classes=[IsAdmin])
    async def customers(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        filter: CustomerFilter | None = None,
    ) -> Connection[CustomerType]:
        wanted = filter or CustomerFilter()
        page = await customers.list_customers(
            info.context.project_id,
            customers.CustomerFilter(
                email=wanted.email,
                phone=wanted.phone,
                tag=wanted.tag,
                created_after=wanted.created_after,
                created_before=wanted.created_before,
                include_erased=wanted.include_erased,
            ),
            first,
            after,
        )
        return connection(page, CustomerType.from_doc)


@strawberry.type
class CustomerMutation:
    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def create_customer(self, info: Info, input: CustomerInput) -> CustomerPayload:
        customer = await customer_lifecycle.create_customer(
            info.context.project_id, input.to_domain(), source=info.context.caller.actor
        )
        return CustomerPayload(customer=CustomerType.from_doc(customer))

    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def update_customer(
        self, info: Info, id: strawberry.ID, input: CustomerInput
    ) -> CustomerPayload:
        customer = await customers.update_customer(
            info.context.project_id, str(id), input.to_domain(), source=info.context.caller.actor
        )
        return CustomerPayload(customer=CustomerType.from_doc(customer))

    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def erase_customer(self, info: Info, id: strawberry.ID) -> CustomerPayload:
        customer = await customer_lifecycle.erase_customer(
            info.context.project_id, str(id), actor=info.context.caller.actor
        )
        return CustomerPayload(customer=CustomerType.from_doc(customer))

    @strawberry.mutation(permission_classes=[IsAdmin])
    @payload
    async def issue_customer_token(
        self, info: Info, customer_id: strawberry.ID
    ) -> CustomerTokenPayload:
        token = await customers.issue_customer_token(info.context.project_id, str(customer_id))
        return CustomerTokenPayload(token=token)
