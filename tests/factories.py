"""Builders the tests share: tenants, campaigns, codes, customers and programs, keyword-only."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from domain import projects
from domain.campaigns import (
    Campaign,
    CampaignInput,
    CampaignKind,
    Discount,
    DiscountType,
    Limits,
    ReferralConfigInput,
    ReferrerRewardInput,
    create_campaign,
)
from domain.codes import Code, normalize_code
from domain.common import Money
from domain.customers import Consents, Customer
from domain.loyalty_config import LoyaltyConfig
from domain.orders import OrderInput

TEN_PERCENT = Discount(type=DiscountType.PERCENT, percent_off=10)
COUPON_ENDS_AT = datetime(2099, 6, 30, 21, 59, tzinfo=UTC)

CREATE_CAMPAIGN = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) { campaign { id } errors { code field message } }
}"""
CREATE_CUSTOMER = """
mutation ($input: CustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code field message } }
}"""


@dataclass
class GraphQLClient:
    """Sends GraphQL over the app's real HTTP stack with one bearer token."""

    http: httpx.AsyncClient
    token: str | None

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """Returns `data`; fails the test on any top-level GraphQL error."""
        response = await self.raw(query, variables)
        body = response.json()
        assert response.status_code == 200, body
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def as_token(self, token: str | None) -> "GraphQLClient":
        return GraphQLClient(http=self.http, token=token)


@dataclass
class Tenant:
    project: projects.Project
    admin_key: str
    gql: GraphQLClient

    @property
    def project_id(self) -> str:
        return self.project.key


async def make_tenant(*, http: httpx.AsyncClient, name: str) -> Tenant:
    project, issued = await projects.create_project(name)
    return Tenant(project=project, admin_key=issued.secret, gql=GraphQLClient(http, issued.secret))


async def make_pos_key(*, tenant: Tenant) -> str:
    """A new POS key of the tenant's project, as the till would send it."""
    return (await projects.create_api_key(tenant.project_id, projects.Role.POS, "till 1")).secret


def eur(amount: int) -> Money:
    return Money(amount=amount, currency="EUR")


def eur_input(amount: int) -> dict[str, Any]:
    """The same amount as a GraphQL `MoneyInput`."""
    return {"amount": amount, "currency": "EUR"}


async def make_campaign(
    *,
    project_id: str,
    name: str = "Summer",
    discount: Discount | None = TEN_PERCENT,
    timezone: str = "Europe/Paris",
    **fields: Any,
) -> Campaign:
    """A discount campaign stored as it is, without the checks of create_campaign."""
    campaign = Campaign(
        project_id=project_id, name=name, discount=discount, timezone=timezone, **fields
    )
    await campaign.insert()
    return campaign


async def make_loyalty_program(*, project_id: str, **config: Any) -> Campaign:
    program = Campaign(
        project_id=project_id,
        name="Points",
        kind=CampaignKind.LOYALTY,
        loyalty=LoyaltyConfig(**config),
    )
    await program.insert()
    return program


@dataclass(frozen=True)
class ReferralProgram:
    id: str
    welcome_id: str
    reward_id: str


async def make_referral_program(*, project_id: str, **referral: Any) -> ReferralProgram:
    """A program whose welcome and reward are codes of two discount campaigns. The reward
    campaign allows several codes per customer, so a reward given twice would show."""
    welcome = await make_campaign(project_id=project_id, name="Welcome", limits=Limits(per_code=1))
    reward = await make_campaign(project_id=project_id, name="Thanks", codes_per_customer=5)
    settings: dict[str, Any] = {
        "landing_url": "https://shop.example/join?lang=fr",
        "welcome_campaign_id": welcome.key,
        "referrer_reward": ReferrerRewardInput(discount_campaign_id=reward.key),
    }
    settings.update(referral)
    program = await create_campaign(
        project_id=project_id,
        data=CampaignInput(
            name="Bring a friend",
            kind=CampaignKind.REFERRAL,
            referral=ReferralConfigInput(**settings),
        ),
    )
    return ReferralProgram(program.key, welcome.key, reward.key)


