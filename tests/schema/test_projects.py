"""The caller's project and its brand."""

from domain.projects import Project, Role, create_api_key
from tests.factories import Tenant

UPDATE_BRAND = """
mutation ($input: BrandInput!) {
  updateBrand(input: $input) {
    project { name brand { name primaryColor accentColor logoUrl shopUrl } }
    errors { code field message }
  }
}"""


async def test_update_brand_changes_only_the_given_fields(tenant: Tenant) -> None:
    changes = {"name": " Bakery Bloom ", "primaryColor": "#ABCDEF", "shopUrl": "http://shop.test"}
    payload = (await tenant.gql(UPDATE_BRAND, {"input": changes}))["updateBrand"]
    assert payload["errors"] == []
    assert payload["project"]["brand"] == {
        "name": "Bakery Bloom",
        "primaryColor": "#abcdef",
        "accentColor": "#f59e0b",
        "logoUrl": "",
        "shopUrl": "http://shop.test",
    }
    cleared = (await tenant.gql(UPDATE_BRAND, {"input": {"shopUrl": ""}}))["updateBrand"]
    assert cleared["project"]["brand"]["shopUrl"] == ""
    assert cleared["project"]["brand"]["name"] == "Bakery Bloom"


async def test_invalid_brand_reports_every_field_and_writes_nothing(tenant: Tenant) -> None:
    before = await Project.get_pymongo_collection().find_one({"_id": tenant.project.id})
    changes = {
        "name": "",
        "primaryColor": "red",
        "accentColor": "#12345",
        "logoUrl": "http://cdn.example/logo.png",
        "shopUrl": "javascript:alert(1)",
    }
    payload = (await tenant.gql(UPDATE_BRAND, {"input": changes}))["updateBrand"]
    assert payload["project"] is None
    assert {(e["code"], e["field"]) for e in payload["errors"]} == {
        ("INVALID", "name"),
        ("INVALID", "primaryColor"),
        ("INVALID", "accentColor"),
        ("INVALID", "logoUrl"),
        ("INVALID", "shopUrl"),
    }
    after = await Project.get_pymongo_collection().find_one({"_id": tenant.project.id})
    assert after == before


async def test_only_admins_change_the_brand(tenant: Tenant, other_tenant: Tenant) -> None:
    pos = tenant.gql.as_token((await create_api_key(tenant.project_id, Role.POS)).secret)
    body = (await pos.raw(UPDATE_BRAND, {"input": {"name": "Till"}})).json()
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    await other_tenant.gql(UPDATE_BRAND, {"input": {"name": "Other"}})
    mine = await Project.get_pymongo_collection().find_one({"_id": tenant.project.id})
    assert mine is not None and mine["brand"]["name"] == tenant.project.brand.name
