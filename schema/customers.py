"""GraphQL for customers and customer tokens."""

import typing
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from domain import customer_lifecycle, customers
from domain.errors import NotFound
from schema.context import Info
from schema.described_enums import described_enum
from schema.errors import payload
from schema.permissions import IsAdmin
from schema.types import JSON, Connection, UserError, connection


@described_enum(
    description="A channel a customer consents to be contacted on.",
    values={
        "EMAIL": "Marketing email.",
        "SMS": "Marketing SMS.",
    },
)
class ConsentChannel(Enum):
    EMAIL = "EMAIL"
    SMS = "SMS"


@strawberry.type(
    description=(
        "Whether the customer currently consents to marketing on each channel; a message on a "
        "channel without consent is recorded as SUPPRESSED, never sent."
    ),
)
class Consents:
    email: bool = strawberry.field(description="Consents to marketing email.")
    sms: bool = strawberry.field(description="Consents to marketing SMS.")


@strawberry.type(
    description="One change of a customer's consent, kept as evidence.",
)
class ConsentChange:
    channel: ConsentChannel = strawberry.field(description="The channel whose consent changed.")
    granted: bool = strawberry.field(
        description="True when consent was given, false when withdrawn."
    )
    at: datetime = strawberry.field(description="When it changed, UTC ISO 8601.")
    source: str = strawberry.field(
        description=(
            "Who or what changed it, such as `api_key:<id>` (an API call), an "
            "unsubscribe link or an SMS STOP reply."
        )
    )


@strawberry.type(
    description=(
        "The customer's order totals, kept up to date by recorded orders (paid ones count; "
        "cancelled and refunded ones are taken back)."
    ),
)
class OrderMetrics:
    orders_count: int = strawberry.field(description="How many orders count for the customer.")
    total_spent: int = strawberry.field(
        description=(
            "The sum of those orders in minor units; orders in several currencies add "
            "up their minor units as they are."
        )
    )
    first_order_at: datetime | None = strawberry.field(
        description="When the first counted order was placed, UTC ISO 8601; null without orders."
    )
    last_order_at: datetime | None = strawberry.field(
        description="When the latest counted order was placed, UTC ISO 8601; null without orders."
    )


@strawberry.type(
    name="Rfm",
    description=(
        "Recency, frequency and monetary scores of the customer among the project's buyers, "
        "as of computedAt."
    ),
)
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
    computed_at: datetime = strawberry.field(
        description="When the scores were computed, UTC ISO 8601."
    )


@strawberry.type(
    name="Customer",
    description=(
        "A customer of the project. Every field is personal data: readable by admin keys and "
        "by the customer's own token; POS keys read only `id`."
    ),
)
class CustomerType:
    id: strawberry.ID = strawberry.field(description="The customer's id.")
    source_id: str | None = strawberry.field(
        description=(
            "The customer's id in the shop's own system, unique in the project (1 to "
            "200 characters); null when not given."
        )
    )
    email: str | None = strawberry.field(
        description=(
            "The email address, normalized to lower case; null when none (and after erasure)."
        )
    )
    phone: str | None = strawberry.field(
        description="The phone number in E.164 format (such as +33612345678); null when none."
    )
    name: str = strawberry.field(description='The customer\'s name; "" when none.')
    attributes: JSON = strawberry.field(
        description=(
            "A JSON object of the shop's own data about the customer (at most 16,000 "
            "characters); campaign rules and segments match on it."
        )
    )
    tags: list[str] = strawberry.field(description="Lower-case tags, sorted, at most 50.")
    consents: Consents = strawberry.field(
        description="Whether the customer consents to marketing email and SMS now."
    )
    consent_log: list[ConsentChange] = strawberry.field(
        description="Every consent change, oldest first."
    )
    order_metrics: OrderMetrics = strawberry.field(description="The customer's order totals.")
    rfm: RfmType | None = strawberry.field(
        description="Null until the RFM job has scored the customer."
    )
    created_at: datetime = strawberry.field(
        description="When the customer was created, UTC ISO 8601."
    )
    updated_at: datetime = strawberry.field(
        description="When the customer last changed, UTC ISO 8601."
    )
    erased: bool = strawberry.field(
        description=(
            "Whether the customer was erased: personal fields are emptied and only "
            "this tombstone stays."
        )
    )
    erased_at: datetime | None = strawberry.field(
        description="When the customer was erased, UTC ISO 8601; null unless erased."
    )

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


@strawberry.input(
    description=(
        "Consent changes; a left-out channel keeps its consent. Each change is logged in "
        "consentLog."
    ),
)
class ConsentsInput:
    email: bool | None = strawberry.field(
        default=None, description="True grants marketing email consent, false withdraws it."
    )
    sms: bool | None = strawberry.field(
        default=None, description="True grants marketing SMS consent, false withdraws it."
    )


