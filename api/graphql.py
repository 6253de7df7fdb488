"""POST /graphql: bounds the request, authenticates the bearer token, then hands it to
Strawberry."""

import json
import logging
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from api import pages
from api.auth import Caller, authenticate, bearer_token
from api.client_address import client_address
from api.demo import DEMO_KEY_FILE
from api.netaddr import is_loopback
from api.request_limits import (
    BodyTooLarge,
    Refusal,
    body_too_large,
    check_graphql_body,
    check_graphql_get,
    check_graphql_multipart,
    declared_too_large,
    graphql_error,
    is_multipart,
    read_body,
    replay,
)
from api.settings import Settings
from domain.callers import CallerKind
from domain.snapshots import Snapshots
from schema.build import build_schema
from schema.context import Context, Loaders

# GraphiQL's scripts are not shipped by any package we install: the page loads them from here.
GRAPHIQL_CDN = "https://unpkg.com"

log = logging.getLogger("engage.graphql")

_UNAUTHENTICATED = Refusal(401, "UNAUTHENTICATED", "a valid API key or customer token is required")


# Uploads are import files, which only admin keys may send.
_UPLOAD_FORBIDDEN = Refusal(403, "FORBIDDEN", "only admin keys may upload files")


def refuse(refusal: Refusal, who: str) -> Response:
    """One log line per refused request: who asked and why, never the token."""
    log.warning("refused graphql request from %s: %s", who, refusal.code)
    headers = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
    return graphql_error(refusal.status, refusal.code, refusal.message, headers)


FIRST_QUERY = """# Engage's GraphQL API: Ctrl-Enter runs the query, the Docs panel lists every type.
query FirstLook {
  project { name }
  campaigns(first: 5) { totalCount edges { node { id name kind status } } }
}
"""
# How long the page waits for GraphiQL's scripts before saying it cannot have them.
GRAPHIQL_LOAD_TIMEOUT_MS = 6000


def demo_key_for(request: Request, settings: Settings) -> str:
    """The demo admin key, for a development page opened on this machine only: it lets the
    first query run and the Docs panel load without a search for the key."""
    client = request.client.host if request.client else ""
    # A proxy on this machine makes every visitor look local: forwarded requests never get it.
    forwarded = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    if settings.env != "development" or forwarded or not is_loopback(client):
        return ""
    key_file = settings.data_dir / DEMO_KEY_FILE
    return key_file.read_text().strip() if key_file.is_file() else ""


def graphiql_page(request: Request, settings: Settings) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    key = demo_key_for(request, settings)
    page_settings = {
        "endpoint": request.url.path,
        "headers": {"Authorization": f"Bearer {key}"} if key else {},
        "query": FIRST_QUERY,
        "timeoutMs": GRAPHIQL_LOAD_TIMEOUT_MS,
    }
    html = (
        pages.templates(settings.template_files)
        .get_template("graphiql.html")
        .render(
            nonce=nonce,
            page_settings=page_settings,
            endpoint=settings.public_base_url + "/graphql",
            shown_key=key,
        )
    )
    policy = (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}' {GRAPHIQL_CDN}; "
        # GraphiQL's editors set inline styles, which a nonce in style-src would forbid.
        f"style-src 'unsafe-inline' {GRAPHIQL_CDN}; img-src 'self' data:; "
        f"font-src data: {GRAPHIQL_CDN}; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(
        html,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": policy,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


class EngageGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings, snapshots: Snapshots) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            # Import files arrive as multipart uploads; every request needs a bearer token, so
            # a form posted from another site cannot use a browser's credentials.
            multipart_uploads_enabled=True,
        )
        self.settings = settings
        self.snapshots = snapshots

    async def get_context(self, request: Any, response: Any) -> Context:
        caller: Caller = request.scope["state"]["caller"]
        return Context(
            request=request,
            response=response,
            caller=caller,
            settings=self.settings,
            loaders=Loaders(project_id=caller.project_id),
            snapshots=self.snapshots,
            client_address=client_address(request, self.settings.trusted_proxy_hops),
        )

    def encode_json(self, data: object) -> str:
        return json.dumps(data, separators=(",", ":"))


class GraphQLEndpoint:
    """Anything but the GraphiQL page needs a caller; without one the answer is 401. Size,
    query length and variables' nesting are checked before Strawberry parses anything."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # This app's copies of keys, campaigns and code identities (domain/snapshots.py).
        self.snapshots = Snapshots()
        self.graphql = EngageGraphQL(settings, self.snapshots)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "GET" and "query" not in request.query_params:
            if self.graphql.graphql_ide is None:
                await Response(status_code=404)(scope, receive, send)
                return
            await graphiql_page(request, self.graphql.settings)(scope, receive, send)
            return
        limit = self.settings.graphql_max_body_bytes
        upload = is_multipart(request.headers.get("content-type", ""))
        if declared_too_large(scope, limit + self.settings.import_max_bytes if upload else limit):
            await refuse(body_too_large(limit), "anonymous")(scope, receive, send)
            return
        caller = await authenticate(bearer_token(request), self.snapshots)
        if caller is None:
            await refuse(_UNAUTHENTICATED, "anonymous")(scope, receive, send)
            return
        if upload and caller.kind == CallerKind.ADMIN:
            # Only admin keys import files; the operation's own part keeps the usual bound.
            limit += self.settings.import_max_bytes
        if declared_too_large(scope, limit):
            await refuse(body_too_large(limit), caller.log_name)(scope, receive, send)
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
                if upload and caller.kind != CallerKind.ADMIN:
                    refusal = _UPLOAD_FORBIDDEN
                elif upload:
                    refusal = await check_graphql_multipart(scope, body, self.settings)
                else:
                    refusal = check_graphql_body(body, content_type, self.settings)
                receive = replay(body)
        if refusal is not None:
            await refuse(refusal, caller.log_name)(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.graphql(scope, receive, send)
