"""Experiment pages of the console over HTTP: the form gives createExperiment's typed errors,
the results page shows each arm's test from the domain's z-test with its interval chart, start,
stop and promote ask first, a viewer changes nothing and another project's ids are not found."""

from html import unescape

from starlette.applications import Starlette

from api.console.experiments import p_value_text
from domain.campaigns import Campaign, Discount, DiscountType
from domain.codes import publish_code
from domain.experiments import Experiment, ExperimentStatus, Variant, assign
from domain.orders import OrderInput, record_order
from domain.stats_tests import two_proportion_z_test
from tests.api.test_console_campaigns import console_client, shown_errors
from tests.factories import Tenant, eur, make_campaign, make_customers


def experiment_form(csrf: str, campaign_id: str, **fields: str) -> dict[str, str]:
    values = {
        "csrf_token": csrf,
        "campaignId": campaign_id,
        "name": "Ten or twenty",
        "variants.0.key": "A",
        "variants.0.name": "Ten off",
        "variants.0.weight": "1",
        "variants.0.percentOff": "10",
        "variants.1.key": "B",
        "variants.1.name": "Twenty off",
        "variants.1.weight": "1",
        "variants.1.percentOff": "20",
        "holdoutWeight": "0",
        "alpha": "0.05",
    }
    values.update({key.replace("__", "."): value for key, value in fields.items()})
    return values


async def test_create_run_read_the_results_and_promote(app: Starlette, tenant: Tenant) -> None:
    project_id = tenant.project_id
    campaign = await make_campaign(project_id=project_id, name="Spring sale")
    async with console_client(app, tenant, "MARKETER") as (http, csrf):
        empty = await http.get("/console/experiments")
        assert "No experiments yet" in empty.text and 'href="/console/experiments"' in empty.text
        form = await http.get("/console/experiments/new")
        assert "Spring sale" in form.text
        # Typed errors of createExperiment by their fields; the third row stays where it was
        # typed although the second row is empty.
        refused = await http.post(
            "/console/experiments/new",
            data=experiment_form(
                csrf,
                campaign.key,
                name="",
                variants__1__key="",
                variants__1__name="",
                variants__1__weight="",
                variants__1__percentOff="",
                variants__2__key="holdout",
                variants__2__percentOff="150",
                holdoutWeight="-2",
                alpha="0.9",
            ),
        )
        assert refused.status_code == 400
        shown = shown_errors(refused.text)
        assert shown["name"] == "Name is 1 to 200 characters"
        assert shown["variants.2.key"] == "'holdout' names the holdout"
        assert "percentOff" in shown["variants.2.percentOff"]
        assert shown["holdoutWeight"] == "holdoutWeight is a whole number, 0 for none"
        assert shown["alpha"] == "Alpha is more than 0 and at most 0.5"
        assert "INVALID_ALPHA" in refused.text and 'value="holdout"' in refused.text
        assert await Experiment.find_all().count() == 0

        created = await http.post(
            "/console/experiments/new", data=experiment_form(csrf, campaign.key)
        )
        assert created.status_code == 303
        experiment = await Experiment.find_one()
        assert experiment is not None and experiment.status == ExperimentStatus.DRAFT
        assert [v.discount.percent_off for v in experiment.variants if v.discount] == [10, 20]
        page_url = f"/console/experiments/{experiment.key}"
        assert created.headers["location"] == f"{page_url}?saved=created"
        draft = await http.get(page_url)
        assert "No results yet" in draft.text and "20% off" in draft.text

        confirm = await http.get(f"{page_url}/status/start")
        assert "Start experiment" in confirm.text
        started = await http.post(f"{page_url}/status/start", data={"csrf_token": csrf})
        assert started.headers["location"] == f"{page_url}?saved=start"
        again = await http.post(f"{page_url}/status/start", data={"csrf_token": csrf})
        assert "cannot be started now" in again.text

        # Customers on B all order, those on A do not: B wins over the control.
        customers = await make_customers(project_id=project_id, count=24)
        arms = {}
        for n, customer in enumerate(customers):
            await publish_code(project_id, campaign.key, customer.key)
            arm = assign(
                experiment_id=experiment.key, customer_id=customer.key, arms=experiment.arms
            )
            arms[customer.key] = arm
            if arm == "B":
                await record_order(
                    project_id,
                    OrderInput(order_id=f"o{n}", amount=eur(3_000), customer_id=customer.key),
                )
        on_a = sum(1 for arm in arms.values() if arm == "A")
        on_b = len(customers) - on_a
        expected = two_proportion_z_test(on_b, on_b, 0, on_a, 0.05)
        assert expected is not None and expected.p_value is not None
        results = await http.get(page_url)
        text = unescape(results.text)
        assert "Each arm against Ten off, at 95 % confidence" in text
        assert f"{expected.difference * 100:+.1f} pt" in text
        assert f"{expected.ci_low * 100:+.1f} to {expected.ci_high * 100:+.1f} pt" in text
        assert p_value_text(expected.p_value) in text
        assert "<strong>Twenty off</strong> wins" in text and "above Ten off" in text
        # The interval chart: one interval (B against the control), drawn as SVG with its table.
        assert text.count('stroke-linecap="round"') == 1 and 'role="img"' in text
        assert "Lift over Ten off, 95 % intervals" in text

        promote = await http.get(f"{page_url}/promote")
        assert "significantly better" in unescape(promote.text)
        assert 'value="B" checked' in promote.text
        unknown = await http.post(
            f"{page_url}/promote", data={"csrf_token": csrf, "variantKey": "Z"}
        )
        assert unknown.status_code == 400
        assert "The experiment has no such variant" in shown_errors(unknown.text)["variantKey"]
        promoted = await http.post(
            f"{page_url}/promote", data={"csrf_token": csrf, "variantKey": "B"}
        )
        assert promoted.headers["location"] == f"{page_url}?saved=promoted"
        updated = await Campaign.get(campaign.id)
        assert updated is not None
        assert updated.discount == Discount(type=DiscountType.PERCENT, percent_off=20)
        stopped = await Experiment.get(experiment.id)
        assert stopped is not None and stopped.status == ExperimentStatus.STOPPED
        listed = await http.get("/console/experiments")
        assert "Promoted: B" in listed.text and "Spring sale" in listed.text


