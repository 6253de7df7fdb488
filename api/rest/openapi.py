"""The OpenAPI 3.1 document of the REST API, made from the route table and the pydantic
models' JSON schemas, so it cannot say something the code does not do."""

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from api.rest.models import Problem
from api.rest.operations import ROLE_NAMES, Operation
from api.rest.problems import PROBLEM_JSON

PREFIX = "/v1"
REF = "#/components/schemas/{model}"
VERSION = "1.0.0"

# Refusals every operation can give.
COMMON_PROBLEMS = {
    401: "No valid API key or customer token in `Authorization: Bearer`.",
    403: "The caller's role may not call this operation (FORBIDDEN).",
    422: "A field is missing or invalid; `errors` lists each one with its `field`.",
}
BODY_PROBLEMS = {
    400: "The body is not a JSON object.",
    413: "The body is too large.",
    415: "The body is not application/json.",
}


def _schemas(operations: Sequence[Operation]) -> tuple[dict[Any, Any], dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for operation in operations:
        if operation.request is not None:
            wanted.append((operation.request, "validation"))
        wanted.extend((model, "serialization") for model, _ in operation.responses.values())
    unique = list(dict.fromkeys(wanted))
    refs, definitions = models_json_schema(unique, by_alias=True, ref_template=REF)
    return refs, definitions.get("$defs", {})


def _json(ref: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": ref}}


def _operation(operation: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    problem_ref = refs[(Problem, "serialization")]
    responses: dict[str, Any] = {
        str(status): {"description": text, "content": _json(refs[(model, "serialization")])}
        for status, (model, text) in operation.responses.items()
    }
    problems = {**COMMON_PROBLEMS, **operation.problems}
    if operation.request is not None:
        problems = {**BODY_PROBLEMS, **problems}
    for status, text in sorted(problems.items()):
        response: dict[str, Any] = {
            "description": text,
            "content": _json(problem_ref, PROBLEM_JSON),
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds until a new attempt can succeed.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        responses[str(status)] = response
    roles = ", ".join(ROLE_NAMES[kind] for kind in sorted(operation.roles))
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "description": f"{operation.description}\n\nMay be called with: {roles}.",
        "responses": dict(sorted(responses.items())),
    }
    if operation.parameters:
        document["parameters"] = [
            {
                "name": parameter.name,
                "in": parameter.where,
                "required": parameter.required or parameter.where == "path",
                "description": parameter.description,
                "schema": {"type": "string"},
            }
            for parameter in operation.parameters
        ]
    if operation.request is not None:
        document["requestBody"] = {
            # A body whose every field is optional may be left out.
            "required": any(f.is_required() for f in operation.request.model_fields.values()),
            "content": _json(refs[(operation.request, "validation")]),
        }
    return document


def openapi_document(operations: Sequence[Operation]) -> dict[str, Any]:
    refs, schemas = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(PREFIX + operation.path, {})[operation.method.lower()] = _operation(
            operation, refs
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Engage checkout API",
            "version": VERSION,
            "description": "What a till or a checkout calls: validate and redeem codes, roll "
            "redemptions back, record orders, keep customers in step and read their coupons "
            "and loyalty balance. Money is in minor units with an ISO 4217 currency; times are "
            "UTC. Errors are RFC 9457 problem details (application/problem+json) carrying the "
            "same codes as the GraphQL API's UserError.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An admin or POS API key, or a customer token.",
                }
            },
        },
    }
