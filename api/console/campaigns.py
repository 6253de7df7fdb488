"""Console pages for campaigns: the list, the create and edit form (the same checks and typed
errors as createCampaign and updateCampaign), a live example of the codes, and pause, resume and
end after a confirmation. The campaign page and the code pages are their own modules; `routes`
gathers them all, in the order Starlette must try them."""

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import available_timezones

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

import api.console.campaign_form as campaign_form
import api.console.campaign_page as campaign_page
import api.console.code_pages as code_pages
from api.console.campaign_views import (
    STATUS_CHANGES,
    campaign_of,
    limit_text,
    moneys,
    status_of,
)
from api.console.web import (
    FormErrors,
    Visit,
    console_page,
    form_errors,
    redirect,
    render,
    url,
)
from domain import campaigns
from domain.analytics.campaign_totals import campaign_totals
from domain.campaigns import Campaign, CampaignKind, CampaignStatus
from domain.codes import offer_text
from domain.common import utc_now
from domain.console import ConsoleRole
from domain.errors import DomainError, NotFound
from domain.segments import Segment

LIST_PAGE = 50
TABS = (
    ("", "All"),
    (CampaignStatus.ACTIVE.value, "Active"),
    (CampaignStatus.PAUSED.value, "Paused"),
    (CampaignStatus.ENDED.value, "Ended"),
)
DISCOUNT_TYPES = [
    ("PERCENT", "Percent off"),
    ("AMOUNT", "Amount off"),
    ("FIXED_PRICE", "Fixed price"),
    ("FREE_SHIPPING", "Free shipping"),
]
SCOPES = [("ORDER", "The whole order"), ("ELIGIBLE_ITEMS", "Eligible items only (SKUs/categories)")]
CODE_MODES = [("ALPHANUMERIC", "Letters and digits"), ("NUMERIC", "Digits only (card-like)")]


def _zones() -> list[str]:
    return sorted(available_timezones() - {"localtime"})


# --- list ------------------------------------------------------------------------------------


@console_page()
async def campaign_list(request: Request, visit: Visit) -> Response:
    params = request.query_params
    wanted = params.get("status", "")
    status = CampaignStatus(wanted) if wanted in CampaignStatus.__members__ else None
    before = params.get("before") or None
    try:
        page = await campaigns.newest_campaigns(
            project_id=visit.project_id, first=LIST_PAGE, before=before, status=status
        )
    except DomainError:
        page = await campaigns.newest_campaigns(
            project_id=visit.project_id, first=LIST_PAGE, before=None, status=status
        )
    counts = await campaigns.campaigns_per_status(project_id=visit.project_id)
    totals = await campaign_totals(
        project_id=visit.project_id, campaign_ids=[c.key for c in page.items]
    )
    now = utc_now()
    rows = []
    for campaign in page.items:
        word, hint, css = status_of(campaign, now)
        figures = totals[campaign.key]
        rows.append(
            {
                "campaign": campaign,
                "status": word,
                "hint": hint,
                "css": css,
                "offer": offer_text(campaign.discount) or campaign.kind.value.title(),
                "redeemed": f"{campaign.redeemed_count:,} / {limit_text(campaign.limits.total)}",
                "revenue": moneys(figures.revenue),
                "discount_cost": moneys(figures.discount_cost),
            }
        )
    ending_soon = await campaigns.campaigns_ending(
        project_id=visit.project_id, after=now, before=now + timedelta(days=7)
    )
    next_link = ""
    if page.has_next and page.items:
        query = {"before": page.cursor(page.items[-1]), **({"status": wanted} if status else {})}
        next_link = f"{url(request, 'campaigns')}?{urlencode(query)}"
    return render(
        request,
        "console/campaigns/list.html",
        {
            "title": "Campaigns",
            "area": "campaigns",
            "rows": rows,
            "tabs": [
                (value, label, sum(counts.values()) if not value else counts[CampaignStatus(value)])
                for value, label in TABS
            ],
            "current_tab": wanted if status else "",
            "ending_soon": ending_soon,
            "running": counts[CampaignStatus.ACTIVE],
            "next_link": next_link,
            "first_page": before is None,
        },
    )


# --- create and edit -------------------------------------------------------------------------


async def _segments(visit: Visit) -> list[Segment]:
    return await Segment.find({"project_id": visit.project_id}).sort("name").limit(200).to_list()


