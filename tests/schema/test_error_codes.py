"""Error code enums: unique values, each one a GraphQL enum named in UserError.code's description.

mypy is what enforces that no plain string is raised as a code: DomainError and Problem take an
ErrorCode member, and the test command runs mypy over api, schema, domain and delivery."""

import importlib
import pkgutil

from graphql import GraphQLEnumType, GraphQLObjectType
from strawberry.types.enum import has_enum_definition

import api
import delivery
import domain
import schema
from api.settings import Settings
from delivery.errors import DeliveryError
from delivery.providers import SinkReason
from domain.console.errors import ConsoleError
from domain.errors import CommonError, DomainError, ErrorCode
from domain.experiments.errors import ExperimentError
from domain.experiments.models import ExperimentStatus
from domain.orders import OrderError, OrderStatus
from schema.build import build_schema


def _import_all() -> None:
    # An enum is only among ErrorCode's subclasses once its module is imported.
    for package in (domain, delivery, schema, api):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)


# Codes only the console's own forms show (sign-in, users); no API operation returns them.
CONSOLE_ONLY: set[type[ErrorCode]] = {ConsoleError}


def _error_enums() -> list[type[ErrorCode]]:
    _import_all()
    found: list[type[ErrorCode]] = []
    pending = list(ErrorCode.__subclasses__())
    while pending:
        kind = pending.pop()
        if kind not in CONSOLE_ONLY:
            found.append(kind)
        pending.extend(kind.__subclasses__())
    return found


def _graphql_name(kind: type[ErrorCode]) -> str:
    assert has_enum_definition(kind), f"{kind.__name__} is not a strawberry.enum"
    return kind.__strawberry_definition__.name


def test_each_error_enum_has_unique_values() -> None:
    for kind in [*_error_enums(), *CONSOLE_ONLY]:
        values = [member.value for member in kind]
        assert values, kind
        assert len(values) == len(set(values)), kind
        assert all(member.name == member.value for member in kind), kind


def test_every_error_enum_is_a_graphql_enum_in_the_schema() -> None:
    types = build_schema(Settings())._schema.type_map
    for kind in _error_enums():
        name = _graphql_name(kind)
        graphql_type = types.get(name)
        assert isinstance(graphql_type, GraphQLEnumType), kind
        assert set(graphql_type.values) == {member.value for member in kind}
        assert graphql_type.description and "UserError.code" in graphql_type.description


def test_user_error_code_description_names_every_error_enum() -> None:
    user_error = build_schema(Settings())._schema.type_map["UserError"]
    assert isinstance(user_error, GraphQLObjectType)
    description = user_error.fields["code"].description or ""
    for kind in _error_enums():
        assert _graphql_name(kind) in description, kind


def test_codes_keep_their_wire_values() -> None:
    error = DomainError(CommonError.INVALID, "first must be between 0 and 100", "first")
    assert error.code == "INVALID"
    assert f"{error.code}" == "INVALID"


def test_codes_built_from_a_status_or_reason_are_members() -> None:
    # These codes are looked up by value at run time: a new status must come with its code.
    for status in ExperimentStatus:
        assert ExperimentError(f"EXPERIMENT_{status.value}")
    for order_status in OrderStatus:
        assert OrderError(f"ORDER_ALREADY_{order_status.value}")
    for reason in SinkReason:
        assert DeliveryError(reason.value)
