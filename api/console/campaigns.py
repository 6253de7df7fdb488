"""Console pages for campaigns and their codes: the list, the create and edit form, pause,
resume and end with a confirmation, code generation followed by a progress bar, the codes table
and its streamed CSV export, and the campaign page with its charts and redemptions."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import available_timezones

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

import api.console.campaign_form as campaign_form
from api.console.charts import Bar, Series, bar_chart, line_chart
from api.console.web import (
    FormErrors,
    Visit,
    console_page,
    form_errors,
    format_money,
    message_page,
    redirect,
    render,
    settings_of,
    url,
    zone_of,
)
from domain import analytics, campaigns, jobs
from domain.analytics.campaign_totals import campaign_totals
from domain.campaigns import Campaign, CampaignKind, CampaignStatus, CodeConfigInput, CodeMode
from domain.code_errors import CodeError
from domain.code_examples import preview_codes
from domain.code_listing import (
    CodeState,
    ExportLinks,
    codes_by_id,
    export_codes_csv,
    export_file_name,
    list_campaign_codes,
)
from domain.codegen import SPACE_SHARE, code_space
from domain.codes import code_status, offer_text, uses_left
from domain.common import Money, utc_now
from domain.console import ConsoleRole
from domain.customers import Customer, customers_by_id
from domain.errors import DomainError, NotFound, Problem
from domain.redemptions import get_redemption, latest_redemptions, rollback_redemption
from domain.segments import Segment

LIST_PAGE = 50
CODES_PAGE = 50
LATEST_REDEMPTIONS = 20
RANGES = (7, 30, 90)
DEFAULT_RANGE = 30
DEFAULT_GENERATE = 1_000
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
CHANNEL_NAMES = {"EMAIL": "Email", "SMS": "SMS", "ONLINE": "Online", "POS": "Till (POS)"}
CODE_MODES = [("ALPHANUMERIC", "Letters and digits"), ("NUMERIC", "Digits only (card-like)")]


@dataclass(frozen=True)
class StatusChange:
    """Pause, resume or end: what the confirmation page asks and what it does."""

    action: str
    status: CampaignStatus
    verb: str
    consequence: str
    allowed_from: tuple[CampaignStatus, ...]


STATUS_CHANGES = {
    change.action: change
    for change in (
        StatusChange(
            "pause",
            CampaignStatus.PAUSED,
            "Pause",
            "Its codes are refused at checkout (as PAUSED) until you resume it.",
            (CampaignStatus.ACTIVE,),
        ),
        StatusChange(
            "resume",
            CampaignStatus.ACTIVE,
            "Resume",
            "Its codes work again, within the campaign's dates and limits.",
            (CampaignStatus.PAUSED,),
        ),
        StatusChange(
            "end",
            CampaignStatus.ENDED,
            "End",
            "This is final: no code of the campaign works after this, and it cannot be resumed.",
            (CampaignStatus.ACTIVE, CampaignStatus.PAUSED),
        ),
    )
}


# --- small helpers ---------------------------------------------------------------------------


def _relative(delta: timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        amount, unit = max(1, round(seconds)), "second"
    elif seconds < 3600:
        amount, unit = max(1, round(seconds / 60)), "minute"
    elif seconds < 2 * 86400:
        amount, unit = round(seconds / 3600), "hour"
    else:
        amount, unit = round(seconds / 86400), "day"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def status_of(campaign: Campaign, now: datetime) -> tuple[str, str, str]:
    """(word, hint, css class): the status as stored, and what it means right now."""
    if campaign.status == CampaignStatus.ENDED:
        return "Ended", "", "ended"
    if campaign.status == CampaignStatus.PAUSED:
        return "Paused", "", "paused"
    if campaign.ends_at is not None and campaign.ends_at <= now:
        return "Expired", f"ended {_relative(now - campaign.ends_at)} ago", "ended"
    if campaign.starts_at is not None and now < campaign.starts_at:
        return "Scheduled", f"starts in {_relative(campaign.starts_at - now)}", "scheduled"
    if campaign.ends_at is not None:
        return "Active", f"ends in {_relative(campaign.ends_at - now)}", "active"
    return "Active", "", "active"


def _moneys(values: list[Money]) -> str:
    """One figure per currency: amounts in different currencies are never added up."""
    return ", ".join(format_money(value) for value in values) if values else "—"


def _limit(value: int | None) -> str:
    return "∞" if value is None else f"{value:,}"


def _code_shape(campaign: Campaign) -> str:
    """How the campaign's codes look, in words."""
    codes = campaign.codes
    if campaign.standalone_code:
        return f"One shared code: {campaign.standalone_code}"
    if codes.mode == CodeMode.NUMERIC:
        text = f"{codes.length} digits" + (f" starting {codes.prefix}" if codes.prefix else "")
        return text + (" with a Luhn check digit" if codes.luhn else "")
    if codes.pattern:
        return f"Pattern {codes.prefix}{codes.pattern}{codes.suffix} (# is a random character)"
    parts = [codes.prefix, f"{codes.length} random characters", codes.suffix]
    return " + ".join(part for part in parts if part)


