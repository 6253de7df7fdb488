"""Console pages for a campaign's codes: generating them with a progress bar that follows the
job (a script polls its JSON; without scripts the page reloads itself), the paged and searchable
codes table, and the CSV export of every code, streamed batch by batch."""

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from api.console.campaign_views import (
    campaign_of,
    code_shape,
    count_of,
    relative_time,
)
from api.console.web import (
    FormErrors,
    Visit,
    console_page,
    form_errors,
    redirect,
    render,
    settings_of,
    url,
)
from domain import campaigns, jobs
from domain.campaigns import Campaign, CodeConfigInput
from domain.code_errors import CodeError
from domain.code_examples import preview_codes
from domain.code_listing import (
    CodeState,
    ExportLinks,
    export_codes_csv,
    export_file_name,
    list_campaign_codes,
)
from domain.codegen import SPACE_SHARE, code_space
from domain.codes import code_status, uses_left
from domain.common import utc_now
from domain.console import ConsoleRole
from domain.customers import customers_by_id
from domain.errors import DomainError, NotFound, Problem

CODES_PAGE = 50
DEFAULT_GENERATE = 1_000
# The bar moves once per batch: about 20 steps, in batches no smaller than 500 codes (each costs
# a few round trips) nor larger than the jobs' usual size.
PROGRESS_STEPS = 20
SMALLEST_BATCH = 500


