"""Loyalty pages of the console over HTTP: a program's tiers and expiry made and changed with
the API's typed errors by their fields, the rewards catalogue, and a member's card where an
adjustment with a reason goes through adjustPoints' checks; viewers and other projects see
nothing they may not."""

import re
from html import unescape

from starlette.applications import Starlette

from domain import projects
from domain.campaigns import Campaign
from domain.loyalty import LedgerEntry, LoyaltyCard, Reward
from tests.api.test_console_campaigns import console_client, shown_errors
from tests.factories import Tenant, make_campaign, make_customer, make_loyalty_program

CREATE = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) { errors { code field } }
}"""
ADJUST = """
mutation ($customerId: ID!, $campaignId: ID!, $points: Int!) {
  adjustPoints(customerId: $customerId, campaignId: $campaignId, points: $points,
               reason: "welcome") { card { points } errors { code field } }
}"""
REWARDS = "query ($id: ID!) { rewards(campaignId: $id) { name cost discountCampaignId } }"
CODE = re.compile(r'<span class="error-code">([A-Z_]+)</span>')


def program_form(csrf: str, **fields: str) -> dict[str, str]:
    values = {
        "csrf_token": csrf,
        "name": "Club",
        "loyalty.pointsPerUnit": "1",
        "loyalty.rounding": "FLOOR",
        "loyalty.pointsPerOrder": "0",
        "loyalty.tierBasis": "POINTS",
        "loyalty.currency": "",
        "loyalty.tierWindowDays": "365",
        "loyalty.expiryDays": "",
        "tiers.0.name": "",
        "tiers.0.threshold": "",
        "tiers.0.multiplier": "",
        "tiers.1.name": "",
        "tiers.1.threshold": "",
        "tiers.1.multiplier": "",
        "events.0.name": "",
        "events.0.points": "",
    }
    values.update({key.replace("__", "."): value for key, value in fields.items()})
    return values


async def test_a_program_is_made_and_changed_with_the_api_errors_by_its_fields(
    app: Starlette, tenant: Tenant
) -> None:
    async with console_client(app, tenant, "MARKETER") as (http, csrf):
        wrong = program_form(
            csrf,
            **{
                "loyalty.tierBasis": "SPENT",
                "loyalty.expiryDays": "0",
                "tiers.0.name": "Gold",
                "tiers.0.threshold": "100",
                "tiers.1.name": "Gold",
                "tiers.1.threshold": "200",
            },
        )
        refused = await http.post("/console/loyalty/new", data=wrong)
        assert refused.status_code == 400
        errors = shown_errors(refused.text)
        assert errors["loyalty.tiers"] == "Tier Gold is listed twice"
        assert "expiryDays must be 1 to 3650" in errors["loyalty.expiryDays"]
        assert "currency" in errors["loyalty.currency"]
        # The API answers the same input with the same codes on the same fields.
        api = await tenant.gql(
            CREATE,
            {
                "input": {
                    "name": "Club",
                    "kind": "LOYALTY",
                    "loyalty": {
                        "tierBasis": "SPENT",
                        "expiryDays": 0,
                        "tiers": [
                            {"name": "Gold", "threshold": 100},
                            {"name": "Gold", "threshold": 200},
                        ],
                    },
                }
            },
        )
        assert sorted(CODE.findall(refused.text)) == sorted(
            e["code"] for e in api["createCampaign"]["errors"]
        )
        assert await Campaign.find_all().count() == 0
        # What was typed stays in the form.
        assert 'name="tiers.1.threshold" value="200"' in refused.text

        made = await http.post(
            "/console/loyalty/new",
            data=program_form(
                csrf,
                **{
                    "loyalty.expiryDays": "365",
                    "tiers.0.name": "Silver",
                    "tiers.0.threshold": "500",
                    "tiers.1.name": "Gold",
                    "tiers.1.threshold": "2,000",
                    "tiers.1.multiplier": "1.5",
                    "events.0.name": "review",
                    "events.0.points": "20",
                },
            ),
        )
        assert made.status_code == 303
        program = await Campaign.find_one()
        assert program is not None and program.loyalty is not None
        assert [(t.name, t.threshold, t.multiplier) for t in program.loyalty.tiers] == [
            ("Silver", 500, 1.0),
            ("Gold", 2000, 1.5),
        ]
        assert program.loyalty.expiry_days == 365 and program.loyalty.events == {"review": 20}
        page = (await http.get(made.headers["location"])).text
        assert "Program created." in page and "365 days after they are earned" in page
        assert "\u00d7 1.5" in page

        # Editing: a tier removed by emptying its row, expiry cleared, an unreadable window.
        edit = f"/console/loyalty/{program.key}/edit"
        form = await http.get(edit)
        assert 'value="Gold"' in form.text and 'value="365"' in form.text
        changed = program_form(
            csrf,
            **{
                "name": "Club+",
                "loyalty.tierWindowDays": "a year",
                "tiers.0.name": "Gold",
                "tiers.0.threshold": "1000",
            },
        )
        refused = await http.post(edit, data=changed)
        assert refused.status_code == 400
        assert shown_errors(refused.text) == {"loyalty.tierWindowDays": "Enter a whole number"}
        changed["loyalty.tierWindowDays"] = "90"
        assert (await http.post(edit, data=changed)).status_code == 303
        program = await Campaign.get(program.id)
        assert program is not None and program.loyalty is not None
        assert program.name == "Club+" and program.loyalty.expiry_days is None
        assert [t.name for t in program.loyalty.tiers] == ["Gold"]
        assert program.loyalty.tier_window_days == 90
        listed = (await http.get("/console/loyalty")).text
        assert "Club+" in listed and "Never" in listed


async def test_the_rewards_catalogue_lists_adds_and_edits(app: Starlette, tenant: Tenant) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id)
    voucher = await make_campaign(project_id=tenant.project_id, name="Five off")
    base = f"/console/loyalty/{program.key}"
    async with console_client(app, tenant, "MARKETER") as (http, csrf):
        assert "No rewards yet" in (await http.get(base)).text
        refused = await http.post(
            f"{base}/rewards/new",
            data={"csrf_token": csrf, "name": "", "cost": "0", "discountCampaignId": ""},
        )
        assert refused.status_code == 400
        assert shown_errors(refused.text) == {
            "name": "A name of 1 to 200 characters",
            "cost": "Cost must be more than 0 points",
        }
        added = await http.post(
            f"{base}/rewards/new",
            data={
                "csrf_token": csrf,
                "name": "Coffee",
                "cost": "150",
                "discountCampaignId": voucher.key,
            },
        )
        assert added.status_code == 303
        reward = await Reward.find_one()
        assert reward is not None
        page = (await http.get(base)).text
        assert "Coffee" in page and "150 points" in page and "Five off" in page

        edit = f"{base}/rewards/{reward.key}/edit"
        assert 'value="Coffee"' in (await http.get(edit)).text
        saved = await http.post(
            edit,
            data={
                "csrf_token": csrf,
                "name": "Big coffee",
                "cost": "200",
                "discountCampaignId": "",
            },
        )
        assert saved.status_code == 303
        listed = await tenant.gql(REWARDS, {"id": program.key})
        assert listed["rewards"] == [
            {"name": "Big coffee", "cost": 200, "discountCampaignId": None}
        ]
        # A reward is edited only under its own program.
        other = await make_loyalty_program(project_id=tenant.project_id)
        assert (
            await http.get(f"/console/loyalty/{other.key}/rewards/{reward.key}/edit")
        ).status_code == 404


async def test_a_members_card_is_adjusted_with_a_reason_and_never_below_zero(
    app: Starlette, tenant: Tenant
) -> None:
    program = await make_loyalty_program(project_id=tenant.project_id, expiry_days=30)
    ada = await make_customer(project_id=tenant.project_id, name="Ada", email="ada@example.com")
    given = await tenant.gql(
        ADJUST, {"customerId": ada.key, "campaignId": program.key, "points": 100}
    )
    assert given["adjustPoints"]["errors"] == []
    member = f"/console/loyalty/{program.key}/members/{ada.key}"
    adjust = f"{member}/adjust"
    async with (
        console_client(app, tenant, "MARKETER") as (http, csrf),
        console_client(app, tenant, "VIEWER") as (viewer, viewer_csrf),
    ):
        customer_page = (await http.get(f"/console/customers/{ada.key}")).text
        assert f'href="{member}"' in customer_page
        page = (await http.get(member)).text
        assert "Expiring in 30 days" in page and ">100<" in page and "welcome" in page

        too_many = await http.post(
            adjust, data={"csrf_token": csrf, "points": "-500", "reason": "returned goods"}
        )
        assert too_many.status_code == 400
        assert shown_errors(too_many.text) == {"points": "The card does not have enough points"}
        assert "INSUFFICIENT_POINTS" in too_many.text
        assert 'value="returned goods"' in too_many.text
        no_reason = await http.post(adjust, data={"csrf_token": csrf, "points": "-30"})
        assert shown_errors(no_reason.text) == {"reason": "A reason of 1 to 500 characters"}
        unreadable = await http.post(adjust, data={"csrf_token": csrf, "points": "lots"})
        assert set(shown_errors(unreadable.text)) == {"points", "reason"}

        done = await http.post(
            adjust, data={"csrf_token": csrf, "points": "-30", "reason": "returned goods"}
        )
        assert done.status_code == 303
        card = await LoyaltyCard.find_one()
        assert card is not None and card.balance == 70
        entry = await LedgerEntry.find_one({"points": -30})
        assert entry is not None
        assert entry.reason == "returned goods" and entry.source == "console:marketer@shop.test"
        page = unescape((await http.get(done.headers["location"])).text)
        assert "Points adjusted." in page and "-30" in page and "returned goods" in page

        # A viewer reads the card and cannot adjust it, nor open the forms.
        seen = (await viewer.get(member)).text
        assert ">70<" in seen and "Adjust points" not in seen
        program_page = (await viewer.get(f"/console/loyalty/{program.key}")).text
        assert "Members per tier" in program_page and "1 member with a card" in program_page
        refused = await viewer.post(
            adjust, data={"csrf_token": viewer_csrf, "points": "5", "reason": "x"}
        )
        assert refused.status_code == 403
        assert "New program" not in (await viewer.get("/console/loyalty")).text
        assert "/edit" not in (await viewer.get(f"/console/loyalty/{program.key}")).text
        for path in ("/console/loyalty/new", f"/console/loyalty/{program.key}/edit"):
            assert (await viewer.get(path)).status_code == 403
        assert (await LoyaltyCard.find_one()).balance == 70  # type: ignore[union-attr]

        # Another project's program and customer are not found here; nor is a discount campaign.
        other, _ = await projects.create_project("Other shop")
        theirs = await make_loyalty_program(project_id=other.key)
        bob = await make_customer(project_id=other.key, name="Bob")
        voucher = await make_campaign(project_id=tenant.project_id)
        for path in (
            f"/console/loyalty/{theirs.key}",
            f"/console/loyalty/{voucher.key}",
            f"/console/loyalty/{theirs.key}/members/{ada.key}",
            f"/console/loyalty/{program.key}/members/{bob.key}",
        ):
            assert (await http.get(path)).status_code == 404, path
        refused = await http.post(
            f"/console/loyalty/{program.key}/members/{bob.key}/adjust",
            data={"csrf_token": csrf, "points": "5", "reason": "x"},
        )
        assert refused.status_code == 404
        assert await LoyaltyCard.find({"customer_id": bob.key}).count() == 0