def _who(campaign: Campaign) -> str:
    """The campaign's eligibility rules in a line."""
    rules = campaign.rules
    parts = ["first orders only"] if rules.first_order_only else []
    if rules.segment_ids:
        parts.append(f"customers in {len(rules.segment_ids)} chosen segment(s)")
    if rules.customer_tags:
        parts.append("customers tagged " + ", ".join(rules.customer_tags))
    if rules.attributes:
        parts.append(
            "customers with " + ", ".join(f"{k} = {v}" for k, v in rules.attributes.items())
        )
    if rules.skus:
        parts.append("orders with SKU " + ", ".join(rules.skus))
    if rules.categories:
        parts.append("orders with items in " + ", ".join(rules.categories))
    return "; ".join(parts) if parts else "every customer and order"


async def _campaign(visit: Visit, request: Request) -> Campaign:
    return await campaigns.get_campaign(
        visit.project_id, str(request.path_params["campaign_id"]), "id"
    )


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
                "redeemed": f"{campaign.redeemed_count:,} / {_limit(campaign.limits.total)}",
                "revenue": _moneys(figures.revenue),
                "discount_cost": _moneys(figures.discount_cost),
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
    planned = campaign_form.planned_codes(values)
    preview = preview_codes(
        given=CodeConfigInput(
            mode=values.get("codes.mode") or None,
            pattern=values.get("codes.pattern") or "",
            charset=(
                None
                if values.get("codes.mode") == CodeMode.NUMERIC.value
                else values.get("codes.charset") or None
            ),
            length=int(values["codes.length"])
            if str(values.get("codes.length") or "").isdigit()
            else None,
            prefix=values.get("codes.prefix") or "",
            suffix=values.get("codes.suffix") or "",
            luhn=bool(values.get("codes.luhn")),
        ),
        planned=planned,
    )
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
    campaign = await _campaign(visit, request)
    if campaign.kind != CampaignKind.DISCOUNT:
        return message_page(
            request,
            status=400,
            title=f"{campaign.name} is a {campaign.kind.value.lower()} program",
            text="Loyalty and referral programs are set up through the API (createCampaign and "
            "updateCampaign with their loyalty or referral settings); this form edits discount "
            "campaigns.",
        )
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
    length = params.get("codes.length", "")
    numeric = params.get("codes.mode") == CodeMode.NUMERIC.value
    charset = params.get("codes.charset") or None
    planned = campaign_form.planned_codes({"plannedCodes": params.get("plannedCodes", "")})
    preview = preview_codes(
        given=CodeConfigInput(
            mode=params.get("codes.mode") or None,
            pattern=params.get("codes.pattern", ""),
            charset=None if numeric else charset,
            length=int(length) if length.isdigit() else None,
            prefix=params.get("codes.prefix", ""),
            suffix=params.get("codes.suffix", ""),
            luhn=params.get("codes.luhn") is not None,
        ),
        planned=planned,
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
    campaign = await _campaign(visit, request)
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


# --- generating codes and following the job --------------------------------------------------


def _count(text: str) -> int | None:
    cleaned = text.replace(",", "").replace("_", "").replace(" ", "")
    return int(cleaned) if cleaned.isdigit() else None


@console_page(ConsoleRole.MARKETER)
async def campaign_generate(request: Request, visit: Visit) -> Response:
    campaign = await _campaign(visit, request)
    errors = FormErrors()
    count_text = request.query_params.get("count") or str(DEFAULT_GENERATE)
    if request.method == "POST":
        count_text = str((await request.form()).get("count") or "").strip()
        count = _count(count_text)
        try:
            if count is None:
                raise DomainError(
                    CodeError.INVALID_COUNT, "enter how many codes, such as 1000", "count"
                )
            job = await jobs.generate_codes(visit.project_id, campaign.key, count)
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
            "shape": _code_shape(campaign),
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
            "elapsed": _relative(end - job.created_at),
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
    campaign = await _campaign(visit, request)
    params = request.query_params
    search = params.get("q", "").strip()
    state_text = params.get("state", CodeState.ALL.value)
    state = CodeState(state_text) if state_text in {s.value for s in CodeState} else CodeState.ALL
    after = params.get("after") or None
    start = _count(params.get("from", "")) or 1
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
    campaign = await _campaign(visit, request)
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


# --- the campaign page -----------------------------------------------------------------------


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def _major(value: float, currency: str) -> str:
    return format_money(Money(amount=round(value), currency=currency))


@console_page()
async def campaign_page(request: Request, visit: Visit) -> Response:
    campaign = await _campaign(visit, request)
    days_text = request.query_params.get("days", "")
    days = int(days_text) if days_text.isdigit() and int(days_text) in RANGES else DEFAULT_RANGE
    now = utc_now()
    zone = zone_of(campaign.timezone)
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), zone)
    stats = await analytics.campaign_stats(
        project_id=visit.project_id, campaign_id=campaign.key, start=since
    )
    by_day = {entry.day: entry for entry in stats.daily}
    labels = [f"{d.day} {d:%b}" for d in _days(first_day, today)]
    daily = [by_day.get(d) for d in _days(first_day, today)]
    redeemed = [float(entry.redeemed if entry else 0) for entry in daily]
    revenue = [float(entry.revenue.amount if entry else 0) for entry in daily]
    discounts = [float(entry.discount_cost.amount if entry else 0) for entry in daily]
    currency = stats.currency
    peak = max(range(len(redeemed)), key=lambda i: redeemed[i]) if any(redeemed) else None
    period = f"the last {days} days ({labels[0]} to {labels[-1]}, {zone.key})"
    redemptions_chart = line_chart(
        title=f"Redemptions per day, {period}",
        description=f"{stats.redeemed:,} redemption{'' if stats.redeemed == 1 else 's'} in all"
        + (f"; most on {labels[peak]} ({int(redeemed[peak]):,})" if peak is not None else ""),
        labels=labels,
        series=[Series("Redemptions", redeemed)],
        y_title="Redemptions",
    )
    money_chart = line_chart(
        title=f"Revenue and discount cost per day, {period}",
        description=f"Revenue {format_money(stats.revenue)}, discount cost "
        f"{format_money(stats.discount_cost)}",
        labels=labels,
        series=[Series("Revenue", revenue), Series("Discount cost", discounts)],
        y_title=f"Amount ({currency})",
        value_format=lambda value: _major(value, currency),
    )
    direct = max(0, stats.redeemed - sum(channel.redeemed for channel in stats.channels))
    channel_bars = [
        Bar(CHANNEL_NAMES[channel.channel.value], float(channel.redeemed))
        for channel in stats.channels
    ] + [Bar("No message", float(direct))]
    channels_chart = bar_chart(
        title=f"Redemptions by the channel that delivered the code, {period}",
        description=", ".join(f"{bar.label}: {int(bar.value):,}" for bar in channel_bars),
        bars=channel_bars,
        value_title="Redemptions",
        label_title="Channel",
    )
    totals = (await campaign_totals(project_id=visit.project_id, campaign_ids=[campaign.key]))[
        campaign.key
    ]
    latest = await latest_redemptions(
        project_id=visit.project_id, campaign_id=campaign.key, limit=LATEST_REDEMPTIONS
    )
    people: dict[str, Customer] = await customers_by_id(
        visit.project_id, [r.customer_id for r in latest if r.customer_id]
    )
    printed = await codes_by_id(project_id=visit.project_id, code_ids=[r.code_id for r in latest])
    word, hint, css = status_of(campaign, now)
    saved = request.query_params.get("saved", "")
    count = _count(request.query_params.get("count", ""))
    return render(
        request,
        "console/campaigns/campaign.html",
        {
            "title": campaign.name,
            "area": "campaigns",
            "campaign": campaign,
            "status": word,
            "hint": hint,
            "css": css,
            "offer": offer_text(campaign.discount),
            "shape": _code_shape(campaign),
            "who": _who(campaign),
            "stats": stats,
            "totals": totals,
            "revenue_all": _moneys(totals.revenue),
            "discount_all": _moneys(totals.discount_cost),
            "redemptions_chart": redemptions_chart,
            "money_chart": money_chart,
            "channels_chart": channels_chart,
            "days": days,
            "ranges": RANGES,
            "zone": zone.key,
            "latest": latest,
            "people": people,
            "printed": {key: code.display or code.code for key, code in printed.items()},
            "channel_names": CHANNEL_NAMES,
            "show_personal": visit.can(ConsoleRole.MARKETER),
            "limit_total": _limit(campaign.limits.total),
            "notice": {
                "created": "Campaign created.",
                "updated": "Changes saved.",
                "pause": "Campaign paused.",
                "resume": "Campaign resumed.",
                "end": "Campaign ended.",
                "rolled-back": "Redemption rolled back.",
            }.get(saved, ""),
            "planned": count,
            "actions": [
                change
                for change in STATUS_CHANGES.values()
                if campaign.status in change.allowed_from
            ],
        },
    )


