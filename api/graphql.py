"""POST /graphql: authenticates the bearer token, then hands the request to Strawberry."""

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from api.auth import Caller, authenticate, bearer_token
from api.client_address import client_address
from api.settings import Settings
from schema.build import build_schema
from schema.context import Context, Loaders


def unauthenticated() -> JSONResponse:
    body = {
        "data": None,
        "errors": [
            {
                "message": "a valid API key or customer token is required",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ],
    }
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})


class EngageGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings), graphql_ide="graphiql" if settings.graphiql else None
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
            client_address=client_address(request, self.settings.trusted_proxy_hops),
        )

    def encode_json(self, data: object) -> str:
        return json.dumps(data, separators=(",", ":"))


class GraphQLEndpoint:
    """Anything but the GraphiQL page needs a caller; without one the answer is 401."""

    def __init__(self, settings: Settings) -> None:
        self.graphql = EngageGraphQL(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "GET" and "query" not in request.query_params:
            if self.graphql.graphql_ide is None:
                await Response(status_code=404)(scope, receive, send)
                return
            await (await self.graphql.render_graphql_ide(request))(scope, receive, send)
            return
        caller = await authenticate(bearer_token(request))
        if caller is None:
            response: Response = unauthenticated()
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.graphql(scope, receive, send)
