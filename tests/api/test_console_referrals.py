"""Referral pages of the console over HTTP: a program's settings made and changed with the
API's typed errors by their fields, its top referrers and its referrals with their status page
by page; viewers change nothing and other projects' programs are not found."""

import pytest
from starlette.applications import Starlette

from api.console import referrals as referral_pages
from domain import projects
from domain.campaigns import Campaign, CampaignKind
from tests.api.test_console_campaigns import console_client, shown_errors
from tests.factories import (
    Tenant,
    make_campaign,
    make_customer,
    make_loyalty_program,
    make_referral_program,
)

LINK = """
mutation ($customerId: ID!, $campaignId: ID!) {
  referralLink(customerId: $customerId, campaignId: $campaignId) { code errors { code } }
}"""
APPLY = """
mutation ($code: String!, $customerId: ID!) {
  applyReferralCode(code: $code, customerId: $customerId) { errors { code } }
}"""
CREATE = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) { errors { code field } }
}"""


def settings_form(csrf: str, **fields: str) -> dict[str, str]:
    values = {
        "csrf_token": csrf,
        "name": "Bring a friend",
        "referral.landingUrl": "https://shop.example/join",
        "referral.welcomeCampaignId": "",
        "referral.referrerReward.discountCampaignId": "",
        "referral.referrerReward.loyaltyCampaignId": "",
        "referral.referrerReward.points": "",
        "referral.minOrder": "",
        "currency": "EUR",
        "referral.holdDays": "0",
        "referral.maxReferralsPerReferrer": "",
    }
    values.update(fields)
    return values


async def test_a_programs_settings_are_made_and_changed_with_the_api_errors(
    app: Starlette, tenant: Tenant
) -> None:
    voucher = await make_campaign(project_id=tenant.project_id, name="Ten off")
    points = await make_loyalty_program(project_id=tenant.project_id)
    async with console_client(app, tenant, "MARKETER") as (http, csrf):
        wrong = settings_form(
            csrf,
            **{
                "referral.landingUrl": "shop.example",
                "referral.referrerReward.discountCampaignId": voucher.key,
                "referral.referrerReward.loyaltyCampaignId": points.key,
                "referral.referrerReward.points": "50",
                "referral.holdDays": "-1",
                "referral.maxReferralsPerReferrer": "0",
            },
        )
        refused = await http.post("/console/referrals/new", data=wrong)
        assert refused.status_code == 400
        errors = shown_errors(refused.text)
        assert errors["referral.landingUrl"] == "landingUrl must be an http(s) address"
        assert "not both" in errors["referral.referrerReward"]
        assert "holdDays" in errors["referral.holdDays"]
        assert "positive whole number" in errors["referral.maxReferralsPerReferrer"]
        api = await tenant.gql(
            CREATE,
            {
                "input": {
                    "name": "Bring a friend",
                    "kind": "REFERRAL",
                    "referral": {
                        "landingUrl": "shop.example",
                        "referrerReward": {
                            "discountCampaignId": voucher.key,
                            "loyaltyCampaignId": points.key,
                            "points": 50,
                        },
                        "holdDays": -1,
                        "maxReferralsPerReferrer": 0,
                    },
                }
            },
        )
        assert {e["field"] for e in api["createCampaign"]["errors"]} == {
            "referral.landingUrl",
            "referral.referrerReward",
            "referral.holdDays",
            "referral.maxReferralsPerReferrer",
        }
        assert await Campaign.find({"kind": CampaignKind.REFERRAL.value}).count() == 0

        made = await http.post(
            "/console/referrals/new",
            data=settings_form(
                csrf,
                **{
                    "referral.welcomeCampaignId": voucher.key,
                    "referral.referrerReward.loyaltyCampaignId": points.key,
                    "referral.referrerReward.points": "200",
                    "referral.minOrder": "25.50",
                    "referral.holdDays": "14",
                },
            ),
        )
        assert made.status_code == 303
        program = await Campaign.find_one({"kind": CampaignKind.REFERRAL.value})
        assert program is not None and program.referral is not None
        assert program.referral.min_order is not None
        assert program.referral.min_order.amount == 2550
        assert program.referral.referrer_reward.points == 200
        page = (await http.get(made.headers["location"])).text
        assert "a code of Ten off" in page and "200 points in Points" in page
        assert "€25.50" in page and "14 days" in page

        edit = f"/console/referrals/{program.key}/edit"
        assert 'value="25.50"' in (await http.get(edit)).text
        changed = settings_form(
            csrf, **{"referral.maxReferralsPerReferrer": "3", "referral.holdDays": "a week"}
        )
        refused = await http.post(edit, data=changed)
        assert shown_errors(refused.text) == {"referral.holdDays": "Enter a whole number"}
        changed["referral.holdDays"] = "7"
        assert (await http.post(edit, data=changed)).status_code == 303
        program = await Campaign.get(program.id)
        assert program is not None and program.referral is not None
        assert program.referral.max_referrals_per_referrer == 3
        assert program.referral.welcome_campaign_id == ""
        assert program.referral.min_order is None and program.referral.hold_days == 7


async def test_top_referrers_and_referrals_with_their_status_page_by_page(
    app: Starlette, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await make_referral_program(project_id=tenant.project_id)
    ada = await make_customer(project_id=tenant.project_id, name="Ada", email="ada@example.com")
    bob = await make_customer(project_id=tenant.project_id, name="Bob", email="bob@example.com")
    friends = [
        await make_customer(project_id=tenant.project_id, name=f"Friend {n}") for n in range(3)
    ]
    codes = {}
    for referrer in (ada, bob):
        link = await tenant.gql(LINK, {"customerId": referrer.key, "campaignId": made.id})
        codes[referrer.key] = link["referralLink"]["code"]
    for referrer, friend in ((ada, friends[0]), (ada, friends[1]), (bob, friends[2])):
        applied = await tenant.gql(APPLY, {"code": codes[referrer.key], "customerId": friend.key})
        assert applied["applyReferralCode"]["errors"] == []
    base = f"/console/referrals/{made.id}"
    async with (
        console_client(app, tenant, "MARKETER") as (http, _),
        console_client(app, tenant, "VIEWER") as (viewer, viewer_csrf),
    ):
        listed = (await http.get("/console/referrals")).text
        assert "Bring a friend" in listed
        page = (await viewer.get(base)).text
        top = page[page.index('id="top-caption"') :]
        assert top.index("Ada") < top.index("Bob")
        assert "Friend 0" in page and "Friend 2" in page and "Pending" in page
        assert (
            "/edit" not in page
            and "New program" not in (await viewer.get("/console/referrals")).text
        )
        for path in ("/console/referrals/new", f"{base}/edit"):
            assert (await viewer.get(path)).status_code == 403
            assert (await viewer.post(path, data=settings_form(viewer_csrf))).status_code == 403

        # Two a page: the third referral is on the next page, linked from the first.
        monkeypatch.setattr(referral_pages, "REFERRALS_PAGE", 2)
        first = (await http.get(base)).text
        assert "Friend 0" in first and "Friend 2" not in first and "Later referrals" in first
        next_link = next(part for part in first.split('"') if "?after=" in part)
        second = (await http.get(next_link.replace("&amp;", "&"))).text
        assert "Friend 2" in second and "Friend 0" not in second

        other, _ = await projects.create_project("Other shop")
        theirs = await make_referral_program(project_id=other.key)
        loyalty = await make_loyalty_program(project_id=tenant.project_id)
        for path in (
            f"/console/referrals/{theirs.id}",
            f"/console/referrals/{theirs.id}/edit",
            f"/console/referrals/{loyalty.key}",
            "/console/referrals/not-an-id",
        ):
            assert (await http.get(path)).status_code == 404, path
