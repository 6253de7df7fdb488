"""Console pages for referrals: the programs (REFERRAL campaigns) with their totals, a program's
settings made and changed through createCampaign's and updateCampaign's checks, its top
referrers and its referrals with their status, page by page."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import api.console.charts as charts
import api.console.referral_form as referral_form
from api.console.web import (
    FormErrors,
    Visit,
    console_page,
    form_errors,
    format_money,
    redirect,
    render,
    url,
)
from domain import campaigns, referrals
from domain.campaigns import Campaign, CampaignInput, CampaignKind
from domain.console import ConsoleRole
from domain.customers import Customer, customers_by_id
from domain.errors import DomainError, NotFound

PROGRAMS_PAGE = 100
REFERRALS_PAGE = 50
TOP_REFERRERS = 10
DONE = {"created": "Program created.", "updated": "Program saved."}


async def _program(visit: Visit, request: Request) -> Campaign:
    """The request's program, or 404: unknown here, another project's, or not a REFERRAL one."""
    try:
        campaign = await campaigns.get_campaign(
            visit.project_id, str(request.path_params["campaign_id"])
        )
    except DomainError:
        raise NotFound("referral program") from None
    if campaign.kind != CampaignKind.REFERRAL:
        raise NotFound("referral program")
    return campaign


def _name(customer: Customer | None) -> str:
    if customer is None:
        return "A customer"
    if customer.erased:
        return "Erased customer"
    return customer.name or customer.email or customer.phone or customer.source_id or customer.key


@console_page()
async def programs(request: Request, visit: Visit) -> Response:
    page = await campaigns.list_campaigns(
        project_id=visit.project_id, first=PROGRAMS_PAGE, after=None, kind=CampaignKind.REFERRAL
    )
    rows = [
        (
            program,
            await referrals.referral_totals(project_id=visit.project_id, campaign_id=program.key),
        )
        for program in page.items
    ]
    return render(
        request,
        "console/referrals/programs.html",
        {"title": "Referral programs", "area": "referrals", "rows": rows},
    )


@console_page()
async def program(request: Request, visit: Visit) -> Response:
    campaign = await _program(visit, request)
    totals = await referrals.referral_totals(project_id=visit.project_id, campaign_id=campaign.key)
    top = await referrals.top_referrers(
        project_id=visit.project_id, campaign_id=campaign.key, limit=TOP_REFERRERS
    )
    after = request.query_params.get("after") or None
    try:
        page = await referrals.list_referrals(
            project_id=visit.project_id,
            campaign_id=campaign.key,
            referrer_id=None,
            first=REFERRALS_PAGE,
            after=after,
        )
    except DomainError:
        after = None
        page = await referrals.list_referrals(
            project_id=visit.project_id,
            campaign_id=campaign.key,
            referrer_id=None,
            first=REFERRALS_PAGE,
            after=None,
        )
    people = await customers_by_id(
        visit.project_id,
        list(
            {code.referrer_id for code in top}
            | {r.referrer_id for r in page.items}
            | {r.referee_id for r in page.items}
        ),
    )
    config = campaign.referral
    named = await campaigns.campaigns_by_id(
        project_id=visit.project_id,
        campaign_ids=[
            key
            for key in (
                config.welcome_campaign_id if config else "",
                config.referrer_reward.discount_campaign_id if config else "",
                config.referrer_reward.loyalty_campaign_id if config else "",
            )
            if key
        ],
    )
    next_link = ""
    if page.has_next and page.items:
        next_link = (
            url(request, "referral_program", campaign_id=campaign.key)
            + f"?after={page.cursor(page.items[-1])}#referrals"
        )
    return render(
        request,
        "console/referrals/program.html",
        {
            "title": campaign.name,
            "area": "referrals",
            "program": campaign,
            "config": config,
            "totals": totals,
            "top": [(code, _name(people.get(code.referrer_id))) for code in top],
            "top_bars": [
                charts.Bar(
                    _name(people.get(code.referrer_id)),
                    code.referrals_count,
                    url(request, "customer", customer_id=code.referrer_id),
                )
                for code in top
            ],
            "referrals": page.items,
            "names": {key: _name(customer) for key, customer in people.items()},
            "campaign_names": {key: found.name for key, found in named.items()},
            "min_order": format_money(config.min_order) if config and config.min_order else "",
            "first_page": after is None,
            "next_link": next_link,
            "done": DONE.get(request.query_params.get("done", ""), ""),
        },
    )


async def _form(
    request: Request,
    visit: Visit,
    *,
    values: dict[str, str],
    campaign: Campaign | None,
    errors: FormErrors | None = None,
) -> Response:
    discounts = await campaigns.list_campaigns(
        project_id=visit.project_id, first=200, after=None, kind=CampaignKind.DISCOUNT
    )
    programs = await campaigns.list_campaigns(
        project_id=visit.project_id, first=200, after=None, kind=CampaignKind.LOYALTY
    )
    return render(
        request,
        "console/referrals/form.html",
        {
            "title": f"Edit {campaign.name}" if campaign else "New referral program",
            "area": "referrals",
            "program": campaign,
            "v": values,
            "errors": errors or FormErrors(),
            "discount_options": [(c.key, c.name) for c in discounts.items],
            "loyalty_options": [(c.key, c.name) for c in programs.items],
            "action": url(request, "referral_program_edit", campaign_id=campaign.key)
            if campaign
            else url(request, "referral_program_new"),
        },
        400 if errors else 200,
    )


def _checked(values: dict[str, str], *, creating: bool) -> CampaignInput:
    config, unreadable = referral_form.referral_input(values)
    if unreadable:
        raise DomainError.of(unreadable)
    return CampaignInput(
        name=values["name"],
        kind=CampaignKind.REFERRAL.value if creating else None,
        referral=config,
    )


@console_page(ConsoleRole.MARKETER)
async def program_new(request: Request, visit: Visit) -> Response:
    if request.method == "GET":
        return await _form(request, visit, values=referral_form.new_values(), campaign=None)
    values = referral_form.read_values(await request.form())
    try:
        created = await campaigns.create_campaign(
            project_id=visit.project_id, data=_checked(values, creating=True)
        )
    except DomainError as error:
        errors = form_errors(referral_form.on_inputs(error.problems))
        return await _form(request, visit, values=values, campaign=None, errors=errors)
    return redirect(request, "referral_program", query="done=created", campaign_id=created.key)


@console_page(ConsoleRole.MARKETER)
async def program_edit(request: Request, visit: Visit) -> Response:
    campaign = await _program(visit, request)
    if request.method == "GET":
        values = referral_form.program_values(campaign)
        return await _form(request, visit, values=values, campaign=campaign)
    values = referral_form.read_values(await request.form())
    try:
        await campaigns.update_campaign(
            project_id=visit.project_id,
            campaign_id=campaign.key,
            data=_checked(values, creating=False),
        )
    except DomainError as error:
        errors = form_errors(referral_form.on_inputs(error.problems))
        return await _form(request, visit, values=values, campaign=campaign, errors=errors)
    return redirect(request, "referral_program", query="done=updated", campaign_id=campaign.key)


routes: list[BaseRoute] = [
    Route("/referrals", programs, methods=["GET"], name="referrals"),
    Route("/referrals/new", program_new, methods=["GET", "POST"], name="referral_program_new"),
    Route("/referrals/{campaign_id}", program, methods=["GET"], name="referral_program"),
    Route(
        "/referrals/{campaign_id}/edit",
        program_edit,
        methods=["GET", "POST"],
        name="referral_program_edit",
    ),
]
TEMPLATES = tuple(f"referrals/{name}.html" for name in ("programs", "program", "form"))
