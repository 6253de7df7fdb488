"""A/B experiments over GraphQL: variants and a holdout from publish to redeem, results with
lift and p-value, promotion, tenancy, and refused input that writes nothing."""

from typing import Any

from domain.experiments import HOLDOUT, Experiment, ExperimentAssignment, assign
from domain.stats_tests import two_proportion_z_test
from tests.factories import Tenant, create_campaign_over_graphql, eur_input

CUSTOMER = "mutation ($n: String) { createCustomer(input: {name: $n}) { customer { id } } }"
CREATE = """
mutation ($input: ExperimentInput!) {
  createExperiment(input: $input) {
    experiment { id status holdoutWeight alpha variants { key name weight templateId
                 discount { type percentOff amountOff { amount currency } }
                 rules { minOrder { amount currency } hours firstOrderOnly } } }
    errors { code field message }
  }
}"""
START = """
mutation ($id: ID!) {
  startExperiment(id: $id) { experiment { id status startedAt } errors { code field } }
}"""
STOP = """
mutation ($id: ID!) { stopExperiment(id: $id) { experiment { id status } errors { code field } } }
"""
PROMOTE = """
mutation ($id: ID!, $key: String) {
  promoteWinner(id: $id, variantKey: $key) {
    experiment { status promotedVariant }
    campaign { discount { type percentOff amountOff { amount } } rules { minOrder { amount } } }
    errors { code field }
  }
}"""
PUBLISH = """
mutation ($c: ID!, $u: ID!) {
  publishCode(campaignId: $c, customerId: $u) { code { code variant } errors { code field } }
}"""
REDEEM = """
mutation ($code: String!, $u: ID, $order: OrderInput) {
  redeemCode(code: $code, customerId: $u, order: $order) {
    redemption { discount { amount currency } } errors { code }
  }
}"""
ORDER = """
mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { errors { code } } }
"""
RESULTS = """
query ($id: ID!) {
  experiment(id: $id) {
    status
    results {
      currency winner alpha
      decision { variant test { against pValue significant } }
      holdout { key assigned issued converted conversion revenue { amount } }
      variants {
        key assigned issued redeemed converted conversion roi
        revenue { amount currency } discountCost { amount }
        againstHoldout { against lift relativeLift zScore pValue significant
                         confidenceInterval { low high level } }
      }
    }
  }
}"""
LIST = "query ($c: ID) { experiments(campaignId: $c) { edges { node { id name } } } }"


def experiment_input(campaign_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "campaignId": campaign_id,
        "name": "Offer test",
        "variants": [
            {
                "key": "pct20",
                "name": "20% off",
                "weight": 45,
                "discount": {"type": "PERCENT", "percentOff": 20},
            },
            {
                "key": "eur5",
                "weight": 45,
                "discount": {"type": "AMOUNT", "amountOff": eur_input(500)},
            },
        ],
        "holdoutWeight": 10,
        **extra,
    }


