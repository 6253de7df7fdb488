"""Control characters and values the database cannot store are refused in every argument, with
a field error and nothing written."""

import json
from typing import Any

import pytest

from domain import campaigns, customer_lifecycle
from domain.campaigns import Campaign, CampaignInput
from domain.customers import Customer, CustomerInput
from domain.errors import DomainError
from domain.messages import MessageChannel
from domain.templates import MessageTemplate, TemplateContent, validated_content
from tests.factories import Tenant

CREATE_CUSTOMER = """mutation ($input: CustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code field message } } }"""


async def create_customer(tenant: Tenant, **fields: Any) -> list[dict[str, Any]]:
    data = await tenant.gql(CREATE_CUSTOMER, {"input": fields})
    errors: list[dict[str, Any]] = data["createCustomer"]["errors"]
    if errors:
        assert data["createCustomer"]["customer"] is None
    return errors


async def stored_customers(tenant: Tenant) -> int:
    return await Customer.find({"project_id": tenant.project_id}).count()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "Ada\x00Lovelace"}, "name"),
        ({"name": "Ada\nBcc: everyone@example.com"}, "name"),
        ({"name": "bell\x07"}, "name"),
        ({"name": "del\x7f"}, "name"),
        ({"sourceId": "crm-1\x00"}, "sourceId"),
        ({"email": "ada@example.com\r\nBcc: x@example.com"}, "email"),
        ({"phone": "+33612345678\x00"}, "phone"),
        ({"tags": ["ok", "vip\x1b"]}, "tags.1"),
        ({"attributes": {"city": "Par\x00is"}}, "attributes.city"),
        ({"attributes": {"ci\x00ty": "Paris"}}, "attributes.ci\x00ty"),
        ({"attributes": {"nested": {"list": ["ok", "no\x0b"]}}}, "attributes.nested.list.1"),
    ],
)
async def test_control_characters_are_refused_and_nothing_is_stored(
    tenant: Tenant, fields: dict[str, Any], field: str
) -> None:
    errors = await create_customer(tenant, **fields)
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_CHARACTERS", field)]
    assert await stored_customers(tenant) == 0