async def _form_page(
    request: Request,
    visit: Visit,
    *,
    values: dict[str, Any],
    campaign: Campaign | None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    preview = campaign_form.code_preview(values)
    title = f"Edit {campaign.name}" if campaign else "New campaign"
    return render(
        request,
        "console/campaigns/form.html",
        {
            "title": title,
            "area": "campaigns",
            "campaign": campaign,
            "v": values,
            "errors": errors or FormErrors(),
            "preview": preview,
            "discount_types": DISCOUNT_TYPES,
            "scopes": SCOPES,
            "code_modes": CODE_MODES,
            "days": campaign_form.DAYS,
            "currencies": campaign_form.CURRENCIES,
            "zones": _zones(),
            "segments": await _segments(visit),
            "action": url(request, "campaign_edit", campaign_id=campaign.key)
            if campaign
            else url(request, "campaign_new"),
        },
        status,
    )


@console_page(ConsoleRole.MARKETER)
async def campaign_new(request: Request, visit: Visit) -> Response:
    if request.method == "GET":
        values = campaign_form.new_campaign_values(timezone=visit.timezone)
        return await _form_page(request, visit, values=values, campaign=None)
    values = campaign_form.read_values(await request.form())
    try:
        data = campaign_form.checked_input(values, current=None)
        created = await campaigns.create_campaign(project_id=visit.project_id, data=data)
    except DomainError as error:
        errors = form_errors(campaign_form.on_inputs(error.problems))
        return await _form_page(
            request, visit, values=values, campaign=None, errors=errors, status=400
        )
    planned = campaign_form.planned_codes(values)
    query = f"saved=created&count={planned}" if planned else "saved=created"
    return redirect(request, "campaign", query=query, campaign_id=created.key)


@console_page(ConsoleRole.MARKETER)
async def campaign_edit(request: Request, visit: Visit) -> Response:
    campaign = await campaign_of(visit, request)
    if campaign.kind == CampaignKind.LOYALTY:
        return redirect(request, "loyalty_program_edit", campaign_id=campaign.key)
    if campaign.kind == CampaignKind.REFERRAL:
        return redirect(request, "referral_program_edit", campaign_id=campaign.key)
    if request.method == "GET":
        values = campaign_form.campaign_values(campaign)
        return await _form_page(request, visit, values=values, campaign=campaign)
    values = campaign_form.read_values(await request.form())
    values["standaloneCode"] = campaign.standalone_code or ""
    try:
        data = campaign_form.checked_input(values, current=campaign)
        await campaigns.update_campaign(
            project_id=visit.project_id, campaign_id=campaign.key, data=data
        )
    except DomainError as error:
        errors = form_errors(campaign_form.on_inputs(error.problems))
        return await _form_page(
            request, visit, values=values, campaign=campaign, errors=errors, status=400
        )
    return redirect(request, "campaign", query="saved=updated", campaign_id=campaign.key)


@console_page()
async def code_preview(request: Request, visit: Visit) -> Response:
    """Examples of the codes the form's settings make, for the form's script."""
    params = request.query_params
    preview = campaign_form.code_preview(
        {
            **{name: params.get(name, "") for name in campaign_form.FIELDS},
            "codes.luhn": params.get("codes.luhn") is not None,
        }
    )
    return JSONResponse(
        {
            "examples": preview.examples,
            "space": preview.space,
            "most": preview.most,
            "advice": preview.advice,
            "problems": [
                {
                    "code": p.code.value,
                    "field": campaign_form.field_of(p.field),
                    "message": p.message,
                }
                for p in preview.problems
            ],
        },
        headers={"Cache-Control": "no-store"},
    )


# --- pause, resume, end ----------------------------------------------------------------------


@console_page(ConsoleRole.MARKETER)
async def campaign_status(request: Request, visit: Visit) -> Response:
    campaign = await campaign_of(visit, request)
    change = STATUS_CHANGES.get(str(request.path_params["action"]))
    if change is None:
        raise NotFound("action")
    errors = FormErrors()
    if request.method == "POST":
        try:
            await campaigns.set_campaign_status(
                project_id=visit.project_id, campaign_id=campaign.key, status=change.status
            )
        except DomainError as error:
            errors = form_errors(error.problems)
        else:
            return redirect(
                request, "campaign", query=f"saved={change.action}", campaign_id=campaign.key
            )
    return render(
        request,
        "console/campaigns/status.html",
        {
            "title": f"{change.verb} {campaign.name}?",
            "area": "campaigns",
            "campaign": campaign,
            "change": change,
            "possible": campaign.status in change.allowed_from,
            "errors": errors,
            "unused": max(0, campaign.codes_count - campaign.redeemed_count),
        },
        400 if errors else 200,
    )


routes: list[BaseRoute] = [
    Route("/campaigns", campaign_list, methods=["GET"], name="campaigns"),
    Route("/campaigns/new", campaign_new, methods=["GET", "POST"], name="campaign_new"),
    Route("/campaigns/code-preview", code_preview, methods=["GET"], name="code_preview"),
    Route(
        "/campaigns/{campaign_id}/edit",
        campaign_edit,
        methods=["GET", "POST"],
        name="campaign_edit",
    ),
    Route(
        "/campaigns/{campaign_id}/status/{action}",
        campaign_status,
        methods=["GET", "POST"],
        name="campaign_status",
    ),
    *code_pages.routes,
    *campaign_page.routes,
]
TEMPLATES = tuple(
    f"campaigns/{name}.html"
    for name in ("list", "form", "status", "generate", "job", "codes", "campaign", "rollback")
)
