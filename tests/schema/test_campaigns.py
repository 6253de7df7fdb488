"""createCampaign, updateCampaign, pause/resume/end and the campaign queries over GraphQL."""

from typing import Any

import pytest

from domain.campaigns import Campaign
from domain.codes import Code
from domain.customers import issue_customer_token
from domain.projects import Role, create_api_key
from tests.factories import Tenant, eur_input, make_customer

CAMPAIGN_FIELDS = """
id name kind status description terms timezone startsAt endsAt standaloneCode codesPerCustomer
codesCount redeemedCount
discount {
  type percentOff scope
  amountOff { amount currency } maxDiscount { amount currency } fixedPrice { amount currency }
}
limits { perCode perCustomer total perDay }
rules {
  minOrder { amount currency } segmentIds skus categories firstOrderOnly daysOfWeek hours
  customerTags attributes
}
codes { mode pattern charset length prefix suffix luhn }
"""
CREATE = (
    """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) {
    campaign {"""
    + CAMPAIGN_FIELDS
    + """}
    errors { code field message }
  }
}"""
)
UPDATE = (
    """
mutation ($id: ID!, $input: CampaignInput!) {
  updateCampaign(id: $id, input: $input) {
    campaign {"""
    + CAMPAIGN_FIELDS
    + """}
    errors { code field message }
  }
}"""
)
STATUS = """
mutation ($id: ID!) {
  %s(id: $id) { campaign { id status } errors { code field message } }
}"""
BY_ID = "query ($id: ID!) { campaign(id: $id) { id name status } }"
LIST = """
query ($first: Int, $after: String, $filter: CampaignFilter) {
  campaigns(first: $first, after: $after, filter: $filter) {
    edges { node { id name } cursor }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""
VALIDATE = """
query ($code: String!, $order: OrderInput) {
  validateCode(code: $code, order: $order) { valid reasons discount { amount currency } }
}"""
ORDER = {"amount": {"amount": 10_000, "currency": "EUR"}}


async def create(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    """createCampaign's payload for a 10% campaign, with `fields` replacing the defaults."""
    data: dict[str, Any] = {"name": "Summer", "discount": {"type": "PERCENT", "percentOff": 10}}
    data.update(fields)
    return dict((await tenant.gql(CREATE, {"input": data}))["createCampaign"])


