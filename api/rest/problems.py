"""Errors as RFC 9457 problem details: the typed codes of GraphQL's UserError, with an HTTP
status chosen by what the caller can do about them."""

import http
import logging

from starlette.responses import JSONResponse

from api.rest.models import Problem, ProblemDetail
from domain.errors import DomainError
from domain.rate_limits import RateLimited

log = logging.getLogger("engage.rest")

PROBLEM_JSON = "application/problem+json"

# Retrying later, or after another change, may succeed: the request was right, the state not.
CONFLICTS = frozenset(
    {
        "CODE_LIMIT_REACHED",
        "CUSTOMER_LIMIT_REACHED",
        "CAMPAIGN_LIMIT_REACHED",
        "DAILY_LIMIT_REACHED",
        "ALREADY_ROLLED_BACK",
        "NOT_COMPLETED",
        "REDEMPTION_IN_PROGRESS",
        "REDEMPTION_EXPIRED",
        "DUPLICATE_SOURCE_ID",
        "ERASED",
        "BUSY",
    }
)


def status_of(error: DomainError) -> int:
    code = str(error.code)
    if isinstance(error, RateLimited):
        return 429
    if code == "NOT_FOUND":
        return 404
    if code in CONFLICTS:
        return 409
    return 422


def problem(
    status: int,
    details: list[ProblemDetail],
    headers: dict[str, str] | None = None,
    retry_after: int | None = None,
) -> JSONResponse:
    first = details[0]
    body = Problem(
        type=f"urn:engage:problem:{first.code}",
        title=http.HTTPStatus(status).phrase,
        status=status,
        detail=first.detail,
        code=first.code,
        field=first.field,
        errors=details,
        retry_after=retry_after,
    )
    content = body.model_dump(mode="json", by_alias=True)
    if retry_after is None:
        del content["retryAfter"]
    return JSONResponse(
        content,
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def single_problem(
    status: int,
    code: str,
    detail: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return problem(status, [ProblemDetail(code=code, field=field, detail=detail)], headers)


def domain_problem(error: DomainError) -> JSONResponse:
    details = [ProblemDetail(code=p.code, field=p.field, detail=p.message) for p in error.problems]
    if isinstance(error, RateLimited):
        return problem(
            429,
            details,
            headers={"Retry-After": str(error.retry_after)},
            retry_after=error.retry_after,
        )
    return problem(status_of(error), details)
