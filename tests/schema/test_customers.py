"""Customers over GraphQL: create, validate, update, consent ledger, list, isolation, erase."""

import asyncio

from domain.audit import entries_for
from domain.customers import Customer
from tests.factories import Tenant

CUSTOMER_FIELDS = """
id sourceId email phone name attributes tags erased erasedAt
consents { email sms } consentLog { channel granted source at }
"""
PAYLOAD = "{ customer {" + CUSTOMER_FIELDS + "} errors { code field message } }"
CREATE = "mutation ($input: CustomerInput!) { createCustomer(input: $input) " + PAYLOAD + " }"
UPDATE = (
    "mutation ($id: ID!, $input: CustomerInput!) { updateCustomer(id: $id, input: $input) "
    + PAYLOAD
    + " }"
)
ERASE = "mutation ($id: ID!) { eraseCustomer(id: $id) " + PAYLOAD + " }"
BY_ID = "query ($id: ID) { customer(id: $id) { id email } }"
BY_SOURCE = "query ($s: String) { customer(sourceId: $s) { id email } }"


async def create(tenant: Tenant, **fields: object) -> dict:
    payload = (await tenant.gql(CREATE, {"input": fields}))["createCustomer"]
    assert payload["errors"] == [], payload["errors"]
    return payload["customer"]


async def test_create_normalizes_email_and_phone(tenant: Tenant) -> None:
    customer = await create(
        tenant,
        sourceId="crm-1",
        email="  Jane.Doe@Example.COM ",
        phone="+33 6 12 34 56 78",
        name="Jane",
        attributes={"city": "Lyon", "vip": True},
        tags=["VIP", "newsletter", "vip"],
        consents={"email": True},
    )
    assert customer["email"] == "jane.doe@example.com"
    assert customer["phone"] == "+33612345678"
    assert customer["tags"] == ["newsletter", "vip"]
    assert customer["attributes"] == {"city": "Lyon", "vip": True}
    assert customer["consents"] == {"email": True, "sms": False}
    assert [(c["channel"], c["granted"]) for c in customer["consentLog"]] == [("EMAIL", True)]
    assert customer["consentLog"][0]["source"].startswith("api_key:")


async def test_invalid_input_reports_every_field_and_writes_nothing(tenant: Tenant) -> None:
    payload = (
        await tenant.gql(
            CREATE, {"input": {"email": "not-an-email", "phone": "12", "sourceId": " "}}
        )
    )["createCustomer"]
    assert payload["customer"] is None
    assert {(e["code"], e["field"]) for e in payload["errors"]} == {
        ("INVALID_EMAIL", "email"),
        ("INVALID_PHONE", "phone"),
        ("INVALID", "sourceId"),
    }
    assert await Customer.find({"project_id": tenant.project_id}).count() == 0


async def test_update_changes_given_fields_and_logs_consent(tenant: Tenant) -> None:
    customer = await create(tenant, email="a@example.com", name="A", consents={"email": True})
    updated = (
        await tenant.gql(
            UPDATE, {"id": customer["id"], "input": {"name": "Ann", "consents": {"sms": True}}}
        )
    )["updateCustomer"]["customer"]
    assert updated["name"] == "Ann" and updated["email"] == "a@example.com"
    assert updated["consents"] == {"email": True, "sms": True}
    same = (await tenant.gql(UPDATE, {"id": customer["id"], "input": {"consents": {"sms": True}}}))[
        "updateCustomer"
    ]["customer"]
    assert [(c["channel"], c["granted"]) for c in same["consentLog"]] == [
        ("EMAIL", True),
        ("SMS", True),
    ]
    bad = (await tenant.gql(UPDATE, {"id": customer["id"], "input": {"email": "x@", "name": "Z"}}))[
        "updateCustomer"
    ]
    assert [e["code"] for e in bad["errors"]] == ["INVALID_EMAIL"]
    unchanged = await tenant.gql(BY_ID, {"id": customer["id"]})
    assert unchanged["customer"]["email"] == "a@example.com"


async def test_get_by_id_and_source_id(tenant: Tenant) -> None:
    customer = await create(tenant, sourceId="shop-42", email="b@example.com")
    assert (await tenant.gql(BY_ID, {"id": customer["id"]}))["customer"]["id"] == customer["id"]
    assert (await tenant.gql(BY_SOURCE, {"s": "shop-42"}))["customer"]["id"] == customer["id"]
    assert (await tenant.gql(BY_SOURCE, {"s": "nope"}))["customer"] is None
    assert (await tenant.gql(BY_ID, {"id": "not-an-id"}))["customer"] is None


async def test_duplicate_source_id_under_50_concurrent_creates(tenant: Tenant) -> None:
    results = await asyncio.gather(
        *(
            tenant.gql(CREATE, {"input": {"sourceId": "same", "email": f"c{i}@example.com"}})
            for i in range(50)
        )
    )
    payloads = [r["createCustomer"] for r in results]
    created = [p for p in payloads if p["customer"]]
    refused = [p for p in payloads if p["errors"]]
    assert len(created) == 1 and len(refused) == 49
    assert {e["code"] for p in refused for e in p["errors"]} == {"DUPLICATE_SOURCE_ID"}
    assert await Customer.find({"project_id": tenant.project_id}).count() == 1