async def test_a_lone_surrogate_is_refused(tenant: Tenant) -> None:
    """JSON can escape half a surrogate pair; no database can store it."""
    body = json.dumps({"query": CREATE_CUSTOMER, "variables": {"input": {"name": "a\ud800"}}})
    response = await tenant.gql.http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {tenant.admin_key}", "Content-Type": "application/json"},
    )
    errors = response.json()["data"]["createCustomer"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_CHARACTERS", "name")]
    assert await stored_customers(tenant) == 0


async def test_multiline_attribute_values_are_kept(tenant: Tenant) -> None:
    errors = await create_customer(
        tenant, name="Ada", attributes={"address": "1 Main St\r\n75001\tParis"}
    )
    assert errors == []
    [customer] = await Customer.find({"project_id": tenant.project_id}).to_list()
    assert customer.attributes == {"address": "1 Main St\r\n75001\tParis"}


@pytest.mark.parametrize(
    ("attributes", "code", "field"),
    [
        ({"big": 2**70}, "INVALID_VALUE", "attributes.big"),
        ({"small": -(2**63) - 1}, "INVALID_VALUE", "attributes.small"),
        ({"deep": {"list": [1, 2**64]}}, "INVALID_VALUE", "attributes.deep.list.1"),
        ({"$where": "1"}, "INVALID_VALUE", "attributes.$where"),
        ({"a": {"$gt": 1}}, "INVALID_VALUE", "attributes.a.$gt"),
        ({"a.b": 1}, "INVALID_VALUE", "attributes.a.b"),
        ({"": 1}, "INVALID_VALUE", "attributes"),
    ],
)
async def test_attributes_the_database_cannot_store_are_refused(
    tenant: Tenant, attributes: dict[str, Any], code: str, field: str
) -> None:
    errors = await create_customer(tenant, name="Ada", attributes=attributes)
    assert [(e["code"], e["field"]) for e in errors] == [(code, field)]
    assert await stored_customers(tenant) == 0


async def test_64_bit_integers_are_stored(tenant: Tenant) -> None:
    errors = await create_customer(tenant, attributes={"max": 2**63 - 1, "min": -(2**63)})
    assert errors == []


async def test_a_campaign_name_with_a_control_character_is_refused(tenant: Tenant) -> None:
    data = await tenant.gql(
        """mutation ($name: String!) {
             createCampaign(input: {name: $name, kind: DISCOUNT,
                                    discount: {type: PERCENT, percentOff: 10}}) {
               campaign { id } errors { code field } } }""",
        {"name": "Summer\x00"},
    )
    assert data["createCampaign"] == {
        "campaign": None,
        "errors": [{"code": "INVALID_CHARACTERS", "field": "name"}],
    }
    assert await Campaign.find({"project_id": tenant.project_id}).count() == 0


TEMPLATE = """mutation ($input: TemplateInput!) {
  createTemplate(input: $input) { template { id } errors { code field } } }"""


async def test_template_bodies_may_span_lines_but_subjects_may_not(tenant: Tenant) -> None:
    content = {
        "name": "Welcome",
        "channel": "EMAIL",
        "text": "Hello,\r\n\tthere\n",
        "html": '<p>Hi</p>\n<a href="{{ unsubscribe_url }}">stop</a>',
    }
    refused = await tenant.gql(TEMPLATE, {"input": {**content, "subject": "Hi\r\nBcc: x@y.z"}})
    assert refused["createTemplate"]["errors"] == [
        {"code": "INVALID_CHARACTERS", "field": "subject"}
    ]
    assert await MessageTemplate.find({"project_id": tenant.project_id}).count() == 0
    nul_body = await tenant.gql(TEMPLATE, {"input": {**content, "subject": "Hi", "text": "a\x00"}})
    assert nul_body["createTemplate"]["errors"] == [{"code": "INVALID_CHARACTERS", "field": "text"}]
    accepted = await tenant.gql(TEMPLATE, {"input": {**content, "subject": "Hi"}})
    assert accepted["createTemplate"]["errors"] == []


async def test_scalar_arguments_are_checked_too(tenant: Tenant) -> None:
    data = await tenant.gql(
        """mutation ($id: ID!) {
             issueCustomerToken(customerId: $id) { token errors { code field } } }""",
        {"id": "abc\x00"},
    )
    assert data["issueCustomerToken"]["errors"] == [
        {"code": "INVALID_CHARACTERS", "field": "customerId"}
    ]


async def test_a_query_argument_with_a_nul_is_a_typed_error(tenant: Tenant) -> None:
    response = await tenant.gql.raw(
        "query ($s: String!) { customer(sourceId: $s) { id } }", {"s": "crm\x00-1"}
    )
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INVALID_CHARACTERS", "field": "sourceId"}


async def test_the_domain_refuses_the_same_values(tenant: Tenant) -> None:
    """Whatever the way in, a customer is checked where it enters the database."""
    with pytest.raises(DomainError) as refused:
        await customer_lifecycle.create_customer(
            tenant.project_id, CustomerInput(name="a\x00", attributes={"n": 2**70}), "test"
        )
    assert [(p.code, p.field) for p in refused.value.problems] == [("INVALID_CHARACTERS", "name")]
    with pytest.raises(DomainError) as too_big:
        await customer_lifecycle.create_customer(
            tenant.project_id, CustomerInput(attributes={"n": 2**70, "$x": 1}), "test"
        )
    assert {(p.code, p.field) for p in too_big.value.problems} == {
        ("INVALID_VALUE", "attributes.n"),
        ("INVALID_VALUE", "attributes.$x"),
    }
    assert await stored_customers(tenant) == 0


async def test_the_domain_refuses_control_characters_in_campaigns_and_templates(
    tenant: Tenant,
) -> None:
    with pytest.raises(DomainError) as campaign:
        await campaigns.create_campaign(
            project_id=tenant.project_id, data=CampaignInput(name="Summer\x00")
        )
    assert ("INVALID_CHARACTERS", "name") in [(p.code, p.field) for p in campaign.value.problems]
    assert await Campaign.find({"project_id": tenant.project_id}).count() == 0
    content = TemplateContent(
        name="Welcome\x1b",
        channel=MessageChannel.EMAIL,
        subject="Hi\r\nBcc: x@example.com",
        html="<p>\x00</p>",
        text="Hello,\r\n\tthere",
    )
    with pytest.raises(DomainError) as template:
        validated_content(content)
    assert {(p.code, p.field) for p in template.value.problems} == {
        ("INVALID_CHARACTERS", "name"),
        ("INVALID_CHARACTERS", "subject"),
        ("INVALID_CHARACTERS", "html"),
    }
