"""A/B experiments on a campaign: variants, sticky assignment, each code's offer."""

# results (figures and promotion) is not re-exported: it builds on orders and redemptions,
# which build on this package.
from domain.experiments.assignment import (
    Arm,
    Holdout,
    arm_for_bucket,
    arm_of,
    assign,
    bucket,
    record_assignment,
    running_experiment,
)
from domain.experiments.models import (
    BUCKETS,
    HOLDOUT,
    Experiment,
    ExperimentAssignment,
    ExperimentStatus,
    Variant,
)
from domain.experiments.offers import (
    offer_for_code,
    template_for_code,
    templates_for_code,
)
from domain.experiments.service import (
    create_experiment,
    get_experiment,
    list_experiments,
    start_experiment,
    stop_experiment,
)
from domain.experiments.validation import (
    MAX_ALPHA,
    MAX_NAME,
    MAX_VARIANTS,
    MIN_VARIANTS,
    ExperimentInput,
    VariantInput,
)

__all__ = [
    "BUCKETS",
    "HOLDOUT",
    "MAX_ALPHA",
    "MAX_NAME",
    "MAX_VARIANTS",
    "MIN_VARIANTS",
    "Arm",
    "Experiment",
    "ExperimentAssignment",
    "ExperimentInput",
    "ExperimentStatus",
    "Holdout",
    "Variant",
    "VariantInput",
    "arm_for_bucket",
    "arm_of",
    "assign",
    "bucket",
    "create_experiment",
    "get_experiment",
    "list_experiments",
    "offer_for_code",
    "record_assignment",
    "running_experiment",
    "start_experiment",
    "stop_experiment",
    "template_for_code",
    "templates_for_code",
]