async def make_code(*, campaign: Campaign, display: str = "SUMMER-20", **fields: Any) -> Code:
    code = Code(
        project_id=campaign.project_id,
        code=normalize_code(display),
        display=display,
        campaign_id=campaign.key,
        **fields,
    )
    await code.insert()
    return code


async def make_pool(*, campaign: Campaign, displays: Sequence[str]) -> list[Code]:
    """Unassigned codes in the campaign's pool, in the order given."""
    return [await make_code(campaign=campaign, display=d, pool=campaign.key) for d in displays]


async def make_customer(*, project_id: str, **fields: Any) -> Customer:
    customer = Customer(project_id=project_id, **fields)
    await customer.insert()
    return customer


def audience_member(*, project_id: str, index: int, **fields: Any) -> Customer:
    """Customer `index` of an audience, not stored: every fourth has no phone, every third no
    email consent, odd ones no SMS consent, every tenth the tag "vip"."""
    i = index
    values: dict[str, Any] = {
        "project_id": project_id,
        "name": f"Customer {i}",
        "email": f"c{i}@example.com",
        "phone": None if i % 4 == 0 else f"+336{i:08d}",
        "consents": Consents(email=i % 3 != 0, sms=i % 2 == 0),
        "tags": ["vip"] if i % 10 == 0 else [],
    }
    values.update(fields)
    return Customer(**values)


async def insert_customers(customers: list[Customer]) -> None:
    """Stores the customers in one insert_many and gives each its id."""
    result = await Customer.insert_many(customers)
    for customer, inserted in zip(customers, result.inserted_ids, strict=True):
        customer.id = inserted


async def make_shopper(*, project_id: str, name: str = "Ada") -> Customer:
    """A customer reachable by email only, at <name>@example.com."""
    return await make_customer(
        project_id=project_id,
        name=name,
        email=f"{name.lower()}@example.com",
        consents={"email": True, "sms": False},
    )


async def make_customers(*, project_id: str, count: int, erased_every: int = 0) -> list[Customer]:
    """An audience of `count` (see audience_member); with `erased_every`, every n-th is erased."""
    customers = [audience_member(project_id=project_id, index=i) for i in range(count)]
    for i, customer in enumerate(customers):
        if erased_every and i % erased_every == erased_every - 1:
            # What erasure leaves: a tombstone without address or consent.
            customer.email = customer.phone = None
            customer.consents = Consents()
            customer.erased = True
    await insert_customers(customers)
    return customers


def order_input(
    *, order_id: str = "web-1", customer: Customer | None = None, **fields: Any
) -> OrderInput:
    """A 50 EUR order, the customer's when one is given."""
    values: dict[str, Any] = {"amount": eur(5_000)}
    values.update(fields)
    return OrderInput(order_id=order_id, customer_id=customer.key if customer else "", **values)


async def make_coupon(
    *, project_id: str, display: str = "SPRING-AB12", redeemed: int = 0, **campaign: Any
) -> tuple[Campaign, Code]:
    """A code of its own campaign: 15% off, three uses per code, ending in 2099, Paris time."""
    values: dict[str, Any] = {
        "name": "Spring sale",
        "discount": Discount(type=DiscountType.PERCENT, percent_off=15),
        "limits": Limits(per_code=3),
        "ends_at": COUPON_ENDS_AT,
        "timezone": "Europe/Paris",
        "terms": "One use per visit.",
    }
    values.update(campaign)
    stored = await make_campaign(project_id=project_id, **values)
    code = await make_code(campaign=stored, display=display, redeemed_count=redeemed)
    return stored, code


async def create_campaign_over_graphql(*, tenant: Tenant, **input: Any) -> str:
    """A campaign made through `createCampaign` (10% off unless told); returns its id."""
    values = {"name": "Spring", "discount": {"type": "PERCENT", "percentOff": 10}, **input}
    created = (await tenant.gql(CREATE_CAMPAIGN, {"input": values}))["createCampaign"]
    assert created["errors"] == [], created["errors"]
    return str(created["campaign"]["id"])


async def create_customer_over_graphql(*, tenant: Tenant, **input: Any) -> str:
    """A customer made through `createCustomer`; returns its id."""
    created = (await tenant.gql(CREATE_CUSTOMER, {"input": input}))["createCustomer"]
    assert created["errors"] == [], created["errors"]
    return str(created["customer"]["id"])
