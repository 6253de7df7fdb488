"""Walks the whole schema: a field that returns customers or looks like personal data must have
a declared policy (schema/personal_data.py) or be listed here as known not to be personal."""

import re

import pytest
import strawberry
from graphql import GraphQLObjectType, GraphQLSchema, get_named_type
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types.base import StrawberryObjectDefinition

from api.settings import Settings
from domain.callers import Caller, CallerKind
from schema.build import Mutation, Query, build_schema
from schema.customers import CustomerType
from schema.personal_data import (
    CUSTOMER,
    CUSTOMER_CARRIERS,
    CUSTOMER_LINKS,
    INSIDE_CUSTOMER,
    PERSONAL_FIELDS,
    FieldGuard,
    LinkGuard,
    Readers,
    may_read,
)
from schema.types import LONG_SCALAR, Long

# Words (of a camelCase field name) that suggest a person: a field carrying one is personal
# data unless declared otherwise.
PERSONAL_WORDS = frozenset(
    {
        "address",
        "addresses",
        "age",
        "agent",
        "attributes",
        "birth",
        "birthday",
        "body",
        "consent",
        "consents",
        "customer",
        "customers",
        "email",
        "gender",
        "html",
        "ip",
        "location",
        "locations",
        "name",
        "phone",
        "properties",
        "recipient",
        "referee",
        "referrer",
        "rendered",
        "source",
        "subject",
        "text",
        "to",
        "token",
        "user",
    }
)

# Fields whose name looks personal but whose value is not about a person, and why.
KNOWN_SAFE: dict[tuple[str, str], str] = {
    ("ApiKey", "name"): "the key's label",
    ("Automation", "name"): "the automation's label",
    ("Brand", "name"): "the project's brand",
    ("Brand", "displayName"): "the project's brand as pages show it",
    ("Campaign", "name"): "the campaign's label",
    ("Campaign", "codesPerCustomer"): "a campaign setting",
    ("Campaign", "passLocations"): "the shop's locations shown on passes",
    ("CampaignStats", "to"): "the end of the window",
    ("CustomerEvent", "name"): "the event's name, such as cart.abandoned",
    ("CustomerEvent", "source"): '"api", "customer" or "engage"',
    ("CustomerTokenPayload", "token"): "issueCustomerToken's result, for admin keys only",
    ("Experiment", "name"): "the experiment's label",
    ("ExperimentArmResult", "name"): "the variant's label",
    ("ExperimentVariant", "name"): "the variant's label",
    ("LedgerEntry", "source"): "an order id, reward id, API key or entry id",
    ("Limits", "perCustomer"): "a campaign setting",
    ("LoyaltyEvent", "name"): "a program's event name",
    ("LoyaltyTier", "name"): "a program's tier name",
    ("Messaging", "emailFrom"): "the project's sender",
    ("PassLocation", "relevantText"): "the shop's text shown near its location",
    ("Project", "name"): "the project's name",
    ("ReferralConfig", "maxReferralsPerReferrer"): "a program setting",
    ("ReferralConfig", "referrerReward"): "a program setting",
    ("Reward", "name"): "the reward's label",
    ("Rules", "attributes"): "attribute values a campaign requires, not a customer's",
    ("Rules", "customerTags"): "tags a campaign requires, not a customer's",
    ("ScheduledAction", "eventName"): "the trigger event's name",
    ("Segment", "name"): "the segment's label",
    ("SmtpServer", "fromAddress"): "the project's sender: an admin-only messaging setting",
    ("Template", "name"): "the template's label",
    ("Template", "subject"): "the template's source, not rendered for anyone",
    ("Template", "text"): "the template's source, not rendered for anyone",
    ("Template", "html"): "the template's source, not rendered for anyone",
    ("TwilioAccount", "authToken"): "admin-only setting: isSet and last4, never the token",
    ("Validation", "amountToPay"): "the order amount less the discount",
}

ROOTS = frozenset({"Query", "Mutation"})


def words(field_name: str) -> set[str]:
    return {word.lower() for word in re.findall(r"[a-z]+|[A-Z][a-z]*", field_name)}


def object_types(schema: GraphQLSchema) -> list[GraphQLObjectType]:
    return [
        graphql_type
        for graphql_type in schema.type_map.values()
        if isinstance(graphql_type, GraphQLObjectType) and not graphql_type.name.startswith("__")
    ]