async def test_list_filters_and_pagination(tenant: Tenant) -> None:
    ids = [
        (await create(tenant, email=f"p{i}@example.com", tags=["even" if i % 2 == 0 else "odd"]))[
            "id"
        ]
        for i in range(7)
    ]
    await create(tenant, phone="+14155552671", email="phone@example.com")
    query = """query ($first: Int!, $after: String, $filter: CustomerFilter) {
      customers(first: $first, after: $after, filter: $filter) {
        totalCount edges { cursor node { id email } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await tenant.gql(query, {"first": 3, "after": after}))["customers"]
        assert page["totalCount"] == 8
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen[:7] == ids and len(seen) == 8

    evens = (await tenant.gql(query, {"first": 50, "filter": {"tag": "EVEN"}}))["customers"]
    assert evens["totalCount"] == 4
    by_email = (await tenant.gql(query, {"first": 5, "filter": {"email": "P3@example.com"}}))[
        "customers"
    ]
    assert [e["node"]["id"] for e in by_email["edges"]] == [ids[3]]
    by_phone = (await tenant.gql(query, {"first": 5, "filter": {"phone": "+1 415 555 2671"}}))[
        "customers"
    ]
    assert by_phone["totalCount"] == 1
    future = (
        await tenant.gql(query, {"first": 5, "filter": {"createdAfter": "2999-01-01T00:00:00Z"}})
    )["customers"]
    assert future["totalCount"] == 0
    before = (
        await tenant.gql(query, {"first": 50, "filter": {"createdBefore": "2999-01-01T00:00:00Z"}})
    )["customers"]
    assert before["totalCount"] == 8


async def test_other_project_cannot_reach_customer(tenant: Tenant, other_tenant: Tenant) -> None:
    customer = await create(tenant, sourceId="private", email="secret@example.com")
    other = other_tenant.gql
    assert (await other(BY_ID, {"id": customer["id"]}))["customer"] is None
    assert (await other(BY_SOURCE, {"s": "private"}))["customer"] is None
    listing = await other("{ customers { totalCount edges { node { id } } } }")
    assert listing["customers"] == {"totalCount": 0, "edges": []}
    update = (await other(UPDATE, {"id": customer["id"], "input": {"name": "pwned"}}))[
        "updateCustomer"
    ]
    assert [e["code"] for e in update["errors"]] == ["NOT_FOUND"]
    erase = (await other(ERASE, {"id": customer["id"]}))["eraseCustomer"]
    assert [e["code"] for e in erase["errors"]] == ["NOT_FOUND"]
    token = (
        """mutation ($id: ID!) { issueCustomerToken(customerId: $id) { token errors { code } } }"""
    )
    issued = (await other(token, {"id": customer["id"]}))["issueCustomerToken"]
    assert issued["token"] is None and issued["errors"][0]["code"] == "NOT_FOUND"
    # The same sourceId is free in another project.
    assert (await create(other_tenant, sourceId="private"))["sourceId"] == "private"
    intact = await tenant.gql(BY_ID, {"id": customer["id"]})
    assert intact["customer"]["email"] == "secret@example.com"


async def test_erase_keeps_tombstone_and_audit_and_revokes_tokens(tenant: Tenant) -> None:
    customer = await create(
        tenant,
        sourceId="gdpr-1",
        email="erase.me@example.com",
        phone="+447911123456",
        name="Erin",
        attributes={"birthplace": "Reykjavik"},
        tags=["vip"],
        consents={"email": True, "sms": True},
    )
    issue = """mutation ($id: ID!) { issueCustomerToken(customerId: $id) { token } }"""
    token = (await tenant.gql(issue, {"id": customer["id"]}))["issueCustomerToken"]["token"]

    erased = (await tenant.gql(ERASE, {"id": customer["id"]}))["eraseCustomer"]
    assert erased["errors"] == []
    tombstone = erased["customer"]
    assert tombstone["erased"] is True and tombstone["erasedAt"]
    for personal in ("sourceId", "email", "phone"):
        assert tombstone[personal] is None
    assert tombstone["name"] == "" and tombstone["attributes"] == {} and tombstone["tags"] == []
    assert tombstone["consents"] == {"email": False, "sms": False}

    raw = await Customer.get_pymongo_collection().find_one({"project_id": tenant.project_id})
    assert raw is not None
    # Markers with letters no id or timestamp can spell, so the check cannot match by chance.
    assert "erase.me" not in str(raw) and "Erin" not in str(raw) and "Reykjavik" not in str(raw)

    audit = await entries_for(tenant.project_id, customer["id"])
    assert [entry.action for entry in audit] == ["customer.erased"]
    assert audit[0].actor.startswith("api_key:")
    assert (await tenant.gql.as_token(token).raw("{ me { customer { id } } }")).status_code == 401

    again = (await tenant.gql(ERASE, {"id": customer["id"]}))["eraseCustomer"]
    assert [e["code"] for e in again["errors"]] == ["ALREADY_ERASED"]
    listing = await tenant.gql("{ customers { totalCount } }")
    assert listing["customers"]["totalCount"] == 0
    with_erased = await tenant.gql("{ customers(filter: {includeErased: true}) { totalCount } }")
    assert with_erased["customers"]["totalCount"] == 1
    assert (await create(tenant, sourceId="gdpr-1"))["sourceId"] == "gdpr-1"