async def test_experiment_end_to_end(tenant: Tenant) -> None:
    gql = tenant.gql
    campaign_id = await create_campaign_over_graphql(tenant=tenant)
    created = (await gql(CREATE, {"input": experiment_input(campaign_id, holdoutWeight=30)}))[
        "createExperiment"
    ]
    assert created["errors"] == []
    experiment = created["experiment"]
    assert experiment["status"] == "DRAFT"
    assert [v["discount"]["type"] for v in experiment["variants"]] == ["PERCENT", "AMOUNT"]
    experiment_id = experiment["id"]
    assert (await gql(START, {"id": experiment_id}))["startExperiment"]["experiment"][
        "status"
    ] == "RUNNING"
    arms = [("pct20", 45), ("eur5", 45), (HOLDOUT, 30)]
    members: dict[str, list[str]] = {"pct20": [], "eur5": [], HOLDOUT: []}
    codes: dict[str, str] = {}
    n = 0
    # Customers until every arm has six (assignment is a pure function of the ids).
    while min(len(m) for m in members.values()) < 6:
        customer_id = (await gql(CUSTOMER, {"n": f"c{n}"}))["createCustomer"]["customer"]["id"]
        n += 1
        arm = assign(experiment_id=experiment_id, customer_id=customer_id, arms=arms)
        members[arm].append(customer_id)
        published = (await gql(PUBLISH, {"c": campaign_id, "u": customer_id}))["publishCode"]
        if arm == HOLDOUT:
            assert published["code"] is None
            assert published["errors"] == [{"code": "HOLDOUT", "field": "customerId"}]
        else:
            assert published["errors"] == [] and published["code"]["variant"] == arm
            codes[customer_id] = published["code"]["code"]
    # Every pct20 customer redeems on a 100.00 order; two eur5 customers do; one holdout
    # customer orders without a code.
    order_no = 0
    for arm, buyers in (("pct20", members["pct20"]), ("eur5", members["eur5"][:2])):
        for customer_id in buyers:
            order_no += 1
            redeemed = (
                await gql(
                    REDEEM,
                    {
                        "code": codes[customer_id],
                        "u": customer_id,
                        "order": {"id": f"o{order_no}", "amount": eur_input(10_000)},
                    },
                )
            )["redeemCode"]
            expected = 2_000 if arm == "pct20" else 500
            assert redeemed["redemption"]["discount"] == eur_input(expected)
            await gql(
                ORDER,
                {
                    "input": {
                        "id": f"o{order_no}",
                        "customerId": customer_id,
                        "amount": eur_input(10_000 - expected),
                        "codes": [codes[customer_id]],
                    }
                },
            )
    await gql(
        ORDER,
        {"input": {"id": "h1", "customerId": members[HOLDOUT][0], "amount": eur_input(3_000)}},
    )

    results = (await gql(RESULTS, {"id": experiment_id}))["experiment"]["results"]
    by_key = {v["key"]: v for v in results["variants"]}
    pct, flat, holdout = by_key["pct20"], by_key["eur5"], results["holdout"]
    sizes = {k: len(v) for k, v in members.items()}
    assert (pct["assigned"], flat["assigned"], holdout["assigned"]) == (
        sizes["pct20"],
        sizes["eur5"],
        sizes[HOLDOUT],
    )
    assert (pct["issued"], flat["issued"], holdout["issued"]) == (sizes["pct20"], sizes["eur5"], 0)
    assert (pct["redeemed"], flat["redeemed"]) == (sizes["pct20"], 2)
    assert (pct["converted"], flat["converted"], holdout["converted"]) == (sizes["pct20"], 2, 1)
    assert pct["revenue"] == eur_input(8_000 * sizes["pct20"])
    assert pct["discountCost"]["amount"] == 2_000 * sizes["pct20"]
    assert pct["roi"] == 3.0
    assert holdout["revenue"]["amount"] == 3_000
    test = two_proportion_z_test(sizes["pct20"], sizes["pct20"], 1, sizes[HOLDOUT])
    assert test is not None and test.significant
    lift = pct["againstHoldout"]
    assert lift["against"] == HOLDOUT
    assert lift["lift"] == 1 - 1 / sizes[HOLDOUT]
    assert lift["relativeLift"] == (1 - 1 / sizes[HOLDOUT]) / (1 / sizes[HOLDOUT])
    assert lift["pValue"] == test.p_value and lift["zScore"] == test.z
    assert lift["confidenceInterval"] == {"low": test.ci_low, "high": test.ci_high, "level": 0.95}
    assert results["decision"]["variant"] == "pct20"
    assert results["winner"] == "pct20" and results["currency"] == "EUR"

    promoted = (await gql(PROMOTE, {"id": experiment_id}))["promoteWinner"]
    assert promoted["errors"] == []
    assert promoted["experiment"] == {"status": "STOPPED", "promotedVariant": "pct20"}
    assert promoted["campaign"]["discount"] == {
        "type": "PERCENT",
        "percentOff": 20.0,
        "amountOff": None,
    }
    # A code of the losing variant keeps its offer; a new customer gets the promoted one.
    loser = members["eur5"][-1]
    kept = (
        await gql(
            REDEEM,
            {
                "code": codes[loser],
                "u": loser,
                "order": {"id": "late", "amount": eur_input(10_000)},
            },
        )
    )["redeemCode"]
    assert kept["redemption"]["discount"] == eur_input(500)
    newcomer = (await gql(CUSTOMER, {"n": "new"}))["createCustomer"]["customer"]["id"]
    fresh = (await gql(PUBLISH, {"c": campaign_id, "u": newcomer}))["publishCode"]["code"]
    assert fresh["variant"] == ""
    redeemed = (
        await gql(
            REDEEM,
            {
                "code": fresh["code"],
                "u": newcomer,
                "order": {"id": "new", "amount": eur_input(10_000)},
            },
        )
    )["redeemCode"]
    assert redeemed["redemption"]["discount"] == eur_input(2_000)


