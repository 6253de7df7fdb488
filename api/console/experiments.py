"""Console pages for A/B experiments: the list, the create form (createExperiment's checks and
typed errors), the results page with each arm's test and a chart of the intervals, and start,
stop and promote after a confirmation. Everything goes through domain.experiments, as the
GraphQL mutations do."""

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import api.console.charts as charts
from api.console.web import (
    FormErrors,
    Visit,
    console_page,
    form_errors,
    format_money,
    redirect,
    render,
)
from domain import experiments
from domain.campaigns import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    DiscountInput,
    campaigns_by_id,
    newest_campaigns,
)
from domain.codes import offer_text
from domain.common import Money
from domain.console import ConsoleRole
from domain.errors import CommonError, DomainError, NotFound, Problem
from domain.experiments import Experiment, ExperimentStatus
from domain.experiments.promotion import promote_variant
from domain.experiments.results import ArmResult, ExperimentResults, experiment_results
from domain.stats_tests import ProportionTest, two_proportion_z_test

LIST_PAGE = 100
# Rows of the form; the API takes 2 to MAX_VARIANTS variants.
VARIANT_ROWS = experiments.MAX_VARIANTS
VARIANT_FIELDS = ("key", "name", "weight", "percentOff")
STATUS_CSS = {
    ExperimentStatus.DRAFT: "off",
    ExperimentStatus.RUNNING: "ok",
    ExperimentStatus.STOPPED: "off",
}


@dataclass(frozen=True)
class StatusChange:
    """Start or stop: what the confirmation page says and what it calls."""

    action: str
    verb: str
    consequence: str
    allowed_from: ExperimentStatus


STATUS_CHANGES = {
    "start": StatusChange(
        "start",
        "Start",
        "From now on every code published on the campaign assigns its customer to an arm, "
        "for good. The variants cannot be changed once it runs.",
        ExperimentStatus.DRAFT,
    ),
    "stop": StatusChange(
        "stop",
        "Stop",
        "This is final: no customer is assigned any more and the experiment cannot be "
        "restarted. Codes already published keep their variant's offer, and the results stay.",
        ExperimentStatus.RUNNING,
    ),
}


async def _experiment_of(visit: Visit, request: Request) -> Experiment:
    return await experiments.get_experiment(
        project_id=visit.project_id, experiment_id=str(request.path_params["experiment_id"])
    )


# --- list ------------------------------------------------------------------------------------


@console_page()
async def experiment_list(request: Request, visit: Visit) -> Response:
    page = await experiments.list_experiments(
        project_id=visit.project_id, first=LIST_PAGE, after=None
    )
    found = await campaigns_by_id(
        project_id=visit.project_id, campaign_ids=[e.campaign_id for e in page.items]
    )
    # Newest first: the one a marketer is working on is usually the last one created.
    rows = [
        {"experiment": e, "campaign": found.get(e.campaign_id), "css": STATUS_CSS[e.status]}
        for e in reversed(page.items)
    ]
    return render(
        request,
        "console/experiments/list.html",
        {"title": "Experiments", "area": "experiments", "rows": rows, "more": page.has_next},
    )


# --- create ----------------------------------------------------------------------------------


def _new_values() -> dict[str, Any]:
    values: dict[str, Any] = {"campaignId": "", "name": "", "holdoutWeight": "10", "alpha": "0.05"}
    for index in range(VARIANT_ROWS):
        for name in VARIANT_FIELDS:
            values[f"variants.{index}.{name}"] = ""
    values |= {
        "variants.0.key": "A",
        "variants.0.name": "Control",
        "variants.0.weight": "45",
        "variants.1.key": "B",
        "variants.1.weight": "45",
    }
    return values


def _read_values(form: FormData) -> dict[str, Any]:
    return {name: str(form.get(name, "")).strip() for name in _new_values()}


def _whole(text: str, fallback: int) -> int:
    """A whole number as typed; `fallback` (a value the API refuses) when it is not one."""
    try:
        return int(text)
    except ValueError:
        return fallback


def _experiment_input(values: dict[str, Any]) -> tuple[experiments.ExperimentInput, list[int]]:
    """The API's input from the form, and for each variant given the form row it came from
    (empty rows are left out). A percent that is not a number is refused here, in the API's
    words for a wrong discount, before anything is written."""
    variants: list[experiments.VariantInput] = []
    rows: list[int] = []
    problems: list[Problem] = []
    for index in range(VARIANT_ROWS):
        given = {name: values[f"variants.{index}.{name}"] for name in VARIANT_FIELDS}
        if not any(given.values()):
            continue
        discount = None
        if given["percentOff"]:
            try:
                percent = float(given["percentOff"].replace(",", "."))
            except ValueError:
                problems.append(
                    Problem(
                        CommonError.INVALID,
                        "enter a percentage such as 15",
                        f"variants.{index}.percentOff",
                    )
                )
            else:
                discount = DiscountInput(type="PERCENT", percent_off=percent)
        rows.append(index)
        variants.append(
            experiments.VariantInput(
                key=given["key"],
                name=given["name"],
                weight=_whole(given["weight"] or "1", 0),
                discount=discount,
            )
        )
    try:
        alpha = float(values["alpha"] or "0.05")
    except ValueError:
        alpha = 0.0
    if problems:
        raise DomainError.of(problems)
    data = experiments.ExperimentInput(
        campaign_id=values["campaignId"],
        name=values["name"],
        variants=variants,
        holdout_weight=_whole(values["holdoutWeight"] or "0", -1),
        alpha=alpha,
    )
    return data, rows


