"""Who may read personal data: one policy over the schema's fields, enforced when it is built."""

import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from graphql import get_named_type as named_type

from domain.callers import Caller, CallerKind
from schema.types import Connection


class Readers(Enum):
    """Who besides admin keys (which read everything in their project) may read a field."""

    OWNER = "the token of the customer the data belongs to"
    TILL_AND_OWNER = "POS keys, and the token of the customer the data belongs to"


@runtime_checkable
class OwnedByCustomer(Protocol):
    """A GraphQL object holding a customer's data says whose (a customer id, "" for nobody)."""

    def personal_data_owner(self) -> str: ...


# The GraphQL type that is a customer: every field is guarded, `id` at TILL_AND_OWNER, the rest
# at OWNER, so a new field on it, or a new path to it, is covered without a declaration.
CUSTOMER = "Customer"
CUSTOMER_IDENTITY_FIELDS = frozenset({"id"})

# Types that exist only inside a Customer, reached through its guarded fields.
INSIDE_CUSTOMER = frozenset({"Consents", "ConsentChange", "OrderMetrics", "Rfm"})

# Types whose objects are, or wrap, Customers: a field returning one is a link to customers.
CUSTOMER_CARRIERS = frozenset({CUSTOMER, "CustomerConnection", "CustomerEdge"})

# Every link to customers, with who reaches it. Each customer a link returns is checked as
# `Customer.id` is (TILL_AND_OWNER), so a refused one is null with a FORBIDDEN error on the link.
CUSTOMER_LINKS: dict[tuple[str, str], str] = {
    ("Query", "customer"): "admin keys",
    ("Query", "customers"): "admin keys",
    ("CustomerPayload", "customer"): "admin keys (create, update, erase)",
    ("Me", "customer"): "the customer's own token",
    ("Code", "customer"): "admin keys; a customer token for its own codes",
    ("Redemption", "customer"): "admin keys; POS keys see the id only",
    ("RecordedOrder", "customer"): "admin keys",
    ("Referral", "referrer"): "admin keys; never the referee's token",
    ("Referral", "referee"): "admin keys; never the referrer's token",
    ("Message", "customer"): "admin keys",
    ("ScheduledAction", "customer"): "admin keys",
    ("Segment", "sample"): "admin keys",
}


@dataclass(frozen=True)
class FieldRule:
    readers: Readers
    why: str


# Personal data and customer ids outside the Customer type. The object holding the field names
# its owner through `personal_data_owner()`.
PERSONAL_FIELDS: dict[tuple[str, str], FieldRule] = {
    ("Message", "to"): FieldRule(Readers.OWNER, "the recipient's email address or phone number"),
    ("Message", "renderedSubject"): FieldRule(Readers.OWNER, "rendered for the recipient"),
    ("Message", "renderedBody"): FieldRule(Readers.OWNER, "rendered with the recipient's name"),
    ("Message", "renderedHtml"): FieldRule(Readers.OWNER, "rendered with the recipient's name"),
    ("Message", "error"): FieldRule(Readers.OWNER, "providers quote the address refused"),
    ("CustomerEvent", "properties"): FieldRule(Readers.OWNER, "whatever the shop tracked"),
    ("TemplatePreview", "subject"): FieldRule(Readers.OWNER, "rendered for the customer"),
    ("TemplatePreview", "text"): FieldRule(Readers.OWNER, "rendered with the customer's name"),
    ("TemplatePreview", "html"): FieldRule(Readers.OWNER, "rendered with the customer's name"),
    ("Redemption", "customerId"): FieldRule(Readers.TILL_AND_OWNER, "the redeemer's id"),
    ("LoyaltyCard", "customerId"): FieldRule(Readers.TILL_AND_OWNER, "the card holder's id"),
    ("CustomerEvent", "customerId"): FieldRule(Readers.TILL_AND_OWNER, "whose event it is"),
    ("WebhookDelivery", "body"): FieldRule(
        Readers.OWNER, "the event's object: customer ids and a customer's sourceId"
    ),
}

FORBIDDEN_MESSAGE = "this personal data is not readable with the caller's token"


