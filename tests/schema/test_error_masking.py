from graphql import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError

from schema.build import is_unexpected


def test_only_unexpected_exceptions_are_masked() -> None:
    assert is_unexpected(GraphQLError("boom", original_error=KeyError("internal detail")))
    assert not is_unexpected(GraphQLError("Syntax Error: Unexpected Name"))
    forbidden = StrawberryGraphQLError("not allowed", extensions={"code": "FORBIDDEN"})
    assert not is_unexpected(GraphQLError("not allowed", original_error=forbidden))