async def created(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    payload = await create(tenant, **fields)
    assert payload["errors"] == [], payload["errors"]
    return dict(payload["campaign"])


async def set_status(tenant: Tenant, mutation: str, campaign_id: str) -> dict[str, Any]:
    return dict((await tenant.gql(STATUS % mutation, {"id": campaign_id}))[mutation])


async def count_campaigns() -> int:
    return await Campaign.get_pymongo_collection().count_documents({})


async def validate(tenant: Tenant, code: str) -> dict[str, Any]:
    return dict((await tenant.gql(VALIDATE, {"code": code, "order": ORDER}))["validateCode"])


async def test_create_percent_campaign_with_every_setting(tenant: Tenant) -> None:
    campaign = await created(
        tenant,
        kind="DISCOUNT",
        discount={"type": "PERCENT", "percentOff": 12.5, "maxDiscount": eur_input(2_000)},
        startsAt="2025-06-01T00:00:00+02:00",
        endsAt="2025-09-01T00:00:00Z",
        timezone="Europe/Paris",
        limits={"perCode": 2, "perCustomer": 1, "total": 500, "perDay": 50},
        rules={
            "minOrder": {"amount": 3_000, "currency": "eur"},
            "segmentIds": ["vip"],
            "skus": ["TEE", " TEE", "CAP"],
            "categories": ["hats"],
            "firstOrderOnly": True,
            "daysOfWeek": [6, 1, 6],
            "hours": [18, 9],
            "customerTags": ["Gold"],
            "attributes": {"plan": "pro"},
        },
        codes={"pattern": "sum-####-####", "charset": "abcdef", "prefix": "x-", "suffix": "-z"},
        codesPerCustomer=3,
        description="Summer sale",
        terms="One per order",
    )
    assert campaign["kind"] == "DISCOUNT" and campaign["status"] == "ACTIVE"
    assert campaign["discount"] == {
        "type": "PERCENT",
        "percentOff": 12.5,
        "scope": "ORDER",
        "amountOff": None,
        "maxDiscount": eur_input(2_000),
        "fixedPrice": None,
    }
    assert campaign["startsAt"] == "2025-05-31T22:00:00+00:00"
    assert campaign["endsAt"] == "2025-09-01T00:00:00+00:00"
    assert campaign["timezone"] == "Europe/Paris"
    assert campaign["limits"] == {"perCode": 2, "perCustomer": 1, "total": 500, "perDay": 50}
    assert campaign["rules"] == {
        "minOrder": eur_input(3_000),
        "segmentIds": ["vip"],
        "skus": ["TEE", "CAP"],
        "categories": ["hats"],
        "firstOrderOnly": True,
        "daysOfWeek": [1, 6],
        "hours": [9, 18],
        "customerTags": ["gold"],
        "attributes": {"plan": "pro"},
    }
    assert campaign["codes"] == {
        "mode": "ALPHANUMERIC",
        "pattern": "SUM-####-####",
        "charset": "ABCDEF",
        "length": 8,
        "prefix": "X-",
        "suffix": "-Z",
        "luhn": False,
    }
    assert (campaign["codesPerCustomer"], campaign["codesCount"], campaign["redeemedCount"]) == (
        3,
        0,
        0,
    )
    assert (campaign["description"], campaign["terms"]) == ("Summer sale", "One per order")
    stored = await Campaign.get(campaign["id"])
    assert stored is not None and stored.project_id == tenant.project_id


@pytest.mark.parametrize(
    ("discount", "expected"),
    [
        ({"type": "AMOUNT", "amountOff": eur_input(500)}, {"amountOff": eur_input(500)}),
        ({"type": "FIXED_PRICE", "fixedPrice": eur_input(0)}, {"fixedPrice": eur_input(0)}),
        ({"type": "FREE_SHIPPING"}, {}),
        (
            {"type": "PERCENT", "percentOff": 100, "scope": "ELIGIBLE_ITEMS"},
            {"percentOff": 100.0, "scope": "ELIGIBLE_ITEMS"},
        ),
    ],
)
async def test_create_with_each_discount_type(
    tenant: Tenant, discount: dict[str, Any], expected: dict[str, Any]
) -> None:
    campaign = await created(tenant, discount=discount, rules={"skus": ["TEE"]})
    shown = {key: value for key, value in campaign["discount"].items() if value is not None}
    assert shown == {"type": discount["type"], "scope": "ORDER", **expected}
    # Unique codes are single-use unless told otherwise.
    assert campaign["limits"]["perCode"] == 1


async def test_a_standalone_code_is_stored_and_validates(tenant: Tenant) -> None:
    campaign = await created(tenant, standaloneCode="summer-20")
    assert campaign["standaloneCode"] == "SUMMER20"
    assert campaign["codesCount"] == 1
    # A code shared by everyone is not single-use by default.
    assert campaign["limits"]["perCode"] is None
    code = await Code.find_one({"project_id": tenant.project_id, "code": "SUMMER20"})
    assert code is not None and code.campaign_id == campaign["id"]
    assert code.display == "SUMMER-20"
    assert await validate(tenant, "Summer 20") == {
        "valid": True,
        "reasons": [],
        "discount": eur_input(1_000),
    }


INVALID_INPUTS = [
    ({"discount": {"type": "PERCENT", "percentOff": 0}}, "INVALID_PERCENT", "discount.percentOff"),
    (
        {"discount": {"type": "PERCENT", "percentOff": 100.5}},
        "INVALID_PERCENT",
        "discount.percentOff",
    ),
    ({"discount": {"type": "PERCENT"}}, "REQUIRED", "discount.percentOff"),
    (
        {"discount": {"type": "PERCENT", "percentOff": 5, "maxDiscount": eur_input(0)}},
        "INVALID_AMOUNT",
        "discount.maxDiscount",
    ),
    (
        {"discount": {"type": "AMOUNT", "amountOff": eur_input(-100)}},
        "INVALID_AMOUNT",
        "discount.amountOff",
    ),
    ({"discount": {"type": "AMOUNT"}}, "REQUIRED", "discount.amountOff"),
    (
        {"discount": {"type": "AMOUNT", "amountOff": {"amount": 5, "currency": "EURO"}}},
        "INVALID_CURRENCY",
        "discount.amountOff.currency",
    ),
    (
        {"discount": {"type": "FIXED_PRICE", "fixedPrice": eur_input(-1)}},
        "INVALID_AMOUNT",
        "discount.fixedPrice",
    ),
    (
        {"discount": {"type": "FREE_SHIPPING", "percentOff": 10}},
        "NOT_APPLICABLE",
        "discount.percentOff",
    ),
    (
        {
            "discount": {"type": "AMOUNT", "amountOff": eur_input(500)},
            "rules": {"minOrder": {"amount": 2_000, "currency": "USD"}},
        },
        "CURRENCY_MISMATCH",
        "rules.minOrder.currency",
    ),
    (
        {"discount": {"type": "PERCENT", "percentOff": 5, "scope": "ELIGIBLE_ITEMS"}},
        "SCOPE_NEEDS_ITEMS",
        "discount.scope",
    ),
    ({"discount": None}, "REQUIRED", "discount"),
    ({"name": "  "}, "REQUIRED", "name"),
    (
        {"startsAt": "2025-06-02T00:00:00Z", "endsAt": "2025-06-01T00:00:00Z"},
        "INVALID_WINDOW",
        "endsAt",
    ),
    (
        {"startsAt": "2025-06-01T00:00:00Z", "endsAt": "2025-06-01T00:00:00Z"},
        "INVALID_WINDOW",
        "endsAt",
    ),
    ({"timezone": "Mars/Olympus_Mons"}, "INVALID_TIMEZONE", "timezone"),
    ({"timezone": "../../etc/passwd"}, "INVALID_TIMEZONE", "timezone"),
    ({"timezone": "localtime"}, "INVALID_TIMEZONE", "timezone"),
    ({"rules": {"hours": [9, 24]}}, "INVALID_HOUR", "rules.hours"),
    ({"rules": {"hours": [-1]}}, "INVALID_HOUR", "rules.hours"),
    ({"rules": {"daysOfWeek": [0, 3]}}, "INVALID_DAY_OF_WEEK", "rules.daysOfWeek"),
    ({"rules": {"daysOfWeek": [8]}}, "INVALID_DAY_OF_WEEK", "rules.daysOfWeek"),
    ({"rules": {"minOrder": eur_input(-1)}}, "INVALID_AMOUNT", "rules.minOrder"),
    ({"rules": {"attributes": [1, 2]}}, "INVALID", "rules.attributes"),
    ({"limits": {"perCode": 0}}, "INVALID_LIMIT", "limits.perCode"),
    ({"limits": {"perDay": -3}}, "INVALID_LIMIT", "limits.perDay"),
    ({"codesPerCustomer": 0}, "INVALID_LIMIT", "codesPerCustomer"),
    ({"codes": {"pattern": "SUMMER-AAAA"}}, "INVALID_PATTERN", "codes.pattern"),
    ({"codes": {"pattern": "SUM_##"}}, "INVALID_PATTERN", "codes.pattern"),
    ({"codes": {"mode": "NUMERIC", "length": 11}}, "INVALID_CODE_LENGTH", "codes.length"),
    ({"codes": {"mode": "NUMERIC", "length": 17}}, "INVALID_CODE_LENGTH", "codes.length"),
    ({"codes": {"mode": "NUMERIC", "prefix": "AB"}}, "INVALID_AFFIX", "codes.prefix"),
    ({"codes": {"luhn": True}}, "LUHN_NEEDS_NUMERIC", "codes.luhn"),
    ({"codes": {"length": 3}}, "INVALID_CODE_LENGTH", "codes.length"),
    ({"codes": {"charset": "A"}}, "INVALID_CHARSET", "codes.charset"),
    ({"codes": {"prefix": "SALE#"}}, "INVALID_AFFIX", "codes.prefix"),
    ({"standaloneCode": "S!"}, "INVALID_CODE", "standaloneCode"),
]


@pytest.mark.parametrize(("fields", "code", "field"), INVALID_INPUTS)
async def test_invalid_input_is_a_user_error_and_writes_nothing(
    tenant: Tenant, fields: dict[str, Any], code: str, field: str
) -> None:
    before = await count_campaigns()
    payload = await create(tenant, **fields)
    assert payload["campaign"] is None
    assert (code, field) in [(e["code"], e["field"]) for e in payload["errors"]], payload
    assert await count_campaigns() == before


async def test_every_problem_is_reported_at_once(tenant: Tenant) -> None:
    await created(tenant, standaloneCode="SUMMER20")
    codes_before = await Code.get_pymongo_collection().count_documents({})
    payload = await create(
        tenant,
        name="",
        discount={"type": "PERCENT", "percentOff": 150},
        timezone="Nowhere/Land",
        rules={"hours": [25]},
        standaloneCode="summer 20",
    )
    assert {(e["code"], e["field"]) for e in payload["errors"]} == {
        ("REQUIRED", "name"),
        ("INVALID_PERCENT", "discount.percentOff"),
        ("INVALID_TIMEZONE", "timezone"),
        ("INVALID_HOUR", "rules.hours"),
        ("DUPLICATE_CODE", "standaloneCode"),
    }
    assert await count_campaigns() == 1
    assert await Code.get_pymongo_collection().count_documents({}) == codes_before


async def test_standalone_codes_are_unique_per_project_only(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await created(tenant, standaloneCode="WELCOME10")
    duplicate = await create(tenant, name="Again", standaloneCode="welcome-10")
    assert [(e["code"], e["field"]) for e in duplicate["errors"]] == [
        ("DUPLICATE_CODE", "standaloneCode")
    ]
    assert await Campaign.find({"project_id": tenant.project_id}).count() == 1

    elsewhere = await created(other_tenant, standaloneCode="WELCOME10")
    assert elsewhere["standaloneCode"] == "WELCOME10"
    assert (await validate(other_tenant, "welcome10"))["valid"] is True
    assert (await validate(tenant, "welcome10"))["valid"] is True


async def test_numeric_codes_with_a_luhn_digit(tenant: Tenant) -> None:
    campaign = await created(
        tenant, codes={"mode": "NUMERIC", "length": 16, "prefix": "4000", "luhn": True}
    )
    assert campaign["codes"] == {
        "mode": "NUMERIC",
        "pattern": None,
        "charset": "0123456789",
        "length": 16,
        "prefix": "4000",
        "suffix": "",
        "luhn": True,
    }


async def test_partial_update_changes_only_the_given_fields(tenant: Tenant) -> None:
    original = await created(
        tenant,
        discount={"type": "PERCENT", "percentOff": 10, "maxDiscount": eur_input(1_500)},
        startsAt="2025-06-01T00:00:00Z",
        endsAt="2025-09-01T00:00:00Z",
        timezone="Europe/Paris",
        limits={"perCode": 3, "perCustomer": 1, "total": 100},
        rules={"minOrder": eur_input(2_000), "skus": ["TEE"], "hours": [9, 10]},
        codes={"prefix": "SUM-"},
        description="Summer sale",
    )

    renamed = (await tenant.gql(UPDATE, {"id": original["id"], "input": {"name": "Summer II"}}))[
        "updateCampaign"
    ]
    assert renamed["errors"] == []
    assert renamed["campaign"] == {**original, "name": "Summer II"}

    changed = (
        await tenant.gql(
            UPDATE,
            {
                "id": original["id"],
                "input": {
                    "discount": {"percentOff": 15},
                    "limits": {"total": None},
                    "rules": {"hours": [12]},
                    "endsAt": None,
                },
            },
        )
    )["updateCampaign"]
    assert changed["errors"] == []
    campaign = changed["campaign"]
    assert campaign["discount"]["percentOff"] == 15
    assert campaign["discount"]["maxDiscount"] == eur_input(1_500)
    assert campaign["limits"] == {"perCode": 3, "perCustomer": 1, "total": None, "perDay": None}
    assert campaign["rules"] == {**original["rules"], "hours": [12]}
    assert campaign["endsAt"] is None and campaign["startsAt"] == original["startsAt"]
    assert (campaign["name"], campaign["description"], campaign["timezone"]) == (
        "Summer II",
        "Summer sale",
        "Europe/Paris",
    )
    assert campaign["codes"] == original["codes"]

    # An explicit null clears a nullable value; leaving it out keeps it.
    cleared = (
        await tenant.gql(
            UPDATE,
            {"id": original["id"], "input": {"discount": {"maxDiscount": None}}},
        )
    )["updateCampaign"]["campaign"]
    assert cleared["discount"]["maxDiscount"] is None
    assert cleared["discount"]["percentOff"] == 15


async def test_switching_discount_type_drops_the_old_amounts(tenant: Tenant) -> None:
    original = await created(
        tenant, discount={"type": "PERCENT", "percentOff": 10, "maxDiscount": eur_input(1_500)}
    )
    switched = (
        await tenant.gql(
            UPDATE,
            {
                "id": original["id"],
                "input": {"discount": {"type": "AMOUNT", "amountOff": eur_input(700)}},
            },
        )
    )["updateCampaign"]
    assert switched["errors"] == []
    assert switched["campaign"]["discount"] == {
        "type": "AMOUNT",
        "percentOff": None,
        "scope": "ORDER",
        "amountOff": eur_input(700),
        "maxDiscount": None,
        "fixedPrice": None,
    }


async def test_an_invalid_update_changes_nothing(tenant: Tenant) -> None:
    original = await created(
        tenant, startsAt="2025-06-01T00:00:00Z", standaloneCode="FIXED1", description="kept"
    )
    for fields, expected in [
        ({"endsAt": "2025-05-01T00:00:00Z", "name": "New"}, ("INVALID_WINDOW", "endsAt")),
        (
            {"discount": {"percentOff": 101}, "description": "changed"},
            ("INVALID_PERCENT", "discount.percentOff"),
        ),
        ({"standaloneCode": "OTHER1"}, ("IMMUTABLE", "standaloneCode")),
    ]:
        payload = (await tenant.gql(UPDATE, {"id": original["id"], "input": fields}))[
            "updateCampaign"
        ]
        assert payload["campaign"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected]
    unchanged = (await tenant.gql(UPDATE, {"id": original["id"], "input": {}}))["updateCampaign"]
    assert unchanged["campaign"] == original
    # Repeating the campaign's own standalone code is no change.
    same = await tenant.gql(UPDATE, {"id": original["id"], "input": {"standaloneCode": "fixed-1"}})
    assert same["updateCampaign"]["errors"] == []


async def test_pause_makes_codes_invalid_and_resume_makes_them_valid(tenant: Tenant) -> None:
    campaign = await created(tenant, standaloneCode="SUMMER20")
    paused = await set_status(tenant, "pauseCampaign", campaign["id"])
    assert paused == {"campaign": {"id": campaign["id"], "status": "PAUSED"}, "errors": []}
    assert await validate(tenant, "SUMMER20") == {
        "valid": False,
        "reasons": ["PAUSED"],
        "discount": None,
    }
    resumed = await set_status(tenant, "resumeCampaign", campaign["id"])
    assert resumed["campaign"]["status"] == "ACTIVE"
    assert (await validate(tenant, "SUMMER20"))["valid"] is True


async def test_an_ended_campaign_stays_ended(tenant: Tenant) -> None:
    campaign = await created(tenant, standaloneCode="SUMMER20")
    await set_status(tenant, "pauseCampaign", campaign["id"])
    ended = await set_status(tenant, "endCampaign", campaign["id"])
    assert ended["campaign"]["status"] == "ENDED" and ended["errors"] == []
    for mutation in ("resumeCampaign", "pauseCampaign"):
        refused = await set_status(tenant, mutation, campaign["id"])
        assert refused["campaign"] is None
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("CAMPAIGN_ENDED", "id")]
    # Ending again is a no-op, not an error.
    assert (await set_status(tenant, "endCampaign", campaign["id"]))["errors"] == []
    assert (await tenant.gql(BY_ID, {"id": campaign["id"]}))["campaign"]["status"] == "ENDED"
    assert (await validate(tenant, "SUMMER20"))["reasons"] == ["EXPIRED"]


async def test_another_project_cannot_read_list_update_or_pause(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    campaign = await created(tenant)
    other = other_tenant.gql

    assert (await other(BY_ID, {"id": campaign["id"]}))["campaign"] is None
    assert (await other(LIST, {}))["campaigns"]["totalCount"] == 0
    updated = (await other(UPDATE, {"id": campaign["id"], "input": {"name": "Mine"}}))[
        "updateCampaign"
    ]
    assert [(e["code"], e["field"]) for e in updated["errors"]] == [("NOT_FOUND", "id")]
    for mutation in ("pauseCampaign", "resumeCampaign", "endCampaign"):
        refused = await set_status(other_tenant, mutation, campaign["id"])
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("NOT_FOUND", "id")]

    assert (await tenant.gql(BY_ID, {"id": campaign["id"]}))["campaign"] == {
        "id": campaign["id"],
        "name": "Summer",
        "status": "ACTIVE",
    }
    # Ids that are not ids at all are simply not found.
    assert (await tenant.gql(BY_ID, {"id": "nope"}))["campaign"] is None
    bad = await set_status(tenant, "pauseCampaign", "nope")
    assert [e["code"] for e in bad["errors"]] == ["NOT_FOUND"]


async def test_pos_keys_and_customer_tokens_are_forbidden(tenant: Tenant) -> None:
    campaign = await created(tenant)
    pos = (await create_api_key(tenant.project_id, Role.POS, "till 1")).secret
    customer = await make_customer(project_id=tenant.project_id)
    token = await issue_customer_token(tenant.project_id, customer.key)
    before = await count_campaigns()
    requests: list[tuple[str, dict[str, Any]]] = [
        (CREATE, {"input": {"name": "X", "discount": {"type": "FREE_SHIPPING"}}}),
        (UPDATE, {"id": campaign["id"], "input": {"name": "X"}}),
        (STATUS % "pauseCampaign", {"id": campaign["id"]}),
        (BY_ID, {"id": campaign["id"]}),
        (LIST, {}),
    ]
    for caller in (tenant.gql.as_token(pos), tenant.gql.as_token(token)):
        for query, variables in requests:
            body = (await caller.raw(query, variables)).json()
            # A nullable field (campaign) answers null beside the error; the others null `data`.
            assert body["data"] in (None, {"campaign": None}), query
            assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}, query
    assert await count_campaigns() == before
    assert (await tenant.gql(BY_ID, {"id": campaign["id"]}))["campaign"]["name"] == "Summer"
    assert (await tenant.gql(BY_ID, {"id": campaign["id"]}))["campaign"]["status"] == "ACTIVE"


