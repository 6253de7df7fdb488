"""Console helpers the tests share: users, signing in over HTTP, reading form tokens."""

import re
from dataclasses import dataclass
from typing import Any

import httpx

from domain import console

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a console page."""
    found = _TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class ConsoleUser:
    email: str
    password: str
    user: console.ConsoleUser


async def make_console_user(
    *, project_id: str, email: str = "owner@shop.test", role: str = "OWNER"
) -> ConsoleUser:
    issued = await console.create_user(project_id=project_id, email=email, role=role)
    return ConsoleUser(email=issued.user.email, password=issued.password, user=issued.user)


async def sign_in(
    http: httpx.AsyncClient, email: str, password: str, next: str = ""
) -> httpx.Response:
    """Opens the sign-in page and sends the form; returns the answer to the POST."""
    page = await http.get("/console/sign-in")
    return await http.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": password, "next": next},
    )


async def signed_in_as(http: httpx.AsyncClient, account: ConsoleUser) -> str:
    """Signs in and returns the session's CSRF token for forms."""
    answer = await sign_in(http, account.email, account.password)
    assert answer.status_code == 303, answer.text
    return csrf_of((await http.get("/console/")).text)


SEED = """
mutation ($campaign: CampaignInput!, $program: CampaignInput!, $customer: CustomerInput!,
          $segment: SegmentInput!) {
  createCampaign(input: $campaign) { campaign { id } errors { code field } }
  program: createCampaign(input: $program) { campaign { id } errors { code field } }
  createCustomer(input: $customer) { customer { id } errors { code field } }
  createSegment(input: $segment) { segment { id } errors { code field } }
}"""
PUBLISH = """
mutation ($campaignId: ID!, $customerId: ID!, $segmentId: ID!, $order: RecordOrderInput!) {
  publishCode(campaignId: $campaignId, customerId: $customerId, channel: EMAIL) {
    code { code display } errors { code }
  }
  addSegmentMembers(segmentId: $segmentId, customerIds: [$customerId]) { errors { code } }
  recordOrder(input: $order) { errors { code field } }
}"""
REDEEM = """
mutation ($code: String!, $customerId: ID!) {
  redeemCode(code: $code, customerId: $customerId, idempotencyKey: "till-1",
             order: {id: "web-1", amount: {amount: 8000, currency: "EUR"}}) {
    redemption { id } errors { code }
  }
}"""


@dataclass
class Shop:
    customer_id: str
    campaign_id: str
    code: str


async def seed_shop(gql: Any) -> Shop:
    """Through the API: a campaign, a loyalty program, Ada (consenting to email) with a
    published and redeemed code, an 80 EUR order earning points, and a static segment."""
    made = await gql(
        SEED,
        {
            "campaign": {
                "name": "Spring sale",
                "discount": {"type": "PERCENT", "percentOff": 15},
                "timezone": "Europe/Paris",
                "codes": {"pattern": "SPRING-####"},
            },
            "program": {"name": "Club points", "kind": "LOYALTY", "loyalty": {"expiryDays": 365}},
            "customer": {
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "phone": "+33612345678",
                "sourceId": "shop-42",
                "consents": {"email": True, "sms": False},
            },
            "segment": {"name": "VIP", "kind": "STATIC"},
        },
    )
    for part in made.values():
        assert part["errors"] == [], made
    campaign_id = made["createCampaign"]["campaign"]["id"]
    customer_id = made["createCustomer"]["customer"]["id"]
    published = await gql(
        PUBLISH,
        {
            "campaignId": campaign_id,
            "customerId": customer_id,
            "segmentId": made["createSegment"]["segment"]["id"],
            "order": {
                "id": "web-1",
                "customerId": customer_id,
                "amount": {"amount": 8000, "currency": "EUR"},
            },
        },
    )
    code = published["publishCode"]["code"]["display"]
    redeemed = await gql(REDEEM, {"code": code, "customerId": customer_id})
    assert redeemed["redeemCode"]["errors"] == [], redeemed
    return Shop(customer_id=customer_id, campaign_id=campaign_id, code=code)