def undeclared(schema: GraphQLSchema) -> list[tuple[str, str]]:
    """Fields that return customers or look personal, with no policy and not known safe."""
    missing = []
    for graphql_type in object_types(schema):
        if graphql_type.name in CUSTOMER_CARRIERS | INSIDE_CUSTOMER:
            continue  # the Customer type guards every field of its own, whatever it is called
        for field_name, field in graphql_type.fields.items():
            key = (graphql_type.name, field_name)
            returns = get_named_type(field.type).name
            if returns in CUSTOMER_CARRIERS:
                declared = key in CUSTOMER_LINKS
            elif returns in INSIDE_CUSTOMER:
                declared = False  # parts of a customer are reached through a Customer only
            elif graphql_type.name in ROOTS:
                declared = True  # operations: their role checks are their policy
            elif words(field_name) & PERSONAL_WORDS:
                declared = key in PERSONAL_FIELDS or key in KNOWN_SAFE
            else:
                declared = True
            if not declared:
                missing.append(key)
    return missing


def test_every_customer_link_and_personal_field_has_a_declared_policy() -> None:
    assert undeclared(build_schema(Settings())._schema) == []


def test_every_declaration_names_a_field_the_schema_has() -> None:
    schema = build_schema(Settings())._schema
    fields = {(t.name, name) for t in object_types(schema) for name in t.fields}
    for listed in (CUSTOMER_LINKS, PERSONAL_FIELDS, KNOWN_SAFE):
        assert set(listed) - fields == set()
    assert set(PERSONAL_FIELDS) & set(KNOWN_SAFE) == set()
    assert set(CUSTOMER_LINKS) & set(KNOWN_SAFE) == set()


def test_the_built_schema_guards_every_field_the_policy_names() -> None:
    schema = build_schema(Settings())._schema

    def resolver(type_name: str, field_name: str) -> object:
        graphql_type = schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        return graphql_type.fields[field_name].resolve

    for (type_name, field_name), rule in PERSONAL_FIELDS.items():
        guard = resolver(type_name, field_name)
        assert isinstance(guard, FieldGuard) and guard.readers == rule.readers
    customer = schema.type_map[CUSTOMER]
    assert isinstance(customer, GraphQLObjectType)
    for field_name in customer.fields:
        guard = resolver(CUSTOMER, field_name)
        expected = Readers.TILL_AND_OWNER if field_name == "id" else Readers.OWNER
        assert isinstance(guard, FieldGuard) and guard.readers == expected, field_name
    for type_name, field_name in CUSTOMER_LINKS:
        assert isinstance(resolver(type_name, field_name), LinkGuard)


def test_every_type_holding_personal_data_names_its_owner() -> None:
    schema = build_schema(Settings())

    for type_name in {CUSTOMER} | {type_name for type_name, _ in PERSONAL_FIELDS}:
        definition = schema.get_type_by_name(type_name)
        assert isinstance(definition, StrawberryObjectDefinition), type_name
        assert callable(getattr(definition.origin, "personal_data_owner", None)), type_name


@strawberry.type
class Shipment:
    id: strawberry.ID
    delivery_address: str
    recipient: CustomerType | None
    buyers: list[CustomerType]


@strawberry.type
class ShipmentQuery:
    @strawberry.field
    def shipment(self) -> Shipment | None:
        return None


def test_the_walk_catches_a_new_personal_field_and_a_new_path_to_customers() -> None:
    extended = strawberry.Schema(
        query=merge_types("Query", (Query, ShipmentQuery)),
        mutation=Mutation,
        config=StrawberryConfig(scalar_map={Long: LONG_SCALAR}),
    )

    assert undeclared(extended._schema) == [
        ("Shipment", "deliveryAddress"),
        ("Shipment", "recipient"),
        ("Shipment", "buyers"),
    ]


@pytest.mark.parametrize(
    ("kind", "readers", "owner", "allowed"),
    [
        (CallerKind.ADMIN, Readers.OWNER, "c1", True),
        (CallerKind.ADMIN, Readers.OWNER, "", True),
        (CallerKind.POS, Readers.OWNER, "c1", False),
        (CallerKind.POS, Readers.TILL_AND_OWNER, "c1", True),
        (CallerKind.CUSTOMER, Readers.OWNER, "c1", True),
        (CallerKind.CUSTOMER, Readers.TILL_AND_OWNER, "c1", True),
        (CallerKind.CUSTOMER, Readers.OWNER, "c2", False),
        (CallerKind.CUSTOMER, Readers.TILL_AND_OWNER, "c2", False),
        (CallerKind.CUSTOMER, Readers.OWNER, "", False),
    ],
)
def test_who_may_read(kind: CallerKind, readers: Readers, owner: str, allowed: bool) -> None:
    caller = Caller(
        kind=kind,
        project_id="p1",
        customer_id="c1" if kind == CallerKind.CUSTOMER else None,
    )

    assert may_read(caller, readers, owner) is allowed