async def test_a_viewer_reads_only_and_another_projects_ids_are_not_found(
    app: Starlette, tenant: Tenant, other_tenant: Tenant
) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    theirs = await make_campaign(project_id=other_tenant.project_id)
    foreign_experiment = Experiment(
        project_id=other_tenant.project_id,
        campaign_id=theirs.key,
        name="Theirs",
        variants=[Variant(key="A", name="A", weight=1), Variant(key="B", name="B", weight=1)],
    )
    await foreign_experiment.insert()
    async with console_client(app, tenant, "MARKETER") as (http, csrf):
        await http.post("/console/experiments/new", data=experiment_form(csrf, campaign.key))
        # Their campaign is not ours: refused on its field, nothing written.
        foreign = await http.post(
            "/console/experiments/new", data=experiment_form(csrf, theirs.key)
        )
        assert shown_errors(foreign.text)["campaignId"] == "Campaign not found"
        for path in ("", "/promote", "/status/start"):
            missing = await http.get(f"/console/experiments/{foreign_experiment.key}{path}")
            assert missing.status_code == 404, path
    experiment = await Experiment.find_one({"project_id": tenant.project_id})
    assert experiment is not None and await Experiment.find_all().count() == 2
    async with console_client(app, tenant, "VIEWER") as (http, csrf):
        page = await http.get(f"/console/experiments/{experiment.key}")
        assert page.status_code == 200
        assert "Start</a>" not in page.text and "Promote" not in page.text
        listed = await http.get("/console/experiments")
        assert "New experiment" not in listed.text and "Theirs" not in listed.text
        for path in (
            "/console/experiments/new",
            f"/console/experiments/{experiment.key}/status/start",
        ):
            refused = await http.post(path, data={"csrf_token": csrf})
            assert refused.status_code == 403
        assert (await http.get(f"/console/experiments/{foreign_experiment.key}")).status_code == 404
    still = await Experiment.get(experiment.id)
    assert still is not None and still.status == ExperimentStatus.DRAFT
