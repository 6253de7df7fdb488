"""Console pages for loyalty: the programs (LOYALTY campaigns) with their tiers and expiry, made
and changed through createCampaign's and updateCampaign's checks; the rewards catalogue
(createReward, updateReward); and a member's card and ledger with the points adjustment
adjustPoints makes."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import api.console.charts as charts
import api.console.loyalty_form as loyalty_form
from api.console.web import (
    FormErrors,
    Visit,
    console_page,
    form_errors,
    redirect,
    render,
    url,
)
from domain import campaigns, loyalty
from domain.campaigns import Campaign, CampaignInput, CampaignKind
from domain.console import ConsoleRole
from domain.customers import Customer, get_customer
from domain.errors import CommonError, DomainError, NotFound, Problem
from domain.loyalty_config import LoyaltyConfig, LoyaltyTier

PROGRAMS_PAGE = 100
LEDGER_PAGE = 50
DONE = {
    "created": "Program created.",
    "updated": "Program saved.",
    "reward-added": "Reward added.",
    "reward-saved": "Reward saved.",
    "adjusted": "Points adjusted.",
}


async def _program(visit: Visit, request: Request) -> tuple[Campaign, LoyaltyConfig]:
    """The request's program, or 404: unknown here, another project's, or not a LOYALTY one."""
    try:
        return await loyalty.loyalty_campaign(
            project_id=visit.project_id, campaign_id=str(request.path_params["campaign_id"])
        )
    except DomainError:
        raise NotFound("loyalty program") from None


def _customer_name(customer: Customer) -> str:
    if customer.erased:
        return "Erased customer"
    return customer.name or customer.email or customer.phone or customer.source_id or customer.key


# --- programs --------------------------------------------------------------------------------


@console_page()
async def programs(request: Request, visit: Visit) -> Response:
    page = await campaigns.list_campaigns(
        project_id=visit.project_id, first=PROGRAMS_PAGE, after=None, kind=CampaignKind.LOYALTY
    )
    return render(
        request,
        "console/loyalty/programs.html",
        {
            "title": "Loyalty programs",
            "area": "loyalty",
            "rows": [
                (program, loyalty_form.describe(program.loyalty or LoyaltyConfig()))
                for program in page.items
            ],
        },
    )


@console_page()
async def program(request: Request, visit: Visit) -> Response:
    campaign, config = await _program(visit, request)
    rewards = await loyalty.list_rewards(project_id=visit.project_id, campaign_id=campaign.key)
    per_tier = await loyalty.members_per_tier(project_id=visit.project_id, campaign_id=campaign.key)
    discount_names = await campaigns.campaigns_by_id(
        project_id=visit.project_id,
        campaign_ids=[r.discount_campaign_id for r in rewards if r.discount_campaign_id],
    )
    return render(
        request,
        "console/loyalty/program.html",
        {
            "title": campaign.name,
            "area": "loyalty",
            "program": campaign,
            "config": config,
            "rules": loyalty_form.describe(config),
            "rewards": rewards,
            "members": sum(per_tier.values()),
            # Every tier of the program, lowest first, then cards in a tier it no longer has.
            "tier_bars": [
                charts.Bar(name or "No tier", per_tier.get(name, 0))
                for name in ["", *(tier.name for tier in config.tiers)]
            ]
            + [
                charts.Bar(name, count)
                for name, count in per_tier.items()
                if name and name not in {tier.name for tier in config.tiers}
            ],
            "discounts": {key: found.name for key, found in discount_names.items()},
            "done": DONE.get(request.query_params.get("done", ""), ""),
        },
    )


def _program_form(
    request: Request,
    *,
    values: loyalty_form.ProgramValues,
    campaign: Campaign | None,
    errors: FormErrors | None = None,
) -> Response:
    return render(
        request,
        "console/loyalty/program_form.html",
        {
            "title": f"Edit {campaign.name}" if campaign else "New loyalty program",
            "area": "loyalty",
            "program": campaign,
            "v": values.with_spare_rows(),
            "errors": errors or FormErrors(),
            "roundings": loyalty_form.ROUNDINGS,
            "tier_bases": loyalty_form.TIER_BASES,
            "action": url(request, "loyalty_program_edit", campaign_id=campaign.key)
            if campaign
            else url(request, "loyalty_program_new"),
        },
        400 if errors else 200,
    )


def _checked(values: loyalty_form.ProgramValues, *, creating: bool) -> CampaignInput:
    """The CampaignInput of the form; unreadable numbers raise before the domain is asked."""
    config, unreadable = loyalty_form.loyalty_input(values)
    if unreadable:
        raise DomainError.of(unreadable)
    return CampaignInput(
        name=values.fields["name"],
        kind=CampaignKind.LOYALTY.value if creating else None,
        loyalty=config,
    )


@console_page(ConsoleRole.MARKETER)
async def program_new(request: Request, visit: Visit) -> Response:
    if request.method == "GET":
        return _program_form(request, values=loyalty_form.new_program_values(), campaign=None)
    values = loyalty_form.read_values(await request.form())
    try:
        created = await campaigns.create_campaign(
            project_id=visit.project_id, data=_checked(values, creating=True)
        )
    except DomainError as error:
        errors = form_errors(loyalty_form.on_inputs(error.problems))
        return _program_form(request, values=values, campaign=None, errors=errors)
    return redirect(request, "loyalty_program", query="done=created", campaign_id=created.key)


@console_page(ConsoleRole.MARKETER)
async def program_edit(request: Request, visit: Visit) -> Response:
    campaign, _ = await _program(visit, request)
    if request.method == "GET":
        return _program_form(
            request, values=loyalty_form.program_values(campaign), campaign=campaign
        )
    values = loyalty_form.read_values(await request.form())
    try:
        await campaigns.update_campaign(
            project_id=visit.project_id,
            campaign_id=campaign.key,
            data=_checked(values, creating=False),
        )
    except DomainError as error:
        errors = form_errors(loyalty_form.on_inputs(error.problems))
        return _program_form(request, values=values, campaign=campaign, errors=errors)
    return redirect(request, "loyalty_program", query="done=updated", campaign_id=campaign.key)


# --- rewards ---------------------------------------------------------------------------------


async def _reward_form(
    request: Request,
    visit: Visit,
    *,
    campaign: Campaign,
    reward: loyalty.Reward | None,
    values: dict[str, str],
    errors: FormErrors | None = None,
) -> Response:
    discounts = await campaigns.list_campaigns(
        project_id=visit.project_id, first=200, after=None, kind=CampaignKind.DISCOUNT
    )
    return render(
        request,
        "console/loyalty/reward_form.html",
        {
            "title": f"Edit reward {reward.name}" if reward else f"New reward in {campaign.name}",
            "area": "loyalty",
            "program": campaign,
            "reward": reward,
            "v": values,
            "errors": errors or FormErrors(),
            "discount_options": [("", "None: the shop gives the reward itself")]
            + [(found.key, found.name) for found in discounts.items],
            "action": url(
                request, "loyalty_reward_edit", campaign_id=campaign.key, reward_id=reward.key
            )
            if reward
            else url(request, "loyalty_reward_new", campaign_id=campaign.key),
        },
        400 if errors else 200,
    )


def _reward_input(campaign: Campaign, values: dict[str, str]) -> loyalty.RewardInput:
    cost = loyalty_form.whole_number(values["cost"])
    if cost is None:
        raise DomainError(CommonError.INVALID_POINTS, "enter a whole number of points", "cost")
    return loyalty.RewardInput(
        campaign_id=campaign.key,
        name=values["name"],
        cost=cost,
        discount_campaign_id=values["discountCampaignId"] or None,
    )


async def _posted_reward(request: Request) -> dict[str, str]:
    form = await request.form()
    return {
        name: str(form.get(name) or "").strip() for name in ("name", "cost", "discountCampaignId")
    }


@console_page(ConsoleRole.MARKETER)
async def reward_new(request: Request, visit: Visit) -> Response:
    campaign, _ = await _program(visit, request)
    if request.method == "GET":
        values = {"name": "", "cost": "", "discountCampaignId": ""}
        return await _reward_form(request, visit, campaign=campaign, reward=None, values=values)
    values = await _posted_reward(request)
    try:
        await loyalty.create_reward(
            project_id=visit.project_id, data=_reward_input(campaign, values)
        )
    except DomainError as error:
        return await _reward_form(
            request, visit, campaign=campaign, reward=None, values=values, errors=form_errors(error)
        )
    return redirect(request, "loyalty_program", query="done=reward-added", campaign_id=campaign.key)


@console_page(ConsoleRole.MARKETER)
async def reward_edit(request: Request, visit: Visit) -> Response:
    campaign, _ = await _program(visit, request)
    reward = await loyalty.get_reward(
        project_id=visit.project_id, reward_id=str(request.path_params["reward_id"])
    )
    if reward.campaign_id != campaign.key:
        raise NotFound("reward")
    if request.method == "GET":
        values = {
            "name": reward.name,
            "cost": str(reward.cost),
            "discountCampaignId": reward.discount_campaign_id,
        }
        return await _reward_form(request, visit, campaign=campaign, reward=reward, values=values)
    values = await _posted_reward(request)
    try:
        await loyalty.update_reward(
            project_id=visit.project_id,
            reward_id=reward.key,
            data=_reward_input(campaign, values),
        )
    except DomainError as error:
        return await _reward_form(
            request,
            visit,
            campaign=campaign,
            reward=reward,
            values=values,
            errors=form_errors(error),
        )
    return redirect(request, "loyalty_program", query="done=reward-saved", campaign_id=campaign.key)


# --- a member's card -------------------------------------------------------------------------


def _next_tier(config: LoyaltyConfig, held: str) -> LoyaltyTier | None:
    """The tier above the one held (the lowest when none is held)."""
    floor = next((tier.threshold for tier in config.tiers if tier.name == held), -1)
    return next((tier for tier in config.tiers if tier.threshold > floor), None)


async def _member_page(
    request: Request,
    visit: Visit,
    *,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    campaign, config = await _program(visit, request)
    customer = await get_customer(visit.project_id, str(request.path_params["customer_id"]))
    card = await loyalty.find_card(
        project_id=visit.project_id, campaign_id=campaign.key, customer_id=customer.key
    )
    after = request.query_params.get("after") or None
    try:
        ledger = await loyalty.list_ledger(card=card, first=LEDGER_PAGE, after=after)
    except DomainError:
        after = None
        ledger = await loyalty.list_ledger(card=card, first=LEDGER_PAGE, after=None)
    next_link = ""
    if ledger.has_next and ledger.items:
        next_link = (
            url(request, "loyalty_member", campaign_id=campaign.key, customer_id=customer.key)
            + f"?after={ledger.cursor(ledger.items[-1])}"
        )
    return render(
        request,
        "console/loyalty/member.html",
        {
            "title": f"{_customer_name(customer)} in {campaign.name}",
            "area": "loyalty",
            "program": campaign,
            "config": config,
            "customer": customer,
            "name": _customer_name(customer),
            "card": card,
            "expiring": await loyalty.expiring_soon(card=card),
            "ledger": ledger.items,
            "ledger_total": await ledger.total(),
            "first_page": after is None,
            "next_link": next_link,
            "next_tier": _next_tier(config, card.tier),
            "v": values or {"points": "", "reason": ""},
            "errors": errors or FormErrors(),
            "done": DONE.get(request.query_params.get("done", ""), ""),
        },
        400 if errors else 200,
    )


@console_page()
async def member(request: Request, visit: Visit) -> Response:
    return await _member_page(request, visit)


@console_page(ConsoleRole.MARKETER)
async def adjust(request: Request, visit: Visit) -> Response:
    campaign, _ = await _program(visit, request)
    customer = await get_customer(visit.project_id, str(request.path_params["customer_id"]))
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in ("points", "reason")}
    points = loyalty_form.whole_number(values["points"])
    try:
        if points is None:
            problems = [
                Problem(
                    CommonError.INVALID_POINTS,
                    "enter a whole number of points, negative to take points",
                    "points",
                )
            ]
            if not values["reason"]:
                problems.append(
                    Problem(
                        CommonError.REQUIRED,
                        f"a reason of 1 to {loyalty.MAX_REASON} characters",
                        "reason",
                    )
                )
            raise DomainError.of(problems)
        await loyalty.adjust_points(
            project_id=visit.project_id,
            customer_id=customer.key,
            campaign_id=campaign.key,
            points=points,
            reason=values["reason"],
            actor=f"console:{visit.user.email}",
        )
    except DomainError as error:
        return await _member_page(request, visit, values=values, errors=form_errors(error))
    return redirect(
        request,
        "loyalty_member",
        query="done=adjusted",
        campaign_id=campaign.key,
        customer_id=customer.key,
    )


routes: list[BaseRoute] = [
    Route("/loyalty", programs, methods=["GET"], name="loyalty"),
    Route("/loyalty/new", program_new, methods=["GET", "POST"], name="loyalty_program_new"),
    Route("/loyalty/{campaign_id}", program, methods=["GET"], name="loyalty_program"),
    Route(
        "/loyalty/{campaign_id}/edit",
        program_edit,
        methods=["GET", "POST"],
        name="loyalty_program_edit",
    ),
    Route(
        "/loyalty/{campaign_id}/rewards/new",
        reward_new,
        methods=["GET", "POST"],
        name="loyalty_reward_new",
    ),
    Route(
        "/loyalty/{campaign_id}/rewards/{reward_id}/edit",
        reward_edit,
        methods=["GET", "POST"],
        name="loyalty_reward_edit",
    ),
    Route(
        "/loyalty/{campaign_id}/members/{customer_id}",
        member,
        methods=["GET"],
        name="loyalty_member",
    ),
    Route(
        "/loyalty/{campaign_id}/members/{customer_id}/adjust",
        adjust,
        methods=["POST"],
        name="loyalty_adjust",
    ),
]
TEMPLATES = tuple(
    f"loyalty/{name}.html"
    for name in ("programs", "program", "program_form", "reward_form", "member")
)
