"""Walks the built schema: every type, field, argument, input field and enum value that clients
see must say what it means (and its unit, format, readers or limits where it has them)."""

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    introspection_types,
    specified_scalar_types,
)

from api.settings import Settings
from schema.build import build_schema

HOW_TO_DESCRIBE = """\
Each line above names a part of the GraphQL schema that has no description. Describe it where it
is declared: what it means, its unit or format (money in minor units with its ISO 4217 currency,
times in UTC ISO 8601), who may read it, its limits and what null means.
  type         @strawberry.type / @strawberry.input / @strawberry.enum(..., description="...")
  field        name: T = strawberry.field(description="...")
               or @strawberry.field(description="...") on a resolver
  argument     name: Annotated[T, strawberry.argument(description="...")] = default
  input field  name: T = strawberry.field(default=..., description="...") on the input class
  enum value   @described_enum(description="...", values={"NAME": "...", ...}) on the Enum
               class (schema/described_enums.py); error codes (the UserError.code enums):
               a line in CODE_MEANINGS, schema/error_codes.py
Query and Mutation fields get "Callers: ..." appended from their permission classes
(schema/build.py), so their descriptions need not name the roles.
Then rewrite the committed schema with `engage export-schema`."""


def _lacks(description: str | None) -> bool:
    return not (description or "").strip()


def undescribed(schema: GraphQLSchema) -> list[str]:
    """One line per part without a description, named as clients see it."""
    missing: list[str] = []
    for name, graphql_type in sorted(schema.type_map.items()):
        if name in introspection_types or name in specified_scalar_types:
            continue
        if _lacks(graphql_type.description):
            missing.append(f"type {name}")
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                if _lacks(field.description):
                    missing.append(f"field {name}.{field_name}")
                missing.extend(
                    f"argument {name}.{field_name}({arg_name})"
                    for arg_name, argument in field.args.items()
                    if _lacks(argument.description)
                )
        elif isinstance(graphql_type, GraphQLInputObjectType):
            missing.extend(
                f"input field {name}.{field_name}"
                for field_name, input_field in graphql_type.fields.items()
                if _lacks(input_field.description)
            )
        elif isinstance(graphql_type, GraphQLEnumType):
            missing.extend(
                f"enum value {name}.{value_name}"
                for value_name, value in graphql_type.values.items()
                if _lacks(value.description)
            )
    return missing


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    """Built once for the tests that only read it."""
    return build_schema(Settings())._schema


def test_every_part_of_the_schema_is_described(schema: GraphQLSchema) -> None:
    missing = undescribed(schema)
    assert not missing, (
        f"{len(missing)} parts of the schema have no description:\n  "
        + "\n  ".join(missing)
        + "\n"
        + HOW_TO_DESCRIBE
    )


def test_the_walk_names_each_kind_of_undescribed_part() -> None:
    # A schema of its own, so that blanking descriptions cannot leak into other tests.
    schema = build_schema(Settings())._schema
    money = schema.type_map["Money"]
    query = schema.type_map["Query"]
    input_type = schema.type_map["MoneyInput"]
    enum_type = schema.type_map["CampaignStatus"]
    assert isinstance(money, GraphQLObjectType)
    assert isinstance(query, GraphQLObjectType)
    assert isinstance(input_type, GraphQLInputObjectType)
    assert isinstance(enum_type, GraphQLEnumType)
    money.description = " "
    money.fields["amount"].description = None
    query.fields["campaign"].args["id"].description = ""
    input_type.fields["currency"].description = None
    enum_type.values["PAUSED"].description = None
    assert undescribed(schema) == [
        "enum value CampaignStatus.PAUSED",
        "type Money",
        "field Money.amount",
        "input field MoneyInput.currency",
        "argument Query.campaign(id)",
    ]


def test_error_code_values_say_what_they_mean(schema: GraphQLSchema) -> None:
    reasons = schema.type_map["RedemptionReason"]
    assert isinstance(reasons, GraphQLEnumType)
    assert reasons.values["CODE_LIMIT_REACHED"].description == (
        "The code was redeemed as often as its limit allows."
    )


def test_root_fields_name_who_may_call_them(schema: GraphQLSchema) -> None:
    query = schema.type_map["Query"]
    mutation = schema.type_map["Mutation"]
    assert isinstance(query, GraphQLObjectType)
    assert isinstance(mutation, GraphQLObjectType)
    assert (query.fields["me"].description or "").endswith("Callers: customer tokens.")
    assert (query.fields["validateCode"].description or "").endswith(
        "Callers: admin keys and POS keys."
    )
    assert (mutation.fields["exchangePoints"].description or "").endswith(
        "Callers: admin keys, and the token of the customer named by customerId."
    )
