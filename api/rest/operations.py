"""The REST API's route table: each operation names its method, path, roles, bodies and
handler. The Starlette routes and the OpenAPI document are both made from this table."""

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import authenticate, bearer_token
from api.client_address import client_address
from api.request_limits import BodyTooLarge, Refusal, declared_too_large, decode_json, read_body
from api.rest.inputs import body_problems, text_problems, validation_problems
from api.rest.models import Body
from api.rest.problems import domain_problem, single_problem
from api.settings import Settings
from domain.callers import Caller, CallerKind
from domain.errors import DomainError, Problem
from domain.guessing import Attempter, GuessingRates
from domain.referrals import hash_ip

log = logging.getLogger("engage.rest")

ADMIN = frozenset({CallerKind.ADMIN})
STAFF = frozenset({CallerKind.ADMIN, CallerKind.POS})
ADMIN_OR_CUSTOMER = frozenset({CallerKind.ADMIN, CallerKind.CUSTOMER})

ROLE_NAMES = {
    CallerKind.ADMIN: "admin API keys",
    CallerKind.POS: "POS API keys",
    CallerKind.CUSTOMER: "the customer's own token",
}


@dataclass(frozen=True)
class Call:
    """One authenticated request, its body parsed into the operation's model."""

    request: Request
    caller: Caller
    settings: Settings
    body: Any

    @property
    def project_id(self) -> str:
        return self.caller.project_id

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def attempter(self) -> Attempter:
        """Who the guessing limits count: this key, and the client's address."""
        settings = self.settings
        address = client_address(self.request, settings.trusted_proxy_hops)
        return Attempter(
            caller=self.caller,
            address_subject=hash_ip(ip=address, secret_key=settings.secret_key),
            rates=GuessingRates(
                enabled=settings.rate_limit_enabled,
                wrong_code_cost=settings.rate_limit_wrong_code_cost,
                code_attempts_per_key=settings.rate_limit_code_attempts_per_key,
                code_attempts_per_address=settings.rate_limit_code_attempts_per_address,
                customer_lookups_per_key=settings.rate_limit_customer_lookups_per_key,
                customer_lookups_per_address=settings.rate_limit_customer_lookups_per_address,
            ),
        )


@dataclass(frozen=True)
class Reply:
    status: int
    body: BaseModel


class Refused(Exception):
    """A refusal that is not a domain rule: the caller may not read what it asked for."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str  # "path" or "header"
    description: str
    required: bool = True


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # below /v1, with {name} for path parameters
    operation_id: str
    summary: str
    description: str
    roles: frozenset[CallerKind]
    handler: Handler
    responses: dict[int, tuple[type[BaseModel], str]]
    # Refusals beyond those every operation can give (401, 403, 413, 422 for bad input).
    problems: dict[int, str] = field(default_factory=dict)
    request: type[Body] | None = None
    parameters: tuple[Parameter, ...] = ()

    def route(self) -> Route:
        return Route(self.path, endpoint_for(self), methods=[self.method])


def _refusal(refusal: Refusal) -> Response:
    return single_problem(refusal.status, refusal.code, refusal.message)


def _refused(caller: str, operation: Operation, response: Response) -> Response:
    """One log line per refused request: who asked, for what, and the codes; never a secret."""
    codes = ",".join(p["code"] for p in json.loads(bytes(response.body))["errors"])
    log.warning(
        "refused rest %s from %s: %s %s",
        operation.operation_id,
        caller,
        response.status_code,
        codes,
    )
    return response


async def _parsed_body(
    request: Request, operation: Operation, settings: Settings
) -> Any | Response:
    assert operation.request is not None
    limit = settings.graphql_max_body_bytes
    try:
        raw = await read_body(request.receive, limit)
    except BodyTooLarge:
        return single_problem(413, "REQUEST_TOO_LARGE", f"the body is larger than {limit} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if raw and content_type not in ("application/json", ""):
        return single_problem(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json")
    decoded = decode_json(raw or b"{}")
    if isinstance(decoded, Refusal):
        return _refusal(decoded)
    if not isinstance(decoded, dict):
        return single_problem(400, "BAD_REQUEST", "the body must be a JSON object")
    problems = body_problems(decoded)
    if problems:
        return _problems(problems)
    try:
        return operation.request.model_validate(decoded)
    except ValidationError as invalid:
        return _problems(validation_problems(invalid))


def _problems(problems: list[Problem]) -> Response:
    return domain_problem(DomainError.of(problems))


def endpoint_for(operation: Operation) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        if declared_too_large(request.scope, settings.graphql_max_body_bytes):
            limit = settings.graphql_max_body_bytes
            refused = single_problem(413, "REQUEST_TOO_LARGE", f"larger than {limit} bytes")
            return _refused("anonymous", operation, refused)
        caller = await authenticate(bearer_token(request))
        if caller is None:
            refused = single_problem(
                401,
                "UNAUTHENTICATED",
                "a valid API key or customer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
            return _refused("anonymous", operation, refused)
        if caller.kind not in operation.roles:
            refused = single_problem(
                403, "FORBIDDEN", "this operation is not allowed for the caller's role"
            )
            return _refused(caller.log_name, operation, refused)
        texts = {p.name: _parameter(request, p) for p in operation.parameters}
        problems = text_problems(texts)
        if problems:
            return _refused(caller.log_name, operation, _problems(problems))
        body: Any = None
        if operation.request is not None:
            body = await _parsed_body(request, operation, settings)
            if isinstance(body, Response):
                return _refused(caller.log_name, operation, body)
        call = Call(request=request, caller=caller, settings=settings, body=body)
        try:
            reply = await operation.handler(call)
        except DomainError as error:
            return _refused(caller.log_name, operation, domain_problem(error))
        except Refused as refusal:
            refused = single_problem(refusal.status, refusal.code, refusal.detail)
            return _refused(caller.log_name, operation, refused)
        return JSONResponse(
            reply.body.model_dump(mode="json", by_alias=True),
            status_code=reply.status,
            headers={"Cache-Control": "no-store"},
        )

    endpoint.__name__ = operation.operation_id
    return endpoint


def _parameter(request: Request, parameter: Parameter) -> str | None:
    if parameter.where == "path":
        return str(request.path_params.get(parameter.name, ""))
    return request.headers.get(parameter.name)
