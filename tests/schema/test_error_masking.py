from graphql import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError

from schema.build import is_unexpected
from tests.factories import Tenant


def test_only_unexpected_exceptions_are_masked() -> None:
    assert is_unexpected(
        GraphQLError("boom", path=["customer"], original_error=KeyError("internal detail"))
    )
    # Raised while reading variables (no field resolved yet): the caller's input, not a bug.
    assert not is_unexpected(GraphQLError("bad variable", original_error=ValueError("no int")))
    assert not is_unexpected(GraphQLError("Syntax Error: Unexpected Name"))
    forbidden = StrawberryGraphQLError("not allowed", extensions={"code": "FORBIDDEN"})
    assert not is_unexpected(GraphQLError("not allowed", original_error=forbidden))


async def test_a_domain_error_in_a_query_keeps_its_code(tenant: Tenant) -> None:
    for query in (
        'query { customers(after: "not-a-cursor") { totalCount } }',
        'query { redemptions(after: "not-a-cursor") { totalCount } }',
        "query { campaigns(first: 100000) { totalCount } }",
    ):
        body = (await tenant.gql.raw(query)).json()
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"]["code"] in {"INVALID_CURSOR", "INVALID"}, error
        assert error["message"] != "Unexpected error."