def may_read(caller: Caller, readers: Readers, owner_id: str) -> bool:
    """Admin keys read all; POS keys only what TILL_AND_OWNER allows; a customer only its own."""
    if caller.kind == CallerKind.ADMIN:
        return True
    if caller.kind == CallerKind.POS:
        return readers == Readers.TILL_AND_OWNER
    return bool(owner_id) and owner_id == caller.customer_id


def forbidden() -> GraphQLError:
    return GraphQLError(FORBIDDEN_MESSAGE, extensions={"code": "FORBIDDEN"})


def _owner(source: Any) -> str:
    if not isinstance(source, OwnedByCustomer):
        # A policy entry on a type that cannot name its owner is a bug: refuse, never leak.
        raise TypeError(f"{type(source).__name__} does not say whose personal data it holds")
    return source.personal_data_owner()


def _customers_in(result: Any) -> Iterator[Any]:
    if result is None:
        return
    if isinstance(result, list | tuple):
        for item in result:
            yield from _customers_in(item)
    elif isinstance(result, Connection):
        for edge in result.edges:
            yield edge.node
    else:
        yield result


Resolver = Callable[..., Any]


@dataclass(frozen=True)
class FieldGuard:
    """A resolver that first checks the caller against the owner of the object read from."""

    resolve: Resolver
    readers: Readers

    def __call__(self, source: Any, info: GraphQLResolveInfo, **kwargs: Any) -> Any:
        if not may_read(info.context.caller, self.readers, _owner(source)):
            raise forbidden()
        return self.resolve(source, info, **kwargs)


@dataclass(frozen=True)
class LinkGuard:
    """A resolver that checks the caller against every customer it returns."""

    resolve: Resolver

    def __call__(self, source: Any, info: GraphQLResolveInfo, **kwargs: Any) -> Any:
        result = self.resolve(source, info, **kwargs)
        if inspect.isawaitable(result):
            return self._checked_later(info, result)
        return self._checked(info, result)

    def _checked(self, info: GraphQLResolveInfo, result: Any) -> Any:
        caller = info.context.caller
        for customer in _customers_in(result):
            if not may_read(caller, Readers.TILL_AND_OWNER, _owner(customer)):
                raise forbidden()
        return result

    async def _checked_later(self, info: GraphQLResolveInfo, pending: Awaitable[Any]) -> Any:
        return self._checked(info, await pending)


def enforce(schema: GraphQLSchema) -> None:
    """Wraps the resolvers the policy covers; a policy entry naming no field is a bug."""
    for (type_name, field_name), rule in PERSONAL_FIELDS.items():
        field = _object_type(schema, type_name).fields[field_name]
        field.resolve = FieldGuard(_resolver(field.resolve), rule.readers)
    for field_name, field in _object_type(schema, CUSTOMER).fields.items():
        readers = (
            Readers.TILL_AND_OWNER if field_name in CUSTOMER_IDENTITY_FIELDS else Readers.OWNER
        )
        field.resolve = FieldGuard(_resolver(field.resolve), readers)
    for type_name, field_name in customer_links(schema):
        field = _object_type(schema, type_name).fields[field_name]
        field.resolve = LinkGuard(_resolver(field.resolve))


def customer_links(schema: GraphQLSchema) -> list[tuple[str, str]]:
    """Every field outside the customer carriers that returns a Customer or a list of them."""
    return [
        (graphql_type.name, field_name)
        for graphql_type in schema.type_map.values()
        if isinstance(graphql_type, GraphQLObjectType)
        and not graphql_type.name.startswith("__")
        and graphql_type.name not in CUSTOMER_CARRIERS
        for field_name, field in graphql_type.fields.items()
        if named_type(field.type).name in CUSTOMER_CARRIERS
    ]


def _object_type(schema: GraphQLSchema, name: str) -> GraphQLObjectType:
    found = schema.type_map.get(name)
    if not isinstance(found, GraphQLObjectType):
        raise LookupError(f"the personal data policy names {name}, which the schema lacks")
    return found


def _resolver(resolve: Resolver | None) -> Resolver:
    if resolve is None:
        raise LookupError("every field built by Strawberry has a resolver")
    return resolve