def progress_batch(count: int) -> int:
    return min(jobs.BATCH_SIZE, max(SMALLEST_BATCH, -(-count // PROGRESS_STEPS)))


# --- generating codes and following the job --------------------------------------------------


@console_page(ConsoleRole.MARKETER)
async def campaign_generate(request: Request, visit: Visit) -> Response:
    campaign = await campaign_of(visit, request)
    errors = FormErrors()
    count_text = request.query_params.get("count") or str(DEFAULT_GENERATE)
    if request.method == "POST":
        count_text = str((await request.form()).get("count") or "").strip()
        count = count_of(count_text)
        try:
            if count is None:
                raise DomainError(
                    CodeError.INVALID_COUNT, "enter how many codes, such as 1000", "count"
                )
            job = await jobs.generate_codes(
                visit.project_id, campaign.key, count, batch_size=progress_batch(count)
            )
        except DomainError as error:
            errors = form_errors(
                [Problem(p.code, p.message, "count" if p.field else None) for p in error.problems]
            )
        else:
            return redirect(request, "job", job_id=job.key)
    space = code_space(campaign.codes)
    return render(
        request,
        "console/campaigns/generate.html",
        {
            "title": f"Generate codes for {campaign.name}",
            "area": "campaigns",
            "campaign": campaign,
            "count": count_text,
            "errors": errors,
            "shape": code_shape(campaign),
            "examples": preview_codes(
                given=CodeConfigInput(
                    mode=campaign.codes.mode,
                    pattern=campaign.codes.pattern or "",
                    charset=campaign.codes.charset,
                    length=campaign.codes.length,
                    prefix=campaign.codes.prefix,
                    suffix=campaign.codes.suffix,
                    luhn=campaign.codes.luhn,
                )
            ).examples,
            "space": space,
            "room": max(0, space // SPACE_SHARE - campaign.codes_reserved),
            "max_generate": jobs.MAX_GENERATE,
        },
        400 if errors else 200,
    )


def _job_figures(job: jobs.Job) -> dict[str, Any]:
    finished = job.status in (jobs.JobStatus.SUCCEEDED, jobs.JobStatus.FAILED)
    return {
        "status": job.status.value,
        "done": job.done,
        "total": job.total,
        "percent": round(job.progress * 100),
        "finished": finished,
        "errors": list(job.errors),
        "text": f"{job.done:,} of {job.total:,} codes",
    }


async def _job(visit: Visit, request: Request) -> jobs.Job:
    return await jobs.get_job(visit.project_id, str(request.path_params["job_id"]))


@console_page()
async def job_page(request: Request, visit: Visit) -> Response:
    job = await _job(visit, request)
    campaign: Campaign | None = None
    campaign_id = str(job.params.get("campaign_id") or "")
    if campaign_id:
        try:
            campaign = await campaigns.get_campaign(visit.project_id, campaign_id)
        except NotFound:
            campaign = None
    end = job.finished_at or utc_now()
    return render(
        request,
        "console/campaigns/job.html",
        {
            "title": "Generating codes" if job.kind == jobs.GENERATE_CODES else "Job",
            "area": "campaigns",
            "job": job,
            "figures": _job_figures(job),
            "campaign": campaign,
            "elapsed": relative_time(end - job.created_at),
            "runs_here": settings_of(request).run_jobs,
        },
    )


@console_page()
async def job_json(request: Request, visit: Visit) -> Response:
    job = await _job(visit, request)
    return JSONResponse(_job_figures(job), headers={"Cache-Control": "no-store"})


# --- codes -----------------------------------------------------------------------------------


@console_page()
async def campaign_codes(request: Request, visit: Visit) -> Response:
    campaign = await campaign_of(visit, request)
    params = request.query_params
    search = params.get("q", "").strip()
    state_text = params.get("state", CodeState.ALL.value)
    state = CodeState(state_text) if state_text in {s.value for s in CodeState} else CodeState.ALL
    after = params.get("after") or None
    start = count_of(params.get("from", "")) or 1
    try:
        page = await list_campaign_codes(
            project_id=visit.project_id,
            campaign_id=campaign.key,
            first=CODES_PAGE,
            after=after,
            search=search,
            state=state,
        )
    except DomainError:
        page = await list_campaign_codes(
            project_id=visit.project_id,
            campaign_id=campaign.key,
            first=CODES_PAGE,
            after=None,
            search=search,
            state=state,
        )
        start = 1
    owners = await customers_by_id(
        visit.project_id, [code.customer_id for code in page.items if code.customer_id]
    )
    now = utc_now()
    rows = [
        {
            "code": code,
            "status": code_status(code, campaign, now).value.replace("_", " ").title(),
            "left": uses_left(code, campaign),
            "customer": owners.get(code.customer_id),
        }
        for code in page.items
    ]
    filtered = bool(search) or state != CodeState.ALL
    next_link = ""
    if page.has_next and page.items:
        query = {"after": page.cursor(page.items[-1]), "from": str(start + len(page.items))}
        if search:
            query["q"] = search
        if state != CodeState.ALL:
            query["state"] = state.value
        next_link = f"{url(request, 'campaign_codes', campaign_id=campaign.key)}?{urlencode(query)}"
    return render(
        request,
        "console/campaigns/codes.html",
        {
            "title": f"Codes of {campaign.name}",
            "area": "campaigns",
            "campaign": campaign,
            "rows": rows,
            "search": search,
            "state": state.value,
            "states": [
                (CodeState.ALL.value, "All"),
                (CodeState.UNASSIGNED.value, "Not given out"),
                (CodeState.ASSIGNED.value, "Given to a customer"),
                (CodeState.REDEEMED.value, "Redeemed"),
            ],
            "filtered": filtered,
            "start": start,
            "end": start + len(rows) - 1,
            "next_link": next_link,
            "first_page": after is None,
            "show_personal": visit.can(ConsoleRole.MARKETER),
        },
    )


@console_page()
async def campaign_codes_csv(request: Request, visit: Visit) -> Response:
    campaign = await campaign_of(visit, request)
    settings = settings_of(request)
    body = export_codes_csv(
        campaign=campaign,
        export=ExportLinks(base_url=settings.public_base_url, secret_key=settings.secret_key),
        with_email=visit.can(ConsoleRole.MARKETER),
    )
    name = export_file_name(campaign, utc_now())
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


routes: list[BaseRoute] = [
    Route(
        "/campaigns/{campaign_id}/generate",
        campaign_generate,
        methods=["GET", "POST"],
        name="campaign_generate",
    ),
    Route(
        "/campaigns/{campaign_id}/codes.csv",
        campaign_codes_csv,
        methods=["GET"],
        name="campaign_codes_csv",
    ),
    Route("/campaigns/{campaign_id}/codes", campaign_codes, methods=["GET"], name="campaign_codes"),
    Route("/jobs/{job_id}.json", job_json, methods=["GET"], name="job_json"),
    Route("/jobs/{job_id}", job_page, methods=["GET"], name="job"),
]
