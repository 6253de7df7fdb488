"""POST /graphql: bounds the request, authenticates the bearer token, then hands it to
Strawberry."""

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from api.auth import Caller, authenticate, bearer_token
from api.request_limits import (
    BodyTooLarge,
    Refusal,
    body_too_large,
    check_graphql_body,
    check_graphql_get,
    declared_too_large,
    graphql_error,
    read_body,
    replay,
)
from api.settings import Settings
from schema.build import build_schema
from schema.context import Context, Loaders

log = logging.getLogger("engage.graphql")

_UNAUTHENTICATED = Refusal(401, "UNAUTHENTICATED", "a valid API key or customer token is required")


def refuse(refusal: Refusal, who: str) -> Response:
    """One log line per refused request: who asked and why, never the token."""
    log.warning("refused graphql request from %s: %s", who, refusal.code)
    headers = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
    return graphql_error(refusal.status, refusal.code, refusal.message, headers)


class EngageGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
        )
        self.settings = settings

    async def get_context(self, request: Any, response: Any) -> Context:
        caller: Caller = request.scope["state"]["caller"]
        return Context(
            request=request,
            response=response,
            caller=caller,
            settings=self.settings,
            loaders=Loaders(project_id=caller.project_id),
        )

    def encode_json(self, data: object) -> str:
        return json.dumps(data, separators=(",", ":"))


class GraphQLEndpoint:
    """Anything but the GraphiQL page needs a caller; without one the answer is 401. Size,
    query length and variables' nesting are checked before Strawberry parses anything."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.graphql = EngageGraphQL(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "GET" and "query" not in request.query_params:
            if self.graphql.graphql_ide is None:
                await Response(status_code=404)(scope, receive, send)
                return
            await (await self.graphql.render_graphql_ide(request))(scope, receive, send)
            return
        limit = self.settings.graphql_max_body_bytes
        if declared_too_large(scope, limit):
            await refuse(body_too_large(limit), "anonymous")(scope, receive, send)
            return
        caller = await authenticate(bearer_token(request))
        if caller is None:
            await refuse(_UNAUTHENTICATED, "anonymous")(scope, receive, send)
            return
        if request.method == "GET":
            refusal = check_graphql_get(request.query_params, self.settings)
        else:
            try:
                body = await read_body(receive, limit)
            except BodyTooLarge:
                refusal = body_too_large(limit)
            else:
                content_type = request.headers.get("content-type", "")
                refusal = check_graphql_body(body, content_type, self.settings)
                receive = replay(body)
        if refusal is not None:
            await refuse(refusal, caller.log_name)(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.graphql(scope, receive, send)