@strawberry.input(
    description="A customer's data. On update only the fields given change.",
)
class CustomerInput:
    source_id: str | None = strawberry.field(
        default=None,
        description=(
            "The customer's id in the shop's own system: 1 to 200 characters, unique "
            "in the project."
        ),
    )
    email: str | None = strawberry.field(
        default=None, description=('An email address (normalized to lower case); "" clears it.')
    )
    phone: str | None = strawberry.field(
        default=None,
        description=(
            "A phone number in international format, such as +33612345678 (stored as "
            'E.164); "" clears it.'
        ),
    )
    name: str | None = strawberry.field(
        default=None, description="The customer's name (cut to 200 characters)."
    )
    attributes: JSON | None = strawberry.field(
        default=None,
        description=(
            "A JSON object of the shop's own data, at most 16,000 characters; keys "
            "cannot be empty, start with `$` or hold a dot. Replaces the stored "
            "object."
        ),
    )
    tags: list[str] | None = strawberry.field(
        default=None,
        description="Tags, at most 50; stored lower-case and sorted. Replaces the stored tags.",
    )
    consents: ConsentsInput | None = strawberry.field(
        default=None, description="Consent changes per channel."
    )

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


@strawberry.input(
    description="Which customers to list; the conditions given must all match.",
)
class CustomerFilter:
    email: str | None = strawberry.field(
        default=None, description="Only the customer(s) with this email address (any case)."
    )
    phone: str | None = strawberry.field(
        default=None,
        description="Only the customer(s) with this phone number, in international format.",
    )
    tag: str | None = strawberry.field(
        default=None, description="Only customers with this tag (any case)."
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Only customers created at or after this time, ISO 8601."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Only customers created before this time, ISO 8601."
    )
    include_erased: bool = strawberry.field(
        default=False, description="Whether erased customers (tombstones) are listed too."
    )


@strawberry.type(
    description="The result of a customer mutation: the customer, or what was wrong.",
)
class CustomerPayload:
    customer: CustomerType | None = strawberry.field(
        default=None,
        description="The customer as stored after the mutation; null when `errors` is not empty.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type(
    description="The result of issueCustomerToken: the token, or what was wrong.",
)
class CustomerTokenPayload:
    token: str | None = strawberry.field(
        default=None,
        description=(
            "The customer token, shown once (only its hash is stored); valid for 30 "
            "days. Send it as the bearer token to act as the customer (`me`). Null "
            "when `errors` is not empty."
        ),
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What was wrong with the request; empty on success."
    )


@strawberry.type
class CustomerQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description=(
            "One customer by id or by sourceId; null when not found or when neither is given."
        ),
    )
    async def customer(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The customer's id.")
        ] = None,
        source_id: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "The customer's id in the shop's own system (used when `id` is not given)."
                )
            ),
        ] = None,
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

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The project's customers, oldest first.",
    )
    async def customers(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many customers to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
        filter: Annotated[
            CustomerFilter | None,
            strawberry.argument(
                description="Which customers to list; null lists every customer not erased."
            ),
        ] = None,
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
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Creates a customer; it may start automations on customer.created.",
    )
    @payload
    async def create_customer(
        self,
        info: Info,
        input: Annotated[CustomerInput, strawberry.argument(description="The customer's data.")],
    ) -> CustomerPayload:
        customer = await customer_lifecycle.create_customer(
            info.context.project_id, input.to_domain(), source=info.context.caller.actor
        )
        return CustomerPayload(customer=CustomerType.from_doc(customer))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Changes the fields given of a customer.",
    )
    @payload
    async def update_customer(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The customer's id.")],
        input: Annotated[
            CustomerInput,
            strawberry.argument(
                description="The fields to change; left-out fields keep their value."
            ),
        ],
    ) -> CustomerPayload:
        customer = await customers.update_customer(
            info.context.project_id, str(id), input.to_domain(), source=info.context.caller.actor
        )
        return CustomerPayload(customer=CustomerType.from_doc(customer))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description=(
            "Erases a customer's personal data for good (GDPR); a tombstone and an audit entry "
            "stay."
        ),
    )
    @payload
    async def erase_customer(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The customer's id.")],
    ) -> CustomerPayload:
        customer = await customer_lifecycle.erase_customer(
            info.context.project_id, str(id), actor=info.context.caller.actor
        )
        return CustomerPayload(customer=CustomerType.from_doc(customer))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Issues a token that lets the customer read their own data through `me`.",
    )
    @payload
    async def issue_customer_token(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The customer the token is for; not an erased one."),
        ],
    ) -> CustomerTokenPayload:
        token = await customers.issue_customer_token(info.context.project_id, str(customer_id))
        return CustomerTokenPayload(token=token)