async def test_list_filters_and_pages_with_a_total(tenant: Tenant) -> None:
    made = [(await created(tenant, name=f"Discount {i}"))["id"] for i in range(3)]
    referral = await created(
        tenant,
        name="Referral",
        kind="REFERRAL",
        discount=None,
        referral={"landingUrl": "https://shop.example/"},
    )
    await set_status(tenant, "pauseCampaign", made[1])

    def ids(connection: dict[str, Any]) -> list[str]:
        return [edge["node"]["id"] for edge in connection["edges"]]

    first = (await tenant.gql(LIST, {"first": 2}))["campaigns"]
    assert ids(first) == made[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["totalCount"] == 4
    rest = (await tenant.gql(LIST, {"first": 2, "after": first["pageInfo"]["endCursor"]}))[
        "campaigns"
    ]
    assert ids(rest) == [made[2], referral["id"]]
    assert rest["pageInfo"]["hasNextPage"] is False

    discounts = (await tenant.gql(LIST, {"filter": {"kind": "DISCOUNT"}}))["campaigns"]
    assert (ids(discounts), discounts["totalCount"]) == (made, 3)
    active = (
        await tenant.gql(LIST, {"first": 1, "filter": {"kind": "DISCOUNT", "status": "ACTIVE"}})
    )["campaigns"]
    assert (ids(active), active["totalCount"]) == ([made[0]], 2)
    paused = (await tenant.gql(LIST, {"filter": {"status": "PAUSED"}}))["campaigns"]
    assert ids(paused) == [made[1]]

    for variables, code in (
        ({"after": "not-a-cursor"}, "INVALID_CURSOR"),
        ({"first": -1}, "INVALID"),
    ):
        error = (await tenant.gql.raw(LIST, variables)).json()["errors"][0]
        assert error["extensions"]["code"] == code, error
