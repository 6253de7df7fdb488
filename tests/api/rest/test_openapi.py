"""/v1/openapi.json: a valid OpenAPI 3.1 document that lists exactly the routes served, and
whose schemas describe what the routes answer."""

from typing import Any

import httpx
import jsonschema
from openapi_spec_validator import OpenAPIV31SpecValidator
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from api.rest.routes import document
from tests.factories import Tenant, make_pos_key

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def served_routes(app: Starlette) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves under /v1, HEAD aside."""
    found = set()
    for mount in app.routes:
        if isinstance(mount, Mount) and mount.path == "/v1":
            for route in mount.routes:
                assert isinstance(route, Route)
                for method in route.methods or ():
                    if method != "HEAD":
                        found.add((method.lower(), "/v1" + route.path))
    return found


def conforms(spec: dict[str, Any], schema_name: str, body: Any) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


async def test_the_document_is_valid_openapi_3_1_and_lists_every_route(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    response = await http.get("/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec == document()
    assert spec["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(spec).validate()

    documented = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    served = served_routes(app)
    assert ("get", "/v1/openapi.json") in served
    assert documented == served - {("get", "/v1/openapi.json")}
    assert len({op["operationId"] for item in spec["paths"].values() for op in item.values()}) == (
        len(documented)
    )
    for item in spec["paths"].values():
        for operation in item.values():
            assert {"401", "403", "422"} <= set(operation["responses"])


async def test_answers_match_their_documented_schemas(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    spec = document()
    till = {"Authorization": f"Bearer {await make_pos_key(tenant=tenant)}"}
    valid = await http.post("/v1/codes/validate", json={"code": "NOPE"}, headers=till)
    conforms(spec, "Validation", valid.json())
    refused = await http.post("/v1/redemptions", json={"code": 5}, headers=till)
    assert refused.status_code == 422
    conforms(spec, "Problem", refused.json())
    upserted = await http.put(
        "/v1/customers/c-1",
        json={"name": "Ada", "attributes": {"plan": "gold"}},
        headers={"Authorization": f"Bearer {tenant.admin_key}"},
    )
    conforms(spec, "Customer", upserted.json())
