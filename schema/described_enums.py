"""GraphQL enums whose values each say what they mean."""

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

import strawberry

EnumClass = TypeVar("EnumClass", bound=type[Enum])


def describe_values(graphql_enum: type[Enum], meanings: Mapping[str, str]) -> None:
    """Gives each value of a strawberry enum its description, by member name. A value left out
    stays undescribed (tests/schema/test_descriptions.py names it); a name that is no member is
    a mistake and refused."""
    names = {member.name for member in graphql_enum}
    unknown = sorted(set(meanings) - names)
    if unknown:
        raise LookupError(f"{graphql_enum.__name__} has no values {unknown}")
    definition: Any = graphql_enum.__strawberry_definition__  # type: ignore[attr-defined]
    for value in definition.values:
        value.description = meanings.get(value.name)


def described_enum(
    *, description: str, values: Mapping[str, str], name: str | None = None
) -> Callable[[EnumClass], EnumClass]:
    """strawberry.enum with a description for the enum and for each of its values. The values
    stay plain strings, so the members' `.value` keeps its type."""

    def wrap(cls: EnumClass) -> EnumClass:
        graphql_enum = strawberry.enum(cls, name=name, description=description)
        describe_values(graphql_enum, values)
        return graphql_enum

    return wrap