def _on_form(problems: list[Problem], rows: list[int]) -> list[Problem]:
    """The API's fields (variants.1.discount.percentOff) as the form's (the row's percentOff)."""
    placed = []
    for problem in problems:
        name = problem.field or ""
        parts = name.split(".")
        if len(parts) >= 3 and parts[0] == "variants" and parts[1].isdigit():
            row = rows[int(parts[1])] if int(parts[1]) < len(rows) else int(parts[1])
            name = f"variants.{row}.{parts[-1]}"
        placed.append(Problem(problem.code, problem.message, name or None))
    return placed


async def _campaign_options(visit: Visit) -> list[tuple[str, str]]:
    page = await newest_campaigns(
        project_id=visit.project_id, first=200, before=None, kind=CampaignKind.DISCOUNT
    )
    usable = [c for c in page.items if c.status != CampaignStatus.ENDED and not c.standalone_code]
    return [("", "Choose a campaign"), *((c.key, c.name) for c in usable)]


async def _form_page(
    request: Request,
    visit: Visit,
    *,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "console/experiments/form.html",
        {
            "title": "New experiment",
            "area": "experiments",
            "v": values,
            "errors": errors or FormErrors(),
            "campaigns": await _campaign_options(visit),
            "rows": range(VARIANT_ROWS),
        },
        status,
    )


@console_page(ConsoleRole.MARKETER)
async def experiment_new(request: Request, visit: Visit) -> Response:
    if request.method == "GET":
        values = _new_values()
        values["campaignId"] = request.query_params.get("campaign", "")
        return await _form_page(request, visit, values=values)
    values = _read_values(await request.form())
    rows: list[int] = []
    try:
        data, rows = _experiment_input(values)
        created = await experiments.create_experiment(project_id=visit.project_id, data=data)
    except DomainError as error:
        errors = form_errors(_on_form(error.problems, rows))
        return await _form_page(request, visit, values=values, errors=errors, status=400)
    return redirect(request, "experiment", query="saved=created", experiment_id=created.key)


# --- results ---------------------------------------------------------------------------------


def _offers(experiment: Experiment) -> dict[str, str]:
    return {v.key: offer_text(v.discount) or "The campaign's offer" for v in experiment.variants}


@dataclass(frozen=True)
class ArmRow:
    """An arm as the results table shows it, with its test against the reference arm."""

    arm: ArmResult
    share: float
    offer: str
    test: ProportionTest | None
    reference: bool
    revenue: str


def _arm_rows(experiment: Experiment, results: ExperimentResults) -> tuple[list[ArmRow], str]:
    """Each arm with its lift, interval and p-value against the reference: the holdout when
    there is one (the lift the offer brings), else the first variant (the control)."""
    total = sum(weight for _, weight in experiment.arms) or 1
    offers = _offers(experiment)
    reference = results.holdout or results.variants[0]
    rows = []
    for arm in [*results.variants, *([results.holdout] if results.holdout else [])]:
        is_reference = arm is reference
        if arm.against_holdout is not None:
            test = arm.against_holdout
        elif is_reference or arm.holdout:
            test = None
        else:
            test = two_proportion_z_test(
                arm.converted,
                arm.assigned,
                reference.converted,
                reference.assigned,
                experiment.alpha,
            )
        rows.append(
            ArmRow(
                arm=arm,
                share=arm.weight / total,
                offer="No code" if arm.holdout else offers.get(arm.key, ""),
                test=test,
                reference=is_reference,
                revenue=format_money(Money(amount=arm.revenue, currency=results.currency))
                if results.currency
                else "—",
            )
        )
    return rows, reference.name


