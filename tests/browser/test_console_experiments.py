"""A marketer's experiment in Chromium: create one (a refused try first), start it, read the
results with their interval chart, promote the winner; each page photographed at phone and
desktop sizes under var/screenshots/."""

import contextlib

from playwright.async_api import Browser, expect

from domain.codes import publish_code
from domain.experiments import Experiment, Holdout, assign
from domain.orders import OrderInput, record_order
from tests.browser.test_console_campaigns import (
    DESKTOP,
    PHONE,
    open_context,
    phone_context,
    photograph,
    photograph_pages,
)
from tests.console import make_console_user
from tests.factories import Tenant, eur, make_campaign, make_customers


async def test_a_marketer_runs_an_experiment_and_promotes_the_winner(
    browser: Browser, site: str, tenant: Tenant
) -> None:
    project_id = tenant.project_id
    owner = await make_console_user(project_id=project_id)
    campaign = await make_campaign(project_id=project_id, name="Spring sale")
    desktop = await open_context(browser, site, DESKTOP)
    page = await desktop.new_page()
    shots: dict[str, str] = {}

    await page.goto("/console/experiments")
    await page.fill("#email", owner.email)
    await page.fill("#password", owner.password)
    await page.click("button:has-text('Sign in')")
    await expect(page.locator("h1")).to_have_text("Experiments")
    await page.click("text=Create your first experiment")
    await page.select_option("#campaignId", campaign.key)
    await page.fill("#name", "Ten or twenty")
    await page.fill("[id='variants.0.percentOff']", "10")
    await page.fill("[id='variants.1.name']", "Twenty off")
    await page.fill("[id='variants.1.percentOff']", "20")
    # A holdout of 20 in 100, so that 60 customers surely put some in it.
    for weight in ("variants.0.weight", "variants.1.weight"):
        await page.fill(f"[id='{weight}']", "40")
    await page.fill("#holdoutWeight", "20")
    await page.fill("#alpha", "0.9")
    await page.click("button:has-text('Create experiment')")
    await expect(page.locator("[id='alpha-error']")).to_contain_text("at most 0.5")
    await expect(page.locator(".error-summary")).to_contain_text("INVALID_ALPHA")
    await photograph(page, DESKTOP, "experiment-form-errors")
    await page.fill("#alpha", "0.05")
    await page.click("button:has-text('Create experiment')")
    await expect(page.locator(".notice")).to_contain_text("Experiment created as a draft")
    experiment_url = page.url.split("?")[0]

    await page.click("a:has-text('Start')")
    await page.click("button:has-text('Start experiment')")
    await expect(page.locator(".notice")).to_contain_text("Experiment started")
    experiment = await Experiment.find_one()
    assert experiment is not None
    # Customers get codes; most on Twenty off order, a quarter on Control, none held out.
    customers = await make_customers(project_id=project_id, count=60)
    for n, customer in enumerate(customers):
        with contextlib.suppress(Holdout):
            await publish_code(project_id, campaign.key, customer.key)
        arm = assign(experiment_id=experiment.key, customer_id=customer.key, arms=experiment.arms)
        if (arm == "B" and n % 4) or (arm == "A" and n % 4 == 0):
            await record_order(
                project_id,
                OrderInput(order_id=f"o{n}", amount=eur(3_000), customer_id=customer.key),
            )
    await page.reload()
    await expect(page.locator("#decision")).to_contain_text("Twenty off wins")
    await expect(page.locator("figure svg[role='img'] circle")).to_have_count(2)
    shots["experiment"] = experiment_url
    shots["experiment-promote"] = f"{experiment_url}/promote"
    shots["experiment-stop"] = f"{experiment_url}/status/stop"
    shots["experiment-new"] = "/console/experiments/new"
    await photograph_pages(page, DESKTOP, shots, whole=lambda name: name == "experiment")

    phone = await phone_context(browser, site, desktop)
    small = await phone.new_page()
    await photograph_pages(small, PHONE, shots, whole=lambda name: name == "experiment")
    await phone.close()

    await page.goto(f"{experiment_url}/promote")
    await expect(page.locator("input[value='B']")).to_be_checked()
    await page.click("button:has-text('Promote and update the campaign')")
    await expect(page.locator("[role=status]")).to_contain_text("Variant promoted")
    await page.goto("/console/experiments")
    await expect(page.locator("table")).to_contain_text("Promoted: B")
    await photograph(page, DESKTOP, "experiments")
    await desktop.close()