async def test_invalid_input_writes_nothing(tenant: Tenant) -> None:
    campaign_id = await create_campaign_over_graphql(tenant=tenant)
    bad = experiment_input(
        campaign_id,
        variants=[
            {"key": "a", "weight": 0, "discount": {"type": "PERCENT", "percentOff": 150}},
            {"key": "a", "templateId": "665f1c2e9b1e8a0012345678"},
            {"key": "Holdout", "rules": {"hours": [25], "minOrder": eur_input(-1)}},
        ],
        holdoutWeight=-1,
        alpha=0.9,
    )
    errors = (await tenant.gql(CREATE, {"input": bad}))["createExperiment"]["errors"]
    assert {(e["code"], e["field"]) for e in errors} >= {
        ("INVALID_WEIGHT", "variants.0.weight"),
        ("INVALID_PERCENT", "variants.0.discount.percentOff"),
        ("NOT_FOUND", "variants.1.templateId"),
        ("RESERVED_KEY", "variants.2.key"),
        ("INVALID_HOUR", "variants.2.rules.hours"),
        ("INVALID_AMOUNT", "variants.2.rules.minOrder"),
        ("DUPLICATE_KEY", "variants"),
        ("INVALID_WEIGHT", "holdoutWeight"),
        ("INVALID_ALPHA", "alpha"),
    }
    one = experiment_input(campaign_id, variants=[{"key": "only"}])
    errors = (await tenant.gql(CREATE, {"input": one}))["createExperiment"]["errors"]
    assert [e["code"] for e in errors] == ["INVALID_VARIANTS"]
    shared = await create_campaign_over_graphql(tenant=tenant, standaloneCode="SPRING10")
    errors = (await tenant.gql(CREATE, {"input": experiment_input(shared)}))["createExperiment"][
        "errors"
    ]
    assert [e["code"] for e in errors] == ["STANDALONE_CODE"]
    assert await Experiment.find({"project_id": tenant.project_id}).count() == 0

    # A second experiment cannot start while one runs; the refused one stays a DRAFT.
    first = (await tenant.gql(CREATE, {"input": experiment_input(campaign_id)}))["createExperiment"]
    second = (await tenant.gql(CREATE, {"input": experiment_input(campaign_id)}))[
        "createExperiment"
    ]
    await tenant.gql(START, {"id": first["experiment"]["id"]})
    refused = (await tenant.gql(START, {"id": second["experiment"]["id"]}))["startExperiment"]
    assert refused["errors"] == [{"code": "EXPERIMENT_ALREADY_RUNNING", "field": "id"}]
    stored = await Experiment.find({"project_id": tenant.project_id}).to_list()
    assert sorted(e.status.value for e in stored) == ["DRAFT", "RUNNING"]
    # No significant winner: promotion is refused and the campaign keeps its discount.
    refused = (await tenant.gql(PROMOTE, {"id": first["experiment"]["id"]}))["promoteWinner"]
    assert refused["errors"] == [{"code": "NO_SIGNIFICANT_WINNER", "field": "id"}]
    unknown = await tenant.gql(PROMOTE, {"id": first["experiment"]["id"], "key": "zzz"})
    assert unknown["promoteWinner"]["errors"] == [
        {"code": "UNKNOWN_VARIANT", "field": "variantKey"}
    ]
    campaign = await tenant.gql(
        "query ($id: ID!) { campaign(id: $id) { discount { percentOff } } }", {"id": campaign_id}
    )
    assert campaign["campaign"]["discount"]["percentOff"] == 10.0
    # Forcing a variant promotes it without significance.
    forced = await tenant.gql(PROMOTE, {"id": first["experiment"]["id"], "key": "eur5"})
    assert forced["promoteWinner"]["campaign"]["discount"]["amountOff"] == {"amount": 500}
    stopped = (await tenant.gql(STOP, {"id": first["experiment"]["id"]}))["stopExperiment"]
    assert stopped["errors"] == [{"code": "EXPERIMENT_STOPPED", "field": "id"}]


