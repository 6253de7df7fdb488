"""Console pages for messages: the log of sent and queued email and SMS, filtered by status,
channel and campaign and paged newest first; and distributing a campaign, which starts the
same job as distributeCampaign and follows it with its delivery figures."""

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

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
from delivery import distribution
from domain import campaigns, jobs, messages, templates
from domain.campaigns import Campaign, CampaignKind
from domain.console import ConsoleRole
from domain.errors import DomainError, NotFound
from domain.messages import MessageChannel, MessageStatus
from domain.segments import Segment

TEMPLATES = ("messages/log.html", "messages/distribute.html", "messages/distribution.html")
LOG_PAGE = 50
# The campaigns a filter or the distribute form offers: the newest ones.
CAMPAIGN_CHOICES = 200
LOG_CHANNELS = (MessageChannel.EMAIL, MessageChannel.SMS)
CHANNEL_VALUES = frozenset(channel.value for channel in LOG_CHANNELS)
STATUS_CSS = {
    MessageStatus.SENT: "status-ok",
    MessageStatus.DELIVERED: "status-ok",
    MessageStatus.FAILED: "status-bad",
    MessageStatus.UNDELIVERED: "status-bad",
}
# The API's field paths on the distribute form's names.
DISTRIBUTE_FIELDS = {
    "campaignId": "campaign_id",
    "templateId": "template_id",
    "segmentId": "segment_id",
}


async def _campaigns(visit: Visit, kind: CampaignKind | None = None) -> list[Campaign]:
    page = await campaigns.newest_campaigns(
        project_id=visit.project_id, first=CAMPAIGN_CHOICES, before=None, kind=kind
    )
    return page.items


# --- message log -----------------------------------------------------------------------------


@console_page()
async def message_log(request: Request, visit: Visit) -> Response:
    params = request.query_params
    status_value = params.get("status", "")
    channel_value = params.get("channel", "")
    status = MessageStatus(status_value) if status_value in MessageStatus.__members__ else None
    channel = MessageChannel(channel_value) if channel_value in CHANNEL_VALUES else None
    choices = await _campaigns(visit)
    campaign_id = params.get("campaign", "")
    if campaign_id not in {campaign.key for campaign in choices}:
        campaign_id = ""
    where = messages.MessageFilter(status=status, channel=channel, campaign_id=campaign_id or None)
    before = params.get("before") or None
    try:
        page = await messages.newest_messages(
            project_id=visit.project_id, where=where, first=LOG_PAGE, before=before
        )
    except DomainError:
        before = None
        page = await messages.newest_messages(
            project_id=visit.project_id, where=where, first=LOG_PAGE, before=None
        )
    filters = {
        key: value
        for key, value in (
            ("status", status.value if status else ""),
            ("channel", channel.value if channel else ""),
            ("campaign", campaign_id),
        )
        if value
    }
    next_link = ""
    if page.has_next and page.items:
        query = urlencode({**filters, "before": page.cursor(page.items[-1])})
        next_link = f"{url(request, 'messages')}?{query}"
    names = {campaign.key: campaign.name for campaign in choices}
    rows = [
        {
            "message": message,
            "css": STATUS_CSS.get(message.status, "status-off"),
            "campaign": names.get(message.campaign_id, ""),
        }
        for message in page.items
    ]
    return render(
        request,
        "console/messages/log.html",
        {
            "title": "Messages",
            "area": "messages",
            "rows": rows,
            "total": await page.total(),
            "statuses": [(s.value, s.value.capitalize()) for s in MessageStatus],
            "channels": [
                (c.value, "Email" if c == MessageChannel.EMAIL else "SMS") for c in LOG_CHANNELS
            ],
            "campaigns": [(c.key, c.name) for c in choices],
            "chosen": {
                "status": status_value if status else "",
                "channel": channel_value if channel else "",
                "campaign": campaign_id,
            },
            "filtered": bool(filters),
            "next_link": next_link,
            "first_page": before is None,
            "first_link": f"{url(request, 'messages')}?{urlencode(filters)}"
            if filters
            else url(request, "messages"),
        },
    )


# --- distribute ------------------------------------------------------------------------------


def _distribute_values(form: FormData | None, campaign_id: str) -> dict[str, Any]:
    if form is None:
        return {
            "campaign_id": campaign_id,
            "channels": ["EMAIL"],
            "template_id": "",
            "segment_id": "",
            "tags": "",
            "consented": True,
        }
    return {
        "campaign_id": str(form.get("campaign_id") or ""),
        "channels": [str(value) for value in form.getlist("channels")],
        "template_id": str(form.get("template_id") or ""),
        "segment_id": str(form.get("segment_id") or ""),
        "tags": str(form.get("tags") or ""),
        "consented": form.get("consented") is not None,
    }


