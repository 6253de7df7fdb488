"""Tills find the customer by exact email, phone or shop id, learn nothing else, and are limited."""

from typing import Any

import pytest

from api.settings import Settings
from domain.campaigns import Limits
from domain.codes import Code
from domain.projects import Role, create_api_key
from domain.redemptions import Redemption
from tests.factories import GraphQLClient, Tenant, make_campaign, make_code, make_customer

# Two lookups that match nobody (5 units each) fill a key's window; a match costs 1.
PER_KEY = "10/day"
VALIDATE = """
query ($code: String!, $email: String, $phone: String, $sourceId: String, $customerId: ID) {
  validateCode(code: $code, customerId: $customerId, customerEmail: $email, customerPhone: $phone,
               customerSourceId: $sourceId, order: {amount: {amount: 5000, currency: "EUR"}})
  { valid reasons discount { amount } amountToPay { amount currency } }
}"""
REDEEM = """
mutation ($code: String!, $email: String, $phone: String, $sourceId: String, $key: String) {
  redeemCode(code: $code, customerEmail: $email, customerPhone: $phone,
             customerSourceId: $sourceId, idempotencyKey: $key,
             order: {amount: {amount: 5000, currency: "EUR"}}) {
    redemption { id customerId customer { id } }
    errors { code field message }
  }
}"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_customer_lookups_per_key": PER_KEY})


async def pos_key(tenant: Tenant) -> GraphQLClient:
    return tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS)).secret)


async def owned_code(tenant: Tenant, display: str = "ADA-0001") -> tuple[str, Code]:
    """A code published to Ada, which only Ada may redeem."""
    ada = await make_customer(
        project_id=tenant.project_id,
        email="ada@example.com",
        phone="+33612345678",
        source_id="shop-42",
    )
    campaign = await make_campaign(project_id=tenant.project_id, limits=Limits(per_code=1))
    return ada.key, await make_code(campaign=campaign, display=display, customer_id=ada.key)


async def test_a_till_redeems_for_the_customer_found_by_email_phone_or_shop_id(
    tenant: Tenant,
) -> None:
    till = await pos_key(tenant)
    ada_id, _ = await owned_code(tenant)
    for index, found_by in enumerate(
        ({"email": " Ada@Example.com "}, {"phone": "+33 6 12 34 56 78"}, {"sourceId": "shop-42"})
    ):
        checked = (await till(VALIDATE, {"code": "ADA-0001", **found_by}))["validateCode"]
        assert checked == {
            "valid": True,
            "reasons": [],
            "discount": {"amount": 500},
            "amountToPay": {"amount": 4500, "currency": "EUR"},
        }, found_by
        if index == 0:
            redeemed = await till(REDEEM, {"code": "ADA-0001", "key": "k1", **found_by})
            payload = redeemed["redeemCode"]
            assert payload["errors"] == []
            # The till learns the id (it may read ids), never the customer's data.
            assert payload["redemption"]["customerId"] == ada_id
            assert payload["redemption"]["customer"] == {"id": ada_id}
            break
    stored = await Redemption.find({"project_id": tenant.project_id}).to_list()
    assert [r.customer_id for r in stored] == [ada_id]


async def test_a_customer_nobody_has_is_a_reason_with_nothing_to_pay_shown(tenant: Tenant) -> None:
    till = await pos_key(tenant)
    await owned_code(tenant)
    checked = await till(VALIDATE, {"code": "ADA-0001", "email": "bob@example.com"})
    assert checked["validateCode"]["reasons"] == ["CUSTOMER_NOT_FOUND"]
    assert checked["validateCode"]["amountToPay"] is None


async def test_an_unknown_or_ambiguous_customer_is_a_typed_error_and_writes_nothing(
    tenant: Tenant,
) -> None:
    _, code = await owned_code(tenant)
    await make_customer(project_id=tenant.project_id, email="twins@example.com")
    await make_customer(project_id=tenant.project_id, email="twins@example.com")
    # A key per attempt: each key's limit allows only two lookups that match nobody.
    unknown = await (await pos_key(tenant))(
        REDEEM, {"code": "ADA-0001", "email": "eve@example.com", "key": "a"}
    )
    twins = await (await pos_key(tenant))(
        REDEEM, {"code": "ADA-0001", "email": "twins@example.com", "key": "b"}
    )
    bad_phone = await (await pos_key(tenant))(
        REDEEM, {"code": "ADA-0001", "phone": "12", "key": "c"}
    )
    two_ways = await (await pos_key(tenant))(
        VALIDATE, {"code": "ADA-0001", "email": "ada@example.com", "sourceId": "shop-42"}
    )

    assert errors(unknown) == [("CUSTOMER_NOT_FOUND", "customerEmail")]
    assert errors(twins) == [("CUSTOMER_AMBIGUOUS", "customerEmail")]
    assert errors(bad_phone) == [("INVALID_PHONE", "customerPhone")]
    assert two_ways["validateCode"] == {
        "valid": False,
        "reasons": ["INVALID"],
        "discount": None,
        "amountToPay": None,
    }
    assert await Redemption.find({"project_id": tenant.project_id}).count() == 0
    stored = await Code.get(code.id)
    assert stored is not None and stored.redeemed_count == 0


async def test_an_id_and_a_lookup_together_are_refused(tenant: Tenant) -> None:
    till = await pos_key(tenant)
    ada_id, _ = await owned_code(tenant)
    checked = await till(
        VALIDATE, {"code": "ADA-0001", "customerId": ada_id, "email": "ada@example.com"}
    )
    assert checked["validateCode"]["reasons"] == ["INVALID"]


async def test_an_erased_customer_is_not_found(tenant: Tenant) -> None:
    till = await pos_key(tenant)
    await make_customer(project_id=tenant.project_id, email="gone@example.com", erased=True)
    await make_code(campaign=await make_campaign(project_id=tenant.project_id), display="OPEN-1")
    checked = await till(VALIDATE, {"code": "OPEN-1", "email": "gone@example.com"})
    assert checked["validateCode"]["reasons"] == ["CUSTOMER_NOT_FOUND"]


async def test_lookups_that_match_nobody_are_limited_per_key(tenant: Tenant) -> None:
    till = await pos_key(tenant)
    other_till = await pos_key(tenant)
    await owned_code(tenant)

    for guess in ("a@example.com", "b@example.com"):
        checked = await till(VALIDATE, {"code": "ADA-0001", "email": guess})
        assert checked["validateCode"]["reasons"] == ["CUSTOMER_NOT_FOUND"]
    refused = await till.raw(VALIDATE, {"code": "ADA-0001", "email": "ada@example.com"})
    refused_redeem = await till(REDEEM, {"code": "ADA-0001", "sourceId": "shop-42", "key": "x"})

    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["RATE_LIMITED"]
    assert errors(refused_redeem) == [("RATE_LIMITED", None)]
    # Checking codes without a lookup, and other keys, are not held back.
    assert (await till(VALIDATE, {"code": "ADA-0001"}))["validateCode"]["valid"] is True
    found = await other_till(VALIDATE, {"code": "ADA-0001", "email": "ada@example.com"})
    assert found["validateCode"]["valid"] is True


def errors(data: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in data["redeemCode"]["errors"]]
