"""What a code published in a variant carries: its discount, rules and template."""

from typing import Any

from domain.campaigns import (
    Campaign,
)
from domain.code_models import Code
from domain.common import object_id
from domain.experiments.models import Experiment
from domain.templates import MessageTemplate


async def _experiment_of_code(code: Code) -> Experiment | None:
    if not code.experiment_id or not code.variant:
        return None
    return await Experiment.find_one(
        {"_id": object_id(code.experiment_id, "experiment"), "project_id": code.project_id}
    )


async def offer_for_code(*, campaign: Campaign, code: Code) -> Campaign:
    """The campaign as the code's holder gets it: a code published in a variant with its own
    discount or rules keeps them, even after the experiment stopped or another was promoted."""
    experiment = await _experiment_of_code(code)
    variant = experiment.variant(code.variant) if experiment is not None else None
    if variant is None:
        return campaign
    own: dict[str, Any] = {}
    if variant.discount is not None:
        own["discount"] = variant.discount
    if variant.rules is not None:
        own["rules"] = variant.rules
    return campaign.model_copy(update=own) if own else campaign


async def template_for_code(*, code: Code, channel: str) -> str:
    """The template publishCode(channel) sends: the code's variant's, else the one promoted on
    the campaign, when made for that channel; "" for the default."""
    return (await templates_for_code(code=code, channels=[channel]))[channel]


async def templates_for_code(*, code: Code, channels: list[str]) -> dict[str, str]:
    """template_for_code for each of these channels, with the same reads as for one."""
    experiment = await _experiment_of_code(code)
    variant = experiment.variant(code.variant) if experiment is not None else None
    if variant is None or not variant.template_id:
        promoted = (
            await Experiment.find(
                {"project_id": code.project_id, "campaign_id": code.campaign_id, "promoted": True}
            )
            .sort("-promoted_at")
            .limit(1)
            .to_list()
        )
        variant = promoted[0].variant(promoted[0].promoted_variant) if promoted else None
    if variant is None or not variant.template_id:
        return dict.fromkeys(channels, "")
    template = await MessageTemplate.find_one(
        {"_id": object_id(variant.template_id, "template"), "project_id": code.project_id}
    )
    return {
        channel: variant.template_id if template is not None and template.channel == channel else ""
        for channel in channels
    }
