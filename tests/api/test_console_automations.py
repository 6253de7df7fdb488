"""Automation pages of the console over HTTP: the form gives createAutomation's typed errors and
edits, the list counts what each automation did, the page lists its pending actions, pause and
resume ask first, a viewer changes nothing and another project's ids are not found."""

from datetime import timedelta
from html import unescape

from starlette.applications import Starlette

from delivery.automation import AutomationExecutor
from domain.automation import Automation, AutomationStatus
from domain.common import utc_now
from tests.api.test_console_campaigns import console_client, shown_errors
from tests.domain.test_automation import LINKS, abandon, cart_automation
from tests.factories import Tenant, make_campaign, make_loyalty_program, make_shopper


def automation_form(csrf: str, campaign_id: str, **fields: str) -> dict[str, str]:
    values = {
        "csrf_token": csrf,
        "name": "Abandoned cart",
        "trigger": "cart.abandoned",
        "conditions": '{"total": {"gte": 1000}}',
        "delay.days": "0",
        "delay.hours": "1",
        "delay.minutes": "0",
        "cancelOn": "order.recorded",
        "frequency": "30",
        "action.type": "SEND_CODE",
        "action.campaignId": campaign_id,
        "action.channel": "EMAIL",
        "action.templateId": "",
        "action.points": "",
    }
    values.update({key.replace("__", "."): value for key, value in fields.items()})
    return values


async def test_create_count_list_pending_pause_resume_and_edit(
    app: Starlette, tenant: Tenant
) -> None:
    project_id = tenant.project_id
    campaign = await make_campaign(project_id=project_id, name="Come back")
    club = await make_loyalty_program(project_id=project_id)
    async with console_client(app, tenant, "MARKETER") as (http, csrf):
        assert "No automations yet" in (await http.get("/console/automations")).text
        assert "Come back (discount)" in (await http.get("/console/automations/new")).text
        refused = await http.post(
            "/console/automations/new",
            data=automation_form(
                csrf,
                club.key,
                name="",
                conditions="total >= 10",
                delay__hours="-1",
                cancelOn="cart.abandoned",
                frequency="-1",
            ),
        )
        assert refused.status_code == 400
        shown = shown_errors(refused.text)
        assert shown == {
            "name": "A name has 1 to 200 characters",
            "conditions": "Conditions must be a JSON object",
            "delay.days": "A delay cannot be negative",
            "cancelOn": "The trigger cannot also cancel its own action",
            "frequency": "periodDays is 0 (once ever) to 3650",
            "action.campaignId": "Codes come from a discount campaign",
        }
        assert "CAMPAIGN_NOT_DISCOUNT" in refused.text and "total &gt;= 10" in refused.text
        assert await Automation.find_all().count() == 0

        created = await http.post(
            "/console/automations/new", data=automation_form(csrf, campaign.key)
        )
        assert created.status_code == 303
        found = await Automation.find_one()
        assert found is not None
        assert (found.trigger, found.delay_seconds, found.cancel_on) == (
            "cart.abandoned",
            3600,
            ["order.recorded"],
        )
        assert found.conditions == {"total": {"gte": 1000}} and found.period_days == 30
        page_url = f"/console/automations/{found.key}"
        assert created.headers["location"] == f"{page_url}?saved=created"

        # Ada's cart is acted on an hour later; Bob's waits, then the automation is paused.
        ada = await make_shopper(project_id=project_id, name="Ada")
        bob = await make_shopper(project_id=project_id, name="Bob")
        await abandon(project_id, ada, utc_now(), key="cart-ada")
        executor = AutomationExecutor(LINKS, owner="console-test")
        assert await executor.run_due(now=utc_now() + timedelta(hours=2)) == 1
        await abandon(project_id, bob, utc_now(), key="cart-bob")
        page = unescape((await http.get(page_url)).text)
        assert f'href="/console/customers/{bob.key}"' in page and "cart.abandoned" in page
        assert f"/console/customers/{ada.key}" not in page
        assert "After 1 hour" in page and "every 30 days" in page

        assert "Pause automation" in (await http.get(f"{page_url}/status/pause")).text
        paused = await http.post(f"{page_url}/status/pause", data={"csrf_token": csrf})
        assert paused.headers["location"] == f"{page_url}?saved=pause"
        again = await http.post(f"{page_url}/status/pause", data={"csrf_token": csrf})
        assert again.status_code == 400 and "cannot be paused now" in again.text
        await executor.run_due(now=utc_now() + timedelta(hours=2))
        listed = (await http.get("/console/automations")).text
        # Triggered, executed, skipped.
        figures = [
            '<td class="num">2</td>',
            '<td class="num">1</td>',
            '<td class="num">1</td>',
        ]
        assert "".join(figures) in listed.replace("\n      ", "")
        assert "No action is waiting" in (await http.get(page_url)).text
        resumed = await http.post(f"{page_url}/status/resume", data={"csrf_token": csrf})
        assert resumed.headers["location"] == f"{page_url}?saved=resume"

        edit = await http.get(f"{page_url}/edit")
        assert 'value="order.recorded"' in edit.text and "{&#34;total&#34;" in edit.text
        wrong = await http.post(
            f"{page_url}/edit",
            data=automation_form(csrf, club.key, action__type="AWARD_POINTS", action__points="0"),
        )
        assert shown_errors(wrong.text) == {"action.points": "Points are 1 to 1000000"}
        changed = await http.post(
            f"{page_url}/edit",
            data=automation_form(
                csrf,
                club.key,
                name="Points for coming back",
                frequency="0",
                action__type="AWARD_POINTS",
                action__points="50",
            ),
        )
        assert changed.headers["location"] == f"{page_url}?saved=updated"
        updated = await Automation.get(found.id)
        assert updated is not None and updated.status == AutomationStatus.ACTIVE
        assert (updated.name, updated.period_days, updated.action.points) == (
            "Points for coming back",
            0,
            50,
        )
        assert "Once per customer, ever" in (await http.get(page_url)).text


async def test_a_viewer_reads_only_and_another_projects_ids_are_not_found(
    app: Starlette, tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = await cart_automation(tenant.project_id)
    theirs = await cart_automation(other_tenant.project_id, name="Theirs")
    async with console_client(app, tenant, "VIEWER") as (http, csrf):
        listed = await http.get("/console/automations")
        assert "Abandoned cart" in listed.text and "Theirs" not in listed.text
        assert "New automation" not in listed.text
        page = await http.get(f"/console/automations/{ours.key}")
        assert page.status_code == 200 and "Pause" not in page.text and "Edit" not in page.text
        for path in ("/new", f"/{ours.key}/edit", f"/{ours.key}/status/pause"):
            refused = await http.post(f"/console/automations{path}", data={"csrf_token": csrf})
            assert refused.status_code == 403, path
        assert (await http.get(f"/console/automations/{theirs.key}")).status_code == 404
    async with console_client(app, tenant, "MARKETER") as (http, csrf):
        for path in ("", "/edit", "/status/pause"):
            missing = await http.get(f"/console/automations/{theirs.key}{path}")
            assert missing.status_code == 404, path
        refused = await http.post(
            f"/console/automations/{theirs.key}/status/pause", data={"csrf_token": csrf}
        )
        assert refused.status_code == 404
    still = await Automation.get(ours.id)
    assert still is not None and still.status == AutomationStatus.ACTIVE
