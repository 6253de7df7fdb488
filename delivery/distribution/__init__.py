"""Distributing a campaign: a code and a message per channel for every matching customer."""

from delivery.distribution.audience import ID_CHUNK, next_customer_ids
from delivery.distribution.batch import run_batch
from delivery.distribution.filters import DISTRIBUTION_CHANNELS, DistributionFilter
from delivery.distribution.handler import job_handlers
from delivery.distribution.progress import (
    COUNTS,
    DISTRIBUTE_CAMPAIGN,
    DistributionCounts,
    get_distribution,
)
from delivery.distribution.reach import CONCURRENCY, SKIPPED_CODES, idempotency_key
from delivery.distribution.start import BATCH_SIZE, distribute_campaign

__all__ = [
    "BATCH_SIZE",
    "CONCURRENCY",
    "COUNTS",
    "DISTRIBUTE_CAMPAIGN",
    "DISTRIBUTION_CHANNELS",
    "ID_CHUNK",
    "SKIPPED_CODES",
    "DistributionCounts",
    "DistributionFilter",
    "distribute_campaign",
    "get_distribution",
    "idempotency_key",
    "job_handlers",
    "next_customer_ids",
    "run_batch",
]