# --- rollback --------------------------------------------------------------------------------


@console_page(ConsoleRole.MARKETER)
async def redemption_rollback(request: Request, visit: Visit) -> Response:
    campaign = await _campaign(visit, request)
    redemption = await get_redemption(
        project_id=visit.project_id, redemption_id=str(request.path_params["redemption_id"])
    )
    if redemption.campaign_id != campaign.key:
        raise NotFound("redemption")
    errors = FormErrors()
    reason = ""
    if request.method == "POST":
        reason = str((await request.form()).get("reason") or "").strip()
        try:
            await rollback_redemption(
                project_id=visit.project_id, redemption_id=redemption.key, reason=reason
            )
        except DomainError as error:
            errors = form_errors([Problem(p.code, p.message, None) for p in error.problems])
        else:
            return redirect(
                request, "campaign", query="saved=rolled-back", campaign_id=campaign.key
            )
    printed = await codes_by_id(project_id=visit.project_id, code_ids=[redemption.code_id])
    code = printed[redemption.code_id].display if redemption.code_id in printed else redemption.code
    return render(
        request,
        "console/campaigns/rollback.html",
        {
            "title": f"Roll back the redemption of {code}?",
            "code": code,
            "area": "campaigns",
            "campaign": campaign,
            "redemption": redemption,
            "reason": reason,
            "errors": errors,
        },
        400 if errors else 200,
    )


routes: list[BaseRoute] = [
    Route("/campaigns", campaign_list, methods=["GET"], name="campaigns"),
    Route("/campaigns/new", campaign_new, methods=["GET", "POST"], name="campaign_new"),
    Route("/campaigns/code-preview", code_preview, methods=["GET"], name="code_preview"),
    Route("/campaigns/{campaign_id}", campaign_page, methods=["GET"], name="campaign"),
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
    Route(
        "/campaigns/{campaign_id}/redemptions/{redemption_id}/rollback",
        redemption_rollback,
        methods=["GET", "POST"],
        name="redemption_rollback",
    ),
    Route("/jobs/{job_id}.json", job_json, methods=["GET"], name="job_json"),
    Route("/jobs/{job_id}", job_page, methods=["GET"], name="job"),
]