async def test_experiments_belong_to_their_project(tenant: Tenant, other_tenant: Tenant) -> None:
    campaign_id = await create_campaign_over_graphql(tenant=tenant)
    created = (await tenant.gql(CREATE, {"input": experiment_input(campaign_id)}))[
        "createExperiment"
    ]
    experiment_id = created["experiment"]["id"]
    await tenant.gql(START, {"id": experiment_id})
    other = other_tenant.gql
    assert (await other(RESULTS, {"id": experiment_id}))["experiment"] is None
    assert (await other(LIST, {"c": campaign_id}))["experiments"]["edges"] == []
    for mutation, name in ((STOP, "stopExperiment"), (PROMOTE, "promoteWinner")):
        errors = (await other(mutation, {"id": experiment_id}))[name]["errors"]
        assert errors == [{"code": "NOT_FOUND", "field": "id"}]
    refused = (await other(CREATE, {"input": experiment_input(campaign_id)}))["createExperiment"]
    assert refused["errors"][0]["code"] == "NOT_FOUND"
    # The other project's publish on its own campaign is not touched by this experiment.
    own_campaign = await create_campaign_over_graphql(tenant=other_tenant)
    customer = (await other(CUSTOMER, {"n": "x"}))["createCustomer"]["customer"]["id"]
    code = (await other(PUBLISH, {"c": own_campaign, "u": customer}))["publishCode"]["code"]
    assert code["variant"] == ""
    assert await ExperimentAssignment.find({"project_id": other_tenant.project_id}).count() == 0
    listed = (await tenant.gql(LIST, {"c": campaign_id}))["experiments"]["edges"]
    assert [e["node"]["id"] for e in listed] == [experiment_id]
    assert (await tenant.gql(RESULTS, {"id": experiment_id}))["experiment"]["status"] == "RUNNING"


async def test_a_variant_carries_its_own_rules_into_the_campaign(tenant: Tenant) -> None:
    campaign_id = await create_campaign_over_graphql(tenant=tenant)
    variants = [
        {"key": "big", "rules": {"minOrder": eur_input(5_000), "firstOrderOnly": True}},
        {"key": "any"},
    ]
    made = (await tenant.gql(CREATE, {"input": experiment_input(campaign_id, variants=variants)}))[
        "createExperiment"
    ]
    assert made["errors"] == []
    big, any_order = made["experiment"]["variants"]
    assert big["rules"] == {"minOrder": eur_input(5_000), "hours": [], "firstOrderOnly": True}
    assert big["discount"] is None and any_order["rules"] is None
    experiment_id = made["experiment"]["id"]
    await tenant.gql(START, {"id": experiment_id})
    promoted = (await tenant.gql(PROMOTE, {"id": experiment_id, "key": "big"}))["promoteWinner"]
    assert promoted["errors"] == []
    assert promoted["campaign"]["rules"] == {"minOrder": {"amount": 5_000}}
    assert promoted["campaign"]["discount"]["percentOff"] == 10
