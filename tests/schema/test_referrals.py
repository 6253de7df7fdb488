"""Referral programs over GraphQL and the /r/ link: who may call what, idempotent links,
recorded clicks without raw IPs, and projects kept apart."""

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.applications import Starlette

from api.settings import Settings
from domain.customers import issue_customer_token
from domain.projects import Role, create_api_key
from domain.referrals import ReferralClick, ReferralCode, hash_ip
from tests.factories import Tenant, make_campaign, make_customer

CREATE = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) {
    campaign { id kind referral { landingUrl welcomeCampaignId holdDays maxReferralsPerReferrer
               minOrder { amount currency } referrerReward { discountCampaignId points } } }
    errors { code field message }
  }
}"""
LINK = """
mutation ($customerId: ID!, $campaignId: ID!) {
  referralLink(customerId: $customerId, campaignId: $campaignId) {
    code url clicks errors { code field }
  }
}"""
APPLY = """
mutation ($code: String!, $customerId: ID!) {
  applyReferralCode(code: $code, customerId: $customerId) {
    referral { id status code referrer { id } referee { id } }
    errors { code field message }
  }
}"""
REFERRALS = """
query ($campaignId: ID!, $referrerId: ID) {
  referrals(campaignId: $campaignId, referrerId: $referrerId) {
    edges { node { id status code qualifiedAt releaseAt rewardedAt cancelledAt
                   referrer { id } referee { id } } }
    totalCount
  }
  referralStats(campaignId: $campaignId) {
    clicks referrals pending qualified rewarded cancelled
  }
}"""
RECORD = """
mutation ($input: RecordOrderInput!) {
  recordOrder(input: $input) { order { id } errors { code } }
}"""


async def create_program(tenant: Tenant, **referral: Any) -> str:
    welcome = await make_campaign(project_id=tenant.project_id, name="Welcome")
    reward = await make_campaign(project_id=tenant.project_id, name="Thanks")
    config = {
        "landingUrl": "https://shop.example/join?lang=fr&ref=old",
        "welcomeCampaignId": welcome.key,
        "referrerReward": {"discountCampaignId": reward.key},
        "minOrder": {"amount": 2_000, "currency": "eur"},
        "holdDays": 14,
        **referral,
    }
    data = await tenant.gql(
        CREATE, {"input": {"name": "Friends", "kind": "REFERRAL", "referral": config}}
    )
    created = data["createCampaign"]
    assert created["errors"] == []
    assert created["campaign"]["referral"]["minOrder"] == {"amount": 2_000, "currency": "EUR"}
    assert created["campaign"]["referral"]["referrerReward"]["discountCampaignId"] == reward.key
    return str(created["campaign"]["id"])


async def link_of(tenant: Tenant, customer_id: str, campaign_id: str) -> dict[str, Any]:
    data = await tenant.gql(LINK, {"customerId": customer_id, "campaignId": campaign_id})
    return dict(data["referralLink"])


async def test_a_referral_campaign_needs_its_landing_url(tenant: Tenant) -> None:
    data = await tenant.gql(CREATE, {"input": {"name": "Friends", "kind": "REFERRAL"}})

    assert data["createCampaign"]["errors"][0]["field"] == "referral.landingUrl"
    wrong = await tenant.gql(
        CREATE,
        {"input": {"name": "Coupons", "referral": {"landingUrl": "https://x.example"}}},
    )
    assert {"code": "NOT_APPLICABLE", "field": "referral"} in [
        {"code": e["code"], "field": e["field"]} for e in wrong["createCampaign"]["errors"]
    ]


async def test_twenty_concurrent_link_requests_give_one_code_and_url(tenant: Tenant) -> None:
    program = await create_program(tenant)
    referrer = await make_customer(project_id=tenant.project_id)

    links = await asyncio.gather(*(link_of(tenant, referrer.key, program) for _ in range(20)))

    assert {link["code"] for link in links} == {links[0]["code"]}
    assert links[0]["url"] == f"http://testserver/r/{links[0]['code']}"
    assert await ReferralCode.find({"project_id": tenant.project_id}).count() == 1


async def test_the_link_records_the_click_and_redirects_with_ref(
    tenant: Tenant, http: httpx.AsyncClient, settings: Settings
) -> None:
    program = await create_program(tenant)
    referrer = await make_customer(project_id=tenant.project_id)
    link = await link_of(tenant, referrer.key, program)

    response = await http.get(
        f"/r/{link['code'].lower()}", headers={"User-Agent": "Phone/1.0 " + "x" * 1_000}
    )

    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    target = urlsplit(response.headers["location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "shop.example", "/join")
    assert parse_qsl(target.query) == [("lang", "fr"), ("ref", link["code"])]
    clicks = await ReferralClick.find({"project_id": tenant.project_id}).to_list()
    assert len(clicks) == 1
    # httpx's ASGI transport presents the client as 127.0.0.1.
    assert clicks[0].ip_hash == hash_ip(ip="127.0.0.1", secret_key=settings.secret_key)
    assert clicks[0].user_agent.startswith("Phone/1.0") and len(clicks[0].user_agent) == 300
    stored = await ReferralClick.get_pymongo_collection().find_one({})
    assert "127.0.0.1" not in repr(stored)
    assert (await link_of(tenant, referrer.key, program))["clicks"] == 1


async def test_a_paused_program_lands_the_visitor_without_a_code(
    tenant: Tenant, http: httpx.AsyncClient
) -> None:
    program = await create_program(tenant)
    link = await link_of(tenant, (await make_customer(project_id=tenant.project_id)).key, program)
    pause = "mutation ($id: ID!) { pauseCampaign(id: $id) { errors { code } } }"
    assert (await tenant.gql(pause, {"id": program}))["pauseCampaign"]["errors"] == []

    response = await http.get(f"/r/{link['code']}")

    assert response.status_code == 302
    assert parse_qsl(urlsplit(response.headers["location"]).query) == [("lang", "fr")]


async def test_unknown_links_go_to_the_fallback_page_when_one_is_set(
    app: Starlette, http: httpx.AsyncClient, settings: Settings
) -> None:
    fallback = "https://shop.example/welcome"
    app.state.settings = settings.model_copy(update={"referral_fallback_url": fallback})

    response = await http.get("/r/NOSUCHCODE")

    assert (response.status_code, response.headers["location"]) == (302, fallback)
    assert await ReferralClick.find({}).count() == 0


async def test_unknown_links_answer_the_not_found_page(http: httpx.AsyncClient) -> None:
    response = await http.get("/r/NOSUCHCODE")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert await ReferralClick.find({}).count() == 0


async def test_a_customer_token_applies_a_code_for_itself_only(tenant: Tenant) -> None:
    program = await create_program(tenant)
    referrer = await make_customer(project_id=tenant.project_id)
    me = await make_customer(project_id=tenant.project_id)
    someone = await make_customer(project_id=tenant.project_id)
    code = (await link_of(tenant, referrer.key, program))["code"]
    customer = tenant.gql.as_token(await issue_customer_token(tenant.project_id, me.key))
    pos = tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS)).secret)

    for caller, target in ((customer, someone.key), (pos, me.key)):
        body = (await caller.raw(APPLY, {"code": code, "customerId": target})).json()
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    body = (await customer.raw(LINK, {"customerId": someone.key, "campaignId": program})).json()
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    body = (await customer.raw(REFERRALS, {"campaignId": program})).json()
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}

    body = (await customer.raw(APPLY, {"code": code, "customerId": me.key})).json()
    applied = body["data"]["applyReferralCode"]
    assert applied["errors"] == []
    assert applied["referral"]["status"] == "PENDING"
    # The referee's token sees itself, never its referrer.
    assert applied["referral"]["referee"] == {"id": me.key}
    assert applied["referral"]["referrer"] is None
    assert [(e["path"], e["extensions"]) for e in body["errors"]] == [
        (["applyReferralCode", "referral", "referrer"], {"code": "FORBIDDEN"})
    ]
    assert (await customer(LINK, {"customerId": me.key, "campaignId": program}))["referralLink"][
        "code"
    ]


async def test_refusals_come_back_as_typed_errors(tenant: Tenant) -> None:
    program = await create_program(tenant)
    referrer = await make_customer(project_id=tenant.project_id, email="ann@example.com")
    twin = await make_customer(project_id=tenant.project_id, email="ann@example.com")
    code = (await link_of(tenant, referrer.key, program))["code"]

    for raw, customer_id, expected in (
        ("NOTACODE", twin.key, "NOT_FOUND"),
        (code, twin.key, "SELF_REFERRAL"),
        (code, "000000000000000000000000", "NOT_FOUND"),
    ):
        data = await tenant.gql(APPLY, {"code": raw, "customerId": customer_id})
        assert data["applyReferralCode"]["referral"] is None
        assert data["applyReferralCode"]["errors"][0]["code"] == expected


async def test_referrals_list_states_and_totals(tenant: Tenant, http: httpx.AsyncClient) -> None:
    program = await create_program(tenant)
    referrer = await make_customer(project_id=tenant.project_id)
    code = (await link_of(tenant, referrer.key, program))["code"]
    await http.get(f"/r/{code}")
    friends = [await make_customer(project_id=tenant.project_id) for _ in range(2)]
    for friend in friends:
        await tenant.gql(APPLY, {"code": code, "customerId": friend.key})
    order = {
        "id": "w-1",
        "customerId": friends[0].key,
        "amount": {"amount": 2_500, "currency": "EUR"},
    }
    assert (await tenant.gql(RECORD, {"input": order}))["recordOrder"]["errors"] == []

    data = await tenant.gql(REFERRALS, {"campaignId": program, "referrerId": referrer.key})

    nodes = [edge["node"] for edge in data["referrals"]["edges"]]
    assert [node["status"] for node in nodes] == ["QUALIFIED", "PENDING"]
    assert nodes[0]["referee"]["id"] == friends[0].key and nodes[0]["releaseAt"]
    assert data["referrals"]["totalCount"] == 2
    assert data["referralStats"] == {
        "clicks": 1,
        "referrals": 2,
        "pending": 1,
        "qualified": 1,
        "rewarded": 0,
        "cancelled": 0,
    }


async def test_another_project_sees_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    program = await create_program(tenant)
    referrer = await make_customer(project_id=tenant.project_id)
    code = (await link_of(tenant, referrer.key, program))["code"]
    stranger = await make_customer(project_id=other_tenant.project_id)

    applied = await other_tenant.gql(APPLY, {"code": code, "customerId": stranger.key})
    assert applied["applyReferralCode"]["errors"][0]["code"] == "NOT_FOUND"
    link = await other_tenant.gql(LINK, {"customerId": stranger.key, "campaignId": program})
    assert link["referralLink"]["errors"][0]["code"] == "NOT_FOUND"
    body = (await other_tenant.gql.raw(REFERRALS, {"campaignId": program})).json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_me_gives_the_customers_own_link_in_the_running_program(tenant: Tenant) -> None:
    me_query = "{ me { referralLink } }"
    customer = await make_customer(project_id=tenant.project_id)
    as_customer = tenant.gql.as_token(await issue_customer_token(tenant.project_id, customer.key))
    # No program runs yet: nothing to share.
    assert (await as_customer(me_query))["me"] == {"referralLink": None}

    program = await create_program(tenant)
    link = (await as_customer(me_query))["me"]["referralLink"]
    assert link == (await link_of(tenant, customer.key, program))["url"]
    chosen = await as_customer(
        "query ($id: ID!) { me { referralLink(campaignId: $id) } }", {"id": program}
    )
    assert chosen["me"]["referralLink"] == link
    assert await ReferralCode.find({"project_id": tenant.project_id}).count() == 1