def p_value_text(value: float) -> str:
    """A two-sided p-value to four places; below that, as a bound rather than a zero."""
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def p_value_phrase(value: float) -> str:
    """ "p = 0.0228", or "p < 0.0001" in a sentence."""
    text = p_value_text(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _points(value: float) -> str:
    """An absolute difference of conversion in percentage points."""
    return f"{value * 100:+.1f} pt"


def _interval_chart(rows: list[ArmRow], reference: str, level: float) -> Any:
    tested = [row for row in rows if row.test is not None]
    if not tested:
        return None
    intervals = [
        charts.Interval(
            label=row.arm.name,
            estimate=row.test.difference,
            low=row.test.ci_low,
            high=row.test.ci_high,
        )
        for row in tested
        if row.test is not None
    ]
    return charts.interval_chart(
        title=f"Lift over {reference}, {level * 100:g} % intervals",
        description=(
            f"For each arm, the difference of its conversion from {reference}'s in percentage "
            "points (the dot) and its confidence interval (the line). An interval that crosses "
            "the dashed zero line does not rule out no difference."
        ),
        intervals=intervals,
        value_title=f"Conversion minus {reference}'s (percentage points)",
        value_format=_points,
    )


@console_page()
async def experiment_page(request: Request, visit: Visit) -> Response:
    experiment = await _experiment_of(visit, request)
    found = await campaigns_by_id(
        project_id=visit.project_id, campaign_ids=[experiment.campaign_id]
    )
    campaign: Campaign | None = found.get(experiment.campaign_id)
    results = None
    rows: list[ArmRow] = []
    reference = ""
    if campaign is not None:
        results = await experiment_results(
            project_id=visit.project_id, experiment_id=experiment.key
        )
        rows, reference = _arm_rows(experiment, results)
    level = 1 - experiment.alpha
    return render(
        request,
        "console/experiments/experiment.html",
        {
            "title": experiment.name,
            "area": "experiments",
            "experiment": experiment,
            "campaign": campaign,
            "results": results,
            "rows": rows,
            "reference": reference,
            "level": level,
            "level_text": f"{level * 100:g} %",
            "p_text": p_value_text,
            "p_phrase": p_value_phrase,
            "chart": _interval_chart(rows, reference, level) if experiment.started_at else None,
            "css": STATUS_CSS[experiment.status],
            "saved": request.query_params.get("saved", ""),
            "can_promote": experiment.started_at is not None and not experiment.promoted,
            "offers": _offers(experiment),
            "names": {"holdout": "Holdout"} | {v.key: v.name for v in experiment.variants},
        },
    )


# --- start, stop, promote --------------------------------------------------------------------


@console_page(ConsoleRole.MARKETER)
async def experiment_status(request: Request, visit: Visit) -> Response:
    experiment = await _experiment_of(visit, request)
    change = STATUS_CHANGES.get(str(request.path_params["action"]))
    if change is None:
        raise NotFound("action")
    errors = FormErrors()
    if request.method == "POST":
        call = (
            experiments.start_experiment
            if change.action == "start"
            else experiments.stop_experiment
        )
        try:
            await call(project_id=visit.project_id, experiment_id=experiment.key)
        except DomainError as error:
            # Every problem here is about the experiment or its campaign, not a form field.
            errors = form_errors([Problem(p.code, p.message, None) for p in error.problems])
        else:
            return redirect(
                request, "experiment", query=f"saved={change.action}", experiment_id=experiment.key
            )
    return render(
        request,
        "console/experiments/status.html",
        {
            "title": f"{change.verb} {experiment.name}?",
            "area": "experiments",
            "experiment": experiment,
            "change": change,
            "possible": experiment.status == change.allowed_from,
            "errors": errors,
        },
        400 if errors else 200,
    )


@console_page(ConsoleRole.MARKETER)
async def experiment_promote(request: Request, visit: Visit) -> Response:
    experiment = await _experiment_of(visit, request)
    errors = FormErrors()
    chosen = ""
    if request.method == "POST":
        chosen = str((await request.form()).get("variantKey", "")).strip()
        try:
            await promote_variant(
                project_id=visit.project_id,
                experiment_id=experiment.key,
                variant_key=chosen or None,
            )
        except DomainError as error:
            errors = form_errors(
                [
                    Problem(p.code, p.message, "variantKey" if p.field == "variantKey" else None)
                    for p in error.problems
                ]
            )
        else:
            return redirect(
                request, "experiment", query="saved=promoted", experiment_id=experiment.key
            )
    winner = None
    if experiment.started_at is not None:
        results = await experiment_results(
            project_id=visit.project_id, experiment_id=experiment.key
        )
        winner = experiment.variant(results.winner) if results.winner else None
    return render(
        request,
        "console/experiments/promote.html",
        {
            "title": f"Promote a variant of {experiment.name}?",
            "area": "experiments",
            "experiment": experiment,
            "winner": winner,
            "chosen": chosen or (winner.key if winner else ""),
            "offers": _offers(experiment),
            "possible": experiment.started_at is not None and not experiment.promoted,
            "errors": errors,
        },
        400 if errors else 200,
    )


routes: list[BaseRoute] = [
    Route("/experiments", experiment_list, methods=["GET"], name="experiments"),
    Route("/experiments/new", experiment_new, methods=["GET", "POST"], name="experiment_new"),
    Route("/experiments/{experiment_id}", experiment_page, methods=["GET"], name="experiment"),
    Route(
        "/experiments/{experiment_id}/promote",
        experiment_promote,
        methods=["GET", "POST"],
        name="experiment_promote",
    ),
    Route(
        "/experiments/{experiment_id}/status/{action}",
        experiment_status,
        methods=["GET", "POST"],
        name="experiment_status",
    ),
]
TEMPLATES = tuple(
    f"experiments/{name}.html" for name in ("list", "form", "experiment", "status", "promote")
)
