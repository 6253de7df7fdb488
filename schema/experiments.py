"""GraphQL for A/B experiments: creating, starting, stopping, results and promotion."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain import experiments
from domain.errors import NotFound
from domain.experiments import results as experiment_results
from domain.experiments.promotion import promote_variant
from domain.stats_tests import ProportionTest
from schema.campaigns import (
    CampaignType,
    DiscountInputType,
    DiscountType,
    RulesInputType,
    RulesType,
)
from schema.context import Info
from schema.described_enums import described_enum
from schema.errors import payload
from schema.permissions import IsAdmin
from schema.types import Connection, Long, MoneyTotal, UserError, connection


@described_enum(
    name="ExperimentStatus",
    description="Where an experiment stands.",
    values={
        "DRAFT": "Created, not started: publishCode ignores it and it can still change.",
        "RUNNING": "publishCode assigns customers to its arms; one per campaign at a time.",
        "STOPPED": "Final: no new assignments; codes already published keep their variant's offer.",
    },
)
class ExperimentStatusEnum(Enum):
    DRAFT = "DRAFT"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


@strawberry.type(
    name="ExperimentVariant",
    description=(
        "One variant of an experiment: its own offer, rules or template for the customers "
        "assigned to it."
    ),
)
class VariantType:
    key: str = strawberry.field(
        description=(
            "The variant's key, unique in the experiment; codes published in it carry "
            "it as `variant`."
        )
    )
    name: str = strawberry.field(description="The variant's name (its key when none was given).")
    weight: int = strawberry.field(description="Relative: the share is weight / all weights.")
    discount: DiscountType | None = strawberry.field(
        description="Null: the campaign's own discount."
    )
    rules: RulesType | None = strawberry.field(
        description="The rules this variant's codes are validated and redeemed by; null: the "
        "campaign's own."
    )
    template_id: strawberry.ID | None = strawberry.field(
        description="The template publishCode(channel) sends for this variant; null: default."
    )

    @classmethod
    def from_domain(cls, value: experiments.Variant) -> "VariantType":
        return cls(
            key=value.key,
            name=value.name,
            weight=value.weight,
            discount=None if value.discount is None else DiscountType.from_domain(value.discount),
            rules=None if value.rules is None else RulesType.from_domain(value.rules),
            template_id=strawberry.ID(value.template_id) if value.template_id else None,
        )


@strawberry.type(
    name="ConfidenceInterval",
    description="A confidence interval of a lift.",
)
class ConfidenceIntervalType:
    low: float = strawberry.field(
        description="The lower bound, as an absolute difference of conversion."
    )
    high: float = strawberry.field(
        description="The upper bound, as an absolute difference of conversion."
    )
    level: float = strawberry.field(description="1 - alpha, e.g. 0.95.")


@strawberry.type(
    name="ProportionTest",
    description="Two-proportion z-test of conversion: this arm against another.",
)
class ProportionTestType:
    against: str = strawberry.field(description="The other arm's key (`holdout` or a variant).")
    lift: float = strawberry.field(description="Absolute: this conversion minus the other's.")
    relative_lift: float | None = strawberry.field(
        description="lift / the other's conversion; null when that is 0."
    )
    z_score: float | None = strawberry.field(description="Null when no test is possible.")
    p_value: float | None = strawberry.field(description="Two-sided, pooled standard error.")
    confidence_interval: ConfidenceIntervalType = strawberry.field(
        description="Of the lift, with the unpooled standard error."
    )
    significant: bool = strawberry.field(description="pValue < the experiment's alpha.")

    @classmethod
    def from_domain(cls, test: ProportionTest, against: str) -> "ProportionTestType":
        return cls(
            against=against,
            lift=test.difference,
            relative_lift=test.relative_difference,
            z_score=test.z,
            p_value=test.p_value,
            confidence_interval=ConfidenceIntervalType(
                low=test.ci_low, high=test.ci_high, level=test.confidence_level
            ),
            significant=test.significant,
        )


@strawberry.type(
    name="ExperimentArmResult",
    description="What one arm (a variant or the holdout) of an experiment did.",
)
class ArmResultType:
    key: str = strawberry.field(description="The variant's key, or `holdout`.")
    name: str = strawberry.field(description="The variant's name, or `holdout`.")
    holdout: bool = strawberry.field(
        description="Whether this arm is the holdout group, which gets no code."
    )
    weight: int = strawberry.field(
        description="The arm's weight (its share is weight / all weights)."
    )
    assigned: int = strawberry.field(description="Customers assigned to this arm.")
    issued: int = strawberry.field(description="Codes published with this variant.")
    redeemed: int = strawberry.field(description="Successful redemptions of those codes.")
    converted: int = strawberry.field(
        description="Assigned customers with a paid order after their assignment, in the window."
    )
    conversion: float = strawberry.field(description="converted / assigned.")
    orders: int = strawberry.field(
        description="Paid orders of assigned customers after their assignment, in the window."
    )
    revenue: MoneyTotal = strawberry.field(description="Those orders' amounts (results currency).")
    discount_cost: MoneyTotal = strawberry.field(
        description="Discounts given by redemptions of this arm's codes, in the results currency."
    )
    roi: float | None = strawberry.field(
        description="(revenue - discountCost) / discountCost; null without cost."
    )
    against_holdout: ProportionTestType | None = strawberry.field(
        description="Incremental lift over the holdout and its test; null without a holdout."
    )

    @classmethod
    def from_domain(cls, arm: experiment_results.ArmResult, currency: str) -> "ArmResultType":
        return cls(
            key=arm.key,
            name=arm.name,
            holdout=arm.holdout,
            weight=arm.weight,
            assigned=arm.assigned,
            issued=arm.issued,
            redeemed=arm.redeemed,
            converted=arm.converted,
            conversion=arm.conversion,
            orders=arm.orders,
            revenue=MoneyTotal(amount=Long(arm.revenue), currency=currency),
            discount_cost=MoneyTotal(amount=Long(arm.discount_cost), currency=currency),
            roi=arm.roi,
            against_holdout=None
            if arm.against_holdout is None
            else ProportionTestType.from_domain(arm.against_holdout, experiments.HOLDOUT),
        )


@strawberry.type(
    name="ExperimentDecision",
    description="Which variant is ahead, and the test that says how sure that is.",
)
class DecisionType:
    variant: str = strawberry.field(description="The variant with the best conversion.")
    test: ProportionTestType = strawberry.field(
        description="Against the holdout when there is one, else against the runner-up."
    )


@strawberry.type(
    name="ExperimentResults",
    description=(
        "An experiment's results per arm, computed when asked. Money is in minor units of "
        "`currency`."
    ),
)
class ResultsType:
    currency: str = strawberry.field(
        description="Revenue and cost are in this currency; orders in others are not summed."
    )
    window_start: datetime | None = strawberry.field(
        description="When the experiment started, UTC ISO 8601; null if it never ran."
    )
    window_end: datetime | None = strawberry.field(
        description="When it stopped, or now while it runs, UTC ISO 8601; null if it never ran."
    )
    alpha: float = strawberry.field(description="The significance level the decision is tested at.")
    variants: list[ArmResultType] = strawberry.field(
        description="Each variant's results, in the experiment's order."
    )
    holdout: ArmResultType | None = strawberry.field(
        description="The holdout group's results; null without a holdout."
    )
    decision: DecisionType | None = strawberry.field(
        description="The variant ahead and its test; null when no test is possible yet (an "
        "arm compared has no customer assigned)."
    )
    winner: str | None = strawberry.field(
        description="The variant's key, only when the decision is significant and positive."
    )

    @classmethod
    def from_domain(cls, value: experiment_results.ExperimentResults) -> "ResultsType":
        currency = value.currency
        decision = value.decision
        return cls(
            currency=currency,
            window_start=value.window_start,
            window_end=value.window_end,
            alpha=value.experiment.alpha,
            variants=[ArmResultType.from_domain(arm, currency) for arm in value.variants],
            holdout=None
            if value.holdout is None
            else ArmResultType.from_domain(value.holdout, currency),
            decision=None
            if decision is None
            else DecisionType(
                variant=decision.variant,
                test=ProportionTestType.from_domain(decision.test, decision.against),
            ),
            winner=value.winner,
        )


@strawberry.type(
    name="Experiment",
    description=(
        "An A/B experiment on a DISCOUNT campaign: publishCode assigns customers to weighted "
        "variants (and an optional holdout). Readable by admin keys."
    ),
)
class ExperimentType:
    id: strawberry.ID = strawberry.field(description="The experiment's id.")
    campaign_id: strawberry.ID = strawberry.field(description="The DISCOUNT campaign it runs on.")
    name: str = strawberry.field(description="The experiment's name, 1 to 200 characters.")
    status: ExperimentStatusEnum = strawberry.field(description="Where the experiment stands.")
    variants: list[VariantType] = strawberry.field(description="Its variants, 2 to 5.")
    holdout_weight: int = strawberry.field(description="0: no holdout.")
    alpha: float = strawberry.field(
        description="The significance level a winner is tested at, more than 0 and at most 0.5."
    )
    started_at: datetime | None = strawberry.field(
        description="When it started, UTC ISO 8601; null while DRAFT."
    )
    stopped_at: datetime | None = strawberry.field(
        description="When it stopped, UTC ISO 8601; null until STOPPED."
    )
    promoted_variant: str | None = strawberry.field(
        description=(
            "The key of the variant promoted to the campaign's offer; null until promoteWinner."
        )
    )
    promoted_at: datetime | None = strawberry.field(
        description="When a variant was promoted, UTC ISO 8601; null until promoteWinner."
    )
    created_at: datetime = strawberry.field(
        description="When the experiment was created, UTC ISO 8601."
    )
    doc: strawberry.Private[experiments.Experiment]

    @classmethod
    def from_doc(cls, doc: experiments.Experiment) -> "ExperimentType":
        return cls(
            id=strawberry.ID(doc.key),
            campaign_id=strawberry.ID(doc.campaign_id),
            name=doc.name,
            status=ExperimentStatusEnum(doc.status.value),
            variants=[VariantType.from_domain(v) for v in doc.variants],
            holdout_weight=doc.holdout_weight,
            alpha=doc.alpha,
            started_at=doc.started_at,
            stopped_at=doc.stopped_at,
            promoted_variant=doc.promoted_variant or None,
            promoted_at=doc.promoted_at,
            created_at=doc.created_at,
            doc=doc,
        )

    @strawberry.field(description="Computed when asked, over the window start to stop (or now).")
    async def results(self, info: Info) -> ResultsType:
        found = await info.context.loaders.experiment_results.load(self.doc)
        return ResultsType.from_domain(found)


@strawberry.input(
    name="ExperimentVariantInput",
    description="A variant of a new experiment.",
)
class VariantInputType:
    key: str = strawberry.field(description="1 to 40 letters, digits, - or _; not `holdout`.")
    name: str = strawberry.field(
        default="", description="A name to show, at most 200 characters; the key when left out."
    )
    weight: int = strawberry.field(
        default=1,
        description="A whole number of 1 or more, relative to the other weights (holdout "
        "included): 45/45/10 reads as percentages; all weights add up to at most 10000.",
    )
    discount: DiscountInputType | None = strawberry.field(
        default=None,
        description="Merged into the campaign's discount as updateCampaign would; null: the "
        "campaign's own.",
    )
    rules: RulesInputType | None = strawberry.field(
        default=None,
        description="Merged into the campaign's rules as updateCampaign would; null: the "
        "campaign's own.",
    )
    template_id: strawberry.ID | None = strawberry.field(
        default=None, description="A project template sent by publishCode on its channel."
    )

    def to_domain(self) -> experiments.VariantInput:
        return experiments.VariantInput(
            key=self.key,
            name=self.name,
            weight=self.weight,
            discount=None if self.discount is None else self.discount.to_domain(),
            rules=None if self.rules is None else self.rules.to_domain(),
            template_id=str(self.template_id or ""),
        )


@strawberry.input(
    name="ExperimentInput",
    description="A new experiment, created as a DRAFT.",
)
class ExperimentInputType:
    campaign_id: strawberry.ID = strawberry.field(
        description="The DISCOUNT campaign (with unique codes, not a standalone code)."
    )
    name: str = strawberry.field(description="1 to 200 characters.")
    variants: list[VariantInputType] = strawberry.field(description="2 to 5 variants.")
    holdout_weight: int = strawberry.field(
        default=0, description="Weight of the holdout group, which gets no code; 0: none."
    )
    alpha: float = strawberry.field(
        default=0.05, description="Significance level of the winner's test (at most 0.5)."
    )

    def to_domain(self) -> experiments.ExperimentInput:
        return experiments.ExperimentInput(
            campaign_id=str(self.campaign_id),
            name=self.name,
            variants=[v.to_domain() for v in self.variants],
            holdout_weight=self.holdout_weight,
            alpha=self.alpha,
        )


@strawberry.type(
    description="The result of an experiment mutation: the experiment, or what was wrong.",
)
class ExperimentPayload:
    experiment: ExperimentType | None = strawberry.field(
        default=None, description="The experiment as stored; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type(
    description=(
        "The result of promoteWinner: the stopped experiment and the changed campaign, or "
        "what was wrong."
    ),
)
class PromoteWinnerPayload:
    experiment: ExperimentType | None = strawberry.field(
        default=None,
        description=(
            "The experiment, STOPPED with its promoted variant; null when `errors` is not empty."
        ),
    )
    campaign: CampaignType | None = strawberry.field(
        default=None,
        description="The campaign with the variant's offer; null when `errors` is not empty.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the request; empty on success, and then nothing was written."
        ),
    )


@strawberry.type
class ExperimentQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="One experiment; null when the project has no such experiment.",
    )
    async def experiment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The experiment's id.")],
    ) -> ExperimentType | None:
        try:
            found = await experiments.get_experiment(
                project_id=info.context.project_id, experiment_id=str(id)
            )
        except NotFound:
            return None
        return ExperimentType.from_doc(found)

    @strawberry.field(
        permission_classes=[IsAdmin], description="The project's experiments, oldest first."
    )
    async def experiments(
        self,
        info: Info,
        campaign_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only experiments on this campaign; null for all."),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="How many experiments to return, 0 to 500.")
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `endCursor` of the previous page; null for the first page."
            ),
        ] = None,
    ) -> Connection[ExperimentType]:
        page = await experiments.list_experiments(
            project_id=info.context.project_id,
            first=first,
            after=after,
            campaign_id=str(campaign_id) if campaign_id else None,
        )
        return connection(page, ExperimentType.from_doc)


@strawberry.type
class ExperimentMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin], description="A DRAFT experiment on a DISCOUNT campaign."
    )
    @payload
    async def create_experiment(
        self,
        info: Info,
        input: Annotated[ExperimentInputType, strawberry.argument(description="The experiment.")],
    ) -> ExperimentPayload:
        created = await experiments.create_experiment(
            project_id=info.context.project_id, data=input.to_domain()
        )
        return ExperimentPayload(experiment=ExperimentType.from_doc(created))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="From now on publishCode assigns customers to arms; one running experiment "
        "per campaign.",
    )
    @payload
    async def start_experiment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The DRAFT experiment.")],
    ) -> ExperimentPayload:
        started = await experiments.start_experiment(
            project_id=info.context.project_id, experiment_id=str(id)
        )
        return ExperimentPayload(experiment=ExperimentType.from_doc(started))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Final; codes already published keep their variant's offer.",
    )
    @payload
    async def stop_experiment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The experiment.")],
    ) -> ExperimentPayload:
        stopped = await experiments.stop_experiment(
            project_id=info.context.project_id, experiment_id=str(id)
        )
        return ExperimentPayload(experiment=ExperimentType.from_doc(stopped))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Makes the winner's discount, rules (and template) the campaign's offer and "
        "stops the experiment. Refused (NO_SIGNIFICANT_WINNER) without a significant winner unless "
        "variantKey names the variant to promote anyway.",
    )
    @payload
    async def promote_winner(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The experiment.")],
        variant_key: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "The variant to promote even without a significant winner; null promotes "
                    "the significant winner."
                )
            ),
        ] = None,
    ) -> PromoteWinnerPayload:
        experiment, campaign = await promote_variant(
            project_id=info.context.project_id, experiment_id=str(id), variant_key=variant_key
        )
        return PromoteWinnerPayload(
            experiment=ExperimentType.from_doc(experiment),
            campaign=CampaignType.from_doc(campaign),
        )
