"""JSON Schema from Google's walletobjects discovery document, to check what we send Google."""

import json
from functools import lru_cache
from typing import Any

from googleapiclient.discovery_cache import get_static_doc
from jsonschema import Draft7Validator

# What Google requires of each type we emit (the discovery document marks them in prose only).
REQUIRED: dict[str, list[str]] = {
    "OfferClass": ["id", "issuerName", "provider", "title", "redemptionChannel", "reviewStatus"],
    "OfferObject": ["id", "classId", "state"],
    "LoyaltyClass": ["id", "issuerName", "programName", "programLogo", "reviewStatus"],
    "LoyaltyObject": ["id", "classId", "state"],
    "Barcode": ["type", "value"],
    "Image": ["sourceUri"],
    "ImageUri": ["uri"],
    "LoyaltyPoints": ["balance"],
    "Uri": ["uri"],
}
INT32 = {"minimum": -(2**31), "maximum": 2**31 - 1}


@lru_cache(maxsize=1)
def discovery_document() -> dict[str, Any]:
    """walletobjects v1 as shipped with google-api-python-client: no network needed."""
    text = get_static_doc("walletobjects", "v1")
    if text is None:
        raise RuntimeError("google-api-python-client does not ship walletobjects.v1.json")
    document: dict[str, Any] = json.loads(text)
    return document


def _property(spec: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in spec:
        return {"$ref": f"#/definitions/{spec['$ref']}"}
    kind = spec.get("type")
    converted: dict[str, Any] = {}
    if kind == "any":
        return converted
    if kind is not None:
        converted["type"] = kind
    if "enum" in spec:
        converted["enum"] = list(spec["enum"])
    if kind == "integer" and spec.get("format") in ("int32", "uint32"):
        converted.update(INT32 if spec["format"] == "int32" else {"minimum": 0})
    if kind == "array" and "items" in spec:
        converted["items"] = _property(spec["items"])
    if kind == "object":
        if "properties" in spec:
            converted["properties"] = {
                name: _property(inner) for name, inner in spec["properties"].items()
            }
            converted["additionalProperties"] = False
        elif "additionalProperties" in spec:
            converted["additionalProperties"] = _property(spec["additionalProperties"])
    return converted


def _definition(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "type": "object",
        "properties": {
            prop: _property(inner) for prop, inner in spec.get("properties", {}).items()
        },
        # A misspelt or invented field is an error, not something Google would quietly drop.
        "additionalProperties": False,
    }
    if name in REQUIRED:
        definition["required"] = list(REQUIRED[name])
    return definition


@lru_cache(maxsize=1)
def definitions() -> dict[str, dict[str, Any]]:
    schemas = discovery_document()["schemas"]
    return {name: _definition(name, spec) for name, spec in schemas.items()}


@lru_cache(maxsize=16)
def json_schema(type_name: str) -> dict[str, Any]:
    """A draft-07 schema for one walletobjects type, e.g. "OfferObject"."""
    found = definitions()
    if type_name not in found:
        raise KeyError(f"walletobjects has no type {type_name!r}")
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": found,
        "$ref": f"#/definitions/{type_name}",
    }


@lru_cache(maxsize=16)
def _validator(type_name: str) -> Draft7Validator:
    return Draft7Validator(json_schema(type_name))


def problems(type_name: str, instance: Any) -> list[str]:
    """Everything wrong with `instance` as a `type_name`; empty when it is valid."""
    found = sorted(_validator(type_name).iter_errors(instance), key=lambda error: list(error.path))
    return [f"{'/'.join(map(str, error.path)) or '(root)'}: {error.message}" for error in found]


def check(type_name: str, instance: Any) -> None:
    """Raises ValueError naming every problem, so a bad object never reaches Google."""
    found = problems(type_name, instance)
    if found:
        raise ValueError(f"invalid {type_name}: " + "; ".join(found))
