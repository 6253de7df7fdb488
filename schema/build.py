"""The Engage GraphQL schema: every feature's Query and Mutation merged, with the guard rails."""

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.base import get_object_definition

from schema import personal_data
from schema.analytics import AnalyticsQuery
from schema.automation import AutomationMutation, AutomationQuery
from schema.caches import ShortQueryParserCache, ShortQueryValidationCache
from schema.campaigns import CampaignMutation, CampaignQuery
from schema.codes import CodeMutation, CodeQuery
from schema.config import SchemaSettings
from schema.customers import CustomerMutation, CustomerQuery
from schema.distribution import DistributionMutation, DistributionQuery
from schema.error_codes import ERROR_CODE_TYPES
from schema.error_log import is_unexpected, log_errors
from schema.errors import DomainErrorCodes
from schema.experiments import ExperimentMutation, ExperimentQuery
from schema.imports import ImportMutation
from schema.input_check import check_inputs_of
from schema.introspection import IntrospectionForAdmins
from schema.jobs import JobMutation, JobQuery
from schema.loyalty import LoyaltyMutation, LoyaltyQuery
from schema.me import MeQuery
from schema.messages import MessageMutation, MessageQuery
from schema.orders import OrderMutation, OrderQuery
from schema.projects import ProjectMutation, ProjectQuery
from schema.provider_check import ProviderCheckMutation
from schema.redemptions import RedemptionMutation, RedemptionQuery
from schema.referrals import ReferralMutation, ReferralQuery
from schema.segments import SegmentMutation, SegmentQuery
from schema.templates import TemplateMutation, TemplateQuery
from schema.types import LONG_SCALAR, Long

Query = merge_types(
    "Query",
    (
        ProjectQuery,
        CustomerQuery,
        MeQuery,
        CampaignQuery,
        CodeQuery,
        RedemptionQuery,
        JobQuery,
        OrderQuery,
        LoyaltyQuery,
        ReferralQuery,
        SegmentQuery,
        MessageQuery,
        DistributionQuery,
        TemplateQuery,
        AnalyticsQuery,
        AutomationQuery,
        ExperimentQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        ProjectMutation,
        CustomerMutation,
        CampaignMutation,
        CodeMutation,
        RedemptionMutation,
        JobMutation,
        ImportMutation,
        LoyaltyMutation,
        OrderMutation,
        ReferralMutation,
        SegmentMutation,
        MessageMutation,
        ProviderCheckMutation,
        DistributionMutation,
        TemplateMutation,
        AutomationMutation,
        ExperimentMutation,
    ),
)


# merge_types takes no description: set on the merged definitions, before the schema is built.
get_object_definition(Query, strict=True).description = (
    "What the caller may read in its project. Each field says which keys may call it: admin keys "
    "read everything, POS (till) keys the till's fields, a customer token only `me` and its own "
    "data. Times are UTC ISO 8601; money is in minor units with an ISO 4217 currency."
)
get_object_definition(Mutation, strict=True).description = (
    "What the caller may change in its project. A mutation answers with a payload whose `errors` "
    "list what was wrong (and then nothing was written); each field says which keys may call it."
)


def _name_callers(root: type) -> None:
    """Ends each root field's description with who may call it, read from its permission
    classes, so the documentation cannot drift from the checks."""
    for field in get_object_definition(root, strict=True).fields:
        callers = " or ".join(
            getattr(permission, "callers", "") for permission in field.permission_classes
        )
        suffix = f" Callers: {callers}."
        if callers and not (field.description or "").endswith(suffix):
            field.description = (field.description or "").rstrip() + suffix


_name_callers(Query)
_name_callers(Mutation)
check_inputs_of(Query)
check_inputs_of(Mutation)


class EngageSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors, execution_context)


def build_schema(settings: SchemaSettings) -> strawberry.Schema:
    # The depth and alias limiters make a new validation rule class each time they are built.
    # Validation results are cached per (document, rules), so the rules are made once here:
    # built per request, every request would miss the cache and be validated again.
    limit_rules = [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    production = settings.env == "production"
    schema = EngageSchema(
        query=Query,
        mutation=Mutation,
        # No field returns the error code enums: listed so that the schema documents them.
        types=ERROR_CODE_TYPES,
        config=StrawberryConfig(auto_camel_case=True, scalar_map={Long: LONG_SCALAR}),
        extensions=[
            # Factories: an extension is built per request. Parsing and validating a small query
            # costs far more than executing it. Both caches live at module level and keep only
            # short documents, so unique long queries cannot fill memory.
            lambda: ShortQueryParserCache(settings.graphql_cache_max_query_length),
            lambda: ShortQueryValidationCache(settings.graphql_cache_max_query_length),
            lambda: AddValidationRules(limit_rules),
            *([IntrospectionForAdmins] if production else []),
            lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
            lambda: MaskErrors(should_mask_error=is_unexpected),
            DomainErrorCodes,
        ],
    )
    personal_data.enforce(schema._schema)
    return schema


def schema_sdl(settings: SchemaSettings) -> str:
    return build_schema(settings).as_str() + "\n"
