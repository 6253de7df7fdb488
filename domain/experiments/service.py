"""Creating, reading, starting and stopping experiments."""

from collections import Counter
from typing import Any

from pymongo.errors import DuplicateKeyError

from domain.campaigns import (
    get_campaign,
)
from domain.common import object_id, utc_now
from domain.errors import CommonError, DomainError, NotFound, Problem
from domain.experiments.errors import ExperimentError
from domain.experiments.models import BUCKETS, Experiment, ExperimentStatus
from domain.experiments.validation import (
    MAX_ALPHA,
    MAX_NAME,
    MAX_VARIANTS,
    MIN_VARIANTS,
    ExperimentInput,
    campaign_problems,
    checked_variant,
    is_weight,
)
from domain.pagination import Page, paginate


async def create_experiment(*, project_id: str, data: ExperimentInput) -> Experiment:
    """A DRAFT experiment; every problem is collected and nothing is written unless none."""
    campaign = await get_campaign(project_id, data.campaign_id)
    problems = campaign_problems(campaign)
    name = data.name.strip()
    if not name or len(name) > MAX_NAME:
        problems.append(Problem(CommonError.INVALID, f"name is 1 to {MAX_NAME} characters", "name"))
    if not MIN_VARIANTS <= len(data.variants) <= MAX_VARIANTS:
        problems.append(
            Problem(
                ExperimentError.INVALID_VARIANTS,
                f"an experiment has {MIN_VARIANTS} to {MAX_VARIANTS} variants",
                "variants",
            )
        )
    variants = [
        await checked_variant(
            project_id=project_id, campaign=campaign, index=index, given=given, problems=problems
        )
        for index, given in enumerate(data.variants[:MAX_VARIANTS])
    ]
    repeated = [key for key, n in Counter(v.key for v in variants).items() if n > 1 and key]
    for key in repeated:
        problems.append(
            Problem(ExperimentError.DUPLICATE_KEY, f"the key {key!r} is used twice", "variants")
        )
    if not is_weight(data.holdout_weight) or data.holdout_weight < 0:
        problems.append(
            Problem(
                ExperimentError.INVALID_WEIGHT,
                "holdoutWeight is a whole number, 0 for none",
                "holdoutWeight",
            )
        )
    elif sum(v.weight for v in variants) + data.holdout_weight > BUCKETS:
        # Each arm then gets at least one of the 10,000 buckets.
        problems.append(
            Problem(
                ExperimentError.INVALID_WEIGHT,
                f"the weights add up to at most {BUCKETS}",
                "variants",
            )
        )
    if not 0 < data.alpha <= MAX_ALPHA:
        problems.append(
            Problem(
                ExperimentError.INVALID_ALPHA,
                f"alpha is more than 0 and at most {MAX_ALPHA}",
                "alpha",
            )
        )
    if problems:
        raise DomainError.of(problems)
    experiment = Experiment(
        project_id=project_id,
        campaign_id=campaign.key,
        name=name,
        variants=variants,
        holdout_weight=data.holdout_weight,
        alpha=data.alpha,
    )
    await experiment.insert()
    return experiment


async def get_experiment(*, project_id: str, experiment_id: str, field: str = "id") -> Experiment:
    experiment = await Experiment.find_one(
        {"_id": object_id(experiment_id, "experiment", field), "project_id": project_id}
    )
    if experiment is None:
        raise NotFound("experiment", field)
    return experiment


async def list_experiments(
    *, project_id: str, first: int, after: str | None, campaign_id: str | None = None
) -> Page[Experiment]:
    query: dict[str, Any] = {"project_id": project_id}
    if campaign_id:
        query["campaign_id"] = campaign_id
    return await paginate(Experiment, query, first, after)


def _wrong_status(experiment: Experiment, wanted: str) -> DomainError:
    return DomainError(
        ExperimentError(f"EXPERIMENT_{experiment.status.value}"),
        f"the experiment is {experiment.status}, {wanted}",
        "id",
    )


async def start_experiment(*, project_id: str, experiment_id: str) -> Experiment:
    """DRAFT -> RUNNING; the partial unique index refuses a second running one per campaign."""
    experiment = await get_experiment(project_id=project_id, experiment_id=experiment_id)
    problems = campaign_problems(await get_campaign(project_id, experiment.campaign_id))
    if problems:
        raise DomainError.of(problems)
    try:
        result = await Experiment.get_pymongo_collection().update_one(
            {
                "_id": experiment.id,
                "project_id": project_id,
                "status": ExperimentStatus.DRAFT.value,
            },
            {
                "$set": {
                    "status": ExperimentStatus.RUNNING.value,
                    "running_campaign_id": experiment.campaign_id,
                    "started_at": utc_now(),
                }
            },
        )
    except DuplicateKeyError:
        raise DomainError(
            ExperimentError.EXPERIMENT_ALREADY_RUNNING,
            "another experiment is running on this campaign: stop it first",
            "id",
        ) from None
    if result.modified_count == 0:
        raise _wrong_status(
            await get_experiment(project_id=project_id, experiment_id=experiment_id), "not DRAFT"
        )
    return await get_experiment(project_id=project_id, experiment_id=experiment_id)


async def stop_experiment(*, project_id: str, experiment_id: str) -> Experiment:
    """RUNNING (or DRAFT, abandoned) -> STOPPED, once; codes already given keep their offer."""
    oid = object_id(experiment_id, "experiment")
    result = await Experiment.get_pymongo_collection().update_one(
        {
            "_id": oid,
            "project_id": project_id,
            "status": {"$in": [ExperimentStatus.DRAFT.value, ExperimentStatus.RUNNING.value]},
        },
        {
            "$set": {
                "status": ExperimentStatus.STOPPED.value,
                "running_campaign_id": None,
                "stopped_at": utc_now(),
            }
        },
    )
    experiment = await get_experiment(project_id=project_id, experiment_id=experiment_id)
    if result.modified_count == 0:
        raise _wrong_status(experiment, "already stopped")
    return experiment