async def _distribute_page(
    request: Request,
    visit: Visit,
    *,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    discount = await _campaigns(visit, CampaignKind.DISCOUNT)
    stored = await templates.list_templates(visit.project_id)
    segments = (
        await Segment.find({"project_id": visit.project_id}).sort("name").limit(200).to_list()
    )
    return render(
        request,
        "console/messages/distribute.html",
        {
            "title": "Send a campaign's codes",
            "area": "messages",
            "v": values,
            "errors": errors or FormErrors(),
            "campaigns": [("", "Choose a campaign")] + [(c.key, c.name) for c in discount],
            "templates": [("", "Built-in coupon (email and SMS)")]
            + [
                (t.key, f"{t.name} ({'SMS' if t.channel == MessageChannel.SMS else 'email'})")
                for t in stored
            ],
            "segments": [("", "All customers")] + [(s.key, s.name) for s in segments],
        },
        status,
    )


@console_page(ConsoleRole.MARKETER)
async def distribute(request: Request, visit: Visit) -> Response:
    if request.method == "GET":
        values = _distribute_values(None, request.query_params.get("campaign", ""))
        return await _distribute_page(request, visit, values=values)
    values = _distribute_values(await request.form(), "")
    tags = tuple(tag.strip() for tag in values["tags"].split(",") if tag.strip())
    try:
        if not values["campaign_id"]:
            raise NotFound("campaign", "campaignId")
        job = await distribution.distribute_campaign(
            project_id=visit.project_id,
            campaign_id=values["campaign_id"],
            # Values the form does not offer are left out; none left is INVALID_CHANNELS.
            channels=[MessageChannel(v) for v in values["channels"] if v in CHANNEL_VALUES],
            where=distribution.DistributionFilter(tags=tags, consented=values["consented"]),
            template_ref=values["template_id"] or None,
            segment_id=values["segment_id"] or None,
        )
    except DomainError as error:
        errors = form_errors(error, DISTRIBUTE_FIELDS)
        return await _distribute_page(request, visit, values=values, errors=errors, status=400)
    return redirect(request, "distribution", job_id=job.key)


def _figures(job: jobs.Job) -> dict[str, Any]:
    counts = distribution.DistributionCounts.of(job)
    finished = job.status in (jobs.JobStatus.SUCCEEDED, jobs.JobStatus.FAILED)
    return {
        "status": job.status.value,
        "finished": finished,
        "done": job.done,
        "total": job.total,
        "percent": round(job.progress * 100),
        "text": f"{job.done:,} of {job.total:,} customers",
        "errors": list(job.errors),
        "published": counts.published,
        "queued": counts.queued,
        "suppressed": counts.suppressed,
        "skipped": counts.skipped,
    }


async def _distribution(request: Request, visit: Visit) -> jobs.Job:
    return await distribution.get_distribution(
        project_id=visit.project_id, job_id=str(request.path_params["job_id"])
    )


async def _template_name(visit: Visit, ref: str) -> str:
    """The template a distribution sends, as the templates list names it."""
    if not ref or templates.is_builtin_ref(ref):
        return ref or "builtin:coupon"
    try:
        return (await templates.get_template(visit.project_id, ref)).name
    except NotFound:
        return ref


@console_page()
async def distribution_page(request: Request, visit: Visit) -> Response:
    job = await _distribution(request, visit)
    campaign_id = str(job.params.get("campaign_id") or "")
    try:
        campaign: Campaign | None = await campaigns.get_campaign(visit.project_id, campaign_id)
    except NotFound:
        campaign = None
    channels = [str(value) for value in job.params.get("channels", [])]
    return render(
        request,
        "console/messages/distribution.html",
        {
            "title": f"Sending {campaign.name}" if campaign else "Distribution",
            "area": "messages",
            "job": job,
            "campaign": campaign,
            "channels": channels,
            "template_name": await _template_name(visit, str(job.params.get("template_ref") or "")),
            "figures": _figures(job),
            "runs_here": settings_of(request).run_jobs,
        },
    )


@console_page()
async def distribution_json(request: Request, visit: Visit) -> Response:
    job = await _distribution(request, visit)
    return JSONResponse(_figures(job), headers={"Cache-Control": "no-store"})


routes: list[BaseRoute] = [
    Route("/messages", message_log, methods=["GET"], name="messages"),
    Route("/distribute", distribute, methods=["GET", "POST"], name="distribute"),
    Route(
        "/distributions/{job_id}.json",
        distribution_json,
        methods=["GET"],
        name="distribution_json",
    ),
    Route("/distributions/{job_id}", distribution_page, methods=["GET"], name="distribution"),
]
