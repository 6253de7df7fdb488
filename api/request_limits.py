"""Bounds on what a request may carry, checked before anything parses it."""

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.settings import Settings

log = logging.getLogger("engage.requests")


class BodyTooLarge(Exception):
    """The body is longer than the endpoint accepts."""


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused before it reaches its handler."""

    status: int
    code: str
    message: str


def declared_too_large(scope: Scope, limit: int) -> bool:
    """A Content-Length above the limit is refused before a byte is read."""
    declared = Headers(scope=scope).get("content-length", "")
    return declared.isdigit() and int(declared) > limit


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, counted as it arrives (Content-Length can be absent or wrong)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """A receive() that hands the already-read body to the next reader, then waits as ASGI does."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def nesting_depth(value: Any, limit: int) -> int:
    """How deep objects and lists nest, walked with a stack; stops counting past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def check_graphql_params(params: Mapping[str, Any], settings: Settings) -> Refusal | None:
    """The query's length and the variables' nesting, for a POST body or GET parameters."""
    query = params.get("query")
    if query is not None and not isinstance(query, str):
        return Refusal(400, "BAD_REQUEST", "query must be a string")
    if query is not None and len(query) > settings.graphql_max_query_length:
        return Refusal(
            400,
            "QUERY_TOO_LONG",
            f"the query is longer than {settings.graphql_max_query_length} characters",
        )
    operation_name = params.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        return Refusal(400, "BAD_REQUEST", "operationName must be a string")
    variables = params.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return Refusal(400, "BAD_REQUEST", "variables must be an object")
    if nesting_depth(variables, settings.graphql_max_variables_depth) > (
        settings.graphql_max_variables_depth
    ):
        return Refusal(
            400,
            "VARIABLES_TOO_DEEP",
            f"variables nest deeper than {settings.graphql_max_variables_depth} levels",
        )
    return None


def decode_json(raw: bytes) -> Any:
    """The JSON value `raw` holds, or a Refusal saying why it holds none."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "BAD_REQUEST", "the body is not UTF-8")
    try:
        return json.loads(text)
    except ValueError:
        return Refusal(400, "BAD_REQUEST", "the body is not JSON")
    except RecursionError:
        # The decoder recurses per level: nesting this deep is never a real request.
        return Refusal(400, "VARIABLES_TOO_DEEP", "the body nests too deeply")


def check_graphql_get(query_params: Mapping[str, str], settings: Settings) -> Refusal | None:
    """GET /graphql?query=&variables=: the same bounds as a POST body."""
    params: dict[str, Any] = {"query": query_params.get("query")}
    raw_variables = query_params.get("variables")
    if raw_variables:
        params["variables"] = decode_json(raw_variables.encode())
        if isinstance(params["variables"], Refusal):
            return params["variables"]
    return check_graphql_params(params, settings)


def is_multipart(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "multipart/form-data"


# A file upload carries one file; the other parts are `operations` and `map`.
MULTIPART_MAX_FILES = 1
MULTIPART_MAX_FIELDS = 2


async def check_graphql_multipart(scope: Scope, body: bytes, settings: Settings) -> Refusal | None:
    """A multipart body (a file upload) holds one file and an `operations` object bounded as a
    JSON body is."""
    request = Request(scope, replay(body))
    try:
        async with request.form(
            max_files=MULTIPART_MAX_FILES, max_fields=MULTIPART_MAX_FIELDS
        ) as form:
            operations = form.get("operations")
    except (HTTPException, MultiPartException, ValueError) as error:
        detail = getattr(error, "detail", None) or getattr(error, "message", None) or str(error)
        return Refusal(400, "BAD_REQUEST", f"the multipart body cannot be read: {detail}")
    if not isinstance(operations, str):
        return Refusal(400, "BAD_REQUEST", "a multipart request needs an operations field")
    decoded = decode_json(operations.encode())
    if isinstance(decoded, Refusal):
        return decoded
    if not isinstance(decoded, dict):
        return Refusal(400, "BAD_REQUEST", "operations must be a JSON object")
    return check_graphql_params(decoded, settings)


def check_graphql_body(body: bytes, content_type: str, settings: Settings) -> Refusal | None:
    """A JSON body must be an object with a bounded query and variables; other content types are
    left to Strawberry (which accepts only JSON, or multipart when uploads are on)."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        return None
    decoded = decode_json(body)
    if isinstance(decoded, Refusal):
        return decoded
    if not isinstance(decoded, dict):
        return Refusal(400, "BAD_REQUEST", "the body must be a JSON object")
    return check_graphql_params(decoded, settings)


def graphql_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


def body_too_large(limit: int) -> Refusal:
    return Refusal(413, "REQUEST_TOO_LARGE", f"the body is larger than {limit} bytes")


class LimitedBody:
    """Wraps an endpoint so its body is bounded: 413 when Content-Length or the bytes that
    arrive go past the limit the settings give."""

    def __init__(self, app: ASGIApp, limit_of: Callable[[Settings], int]) -> None:
        self.app = app
        self.limit_of = limit_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings: Settings = scope["app"].state.settings
        limit = self.limit_of(settings)
        if declared_too_large(scope, limit):
            await self._refuse(scope, receive, send, limit)
            return
        started = False
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        refusal = body_too_large(limit)
        log.warning("refused %s %s: %s", scope["method"], scope["path"], refusal.code)
        response: Response = PlainTextResponse(refusal.message, status_code=413)
        await response(scope, receive, send)
